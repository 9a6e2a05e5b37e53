/**
 * Reader and writer for the [safetensors](https://github.com/huggingface/safetensors) format used by
 * Hugging Face checkpoints.
 *
 * Layout: an 8-byte little-endian u64 header length `N`, then `N` bytes of UTF-8 JSON (possibly padded with
 * spaces), then the data buffer. Each JSON entry is `{ "dtype", "shape", "data_offsets": [begin, end) }`
 * relative to the start of the data buffer; an optional `__metadata__` entry maps strings to strings.
 * Tensor data is little-endian and row-major.
 *
 * The header is validated as strictly as the reference implementation: every problem throws a
 * {@linkcode SafetensorsError} whose message names the file and the problem.
 *
 * @example
 * ```ts
 * import { SafetensorsFile } from "./safetensors.ts";
 * const st = await SafetensorsFile.open("model.safetensors");
 * const emb = st.getFloat32("distilbert.embeddings.word_embeddings.weight"); // F32/F16/BF16 -> float32
 * console.log(st.info("distilbert.embeddings.word_embeddings.weight").shape);
 * ```
 *
 * @module
 */

import { atomicWriteFile } from "./fs/write.ts";
import { openRegularFile } from "./fs/read.ts";

/** Tensor element types defined by the safetensors format (sub-byte float types are not supported). */
export type SafetensorsDtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "F8_E5M2"
  | "F8_E4M3"
  | "F8_E8M0"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL"
  | "C64";

/** Size in bytes of one element of each supported dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  C64: 8,
});

/** The reference implementation's cap on the JSON header size (100 MB). */
export const MAX_HEADER_BYTES: number = 100_000_000;

/** Description of one tensor in a safetensors file. */
export interface TensorInfo {
  /** Element type as stored in the file. */
  readonly dtype: SafetensorsDtype;
  /** Dimensions, row-major. `[]` is a scalar (one element). */
  readonly shape: readonly number[];
  /** Number of elements: the product of `shape`. */
  readonly size: number;
  /** Offset of the tensor's first byte from the start of the file (not of the data buffer). */
  readonly byteOffset: number;
  /** Length of the tensor's data in bytes: `size * DTYPE_BYTES[dtype]`. */
  readonly byteLength: number;
}

/** Thrown for any malformed file, missing tensor or unsupported conversion. */
export class SafetensorsError extends Error {
  /** The file path (or caller-supplied label) the error is about. */
  readonly source: string;

  /**
   * Creates an error whose message is `safetensors: <source>: <problem>`.
   *
   * @param source file path or label, prefixed to the message
   * @param problem what is wrong
   */
  constructor(source: string, problem: string) {
    super(`safetensors: ${source}: ${problem}`);
    this.name = "SafetensorsError";
    this.source = source;
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === "string" && Object.hasOwn(DTYPE_BYTES, x);
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (typeof x === "string") return `string ${JSON.stringify(x.length > 40 ? x.slice(0, 40) + "..." : x)}`;
  if (typeof x === "object") return "an object";
  return `${typeof x} ${String(x)}`;
}

/**
 * Iterative (non-recursive) scan of JSON text that JSON.parse has already accepted: rejects duplicate
 * object keys (JSON.parse silently keeps the last) and number literals that are not plain integers
 * (the reference parses shapes and offsets as unsigned integers, so `3.0` or `1e3` are invalid).
 * Returns a problem description, or undefined if the text is fine.
 */
function scanJson(text: string): string | undefined {
  // Stack of open containers: a Set of seen keys for objects, null for arrays.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else if (d === 0x22) break;
        else j++;
      }
      const top = stack.length > 0 ? stack[stack.length - 1] : null;
      if (expectKey && top !== null) {
        const raw = text.slice(i + 1, j);
        const key = escaped ? JSON.parse(text.slice(i, j + 1)) as string : raw;
        if (top.has(key)) return `duplicate key ${JSON.stringify(key)} in the JSON header`;
        top.add(key);
        expectKey = false;
      }
      i = j + 1;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
      i++;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
      i++;
    } else if (c === 0x2c /* , */) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
      i++;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      let integer = true;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x2e || d === 0x65 || d === 0x45) integer = false;
        else if (!(d === 0x2b || d === 0x2d || (d >= 0x30 && d <= 0x39))) break;
      }
      if (!integer) return `number ${text.slice(i, j)} in the JSON header is not an integer literal`;
      i = j;
    } else {
      i++;
    }
  }
  return undefined;
}

