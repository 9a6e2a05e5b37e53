/**
 * The one place TypeScript calls into C. Every method checks the sizes of the buffers it passes against
 * the shape the C function will touch, so no call from here can read or write out of bounds. The symbols
 * are destructured once so V8 can use its fast FFI path.
 *
 * Threads: each Backend passes its own thread count to every call, so models with different `threads`
 * never change each other's. Models in different Workers (or the main thread) may run at the same time:
 * the C side shares one pool between them and serialises OpenBLAS (ffi/kernels.h, "Threads").
 *
 * @module
 */

import { type KernelLibrary, openNative } from "../ffi/library.ts";
import { alignedArray, alignedBytes, HUGE_PAGE_BYTES, LINE_BYTES } from "./aligned.ts";

const I32_MAX = 0x7fffffff;
/** The weights a back end keeps are carved out of chunks of this size (more for a larger matrix). */
const CHUNK_BYTES = 32 * HUGE_PAGE_BYTES;
/** Row counts for which dbk_linear beat OpenBLAS on every base-model weight shape in a sweep of M. */
const SMALL_M_MIN = 4;
const SMALL_M_MAX = 64;

function need(cond: boolean, what: string): void {
  if (!cond) throw new RangeError(`internal size check failed before a native call: ${what}`);
}

function overlaps(x: ArrayBufferView, y: ArrayBufferView): boolean {
  if (x.buffer !== y.buffer) return false;
  return x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
}

/** K as the reduced-precision layouts pad it (kernels.h: a multiple of 64, one AMX int8 step). */
function paddedK(k: number): number {
  return Math.ceil(k / 64) * 64;
}

function dimsOk(...n: number[]): boolean {
  for (const v of n) if (!Number.isInteger(v) || v <= 0 || v > I32_MAX) return false;
  return true;
}

/** The most threads a model may ask for; the C pool caps a job at 256. */
export const MAX_THREADS = 256;

/** Checks a `threads` option: an integer from 1 to {@link MAX_THREADS}. */
export function validateThreads(threads: unknown, what = "threads"): number {
  if (typeof threads !== "number" || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`${what} must be an integer from 1 to ${MAX_THREADS}, got ${String(threads)}`);
  }
  return threads;
}

/** Weight precisions of the encoder's linear layers (Transformers.js's names); see `LoadOptions.dtype`. */
export const DTYPES = ["fp32", "bf16", "q8"] as const;
/** One of {@link DTYPES}: `"fp32"` (exact), `"bf16"` or `"q8"` (int8 weights per output channel). */
export type Dtype = typeof DTYPES[number];
/** The reduced precisions, with their codes in ffi/kernels.h (DBK_DTYPE_*). */
type LowpDtype = Exclude<Dtype, "fp32">;
const DTYPE_CODE: Record<LowpDtype, number> = { bf16: 1, q8: 2 };
/** Kernel paths by their DBK_PATH_* codes; `DENOBERT_LOWP_PATH` may force one (tests run each). */
export const LOWP_PATHS = ["scalar", "avx2", "avx_vnni", "vnni_ymm", "avx512", "amx"] as const;
export type LowpPath = typeof LOWP_PATHS[number];

/** A linear layer's weight [n, k] in the form its kernel reads. */
export type LinearWeight =
  /** Checkpoint layout [n, k], or (`packed`) the panels of `Backend.packWeights`. */
  | { dtype: "fp32"; n: number; k: number; w: Float32Array; packed: boolean }
  /** bf16 panels of `Backend.packLowp` (ffi/kernels.h, "Reduced precision"). */
  | { dtype: "bf16"; n: number; k: number; w: Uint16Array; path: number }
  /** int8 panels (q + 128) and one scale per output feature. */
  | { dtype: "q8"; n: number; k: number; w: Uint8Array; scale: Float32Array; path: number };

/** Options for opening the native back end. */
export interface BackendOptions {
  /**
   * Threads this back end's calls of our kernels use, the calling thread included. OpenBLAS always runs on
   * one (ffi/kernels.h: its split between threads changes low bits). Default: the number of CPU cores.
   */
  threads?: number;
}

/** What the DBK_ACT_* codes are, asked once per isolate (src/backend.ts never copies C's numbers). */
let activationCodes: Int32Array | undefined;

/**
 * Activations already in the packed linears' x layout, `rows` x `cols` (written by `biasResidualLayerNorm`
 * with a `packedOut`), for the next `linearPacked` or fp32 `feedForward` to read instead of packing x itself.
 */
