/**
 * Encoder weights: read from a checkpoint by their Hugging Face key names, shapes checked, and prepared
 * once for the forward pass (Q, K and V fused into one matrix so a layer needs one projection GEMM).
 *
 * @module
 */

import { alignedArray, onLine } from "./aligned.ts";
import type { Dtype, LinearWeight } from "./backend.ts";
import { isExclusive } from "./checkpoint.ts";
import type { EncoderConfig } from "./config.ts";
import { familyOf } from "./family.ts";
import type { SafetensorsFile } from "./safetensors.ts";

/**
 * One transformer block. The four weight matrices are [out, in] as in PyTorch: in fp32 as stored or
 * rearranged into the panel layout of `Backend.packWeights` (what the kernel streams fastest), or converted
 * to bf16 / int8 panels (`Backend.packLowp`) under the `dtype` load option.
 */
export interface LayerWeights {
  qkv: LinearWeight; // [3*dim, dim]: q_lin, k_lin, v_lin stacked
  qkvBias: Float32Array; // [3*dim]
  out: LinearWeight; // [dim, dim]
  outBias: Float32Array; // [dim]
  saGamma: Float32Array; // [dim]
  saBeta: Float32Array; // [dim]
  ffn1: LinearWeight; // [hidden_dim, dim]
  ffn1Bias: Float32Array; // [hidden_dim]
  ffn2: LinearWeight; // [dim, hidden_dim]
  ffn2Bias: Float32Array; // [dim]
  outGamma: Float32Array; // [dim]
  outBeta: Float32Array; // [dim]
}

/** The embeddings and every block. */
export interface EncoderWeights {
  wordEmbeddings: Float32Array; // [vocab_size, dim]
  positionEmbeddings: Float32Array; // [max_position_embeddings, dim]
  tokenTypeEmbeddings: Float32Array | null; // [type_vocab_size, dim] (BERT), null when the family has none
  embGamma: Float32Array; // [dim]
  embBeta: Float32Array; // [dim]
  layers: LayerWeights[];
}

/** Reads float tensors by name with their expected shape; every failure names the key and the file. */
export class TensorReader {
  readonly file: SafetensorsFile;
  readonly prefix: string;

  constructor(file: SafetensorsFile, prefix: string) {
    this.file = file;
    this.prefix = prefix;
  }

  has(key: string): boolean {
    return this.#name(key) !== undefined;
  }

  // The stored name of `key`: as given, or under the legacy LayerNorm names `gamma` / `beta` that
  // transformers renames to `weight` / `bias` when it loads old BERT checkpoints.
  #name(key: string): string | undefined {
    const name = this.prefix + key;
    if (this.file.has(name)) return name;
    const legacy = name.replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(
      /LayerNorm\.bias$/,
      "LayerNorm.beta",
    );
    return legacy !== name && this.file.has(legacy) ? legacy : undefined;
  }

  /** The tensor `prefix + key` as float32, which must have exactly `shape`. */
  get(key: string, shape: readonly number[]): Float32Array {
    return this.file.getFloat32(this.#checked(key, shape));
  }

  /** The raw bits of `prefix + key` when it is stored as BF16 (shape checked), else null. */
  bf16Bits(key: string, shape: readonly number[]): Uint16Array | null {
    const name = this.#checked(key, shape);
    if (this.file.info(name).dtype !== "BF16") return null;
    const bytes = this.file.getBytes(name);
    // The packer reads them once: a view where they are 2-byte aligned (always, read per tensor), else a copy.
    if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
    const bits = new Uint16Array(bytes.length / 2);
    new Uint8Array(bits.buffer).set(bytes);
    return bits;
  }

  #checked(key: string, shape: readonly number[]): string {
    const name = this.#name(key);
    if (name === undefined) {
      throw new Error(
        `${this.file.source}: missing tensor "${this.prefix + key}" (expected shape [${shape.join(", ")}])`,
      );
    }
    const info = this.file.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Error(
        `${this.file.source}: tensor "${name}" has shape [${info.shape.join(", ")}], ` +
          `expected [${shape.join(", ")}] from config.json`,
      );
    }
    return name;
  }
}