/** Formats a shape or offsets value for a message without recursing into nested values. */
function brief(x: unknown): string {
  if (!Array.isArray(x)) return describe(x);
  if (x.length > 8) return `[${x.slice(0, 8).map(brief1).join(", ")}, ... (${x.length} items)]`;
  return `[${x.map(brief1).join(", ")}]`;
}

function brief1(x: unknown): string {
  return typeof x === "number"
    ? String(x)
    : typeof x === "string"
    ? JSON.stringify(x.slice(0, 20))
    : describe(x);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

let f16Table: Uint32Array | undefined;

/**
 * 65536-entry table: IEEE half-precision bits -> single-precision bits, as torch's `.float()` widens them
 * (what transformers does loading an F16 checkpoint): exact, and NaN payloads kept with the quiet bit set,
 * so a signalling NaN comes out quiet (0x7c01 -> 0x7fc02000), as the hardware's conversion makes it.
 */
function halfToFloatBitsTable(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  const asFloat = new Float32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      table[h] = (sign | 0x7f800000 | (mant << 13) | (mant !== 0 ? 0x00400000 : 0)) >>> 0;
    } else {
      const magnitude = exp === 0 ? mant * 2 ** -24 : (1024 + mant) * 2 ** (exp - 25);
      asFloat[h] = sign ? -magnitude : magnitude;
    }
  }
  f16Table = table;
  return table;
}

/** How `SafetensorsFile.open` reads a whole file: see its options. */
export interface WholeFileOptions {
  /** Sees the (still zero) buffer the file is about to be read into. */
  beforeRead?: (bytes: Uint8Array) => void | Promise<unknown>;
  /**
   * Makes that buffer: `size` zero bytes, knowing where in the file each tensor's bytes are (none when the
   * header is not valid: it is then reported after the read, as without `allocate`). Default: a plain
   * `Uint8Array`.
   */
  allocate?: (size: number, tensors: readonly TensorInfo[]) => Uint8Array;
}

/**
 * Reads a file into one buffer of exactly its size. `Deno.readFile` can hold the data twice while it
 * reads (a growing buffer, then the returned copy): for a 265 MB checkpoint that doubles the load's peak RSS.
 */
async function readWholeFile(
  path: string | URL,
  source: string,
  options: WholeFileOptions = {},
): Promise<Uint8Array> {
  // Refuses a FIFO, device or directory before opening it (a FIFO's open would block).
  const opened = await openRegularFile(path);
  using file = opened.file;
  const size = opened.size;
  const head = await readHead(file, size);
  let bytes: Uint8Array;
  if (options.allocate) {
    let tensors: TensorInfo[] = [];
    try {
      tensors = [...parseHeader(head, size, source).tensors.values()];
    } catch {
      // SafetensorsFile.parse reports it once the file is read.
    }
    bytes = options.allocate(size, tensors);
    if (bytes.length !== size) throw new Error(`allocate(${size}) returned ${bytes.length} bytes`);
  } else {
    bytes = new Uint8Array(size);
  }
  await options.beforeRead?.(bytes);
  bytes.set(head);
  await readFully(file, bytes.subarray(head.length));
  return bytes;
}