export interface PackedX {
  readonly packed: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** A handle on the native library with this back end's own thread count and scratch buffers. */
export class Backend {
  #closed = false;
  #threads: number;
  #linearScratch = new Float32Array(0);
  #k: KernelLibrary["symbols"];
  #panelWidth: number;
  #act: Int32Array;
  #attentionScratchLen = 0;
  #attentionScratchHeadDim = 0;
  #attentionScratchFloats = 0;
  #linearScratchFloats = new Map<number, number>();
  #packedScratchFloats = new Map<number, number>();

  private constructor(kernels: KernelLibrary, threads: number) {
    this.#k = kernels.symbols;
    this.#threads = threads;
    // Constants of the built library, asked once: linearPacked runs 4x per layer and should cost one FFI call.
    this.#panelWidth = this.#k.dbk_packed_panel_width();
    if (activationCodes === undefined) {
      activationCodes = new Int32Array(3);
      this.#k.dbk_activation_codes(activationCodes);
    }
    this.#act = activationCodes;
  }

  /** Opens (once per isolate) the native library; see `ffi/library.ts` for how it is found. */
  static async open(options: BackendOptions = {}): Promise<Backend> {
    const threads = validateThreads(options.threads ?? navigator.hardwareConcurrency);
    return new Backend(await openNative(), threads);
  }

  /** Changes this back end's thread count (no other model's). */
  setThreads(threads: number): void {
    this.#check();
    this.#threads = validateThreads(threads);
  }

  /** Threads this back end's native calls use, the calling thread included. */
  get kernelThreads(): number {
    return this.#threads;
  }

