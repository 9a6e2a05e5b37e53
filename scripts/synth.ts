/**
 * synth-v1: deterministic DistilBERT weights, reproducible bit for bit, so tests and benchmarks get a
 * full-size checkpoint without a download.
 *
 * Element `i` (row-major flat index) of the tensor whose Hugging Face key is `KEY`:
 *
 * ```
 * seed = fnv1a32(utf8 bytes of KEY)          # offset basis 0x811c9dc5, prime 0x01000193
 * h    = lowbias32(i XOR seed)               # all arithmetic mod 2^32
 * u    = ((h >>> 8) + 0.5) / 2^24            # float64, in (0, 1)
 * v    = float32(center + scale * (2u - 1))  # float64 arithmetic, one rounding to float32 at the end
 * lowbias32(x): x ^= x >>> 16; x *= 0x7feb352d; x ^= x >>> 15; x *= 0x846ca68b; x ^= x >>> 16
 * ```
 *
 * `(center, scale)` by role: LayerNorm weight (1, 0.1); LayerNorm bias (0, 0.1); other bias (0, 0.02); other
 * weight (0, 0.02 * sqrt(3)). A LayerNorm tensor is one whose key contains `LayerNorm` or `layer_norm`.
 *
 * The key list and shapes follow the Hugging Face checkpoint layout of the config's architecture: DistilBERT's,
 * or BERT's for `model_type: "bert"` (the same role rule; BERT's size fields are `hidden_size`,
 * `num_hidden_layers`, `num_attention_heads`, `intermediate_size`, `type_vocab_size`).
 *
 * CLI: `deno run --allow-read --allow-write scripts/synth.ts <config.json> <out_dir>` writes
 * `<out_dir>/config.json` and `<out_dir>/model.safetensors`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { atomicWriteFile } from "../src/fs/write.ts";
import { writeSafetensors } from "../src/safetensors.ts";

/** The DistilBERT `config.json` fields the generator reads (others are ignored and kept as they are). */
export interface SynthConfig {
  /** One of `DistilBertModel`, `DistilBertForMaskedLM`, `DistilBertForSequenceClassification`,
   * `DistilBertForQuestionAnswering`, `DistilBertForTokenClassification`. Absent means `DistilBertModel`. */
  architectures?: string[];
  /** Model width. */
  dim: number;
  /** Number of transformer layers. */
  n_layers: number;
  /** Attention heads; must divide `dim`. */
  n_heads: number;
  /** Feed-forward inner width. */
  hidden_dim: number;
  /** Vocabulary size. */
  vocab_size: number;
  /** Number of position embeddings. */
  max_position_embeddings: number;
  /** If true, position embeddings hold HF's fixed sinusoids instead of synth-v1 values. */
  sinusoidal_pos_embds?: boolean;
  /** Classifier width for sequence/token classification; defaults to the size of `id2label`, else 2. */
  num_labels?: number;
  /** Label names by id; its size gives the number of labels. */
  id2label?: Record<string, string>;
  /** Masked LM only: if false the checkpoint also stores `vocab_projector.weight` (HF default true). */
  tie_word_embeddings?: boolean;
  /** Any other config.json field. */
  [key: string]: unknown;
}

/** One generated tensor: float32 data and its shape, ready for `serializeSafetensors`. */
export interface SynthTensor {
  /** Always F32. */
  dtype: "F32";
  /** Dimensions, row-major. */
  shape: number[];
  /** Values, row-major. */
  data: Float32Array;
}

/** A tensor's HF key and shape, without data. */
export interface TensorSpec {
  /** Hugging Face state-dict key, e.g. `distilbert.transformer.layer.0.ffn.lin1.weight`. */
  key: string;
  /** Dimensions, row-major. */
  shape: number[];
}

const encoder = new TextEncoder();

/** FNV-1a 32-bit hash of the key's UTF-8 bytes. */
function fnv1a32(key: string): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(key)) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

/** `(center, scale)` of a key's role. */
function role(key: string): [number, number] {
  const layerNorm = key.includes("LayerNorm") || key.includes("layer_norm");
  const bias = key.endsWith("bias");
  if (layerNorm) return bias ? [0, 0.1] : [1, 0.1];
  return bias ? [0, 0.02] : [0, 0.02 * Math.sqrt(3)];
}