/** Reads and validates a file's header only: what a file read per tensor holds until a tensor is asked for. */
async function readHeader(
  path: string | URL,
  source: string,
): Promise<{ size: number; identity: string; header: ParsedHeader }> {
  const opened = await openRegularFile(path);
  using file = opened.file;
  const size = opened.size;
  const head = await readHead(file, size);
  return { size, identity: fileIdentity(opened.info), header: parseHeader(head, size, source) };
}

// Which file this is and which version of it: device, inode and modification time. A file replaced (renamed
// over) or rewritten in place since its header was read changes one of them even when its size stays the same.
function fileIdentity(info: Deno.FileInfo): string {
  return `${info.dev}:${info.ino}:${info.mtime?.getTime()}`;
}

// The file's first bytes up to the end of its header: the 8-byte length, then the header if that length is
// one parseHeader can accept (it checks the rest); only the length otherwise.
async function readHead(file: Deno.FsFile, size: number): Promise<Uint8Array> {
  const first = new Uint8Array(Math.min(size, 8));
  await readFully(file, first, "the header length");
  // The header length is checked by parseHeader; only what it allows is read.
  const claimed = first.length === 8 ? new DataView(first.buffer).getBigUint64(0, true) : 0n;
  const headerLen = claimed > 0n && claimed <= BigInt(MAX_HEADER_BYTES) && 8n + claimed <= BigInt(size)
    ? Number(claimed)
    : 0;
  const head = new Uint8Array(first.length + headerLen);
  head.set(first);
  await readFully(file, head.subarray(first.length), "the header");
  return head;
}

// Fills `into` from the file's current position, in reads of at most 16 MB; `what` names the part for errors.
async function readFully(file: Deno.FsFile, into: Uint8Array, what = ""): Promise<void> {
  for (let at = 0; at < into.length;) {
    const n = await file.read(into.subarray(at, Math.min(into.length, at + (16 << 20))));
    if (n === null) {
      throw new Error(`file shrank while reading${what && ` ${what}`}: got ${at} of ${into.length} bytes`);
    }
    at += n;
  }
}

/** A file read per tensor: where it is, and the size and identity of the file its header was validated from. */
interface PerTensorSource {
  path: string | URL;
  size: number;
  identity: string;
}

/**
 * Validates a safetensors header: `head` holds the file's first bytes (at least the header, when the header
 * length is valid), `fileLength` is the whole file's size.
 */