  /** OpenBLAS's build configuration and the kernel set it chose for this CPU, when it tells. */
  blasInfo(): { config: string | null; coreName: string | null; threads: number } {
    const str = (what: number) => {
      const buf = new Uint8Array(512);
      const n = this.#k.dbk_blas_info(what, buf, buf.length);
      return n < 0 ? null : new TextDecoder().decode(buf.subarray(0, Math.min(n, buf.length - 1)));
    };
    return { config: str(0), coreName: str(1), threads: this.#threads };
  }

  #check(): void {
    if (this.#closed) throw new Error("the model was closed: load it again to use it");
  }

  /** c[M, N] = a[M, K] x b[N, K]^T: a linear layer with weights stored [out, in] as in PyTorch. */
  matmulTransposed(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    m: number,
    n: number,
    k: number,
  ): void {
    this.#check();
    need(dimsOk(m, n, k), `sgemm sizes ${m}x${n}x${k}`);
    need(a.length >= m * k && b.length >= n * k && c.length >= m * n, `sgemm buffers for ${m}x${n}x${k}`);
    if (m >= SMALL_M_MIN && m <= SMALL_M_MAX) {
      // A few rows: our kernel reads the weights once in place, where BLAS would first copy all of them
      // into its packed layout (ffi/linear.c). Measured faster than OpenBLAS from 4 to 64 rows.
      // Asked once per shape (a forward has two or three), not once per layer: each native call counts.
      const key = m * 2 ** 31 + k; // exact: m <= SMALL_M_MAX
      let floats = this.#linearScratchFloats.get(key);
      if (floats === undefined) {
        if (this.#linearScratchFloats.size > 64) this.#linearScratchFloats.clear();
        floats = Number(this.#k.dbk_linear_scratch_floats(m, k));
        this.#linearScratchFloats.set(key, floats);
      }
      if (this.#linearScratch.length < floats) this.#linearScratch = alignedArray(Float32Array, floats);
      need(!overlaps(c, a) && !overlaps(c, b), "linear output must not overlap its inputs");
      this.#k.dbk_linear(this.#threads, a, m, k, b, n, this.#linearScratch, c);
      return;
    }
    need(!overlaps(c, a) && !overlaps(c, b), "sgemm output must not overlap its inputs");
    if (this.#k.dbk_sgemm_nt(m, n, k, a, b, c) !== 0) {
      throw new Error("OpenBLAS is not loaded (internal error: the native library was opened without it)");
    }
  }

  /** Output features per panel of the packed weight layout (32 with AVX-512); see `ffi/packed_linear.c`. */
  get panelWidth(): number {
    this.#check();
    return this.#panelWidth;
  }

  /**
   * A zeroed buffer of `length` floats for a weight only this back end's model keeps (the fused QKV copy),
   * on a cache line and carved from the same 2 MB-page chunks as the reduced-precision weights.
   */
  weightArray(length: number): Float32Array {
    this.#check();
    need(Number.isSafeInteger(length) && length >= 0, `weight buffer of ${length} floats`);
    const bytes = this.#weightBytes(4 * length);
    return new Float32Array(bytes.buffer, bytes.byteOffset, length);
  }

  /** packed = w [n, k] rearranged into panels of `panelWidth` output features, for `linearPacked`. */
  packWeights(w: Float32Array, n: number, k: number, packed: Float32Array): void {
    this.#check();
    need(dimsOk(n, k) && n % this.panelWidth === 0, `packed weight shape ${n}x${k}`);
    need(w.length >= n * k && packed.length >= n * k, `packed weight buffers for ${n}x${k}`);
    need(!overlaps(w, packed), "packed weights must not overlap the source");
    this.#k.dbk_pack_weights(this.#threads, w, n, k, packed);
  }

  /** w [n, k] packed in place (the layout of `packWeights`), through a scratch of one panel per thread. */
  packWeightsInPlace(w: Float32Array, n: number, k: number): void {
    this.#check();
    const pw = this.panelWidth;
    need(dimsOk(n, k) && n % pw === 0, `packed weight shape ${n}x${k}`);
    need(w.length >= n * k, `packed weight buffer for ${n}x${k}`);
    const floats = pw * k * this.#threads;
    if (this.#linearScratch.length < floats) this.#linearScratch = alignedArray(Float32Array, floats);
    this.#k.dbk_pack_weights_in_place(
      this.#threads,
      w,
      n,
      k,
      this.#linearScratch,
      BigInt(this.#linearScratch.length),
    );
  }

  /**
   * c[M, N] = act(a[M, K] x w[N, K]^T (+ bias)) with w packed by `packWeights`: every linear layer of the
   * encoder, the activation (exact GELU or ReLU, as `biasGelu` / `biasRelu`) applied on the way out.
   */
  linearPacked(
    a: Float32Array | PackedX,
    packed: Float32Array,
    bias: Float32Array | null,
    c: Float32Array,
    m: number,
    n: number,
    k: number,
    activation: "none" | "gelu" | "relu" = "none",
  ): void {
    this.#check();
    need(dimsOk(m, n, k) && n % this.panelWidth === 0, `packed linear sizes ${m}x${n}x${k}`);
    const x = a instanceof Float32Array ? a : this.#packedX(a, m, k);
    need(
      (x !== a || a.length >= m * k) && packed.length >= n * k && c.length >= m * n,
      `packed linear buffers ${m}x${n}x${k}`,
    );
    need(bias === null || bias.length >= n, `packed linear bias for ${n} outputs`);
    need(
      !overlaps(c, x) && !overlaps(c, packed) && (bias === null || !overlaps(c, bias)),
      "linear output overlaps an input",
    );
    const act = this.#act[activation === "gelu" ? 1 : activation === "relu" ? 2 : 0];
    if (x !== a) {
      // x NULL: the kernel reads x from its scratch, where it is already packed.
      this.#k.dbk_packed_linear(this.#threads, null, m, k, packed, n, bias, act, x, c);
      return;
    }
    const floats = this.packedXFloats(m, k);
    if (this.#linearScratch.length < floats) this.#linearScratch = alignedArray(Float32Array, floats);
    this.#k.dbk_packed_linear(this.#threads, a, m, k, packed, n, bias, act, this.#linearScratch, c);
  }

  /** Floats of m rows of k in the packed linears' x layout (a `PackedX`'s size; the packed linear's scratch). */
  packedXFloats(m: number, k: number): number {
    need(dimsOk(m, k), `packed x sizes ${m}x${k}`);
    // Asked once per shape (a forward has two: k = dim and k = hidden), not once per layer.
    const key = m * 2 ** 31 + k;
    let floats = this.#packedScratchFloats.get(key);
    if (floats === undefined) {
      if (this.#packedScratchFloats.size > 64) this.#packedScratchFloats.clear();
      floats = Number(this.#k.dbk_packed_linear_scratch_floats(m, k));
      this.#packedScratchFloats.set(key, floats);
    }
    return floats;
  }

  /** x's packed buffer, once it is checked to be m x k and whole. */
  #packedX(x: PackedX, m: number, k: number): Float32Array {
    need(x.rows === m && x.cols === k, `packed x of ${x.rows}x${x.cols} for a linear of ${m}x${k}`);
    need(x.packed.length >= this.packedXFloats(m, k), `packed x buffer for ${m}x${k}`);
    return x.packed;
  }

  /**
   * The kernel path a reduced-precision dtype runs on here: the fastest this CPU has, or the one named by
   * the `DENOBERT_LOWP_PATH` environment variable (one of {@link LOWP_PATHS}; for tests and comparisons).
   * Throws when the CPU has no vector path for it (the plain C path is a reference, slower than fp32) or
   * cannot run the forced one.
   */
  lowpPath(dtype: LowpDtype): number {
    this.#check();
    const code = DTYPE_CODE[dtype];
    let forced: string | undefined;
    try {
      forced = Deno.env.get("DENOBERT_LOWP_PATH");
    } catch {
      forced = undefined; // no --allow-env: nothing is forced
    }
    if (forced) {
      const path = (LOWP_PATHS as readonly string[]).indexOf(forced);
      if (path < 0) {
        throw new RangeError(
          `DENOBERT_LOWP_PATH=${forced} is not a kernel path (paths: ${LOWP_PATHS.join(", ")})`,
        );
      }
      if (!this.#k.dbk_lowp_path_supported(code, path)) {
        throw new Error(
          `DENOBERT_LOWP_PATH=${forced}: this CPU cannot run the ${forced} path for dtype "${dtype}"`,
        );
      }
      return path;
    }
    const best = this.#k.dbk_lowp_best_path(code);
    if (best <= 0) {
      throw new Error(
        `dtype "${dtype}" needs AVX2 (or AVX-512${
          dtype === "bf16" ? "-BF16" : "-VNNI / AVX-VNNI"
        }) and this CPU has ` +
          `none: use dtype "fp32"`,
      );
    }
    return best;
  }

  /** Paths this CPU can run for each reduced dtype, by name (for /info, the CLI and tests). */
  lowpPaths(): Record<LowpDtype, LowpPath[]> {
    this.#check();
    const of = (dtype: LowpDtype) =>
      LOWP_PATHS.filter((_, path) => this.#k.dbk_lowp_path_supported(DTYPE_CODE[dtype], path) === 1);
    return { bf16: of("bf16"), q8: of("q8") };
  }

  /**
   * w [n, k] fp32 (or, for bf16, the raw bits of a BF16 tensor) converted once into the layout of
   * `linearLowp` on `path`.
   */
  packLowp(
    dtype: LowpDtype,
    path: number,
    w: Float32Array | Uint16Array,
    n: number,
    k: number,
  ): LinearWeight {
    this.#check();
    need(dimsOk(n, k) && w.length >= n * k, `reduced-precision weight ${n}x${k}`);
    need(this.#lowpPathRuns(DTYPE_CODE[dtype], path), `kernel path ${path} for ${dtype}`);
    const elems = Number(this.#k.dbk_lowp_packed_elems(n, k));
    if (dtype === "bf16") {
      const bytes = this.#weightBytes(2 * elems);
      const out = new Uint16Array(bytes.buffer, bytes.byteOffset, elems);
      if (w instanceof Uint16Array) this.#k.dbk_pack_bf16_bits(this.#threads, w, n, k, out);
      else this.#k.dbk_pack_bf16(this.#threads, w, n, k, out);
      return { dtype, n, k, w: out, path };
    }
    need(w instanceof Float32Array, "int8 weights are quantized from float32");
    const out = this.#weightBytes(elems), scale = new Float32Array(Math.ceil(n / 32) * 32);
    need(elems === scale.length * paddedK(k), `int8 layout of ${n}x${k}`);
    this.#k.dbk_pack_q8(this.#threads, w as Float32Array, n, k, out, scale);
    return { dtype, n, k, w: out, scale, path };
  }

  // The weights only this back end's model keeps (reduced-precision ones, the fused fp32 QKV) are carved in
  // turn out of chunks that start on a 2 MB boundary and are asked to sit on 2 MB pages, as the fp32
  // weights file is (src/checkpoint.ts): a forward streams all of them, and on 4 KB pages (one array per
  // matrix) its TLB misses made base bf16 and q8 4-7% slower at a few dozen tokens. Each piece starts on a
  // cache line; a chunk's pages past its last piece are never touched, so they cost no memory. A back end
  // is one model's, so a chunk holds one model's weights.
  #chunk: Uint8Array = new Uint8Array(0);
  #chunkUsed = 0;
  #weightBytes(length: number): Uint8Array {
    const taken = Math.ceil(length / LINE_BYTES) * LINE_BYTES;
    if (this.#chunkUsed + taken > this.#chunk.length) {
      const size = Math.max(CHUNK_BYTES, Math.ceil(taken / HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES);
      this.#chunk = alignedBytes(size, 0, HUGE_PAGE_BYTES);
      this.#chunkUsed = 0;
      // Best effort, before the first write faults the pages in: declined, the pages are 4 KB ones.
      this.#k.dbk_advise_huge_pages(this.#chunk, BigInt(size));
    }
    const bytes = this.#chunk.subarray(this.#chunkUsed, this.#chunkUsed + length);
    this.#chunkUsed += taken;
    return bytes;
  }

  #lowpScratch = new Uint8Array(0);
  /** Per dtype code * 8 + path: whether this CPU runs it (asked once), and scratch bytes by m * 2^31 + k. */
  #lowpRuns: (boolean | undefined)[] = [];
  #lowpScratchBytes: Map<number, number>[] = [];

  #lowpPathRuns(code: number, path: number): boolean {
    // Checked before it indexes the cache: code * 8 + path of a path past the last (8) is another dtype's entry.
    if (!Number.isInteger(path) || path < 0 || path >= LOWP_PATHS.length) return false;
    return this.#lowpRuns[code * 8 + path] ??= this.#k.dbk_lowp_path_supported(code, path) === 1;
  }

  /** c[M, N] = act(a[M, K] x w^T (+ bias)) with w from `packLowp`: bf16 or int8 GEMM, fp32 in and out. */
  linearLowp(
    a: Float32Array,
    lw: LinearWeight,
    bias: Float32Array | null,
    c: Float32Array,
    m: number,
    activation: "none" | "gelu" | "relu" = "none",
  ): void {
    this.#check();
    if (lw.dtype === "fp32") throw new TypeError("internal: linearLowp takes a bf16 or q8 weight");
    const { n, k } = lw;
    need(dimsOk(m, n, k) && a.length >= m * k && c.length >= m * n, `low-precision linear ${m}x${n}x${k}`);
    const elems = Math.ceil(n / 32) * 32 * paddedK(k);
    need(
      lw.w.length >= elems && (lw.dtype === "bf16" || lw.scale.length * paddedK(k) >= elems),
      "packed size",
    );
    need(bias === null || bias.length >= n, `low-precision linear bias for ${n} outputs`);
    // int32 sums of up to 255 * 127 per k (the VNNI paths' unsigned weights) stay below 2^31.
    need(lw.dtype === "bf16" || k <= 65536, `int8 linear with ${k} inputs (at most 65536)`);
    need(
      !overlaps(c, a) && !overlaps(c, lw.w) && (lw.dtype === "bf16" || !overlaps(c, lw.scale)) &&
        (bias === null || !overlaps(c, bias)),
      "linear output overlaps an input",
    );
    const code = DTYPE_CODE[lw.dtype];
    need(this.#lowpPathRuns(code, lw.path), "kernel path of the weights");
    // Asked once per shape (a forward has two: k = dim and k = hidden), not once per layer.
    const sizes = this.#lowpScratchBytes[code * 8 + lw.path] ??= new Map();
    const key = m * 2 ** 31 + k;
    let bytes = sizes.get(key);
    if (bytes === undefined) {
      if (sizes.size > 64) sizes.clear();
      bytes = Number(this.#k.dbk_lowp_scratch_bytes(code, lw.path, m, k));
      sizes.set(key, bytes);
    }
    if (this.#lowpScratch.length < bytes) this.#lowpScratch = alignedArray(Uint8Array, bytes);
    const act = this.#act[activation === "gelu" ? 1 : activation === "relu" ? 2 : 0];
    if (lw.dtype === "bf16") {
      this.#k.dbk_bf16_linear(this.#threads, lw.path, a, m, k, lw.w, n, bias, act, this.#lowpScratch, c);
    } else {
      this.#k.dbk_q8_linear(
        this.#threads,
        lw.path,
        a,
        m,
        k,
        lw.w,
        lw.scale,
        n,
        bias,
        act,
        this.#lowpScratch,
        c,
      );
    }
  }

  #ffnScratchSize = new Map<string, number>();

  /**
   * Whether `feedForward` takes these two weights: both packed fp32 (dbk_packed_ffn), or both bf16 on one
   * kernel path (dbk_bf16_ffn).
   */
  static fusesFeedForward(w1: LinearWeight, w2: LinearWeight): boolean {
    if (w1.dtype === "fp32" && w2.dtype === "fp32") return w1.packed && w2.packed;
    return w1.dtype === "bf16" && w2.dtype === "bf16" && w1.path === w2.path;
  }

  /**
   * y[M, N] = w2 . act(w1 . x + b1) (+ b2), a feed-forward block: the bits of two `linearPacked` (fp32) or
   * `linearLowp` (bf16) calls, but the hidden layer goes from the first linear's epilogue straight into the
   * form the second reads (fp32 panels, bf16 strips), never written out row by row and converted again.
   * The weights must be a pair `fusesFeedForward` accepts.
   */
  feedForward(
    x: Float32Array | PackedX,
    w1: LinearWeight,
    b1: Float32Array | null,
    w2: LinearWeight,
    b2: Float32Array | null,
    y: Float32Array,
    m: number,
    activation: "none" | "gelu" | "relu" = "none",
  ): void {
    this.#check();
    if (!Backend.fusesFeedForward(w1, w2)) {
      throw new TypeError(
        "internal: feedForward takes two packed fp32 weights or two bf16 weights on one kernel path",
      );
    }
    const { n: h, k } = w1, n = w2.n;
    need(w2.k === h, `feed-forward widths ${k} -> ${h} -> ${w2.k}`);
    need(dimsOk(m, n, k) && dimsOk(m, h, k) && y.length >= m * n, `feed-forward ${m}x${k}x${h}x${n}`);
    const xp = x instanceof Float32Array ? null : this.#packedX(x, m, k);
    need(xp !== null || (x as Float32Array).length >= m * k, `feed-forward ${m}x${k}x${h}x${n}`);
    need((b1 === null || b1.length >= h) && (b2 === null || b2.length >= n), "feed-forward bias sizes");
    need(
      !overlaps(y, xp ?? x as Float32Array) && (b1 === null || !overlaps(y, b1)) &&
        (b2 === null || !overlaps(y, b2)),
      "feed-forward output overlaps an input",
    );
    const act = this.#act[activation === "gelu" ? 1 : activation === "relu" ? 2 : 0];
    if (w1.dtype === "fp32" && w2.dtype === "fp32") {
      need(h % this.panelWidth === 0 && n % this.panelWidth === 0, `packed feed-forward widths ${h}, ${n}`);
      need(w1.w.length >= h * k && w2.w.length >= n * h, "packed size");
      need(!overlaps(y, w1.w) && !overlaps(y, w2.w), "feed-forward output overlaps an input");
      const floats = this.#ffnScratch(
        `fp32 ${m} ${k} ${h}`,
        () => this.#k.dbk_packed_ffn_scratch_floats(m, k, h),
      );
      if (this.#linearScratch.length < floats) this.#linearScratch = alignedArray(Float32Array, floats);
      const rowMajor = xp === null ? x as Float32Array : null;
      this.#k.dbk_packed_ffn(
        this.#threads,
        rowMajor,
        xp,
        m,
        k,
        w1.w,
        h,
        b1,
        act,
        w2.w,
        n,
        b2,
        this.#linearScratch,
        y,
      );
      return;
    }
    if (w1.dtype !== "bf16" || w2.dtype !== "bf16") throw new TypeError("internal: unreachable");
    if (!(x instanceof Float32Array)) throw new TypeError("internal: a bf16 feed-forward takes x row-major");
    need(
      w1.w.length >= Math.ceil(h / 32) * 32 * paddedK(k) &&
        w2.w.length >= Math.ceil(n / 32) * 32 * paddedK(h),
      "packed size",
    );
    need(!overlaps(y, w1.w) && !overlaps(y, w2.w), "feed-forward output overlaps an input");
    need(this.#lowpPathRuns(DTYPE_CODE.bf16, w1.path), "kernel path of the weights");
    const path = w1.path;
    const bytes = this.#ffnScratch(
      `bf16 ${path} ${m} ${k} ${h}`,
      () => this.#k.dbk_bf16_ffn_scratch_bytes(path, m, k, h),
    );
    if (this.#lowpScratch.length < bytes) this.#lowpScratch = alignedArray(Uint8Array, bytes);
    this.#k.dbk_bf16_ffn(this.#threads, path, x, m, k, w1.w, h, b1, act, w2.w, n, b2, this.#lowpScratch, y);
  }

  /** The scratch size of a feed-forward shape, asked of C once per shape (a forward has one). */
  #ffnScratch(key: string, ask: () => bigint): number {
    let size = this.#ffnScratchSize.get(key);
    if (size === undefined) {
      if (this.#ffnScratchSize.size > 64) this.#ffnScratchSize.clear();
      size = Number(ask());
      this.#ffnScratchSize.set(key, size);
    }
    return size;
  }

  /**
   * out[T, dim] = LayerNorm(wordEmb[ids[t]] + typeEmb[types[t]] + posEmb[positions[t]]), the token-type term
   * only when `typeEmb` is given (BERT; DistilBERT has none). Every index is checked here.
   */
  embedLayerNorm(
    ids: Int32Array,
    positions: Int32Array,
    types: Int32Array | null,
    t: number,
    wordEmb: Float32Array,
    posEmb: Float32Array,
    typeEmb: Float32Array | null,
    dim: number,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    out: Float32Array,
  ): void {
    this.#check();
    need(dimsOk(t, dim), "embedding sizes");
    need(ids.length >= t && positions.length >= t && out.length >= t * dim, "embedding buffers");
    need(gamma.length >= dim && beta.length >= dim, "embedding LayerNorm parameters");
    need((types === null) === (typeEmb === null), "token types and their embeddings come together");
    need(types === null || types.length >= t, "token type buffer");
    const vocab = Math.floor(wordEmb.length / dim), maxPos = Math.floor(posEmb.length / dim);
    for (let i = 0; i < t; i++) {
      const id = ids[i], pos = positions[i];
      if (!(id >= 0 && id < vocab && pos >= 0 && pos < maxPos)) {
        throw new RangeError(`token ${i}: id ${id} or position ${pos} out of range`);
      }
    }
    if (types !== null) {
      const typeVocab = Math.floor(typeEmb!.length / dim);
      for (let i = 0; i < t; i++) {
        const y = types[i];
        if (!(y >= 0 && y < typeVocab)) throw new RangeError(`token ${i}: token type ${y} out of range`);
      }
    }
    this.#k.dbk_embed_layernorm(
      this.#threads,
      ids,
      positions,
      types,
      t,
      wordEmb,
      posEmb,
      typeEmb,
      dim,
      gamma,
      beta,
      eps,
      out,
    );
  }

  /** out[T, dim] = LayerNorm(x). */
  layerNorm(
    x: Float32Array,
    t: number,
    dim: number,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    out: Float32Array,
  ): void {
    this.#check();
    need(dimsOk(t, dim) && x.length >= t * dim && out.length >= t * dim, "layernorm buffers");
    need(gamma.length >= dim && beta.length >= dim, "layernorm parameters");
    this.#k.dbk_layernorm(this.#threads, x, t, dim, gamma, beta, eps, out);
  }

  /**
   * out[T, dim] = LayerNorm(x + bias + residual); with `packedOut` (a `PackedX` of T x dim), out also goes
   * into it in the form the next fp32 packed linear reads.
   */
  biasResidualLayerNorm(
    x: Float32Array,
    bias: Float32Array,
    residual: Float32Array,
    t: number,
    dim: number,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    out: Float32Array,
    packedOut: PackedX | null = null,
  ): void {
    this.#check();
    need(dimsOk(t, dim), "residual layernorm sizes");
    need(x.length >= t * dim && residual.length >= t * dim && out.length >= t * dim, "residual buffers");
    need(bias.length >= dim && gamma.length >= dim && beta.length >= dim, "residual layernorm parameters");
    if (packedOut === null) {
      this.#k.dbk_bias_residual_layernorm(this.#threads, x, bias, residual, t, dim, gamma, beta, eps, out);
      return;
    }
    const xp = this.#packedX(packedOut, t, dim);
    need(
      !overlaps(xp, x) && !overlaps(xp, bias) && !overlaps(xp, residual) && !overlaps(xp, gamma) &&
        !overlaps(xp, beta) && !overlaps(xp, out),
      "packed layernorm output overlaps another buffer",
    );
    this.#k.dbk_bias_residual_layernorm_packed(
      this.#threads,
      x,
      bias,
      residual,
      t,
      dim,
      gamma,
      beta,
      eps,
      out,
      xp,
    );
  }

  /** x[T, n] = gelu(x + bias). */
  biasGelu(x: Float32Array, t: number, n: number, bias: Float32Array): void {
    this.#check();
    need(dimsOk(t, n) && x.length >= t * n && bias.length >= n, "bias+gelu buffers");
    this.#k.dbk_bias_gelu(this.#threads, x, t, n, bias);
  }

  /** x[T, n] = relu(x + bias). */
  biasRelu(x: Float32Array, t: number, n: number, bias: Float32Array): void {
    this.#check();
    need(dimsOk(t, n) && x.length >= t * n && bias.length >= n, "bias+relu buffers");
    this.#k.dbk_bias_relu(x, t, n, bias);
  }

  /** x[T, n] += bias. */
  biasAdd(x: Float32Array, t: number, n: number, bias: Float32Array): void {
    this.#check();
    need(dimsOk(t, n) && x.length >= t * n && bias.length >= n, "bias buffers");
    this.#k.dbk_bias_add(x, t, n, bias);
  }

  /** Scratch floats one thread of `attention` needs for sequences of up to `maxLen` tokens. */
  #attentionScratchPerThread(maxLen: number, headDim: number): number {
    need(dimsOk(maxLen, headDim), "attention scratch sizes");
    // The last answer is kept: a forward asks the same question once per layer, and each native call counts.
    if (maxLen !== this.#attentionScratchLen || headDim !== this.#attentionScratchHeadDim) {
      this.#attentionScratchFloats = Number(this.#k.dbk_attention_scratch_floats(maxLen, headDim));
      this.#attentionScratchLen = maxLen;
      this.#attentionScratchHeadDim = headDim;
    }
    return this.#attentionScratchFloats;
  }

  /**
   * Scratch floats `attention` needs for sequences of up to `maxLen` tokens, with a share for each of the
   * kernel threads set now. A smaller scratch (at least one share) still works, on fewer threads.
   */
  attentionScratchSize(maxLen: number, headDim: number): number {
    this.#check();
    return this.#attentionScratchPerThread(maxLen, headDim) * this.#threads;
  }

  /**
   * out[T, dim] = multi-head attention over packed sequences; qkv[T, 3*dim] holds the projections
   * without their bias. `seqStarts[s]..seqStarts[s+1]` are sequence s's rows. `bf16`: Q, K, V and the
   * probabilities rounded to bf16 for the two products (a bf16 model's attention), sums in fp32.
   */
  attention(
    qkv: Float32Array,
    qkvBias: Float32Array,
    seqStarts: Int32Array,
    uniform: Uint8Array,
    nSeqs: number,
    nHeads: number,
    headDim: number,
    scratch: Float32Array,
    out: Float32Array,
    bf16 = false,
  ): void {
    this.#check();
    need(dimsOk(nSeqs, nHeads, headDim, nHeads * headDim, nSeqs * nHeads), "attention sizes");
    const dim = nHeads * headDim;
    need(seqStarts.length >= nSeqs + 1 && uniform.length >= nSeqs, "attention sequence tables");
    need(qkvBias.length >= 3 * dim, "attention bias");
    let maxLen = 0;
    for (let s = 0; s < nSeqs; s++) {
      const len = seqStarts[s + 1] - seqStarts[s];
      need(seqStarts[s] >= 0 && len >= 0, "attention sequence starts ascending");
      if (len > maxLen) maxLen = len;
    }
    const t = seqStarts[nSeqs];
    need(qkv.length >= t * 3 * dim && out.length >= t * dim, "attention activations");
    // out and scratch are written while every input is read (kernels.h: no buffer of it may alias).
    need(
      !overlaps(out, qkv) && !overlaps(out, qkvBias) && !overlaps(out, seqStarts) &&
        !overlaps(out, uniform) &&
        !overlaps(scratch, qkv) && !overlaps(scratch, qkvBias) && !overlaps(scratch, seqStarts) &&
        !overlaps(scratch, uniform),
      "attention output or scratch overlaps an input",
    );
    need(!overlaps(out, scratch), "attention output overlaps its scratch");
    // The C side uses as many threads as whole per-thread shares fit in scratchFloats.
    const scratchFloats = Math.min(scratch.length, I32_MAX);
    need(
      maxLen === 0 || scratchFloats >= this.#attentionScratchPerThread(maxLen, headDim),
      "attention scratch",
    );
    this.#k.dbk_attention(
      this.#threads,
      qkv,
      qkvBias,
      seqStarts,
      uniform,
      nSeqs,
      nHeads,
      headDim,
      bf16 ? 1 : 0,
      scratch,
      scratchFloats,
      out,
    );
  }

  /** dst[rows[t]] = src[t] for t < T; dst holds `dstRows` rows of `dim`. */
  scatterRows(
    src: Float32Array,
    t: number,
    dim: number,
    rows: Int32Array,
    dst: Float32Array,
    dstRows: number,
  ) {
    this.#check();
    need(dimsOk(t, dim) && src.length >= t * dim && rows.length >= t, "scatter buffers");
    need(Number.isInteger(dstRows) && dstRows >= 0 && dst.length >= dstRows * dim, "scatter destination");
    for (let i = 0; i < t; i++) need(rows[i] >= 0 && rows[i] < dstRows, "scatter row index");
    need(!overlaps(dst, src) && !overlaps(dst, rows), "scatter destination overlaps its source");
    this.#k.dbk_scatter_rows(src, t, dim, rows, dst);
  }

  /** dst[t] = src[rows[t]] for t < T; src holds `srcRows` rows of `dim`. */
  gatherRows(
    src: Float32Array,
    srcRows: number,
    t: number,
    dim: number,
    rows: Int32Array,
    dst: Float32Array,
  ) {
    this.#check();
    need(dimsOk(t, dim) && dst.length >= t * dim && rows.length >= t, "gather buffers");
    need(Number.isInteger(srcRows) && srcRows >= 0 && src.length >= srcRows * dim, "gather source");
    for (let i = 0; i < t; i++) need(rows[i] >= 0 && rows[i] < srcRows, "gather row index");
    need(!overlaps(dst, src) && !overlaps(dst, rows), "gather destination overlaps its source");
    this.#k.dbk_gather_rows(src, t, dim, rows, dst);
  }

  /** True once `close()` ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Marks this back end closed and drops its scratch; harmless when repeated. The native library stays
   * open for the isolate's other models (it is opened once per isolate).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#linearScratch = new Float32Array(0);
    this.#lowpScratch = new Uint8Array(0);
    this.#chunk = new Uint8Array(0); // the models' weights keep theirs; no more are carved
    this.#chunkUsed = 0;
  }

  /** Asks the OS to back `bytes` with 2 MB pages (see `dbk_advise_huge_pages`); false where it declines. */
  static async adviseHugePages(bytes: Uint8Array): Promise<boolean> {
    const k = (await openNative()).symbols;
    return k.dbk_advise_huge_pages(bytes, BigInt(bytes.byteLength)) === 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