function checkShape(key: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`synth-v1: ${key}: invalid shape [${shape}]`);
    n *= d;
  }
  if (n > 2 ** 32) throw new Error(`synth-v1: ${key}: ${n} elements exceed the 2^32 index space`);
  return n;
}

/**
 * Generates one synth-v1 tensor.
 *
 * @param key Hugging Face state-dict key (it seeds the values and selects the role)
 * @param shape dimensions, row-major
 * @returns the values, row-major
 */
export function synthTensor(key: string, shape: readonly number[]): Float32Array {
  const n = checkShape(key, shape);
  const seed = fnv1a32(key);
  const [center, scale] = role(key);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let x = i ^ seed;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d);
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b);
    x ^= x >>> 16;
    const u = ((x >>> 8) + 0.5) / 16777216;
    out[i] = center + scale * (2 * u - 1);
  }
  return out;
}

/**
 * Hugging Face's fixed sinusoidal position embeddings (`create_sinusoidal_embeddings`): float64 sin/cos
 * rounded to float32. Matches NumPy bit for bit for 512x768, 512x32 and 128x128 (tested); in principle
 * V8's `Math.pow`/`Math.sin` could differ from libm in the last float64 bit, changing a float32 by one ulp.
 *
 * @param nPos number of positions
 * @param dim embedding width
 * @returns `[nPos, dim]` values, row-major
 */