function parseHeader(head: Uint8Array, fileLength: number, source: string): ParsedHeader {
  const fail = (problem: string): never => {
    throw new SafetensorsError(source, problem);
  };
  if (!LITTLE_ENDIAN_HOST) fail("big-endian hosts are not supported");
  if (fileLength < 8) fail(`file is ${fileLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);

  const headerLen = view.getBigUint64(0, true);
  if (headerLen === 0n) fail("header length is 0");
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const n = Number(headerLen);
  if (8 + n > fileLength) {
    fail(`header length ${n} runs past the end of the file (${fileLength} bytes)`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(head.subarray(8, 8 + n));
  } catch {
    return fail("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) fail("header is not a JSON object (it does not start with '{')");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isPlainObject(header)) return fail("header is not a JSON object");
  const scanProblem = scanJson(text);
  if (scanProblem) fail(scanProblem);

  const dataStart = 8 + n;
  const dataLen = fileLength - dataStart;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (entry === null) continue;
      if (!isPlainObject(entry)) fail(`__metadata__ is ${describe(entry)}, not an object`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") {
          fail(`__metadata__[${JSON.stringify(k)}] is ${describe(v)}, not a string`);
        }
      }
      metadata = { ...(entry as Record<string, string>) };
      continue;
    }
    const what = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(entry)) return fail(`${what}: entry is ${describe(entry)}, not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isDtype(dtype)) return fail(`${what}: unknown dtype ${describe(dtype)}`);
    if (!Array.isArray(shape)) return fail(`${what}: shape is ${describe(shape)}, not an array`);
    let size = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        fail(`${what}: shape ${brief(shape)} has ${describe(d)}, not a non-negative integer`);
      }
      size *= d;
      if (!Number.isSafeInteger(size)) fail(`${what}: shape ${brief(shape)} product overflows`);
    }
    const elemBytes = DTYPE_BYTES[dtype];
    const expectedBytes = size * elemBytes;
    if (!Number.isSafeInteger(expectedBytes)) {
      fail(`${what}: shape ${brief(shape)} byte size overflows`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      return fail(
        `${what}: data_offsets ${brief(offsets)} is not [begin, end] non-negative integers`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`${what}: data_offsets [${begin}, ${end}] has begin > end`);
    if (end > dataLen) {
      fail(`${what}: data_offsets end ${end} is past the end of the data buffer (${dataLen} bytes)`);
    }
    if (end - begin !== expectedBytes) {
      fail(
        `${what}: byte length ${end - begin} does not match shape ${brief(shape)} x ${dtype} ` +
          `(${expectedBytes} bytes)`,
      );
    }
    tensors.set(name, {
      dtype,
      shape: Object.freeze(shape.slice()),
      size,
      byteOffset: dataStart + begin,
      byteLength: expectedBytes,
    });
    spans.push({ name, begin, end });
  }
  // Like the reference: the tensors must tile the data buffer exactly, no overlaps and no holes.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev = "";
  for (const s of spans) {
    if (s.begin < covered) {
      fail(`tensors ${JSON.stringify(prev)} and ${JSON.stringify(s.name)} overlap in the data buffer`);
    }
    if (s.begin > covered) {
      fail(
        `data buffer bytes [${covered}, ${s.begin}) before tensor ${JSON.stringify(s.name)} are not covered`,
      );
    }
    covered = s.end;
    prev = s.name;
  }
  if (covered !== dataLen) {
    fail(`data buffer bytes [${covered}, ${dataLen}) after the last tensor are not covered by any tensor`);
  }
  return { metadata, tensors };
}

interface ParsedHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
}

/**
 * A parsed safetensors file held in memory: in one buffer (the default), or only its header, each tensor
 * read from the file when asked for ({@linkcode SafetensorsFile.open} with `perTensor`), so that memory holds
 * only the tensors the caller keeps. Construct with {@linkcode SafetensorsFile.open} or {@linkcode SafetensorsFile.parse}.
 */
