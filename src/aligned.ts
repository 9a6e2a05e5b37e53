/**
 * Buffers that start on a 64-byte cache line. With AVX-512 the kernels' vector loads are 64 bytes wide, and
 * a large ArrayBuffer comes from the allocator 16 bytes past a line, so every load of a weight panel read
 * from such a buffer straddles two lines (measured on a Sapphire Rapids host: 3-5% of a pass over the base
 * linears at 1024 tokens). The address of an ArrayBuffer is visible with the FFI permission only, which
 * loading the kernels needs anyway; without it these are plain buffers: slower, never different results.
 *
 * @module
 */

/** A cache line, the alignment given. */
export const LINE_BYTES = 64;

let addressesVisible: boolean | undefined;

// The buffer's address, or null when this process may not see it.
function addressOf(buffer: ArrayBuffer): bigint | null {
  addressesVisible ??= Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  if (!addressesVisible) return null;
  const p = Deno.UnsafePointer.of(buffer);
  return p === null ? null : Deno.UnsafePointer.value(p);
}

/** A huge page on x86-64 Linux, the alignment of buffers that are to sit on them. */
export const HUGE_PAGE_BYTES = 2 ** 21;

/**
 * `length` zero bytes whose byte `at` (0 <= at <= length) begins a cache line (or, given, a multiple of
 * `alignment`, a power of two): a weights file is read into one whose `bestLineStart` byte does. Off-heap
 * ArrayBuffers never move, so the alignment holds for the buffer's life.
 */
export function alignedBytes(length: number, at = 0, alignment = LINE_BYTES): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(at) || at < 0 || at > length) {
    throw new RangeError(`alignedBytes(${length}, ${at}): a length and an offset within it`);
  }
  if (!Number.isSafeInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    throw new RangeError(`alignedBytes: alignment ${alignment} is not a power of two`);
  }
  const buffer = new ArrayBuffer(length + alignment);
  const address = addressOf(buffer);
  const a = BigInt(alignment);
  const shift = address === null ? 0 : Number((a - (address + BigInt(at)) % a) % a);
  return new Uint8Array(buffer, shift, length);
}

/**
 * The byte of a file to place on a cache line so that the most tensor bytes start on one. Tensors whose
 * offsets agree modulo the line start on lines together, and one small tensor sorted before the rest (a
 * classifier's 8-byte bias, first by name in a DistilBERT task checkpoint) shifts all that follow it: so
 * the offset modulo 64 that the most bytes share, 0 for no tensors.
 */
export function bestLineStart(tensors: readonly { byteOffset: number; byteLength: number }[]): number {
  const bytes = new Map<number, number>();
  let best = 0, most = -1;
  for (const t of tensors) {
    const r = t.byteOffset % LINE_BYTES, n = (bytes.get(r) ?? 0) + t.byteLength;
    bytes.set(r, n);
    if (n > most) [best, most] = [r, n];
  }
  return best;
}

/** Whether `view` starts on a cache line; true when its address cannot be seen (nothing to be done then). */
export function onLine(view: ArrayBufferView): boolean {
  const address = addressOf(view.buffer as ArrayBuffer);
  return address === null || (address + BigInt(view.byteOffset)) % BigInt(LINE_BYTES) === 0n;
}

/** What `alignedArray` makes: a typed array constructor. */
interface TypedArrayType<T> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** A zeroed typed array of `length` elements whose first element begins a cache line. */
export function alignedArray<T>(type: TypedArrayType<T>, length: number): T {
  const size = type.BYTES_PER_ELEMENT;
  const bytes = alignedBytes(length * size);
  // The allocator's addresses are multiples of 16, so the shift always is too; a view must start on an
  // element boundary in any case.
  const offset = bytes.byteOffset % size === 0 ? bytes.byteOffset : 0;
  return new type(bytes.buffer as ArrayBuffer, offset, length);
}