/**
 * The encoder key prefix: `distilbert.` / `bert.` for task checkpoints, `` for base-model ones; an error when
 * neither layout is present.
 */
export function encoderPrefix(file: SafetensorsFile, config: EncoderConfig): string {
  const { name, displayName } = familyOf(config);
  const key = "embeddings.word_embeddings.weight";
  if (file.has(`${name}.${key}`)) return `${name}.`;
  if (file.has(key)) return "";
  throw new Error(
    `${file.source}: not a ${displayName} checkpoint (config.json's model_type): neither "${name}.${key}" nor "${key}" is present`,
  );
}

function concat(
  parts: Float32Array[],
  allocate: (length: number) => Float32Array = (n) => alignedArray(Float32Array, n),
): Float32Array {
  const out = allocate(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What packs weights for the kernels: the back end (`Backend.packWeights`, `Backend.packLowp`). */
export interface WeightPacker {
  readonly panelWidth: number;
  /** A zeroed buffer for a weight only this model keeps (the fused QKV copy), on a cache line. */
  weightArray(length: number): Float32Array;
  packWeights(w: Float32Array, n: number, k: number, packed: Float32Array): void;
  packWeightsInPlace(w: Float32Array, n: number, k: number): void;
  lowpPath(dtype: "bf16" | "q8"): number;
  packLowp(
    dtype: "bf16" | "q8",
    path: number,
    w: Float32Array | Uint16Array,
    n: number,
    k: number,
  ): LinearWeight;
}

// Tensors of a file already packed, by key: a second model built from the same checkpoint reuses them
// (and never packs bytes that were packed in place a second time).
const packedTensors = new WeakMap<SafetensorsFile, Map<string, Float32Array>>();

// Packs the weights of one load.
class Packing {
  constructor(readonly packer: WeightPacker, readonly file: SafetensorsFile) {}

  /** w [n, k] packed in place; w must be ours. */
  inPlace(w: Float32Array, n: number, k: number): Float32Array {
    this.packer.packWeightsInPlace(w, n, k);
    return w;
  }

  /**
   * The file's tensor `key` (= w, [n, k]) packed: in place when no one else can see its bytes (a buffer of
   * our own that starts on a cache line, or a file opened by a model's own load()), otherwise into a copy on
   * a cache line, so a user's checkpoint is never modified.
   */
  tensor(key: string, w: Float32Array, n: number, k: number): Float32Array {
    let done = packedTensors.get(this.file);
    if (!done) packedTensors.set(this.file, done = new Map());
    const hit = done.get(key);
    if (hit) return hit;
    let out: Float32Array;
    // A tensor converted on reading (F16 / BF16 widened) is a buffer of our own that nothing else keeps:
    // off a cache line, it is packed into one that is and dropped.
    const own = !this.file.aliases(w);
    if ((own && onLine(w)) || (!own && isExclusive(this.file))) {
      out = this.inPlace(w, n, k);
    } else {
      // Not from the back end's chunks: a second model from the same file reuses this copy, and must not
      // keep the first model's other weights alive with it.
      out = alignedArray(Float32Array, w.length);
      this.packer.packWeights(w, n, k, out);
    }
    done.set(key, out);
    return out;
  }
}

/**
 * Reads and prepares the encoder's weights; with a packer, the linear layers' weights are packed for it:
 * in fp32 when every width is a multiple of its panel width (as in every released DistilBERT), or converted
 * to `dtype` (bf16 or q8) at any width. Embeddings, biases and LayerNorms stay fp32.
 */
export function loadEncoderWeights(
  reader: TensorReader,
  config: EncoderConfig,
  packer?: WeightPacker,
  dtype: Dtype = "fp32",
): EncoderWeights {
  const { dim, hidden_dim: hidden, vocab_size: vocab, max_position_embeddings: maxPos } = config;
  const family = familyOf(config);
  if (dtype !== "fp32" && packer === undefined) throw new Error(`internal: dtype ${dtype} needs a packer`);
  const lowp = dtype === "fp32" ? null : dtype;
  const path = lowp ? packer!.lowpPath(lowp) : -1;
  const pack = !lowp && packer !== undefined && dim % packer.panelWidth === 0 &&
    hidden % packer.panelWidth === 0;
  const packing = pack ? new Packing(packer!, reader.file) : undefined;
  // A reduced-precision weight, from BF16 bits as stored when both are bf16 (no float32 copy in between).
  const reduced = (keys: string[], n: number, kk: number): LinearWeight => {
    const shape = [n / keys.length, kk];
    if (lowp === "bf16") {
      const bits = keys.map((key) => reader.bf16Bits(key, shape));
      if (bits.every((b) => b !== null)) {
        const all = new Uint16Array(n * kk);
        bits.forEach((b, i) => all.set(b!, i * b!.length));
        return packer!.packLowp("bf16", path, all, n, kk);
      }
    }
    const w = keys.length === 1
      ? reader.get(keys[0], shape)
      : concat(keys.map((key) => reader.get(key, shape)));
    return packer!.packLowp(lowp!, path, w, n, kk);
  };
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.n_layers; i++) {
    const k = family.layer(i);
    const qkvKeys = [k.query, k.key, k.value];
    const weight = (key: string, n: number, kk: number): LinearWeight => {
      if (lowp) return reduced([key], n, kk);
      const w = reader.get(key, [n, kk]);
      return { dtype: "fp32", n, k: kk, w: packing ? packing.tensor(key, w, n, kk) : w, packed: pack };
    };
    let qkv: LinearWeight;
    if (lowp) {
      qkv = reduced(qkvKeys.map((n) => `${n}.weight`), 3 * dim, dim);
    } else {
      const parts = qkvKeys.map((n) => reader.get(`${n}.weight`, [dim, dim]));
      const w = concat(parts, packing ? (n) => packer!.weightArray(n) : undefined);
      // The fused copy is always ours (from the back end's 2 MB-page chunks): packed in place, never cached.
      qkv = {
        dtype: "fp32",
        n: 3 * dim,
        k: dim,
        w: packing ? packing.inPlace(w, 3 * dim, dim) : w,
        packed: pack,
      };
    }
    layers.push({
      qkv,
      qkvBias: concat(qkvKeys.map((n) => reader.get(`${n}.bias`, [dim]))),
      out: weight(`${k.attentionOut}.weight`, dim, dim),
      outBias: reader.get(`${k.attentionOut}.bias`, [dim]),
      saGamma: reader.get(`${k.attentionNorm}.weight`, [dim]),
      saBeta: reader.get(`${k.attentionNorm}.bias`, [dim]),
      ffn1: weight(`${k.ffnIn}.weight`, hidden, dim),
      ffn1Bias: reader.get(`${k.ffnIn}.bias`, [hidden]),
      ffn2: weight(`${k.ffnOut}.weight`, dim, hidden),
      ffn2Bias: reader.get(`${k.ffnOut}.bias`, [dim]),
      outGamma: reader.get(`${k.outputNorm}.weight`, [dim]),
      outBeta: reader.get(`${k.outputNorm}.bias`, [dim]),
    });
  }
  if (reader.has(`${family.layer(config.n_layers).ffnIn}.weight`)) {
    const field = config.model_type === "bert" ? "num_hidden_layers" : "n_layers";
    throw new Error(
      `${reader.file.source}: has more layers than config.json's ${field} (${config.n_layers})`,
    );
  }
  const types = family.tokenTypeEmbeddings;
  return {
    wordEmbeddings: reader.get("embeddings.word_embeddings.weight", [vocab, dim]),
    positionEmbeddings: reader.get("embeddings.position_embeddings.weight", [maxPos, dim]),
    tokenTypeEmbeddings: types === null ? null : reader.get(types, [config.type_vocab_size, dim]),
    embGamma: reader.get("embeddings.LayerNorm.weight", [dim]),
    embBeta: reader.get("embeddings.LayerNorm.bias", [dim]),
    layers,
  };
}