export class SafetensorsFile {
  /** The file path (or label) used in error messages. */
  readonly source: string;
  /** The `__metadata__` entry (empty if absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor by name, in the order of the JSON header. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  #whole: Uint8Array | null;
  #perTensor: PerTensorSource | null;

  private constructor(
    source: string,
    storage: Uint8Array | PerTensorSource,
    metadata: Record<string, string>,
    tensors: Map<string, TensorInfo>,
  ) {
    this.source = source;
    this.#whole = storage instanceof Uint8Array ? storage : null;
    this.#perTensor = storage instanceof Uint8Array ? null : storage;
    this.metadata = metadata;
    this.tensors = tensors;
  }

  // A tensor's bytes read from the file into a buffer of their own (a file opened per tensor). The file is
  // opened for this read only, so nothing stays open between reads; it must still be the regular file of
  // the size the header was validated against.
  #readTensor(t: TensorInfo): Uint8Array {
    const { path, size, identity } = this.#perTensor!;
    const fail = (problem: string): never => {
      throw new SafetensorsError(this.source, problem);
    };
    const out = new Uint8Array(t.byteLength);
    let stat: Deno.FileInfo;
    try {
      stat = Deno.statSync(path); // before opening: a FIFO put in its place would block the open
    } catch (e) {
      return fail(`cannot read file: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!stat.isFile || stat.size !== size) {
      fail(
        `changed since it was opened (now ${stat.isFile ? `${stat.size} bytes` : "not a file"}, was ${size})`,
      );
    }
    // Same size is not the same file: a checkpoint re-saved with the same shapes has the same size, and its
    // tensors would be mixed with the ones already read.
    if (fileIdentity(stat) !== identity) {
      fail("changed since it was opened (replaced or rewritten: its inode or modification time differs)");
    }
    try {
      using file = Deno.openSync(path, { read: true });
      file.seekSync(t.byteOffset, Deno.SeekMode.Start);
      for (let at = 0; at < out.length;) {
        const n = file.readSync(out.subarray(at, Math.min(out.length, at + (16 << 20))));
        if (n === null || n === 0) fail("changed since it was opened: it ends inside a tensor's data");
        at += n!;
      }
    } catch (e) {
      if (e instanceof SafetensorsError) throw e;
      return fail(`cannot read file: ${e instanceof Error ? e.message : String(e)}`);
    }
    return out;
  }

  /**
   * The whole file. Tensor views returned by the getters may alias this buffer.
   *
   * @throws {SafetensorsError} for a file read per tensor, which has no whole-file buffer
   */
  get bytes(): Uint8Array {
    if (this.#whole) return this.#whole;
    throw new SafetensorsError(this.source, "read per tensor (perTensor): there is no whole-file buffer");
  }

  /**
   * Whether `view` shares memory with the file's buffer (a getter's zero-copy result does). Never, for a
   * file read per tensor: each getter's result is a buffer of its own.
   */
  aliases(view: ArrayBufferView): boolean {
    return this.#whole !== null && view.buffer === this.#whole.buffer;
  }

  /**
   * Reads and parses a file.
   *
   * @param path file to read
   * @param options `beforeRead` and `allocate` (`WholeFileOptions`) for the buffer the whole file is read
   *   into; `perTensor` reads and validates the header only, and each tensor from the file, into a buffer of
   *   its own, when a getter asks for it (no `bytes` then): memory holds only the tensors the caller keeps,
   *   and the file must stay as it is while they are read (a change of size or type is an error)
   * @returns the parsed file
   * @throws {SafetensorsError} if the file cannot be read or is malformed
   */
  static async open(
    path: string | URL,
    options: WholeFileOptions & { perTensor?: boolean } = {},
  ): Promise<SafetensorsFile> {
    const label = path instanceof URL ? path.href : path;
    if (options.perTensor) {
      if (options.beforeRead || options.allocate) {
        throw new TypeError("beforeRead and allocate apply to the whole-file buffer, not perTensor");
      }
      let read: Awaited<ReturnType<typeof readHeader>>;
      try {
        read = await readHeader(path, label);
      } catch (e) {
        if (e instanceof SafetensorsError) throw e;
        throw new SafetensorsError(label, `cannot read file: ${e instanceof Error ? e.message : String(e)}`);
      }
      const { metadata, tensors } = read.header;
      return new SafetensorsFile(
        label,
        { path, size: read.size, identity: read.identity },
        Object.freeze(metadata),
        tensors,
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = await readWholeFile(path, label, options);
    } catch (e) {
      throw new SafetensorsError(label, `cannot read file: ${e instanceof Error ? e.message : String(e)}`);
    }
    return SafetensorsFile.parse(bytes, label);
  }

  /**
   * Parses and validates a safetensors file held in memory. Does not copy `bytes`.
   *
   * @param bytes the whole file
   * @param source path or label used in error messages
   * @returns the parsed file
   * @throws {SafetensorsError} if the header is malformed
   */
  static parse(bytes: Uint8Array, source = "<bytes>"): SafetensorsFile {
    const { metadata, tensors } = parseHeader(bytes, bytes.length, source);
    return new SafetensorsFile(source, bytes, Object.freeze(metadata), tensors);
  }

  /**
   * Whether the file holds a tensor with that name.
   *
   * @param name tensor name
   * @returns whether the file holds a tensor with that name
   */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /**
   * Looks up a tensor's description.
   *
   * @param name tensor name
   * @returns the tensor's dtype, shape and location
   * @throws {SafetensorsError} if there is no such tensor
   */
  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) {
      throw new SafetensorsError(
        this.source,
        `no tensor named ${JSON.stringify(name)} (${this.tensors.size} tensors)`,
      );
    }
    return t;
  }