export function sinusoidalPositionEmbeddings(nPos: number, dim: number): Float32Array {
  const out = new Float32Array(nPos * dim);
  for (let pos = 0; pos < nPos; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
      out[pos * dim + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return out;
}

const HEADS = [
  "DistilBertModel",
  "DistilBertForMaskedLM",
  "DistilBertForSequenceClassification",
  "DistilBertForQuestionAnswering",
  "DistilBertForTokenClassification",
] as const;

function positiveInt(config: SynthConfig, field: string): number {
  const v = config[field];
  if (!Number.isSafeInteger(v) || (v as number) <= 0) {
    throw new Error(`synth-v1: config.${field} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

function numLabels(config: SynthConfig): number {
  if (config.num_labels !== undefined) return positiveInt(config, "num_labels");
  if (config.id2label && typeof config.id2label === "object") return Object.keys(config.id2label).length;
  return 2;
}

/**
 * The tensors of a DistilBERT checkpoint in Hugging Face layout, in module order. Heads prefix the encoder
 * keys with `distilbert.`; a plain `DistilBertModel` does not. Like hub checkpoints, a masked-LM checkpoint
 * omits `vocab_projector.weight` (tied to the word embeddings) unless `tie_word_embeddings` is false.
 *
 * @param config the model's config.json
 * @returns keys and shapes
 * @throws {Error} for an unsupported architecture or invalid dimensions
 */
export function checkpointLayout(config: SynthConfig): TensorSpec[] {
  if (config.model_type === "bert") return bertLayout(config);
  if (config.model_type !== undefined && config.model_type !== "distilbert") {
    throw new Error(
      `synth-v1: config.model_type is ${JSON.stringify(config.model_type)}, not "distilbert" or "bert"`,
    );
  }
  const archs = config.architectures ?? ["DistilBertModel"];
  if (!Array.isArray(archs) || archs.length !== 1 || !(HEADS as readonly string[]).includes(archs[0])) {
    throw new Error(
      `synth-v1: config.architectures must be one of ${HEADS.join(", ")}; got ${JSON.stringify(archs)}`,
    );
  }
  const arch = archs[0] as (typeof HEADS)[number];
  const dim = positiveInt(config, "dim");
  const layers = positiveInt(config, "n_layers");
  const heads = positiveInt(config, "n_heads");
  const hidden = positiveInt(config, "hidden_dim");
  const vocab = positiveInt(config, "vocab_size");
  const positions = positiveInt(config, "max_position_embeddings");
  if (dim % heads !== 0) throw new Error(`synth-v1: config.dim ${dim} is not divisible by n_heads ${heads}`);

  const specs: TensorSpec[] = [];
  const add = (key: string, ...shape: number[]) => specs.push({ key, shape });
  const linear = (key: string, out: number, inp: number) => {
    add(`${key}.weight`, out, inp);
    add(`${key}.bias`, out);
  };
  const norm = (key: string, n: number) => {
    add(`${key}.weight`, n);
    add(`${key}.bias`, n);
  };
  const p = arch === "DistilBertModel" ? "" : "distilbert.";
  add(`${p}embeddings.word_embeddings.weight`, vocab, dim);
  add(`${p}embeddings.position_embeddings.weight`, positions, dim);
  norm(`${p}embeddings.LayerNorm`, dim);
  for (let l = 0; l < layers; l++) {
    const L = `${p}transformer.layer.${l}`;
    for (const lin of ["q_lin", "k_lin", "v_lin", "out_lin"]) linear(`${L}.attention.${lin}`, dim, dim);
    norm(`${L}.sa_layer_norm`, dim);
    linear(`${L}.ffn.lin1`, hidden, dim);
    linear(`${L}.ffn.lin2`, dim, hidden);
    norm(`${L}.output_layer_norm`, dim);
  }
  switch (arch) {
    case "DistilBertForMaskedLM":
      linear("vocab_transform", dim, dim);
      norm("vocab_layer_norm", dim);
      if (config.tie_word_embeddings === false) add("vocab_projector.weight", vocab, dim);
      add("vocab_projector.bias", vocab);
      break;
    case "DistilBertForSequenceClassification":
      linear("pre_classifier", dim, dim);
      linear("classifier", numLabels(config), dim);
      break;
    case "DistilBertForQuestionAnswering":
      if (numLabels(config) !== 2) throw new Error(`synth-v1: question answering needs 2 labels`);
      linear("qa_outputs", 2, dim);
      break;
    case "DistilBertForTokenClassification":
      linear("classifier", numLabels(config), dim);
      break;
  }
  return specs;
}

const BERT_HEADS = [
  "BertModel",
  "BertForMaskedLM",
  "BertForSequenceClassification",
  "BertForQuestionAnswering",
  "BertForTokenClassification",
] as const;

// BERT's checkpoint layout (transformers' BertModel and heads): heads prefix the encoder with `bert.`; the
// pooler exists in BertModel and BertForSequenceClassification only; a masked-LM checkpoint omits the decoder
// weight tied to the word embeddings, as hub checkpoints do.
function bertLayout(config: SynthConfig): TensorSpec[] {
  const archs = config.architectures ?? ["BertModel"];
  if (!Array.isArray(archs) || archs.length !== 1 || !(BERT_HEADS as readonly string[]).includes(archs[0])) {
    throw new Error(
      `synth-v1: config.architectures must be one of ${BERT_HEADS.join(", ")}; got ${JSON.stringify(archs)}`,
    );
  }
  const arch = archs[0] as (typeof BERT_HEADS)[number];
  const dim = positiveInt(config, "hidden_size");
  const layers = positiveInt(config, "num_hidden_layers");
  const heads = positiveInt(config, "num_attention_heads");
  const hidden = positiveInt(config, "intermediate_size");
  const vocab = positiveInt(config, "vocab_size");
  const positions = positiveInt(config, "max_position_embeddings");
  const types = config.type_vocab_size === undefined ? 2 : positiveInt(config, "type_vocab_size");
  if (dim % heads !== 0) {
    throw new Error(`synth-v1: config.hidden_size ${dim} is not divisible by num_attention_heads ${heads}`);
  }
  const specs: TensorSpec[] = [];
  const add = (key: string, ...shape: number[]) => specs.push({ key, shape });
  const linear = (key: string, out: number, inp: number) => {
    add(`${key}.weight`, out, inp);
    add(`${key}.bias`, out);
  };
  const norm = (key: string) => {
    add(`${key}.weight`, dim);
    add(`${key}.bias`, dim);
  };
  const p = arch === "BertModel" ? "" : "bert.";
  add(`${p}embeddings.word_embeddings.weight`, vocab, dim);
  add(`${p}embeddings.position_embeddings.weight`, positions, dim);
  add(`${p}embeddings.token_type_embeddings.weight`, types, dim);
  norm(`${p}embeddings.LayerNorm`);
  for (let l = 0; l < layers; l++) {
    const L = `${p}encoder.layer.${l}`;
    for (const lin of ["query", "key", "value"]) linear(`${L}.attention.self.${lin}`, dim, dim);
    linear(`${L}.attention.output.dense`, dim, dim);
    norm(`${L}.attention.output.LayerNorm`);
    linear(`${L}.intermediate.dense`, hidden, dim);
    linear(`${L}.output.dense`, dim, hidden);
    norm(`${L}.output.LayerNorm`);
  }
  if (arch === "BertModel" || arch === "BertForSequenceClassification") linear(`${p}pooler.dense`, dim, dim);
  switch (arch) {
    case "BertForMaskedLM":
      add("cls.predictions.bias", vocab);
      linear("cls.predictions.transform.dense", dim, dim);
      norm("cls.predictions.transform.LayerNorm");
      if (config.tie_word_embeddings === false) add("cls.predictions.decoder.weight", vocab, dim);
      break;
    case "BertForSequenceClassification":
      linear("classifier", numLabels(config), dim);
      break;
    case "BertForQuestionAnswering":
      if (numLabels(config) !== 2) throw new Error(`synth-v1: question answering needs 2 labels`);
      linear("qa_outputs", 2, dim);
      break;
    case "BertForTokenClassification":
      linear("classifier", numLabels(config), dim);
      break;
  }
  return specs;
}

/**
 * Generates every tensor of a synth-v1 checkpoint for a DistilBERT config (about 66M parameters for
 * `distilbert-base-uncased`; roughly a second).
 *
 * @param config the model's config.json
 * @returns tensors by HF key, in module order
 */
export function synthCheckpoint(config: SynthConfig): Map<string, SynthTensor> {
  const out = new Map<string, SynthTensor>();
  for (const { key, shape } of checkpointLayout(config)) {
    const data = config.sinusoidal_pos_embds === true && key.endsWith("embeddings.position_embeddings.weight")
      ? sinusoidalPositionEmbeddings(shape[0], shape[1])
      : synthTensor(key, shape);
    out.set(key, { dtype: "F32", shape, data });
  }
  return out;
}

/**
 * Writes `config.json` and `model.safetensors` (F32, HF layout) for a synth-v1 checkpoint into `outDir`,
 * creating it if needed. Each file is written under a temporary name and renamed into place, so a reader
 * never sees a partial file; `model.safetensors` is written first.
 *
 * @param config a config object, or the path of a config.json (copied byte for byte)
 * @param outDir destination directory
 */
export async function writeSynthModel(config: SynthConfig | string, outDir: string): Promise<void> {
  let configBytes: Uint8Array;
  let parsed: SynthConfig;
  if (typeof config === "string") {
    configBytes = await Deno.readFile(config);
    try {
      parsed = JSON.parse(new TextDecoder().decode(configBytes));
    } catch (e) {
      throw new Error(`synth-v1: ${config}: not valid JSON: ${e instanceof Error ? e.message : e}`);
    }
  } else {
    parsed = config;
    configBytes = encoder.encode(JSON.stringify(config, null, 2) + "\n");
  }
  const tensors = synthCheckpoint(parsed);
  await Deno.mkdir(outDir, { recursive: true });
  await writeSafetensors(`${outDir}/model.safetensors`, tensors, { format: "pt", generator: "synth-v1" });
  await atomicWriteFile(`${outDir}/config.json`, configBytes);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h" } },
  });
  if (values.help || positionals.length !== 2) {
    console.error("usage: deno run --allow-read --allow-write scripts/synth.ts <config.json> <out_dir>");
    Deno.exit(values.help ? 0 : 2);
  }
  const [configPath, outDir] = positionals;
  const t0 = performance.now();
  await writeSynthModel(configPath, outDir);
  console.error(
    `synth-v1: wrote ${outDir}/model.safetensors in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );
}