  /**
   * The tensor's raw little-endian bytes: a view aliasing {@linkcode SafetensorsFile.bytes}, not a copy (read
   * `perTensor`: read from the file into a new buffer at each call).
   *
   * @param name tensor name
   * @returns the bytes
   */
  getBytes(name: string): Uint8Array {
    const t = this.info(name);
    if (this.#perTensor) return this.#readTensor(t);
    return this.#whole!.subarray(t.byteOffset, t.byteOffset + t.byteLength);
  }

  /** Returns [buffer, byteOffset] for a typed-array view of `t`, copying only when misaligned. */
  private region(t: TensorInfo, elemBytes: number): [ArrayBufferLike, number] {
    // Read per tensor: a buffer of its own, so its start is aligned for every element size.
    if (this.#perTensor) return [this.#readTensor(t).buffer, 0];
    const whole = this.#whole!;
    const abs = whole.byteOffset + t.byteOffset;
    if (abs % elemBytes === 0) return [whole.buffer, abs];
    return [whole.slice(t.byteOffset, t.byteOffset + t.byteLength).buffer, 0];
  }

  /**
   * The tensor as float32, widening F16 and BF16 exactly as torch's `.float()` does (subnormals, infinities
   * and NaN payloads kept; F16 NaNs come out quiet).
   *
   * For an F32 tensor whose data is 4-byte aligned in the file (as Hugging Face writes them) the result is a
   * zero-copy view that aliases the file buffer: writing to it changes the file's bytes in memory, and it
   * keeps the whole file alive. Use `.slice()` for an independent copy. Other dtypes return a new array.
   *
   * @param name tensor name
   * @returns the values, row-major
   * @throws {SafetensorsError} if there is no such tensor or its dtype is not F32, F16 or BF16
   */
  getFloat32(name: string): Float32Array {
    const t = this.info(name);
    switch (t.dtype) {
      case "F32": {
        const [buf, off] = this.region(t, 4);
        return new Float32Array(buf, off, t.size);
      }
      case "F16": {
        const [buf, off] = this.region(t, 2);
        const src = new Uint16Array(buf, off, t.size);
        const out = new Uint32Array(t.size);
        const table = halfToFloatBitsTable();
        for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
        return new Float32Array(out.buffer);
      }
      case "BF16": {
        const [buf, off] = this.region(t, 2);
        const src = new Uint16Array(buf, off, t.size);
        // bf16 is the high half of a float32.
        const out = new Uint32Array(t.size);
        for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
        return new Float32Array(out.buffer);
      }
      default:
        throw new SafetensorsError(
          this.source,
          `tensor ${JSON.stringify(name)} has dtype ${t.dtype}, which cannot be read as float32 ` +
            `(supported: F32, F16, BF16; use getBytes for raw access)`,
        );
    }
  }

  /**
   * The tensor as int32. I32 data is returned as a view when aligned (aliasing the file buffer, like
   * {@linkcode SafetensorsFile.getFloat32}); I64, U32, I16, U16, I8, U8 and BOOL are converted into a new
   * array, checking that every value fits in int32.
   *
   * @param name tensor name
   * @returns the values, row-major
   * @throws {SafetensorsError} if there is no such tensor, its dtype is not an integer type, or a value is out
   * of the int32 range
   */
  getInt32(name: string): Int32Array {
    const t = this.info(name);
    const outOfRange = (i: number, v: bigint | number): never => {
      throw new SafetensorsError(
        this.source,
        `tensor ${JSON.stringify(name)} (${t.dtype}) element ${i} = ${v} does not fit in int32`,
      );
    };
    switch (t.dtype) {
      case "I32": {
        const [buf, off] = this.region(t, 4);
        return new Int32Array(buf, off, t.size);
      }
      case "I64": {
        const [buf, off] = this.region(t, 8);
        const words = new Int32Array(buf, off, t.size * 2);
        const out = new Int32Array(t.size);
        for (let i = 0; i < t.size; i++) {
          const lo = words[2 * i];
          if (words[2 * i + 1] !== lo >> 31) outOfRange(i, new BigInt64Array(buf, off, t.size)[i]);
          out[i] = lo;
        }
        return out;
      }
      case "U32": {
        const [buf, off] = this.region(t, 4);
        const src = new Int32Array(buf, off, t.size);
        for (let i = 0; i < t.size; i++) if (src[i] < 0) outOfRange(i, src[i] >>> 0);
        return src.slice();
      }
      case "I16":
      case "U16": {
        const [buf, off] = this.region(t, 2);
        return Int32Array.from(
          t.dtype === "I16" ? new Int16Array(buf, off, t.size) : new Uint16Array(buf, off, t.size),
        );
      }
      case "I8": {
        const b = this.getBytes(name);
        return Int32Array.from(new Int8Array(b.buffer, b.byteOffset, t.size));
      }
      case "U8":
      case "BOOL":
        return Int32Array.from(this.getBytes(name));
      default:
        throw new SafetensorsError(
          this.source,
          `tensor ${JSON.stringify(name)} has dtype ${t.dtype}, which cannot be read as int32`,
        );
    }
  }

  /**
   * The tensor as int64. I64 data is returned as a view when aligned (aliasing the file buffer); I32, U32,
   * I16, U16, I8, U8 and BOOL are widened into a new array.
   *
   * @param name tensor name
   * @returns the values, row-major
   * @throws {SafetensorsError} if there is no such tensor or its dtype is not a signed or narrower integer type
   */
  getBigInt64(name: string): BigInt64Array {
    const t = this.info(name);
    if (t.dtype === "I64") {
      const [buf, off] = this.region(t, 8);
      return new BigInt64Array(buf, off, t.size);
    }
    if (!WIDENS_TO_INT64.has(t.dtype)) {
      throw new SafetensorsError(
        this.source,
        `tensor ${JSON.stringify(name)} has dtype ${t.dtype}, which cannot be read as int64`,
      );
    }
    const src = t.dtype === "U32" ? this.getUint32(t) : this.getInt32(name);
    const out = new BigInt64Array(t.size);
    for (let i = 0; i < src.length; i++) out[i] = BigInt(src[i]);
    return out;
  }

  /** U32 data as a view (copied if misaligned). */
  private getUint32(t: TensorInfo): Uint32Array {
    const [buf, off] = this.region(t, 4);
    return new Uint32Array(buf, off, t.size);
  }
}

const WIDENS_TO_INT64: ReadonlySet<SafetensorsDtype> = new Set([
  "I32",
  "U32",
  "I16",
  "U16",
  "I8",
  "U8",
  "BOOL",
]);

/** One tensor to serialize. */
export interface TensorToWrite {
  /** Element type to record in the header. */
  dtype: SafetensorsDtype;
  /** Dimensions, row-major. */
  shape: readonly number[];
  /**
   * The values: the typed array matching `dtype` (Float64Array for F64, Float32Array for F32, Uint16Array
   * holding raw bits for F16/BF16/U16, BigInt64Array for I64, BigUint64Array for U64, Int32Array, Uint32Array,
   * Int16Array, Int8Array, Uint8Array for U8/BOOL/F8_*), or a Uint8Array of raw little-endian bytes for any
   * dtype. Its length must equal the product of `shape`.
   */
  data: ArrayBufferView;
}

const EXPECTED_ARRAY: Record<SafetensorsDtype, string> = {
  F64: "Float64Array",
  F32: "Float32Array",
  F16: "Uint16Array",
  BF16: "Uint16Array",
  F8_E5M2: "Uint8Array",
  F8_E4M3: "Uint8Array",
  F8_E8M0: "Uint8Array",
  I64: "BigInt64Array",
  I32: "Int32Array",
  I16: "Int16Array",
  I8: "Int8Array",
  U64: "BigUint64Array",
  U32: "Uint32Array",
  U16: "Uint16Array",
  U8: "Uint8Array",
  BOOL: "Uint8Array",
  C64: "Float32Array",
};

interface Plan {
  /** Length field + JSON header + padding. */
  prefix: Uint8Array;
  /** Tensor data views in file order. */
  chunks: Uint8Array[];
  /** Total data bytes. */
  dataBytes: number;
}

/** Validates the tensors and lays them out like the reference implementation. */
function plan(
  tensors: Readonly<Record<string, TensorToWrite>> | ReadonlyMap<string, TensorToWrite>,
  metadata: Readonly<Record<string, string>> | undefined,
  src: string,
): Plan {
  const entries: [string, TensorToWrite][] = tensors instanceof Map
    ? [...tensors.entries()]
    : Object.entries(tensors);
  entries.sort(([an, a], [bn, b]) =>
    (DTYPE_BYTES[b.dtype] ?? 0) - (DTYPE_BYTES[a.dtype] ?? 0) || (an < bn ? -1 : an > bn ? 1 : 0)
  );
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new SafetensorsError(src, `metadata ${JSON.stringify(k)} is not a string`);
      }
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const what = `tensor ${JSON.stringify(name)}`;
    if (name === "__metadata__") throw new SafetensorsError(src, `${what}: reserved name`);
    if (!isDtype(t.dtype)) throw new SafetensorsError(src, `${what}: unknown dtype ${describe(t.dtype)}`);
    let size = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new SafetensorsError(src, `${what}: shape ${brief(t.shape)} is invalid`);
      }
      size *= d;
    }
    const ctor = t.data.constructor.name;
    if (ctor !== "Uint8Array" && ctor !== EXPECTED_ARRAY[t.dtype]) {
      throw new SafetensorsError(
        src,
        `${what}: ${t.dtype} data must be ${EXPECTED_ARRAY[t.dtype]} or Uint8Array, got ${ctor}`,
      );
    }
    const byteLength = size * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== byteLength) {
      throw new SafetensorsError(
        src,
        `${what}: data is ${t.data.byteLength} bytes, shape ${
          brief(t.shape)
        } x ${t.dtype} needs ${byteLength}`,
      );
    }
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + byteLength] };
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const prefix = new Uint8Array(8 + padded).fill(0x20);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  return { prefix, chunks, dataBytes: offset };
}

/**
 * Serializes tensors to the safetensors format, like the reference implementation: tensors ordered by
 * descending element size then name (so every tensor is aligned to its element size), `__metadata__` first,
 * header padded with spaces to a multiple of 8 bytes.
 *
 * @param tensors tensors by name
 * @param metadata optional string-to-string `__metadata__`
 * @returns the file's bytes
 * @throws {SafetensorsError} if a tensor's data does not match its dtype and shape
 */
export function serializeSafetensors(
  tensors: Readonly<Record<string, TensorToWrite>> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const { prefix, chunks, dataBytes } = plan(tensors, metadata, "<serialize>");
  const out = new Uint8Array(prefix.length + dataBytes);
  out.set(prefix, 0);
  let pos = prefix.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/**
 * Writes tensors to a safetensors file (same layout as {@linkcode serializeSafetensors}) without building
 * the whole file in memory. The file appears atomically: data goes to a temporary file in the same directory,
 * which is then renamed over `path`, so concurrent readers never see a partial file.
 *
 * @param path destination file
 * @param tensors tensors by name
 * @param metadata optional string-to-string `__metadata__`
 * @throws {SafetensorsError} if a tensor's data does not match its dtype and shape
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, TensorToWrite>> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const { prefix, chunks } = plan(tensors, metadata, path);
  await atomicWriteFile(path, [prefix, ...chunks]);
}
