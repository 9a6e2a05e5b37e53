/**
 * A checkpoint's `config.json` (DistilBERT or BERT): Hugging Face's field names and defaults, validated.
 *
 * @module
 */

import { FILE_CAPS, readJsonCapped } from "./fs/read.ts";

/** Activations this library implements (HF names). `gelu` is the exact erf form. */
export type Activation = "gelu" | "relu";

/**
 * What the encoder and heads read, whatever the family: DistilBERT's names for the sizes (`dim`, `n_layers`,
 * ...), filled from BERT's (`hidden_size`, `num_hidden_layers`, ...) for BERT checkpoints.
 */
export interface EncoderConfig {
  /** The model family: `"distilbert"` or `"bert"`. */
  model_type: "distilbert" | "bert";
  /** Vocabulary size (rows of the word embeddings). */
  vocab_size: number;
  /** Longest sequence the position embeddings cover. */
  max_position_embeddings: number;
  /** Transformer blocks. */
  n_layers: number;
  /** Attention heads; divides `dim`. */
  n_heads: number;
  /** Hidden size. */
  dim: number;
  /** Feed-forward inner size. */
  hidden_dim: number;
  /** Feed-forward activation (also the masked-LM head's). */
  activation: Activation;
  /** Epsilon of every LayerNorm (DistilBERT hard-codes 1e-12). */
  layer_norm_eps: number;
  /** Rows of the token type embeddings; 0 for DistilBERT, which has none. */
  type_vocab_size: number;
  /** Padding token id. */
  pad_token_id: number;
  /** Model classes the checkpoint was saved from, e.g. `["DistilBertForSequenceClassification"]`. */
  architectures: string[];
  /** Label names by class index, for classification heads. */
  id2label: Record<number, string>;
  /** Class index by label name. */
  label2id: Record<string, number>;
  /** `single_label_classification`, `multi_label_classification`, `regression`, or absent. */
  problem_type?: string;
  /** Every other field of the file, untouched. */
  extra: Record<string, unknown>;
}

/** A validated DistilBERT configuration. Field names follow Hugging Face's `DistilBertConfig`. */
export interface DistilBertConfig extends EncoderConfig {
  /** Always `"distilbert"`. */
  model_type: "distilbert";
  /** Whether the position embeddings were created sinusoidal (they are stored in the checkpoint either way). */
  sinusoidal_pos_embds: boolean;
}

/**
 * A validated BERT configuration: Hugging Face's `BertConfig` fields, and the same sizes under the
 * {@link EncoderConfig} names.
 */
export interface BertConfig extends EncoderConfig {
  /** Always `"bert"`. */
  model_type: "bert";
  /** Hidden size (= `dim`). */
  hidden_size: number;
  /** Transformer blocks (= `n_layers`). */
  num_hidden_layers: number;
  /** Attention heads (= `n_heads`). */
  num_attention_heads: number;
  /** Feed-forward inner size (= `hidden_dim`). */
  intermediate_size: number;
  /** Feed-forward activation (= `activation`). */
  hidden_act: Activation;
  /** Only `"absolute"` (learned) position embeddings are supported. */
  position_embedding_type: "absolute";
}

/** Any configuration `parseConfig` returns. */
export type ModelConfig = DistilBertConfig | BertConfig;

const DEFAULTS = {
  vocab_size: 30522,
  max_position_embeddings: 512,
  sinusoidal_pos_embds: false,
  n_layers: 6,
  n_heads: 12,
  dim: 768,
  hidden_dim: 4 * 768,
  activation: "gelu",
  pad_token_id: 0,
} as const;

// transformers' DistilBertConfig.attribute_map: a config may give dim, n_heads and n_layers under the common
// names, which transformers reads as those (and lets win over the own names). Ignoring them ran the default
// 12 heads for num_attention_heads: 4 without a word.
const DISTILBERT_ALIASES = {
  dim: "hidden_size",
  n_heads: "num_attention_heads",
  n_layers: "num_hidden_layers",
};

const KNOWN = new Set([
  "model_type",
  "vocab_size",
  "max_position_embeddings",
  "sinusoidal_pos_embds",
  "n_layers",
  "n_heads",
  "dim",
  "hidden_dim",
  "activation",
  "pad_token_id",
  "architectures",
  "id2label",
  "label2id",
  "problem_type",
  ...Object.values(DISTILBERT_ALIASES),
]);

/** Upper bounds that keep sizes far from overflow; real checkpoints are orders of magnitude smaller. */
const LIMITS = { vocab_size: 1 << 22, max_position_embeddings: 1 << 16, n_layers: 256, dim: 1 << 16 };

function fail(source: string, msg: string): never {
  throw new Error(`${source}: ${msg}`);
}

// Only an absent field takes the default: transformers keeps a null, and then fails on it (a size, heads
// or eps of None), so reading null as absent would run a model transformers cannot. `nullable` fields
// (pad_token_id) are the exception: transformers takes None there as "no padding token".
function intField(
  raw: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
  max: number,
  src: string,
  nullable = false,
) {
  const v = raw[key] === undefined || (nullable && raw[key] === null) ? fallback : raw[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(src, `"${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(raw[key])}`);
  }
  return v;
}

/** The label maps and problem type every family's config shares. */
function parseLabels(r: Record<string, unknown>, source: string) {
  const id2label: Record<number, string> = {};
  if (r.id2label !== undefined) {
    if (typeof r.id2label !== "object" || r.id2label === null || Array.isArray(r.id2label)) {
      fail(source, `"id2label" must be an object`);
    }
    for (const [k, v] of Object.entries(r.id2label)) {
      // Keys are decimal integers ("0", "1"); Number() would also take "", " 1 " or "0x1".
      const i = /^[0-9]{1,9}$/.test(k) ? Number(k) : NaN;
      if (!Number.isInteger(i) || i < 0 || typeof v !== "string") {
        fail(source, `"id2label" must map non-negative integers to strings (bad entry ${JSON.stringify(k)})`);
      }
      id2label[i] = v;
    }
  }
  const label2id: Record<string, number> = {};
  if (r.label2id !== undefined && typeof r.label2id === "object" && r.label2id !== null) {
    for (const [k, v] of Object.entries(r.label2id)) if (typeof v === "number") label2id[k] = v;
  }
  if (r.problem_type !== undefined && typeof r.problem_type !== "string") {
    fail(source, `"problem_type" must be a string`);
  }
  const architectures = r.architectures ?? [];
  if (!Array.isArray(architectures) || architectures.some((a) => typeof a !== "string")) {
    fail(source, `"architectures" must be an array of strings`);
  }
  return {
    architectures: architectures as string[],
    id2label,
    label2id,
    problem_type: r.problem_type as string | undefined,
  };
}

function parseActivation(r: Record<string, unknown>, key: string, source: string): Activation {
  // null is not absent: transformers looks None up (DistilBERT: a KeyError) or calls it (BERT: a TypeError).
  const activation = r[key] === undefined ? "gelu" : r[key];
  if (activation !== "gelu" && activation !== "relu") {
    fail(
      source,
      `${key} ${JSON.stringify(activation)} is not supported (supported: "gelu" (exact erf), "relu")`,
    );
  }
  return activation;
}

// transformers prunes the heads config.json's pruned_heads names ({layer: [heads]}) when it builds the
// model, so those layers' attention tensors are narrower than dim; this encoder runs n_heads in every
// layer. Without this check the file's tensors were reported at odds with the config, which itself names
// the pruning.
function refusePrunedHeads(r: Record<string, unknown>, source: string): void {
  const pruned = r.pruned_heads;
  if (pruned === undefined || pruned === null) return;
  // {} or only empty lists: nothing pruned, as transformers reads it.
  const none = typeof pruned === "object" && !Array.isArray(pruned) &&
    Object.values(pruned).every((heads) => Array.isArray(heads) && heads.length === 0);
  if (none) return;
  fail(
    source,
    `pruned_heads ${JSON.stringify(pruned)} is not supported (a pruned layer has fewer heads than the ` +
      `config's head count, which this library runs in every layer): use a checkpoint without pruned heads`,
  );
}

function extraFields(r: Record<string, unknown>, known: Set<string>): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!known.has(k)) extra[k] = v;
  return extra;
}

/** `dim`, `n_heads` and `n_layers` as given under either name; both names with different values is an error. */
function distilBertSizes(r: Record<string, unknown>, source: string): Record<string, unknown> {
  const sizes: Record<string, unknown> = {};
  for (const [name, alias] of Object.entries(DISTILBERT_ALIASES)) {
    sizes[name] = r[name];
    if (r[alias] === undefined) continue;
    if (r[name] !== undefined && r[name] !== r[alias]) {
      fail(
        source,
        `"${name}" (${JSON.stringify(r[name])}) and "${alias}" (${JSON.stringify(r[alias])}) disagree: ` +
          `transformers reads "${alias}" as "${name}", so give one value`,
      );
    }
    sizes[name] = r[alias];
  }
  return sizes;
}

/** Validates a parsed `config.json` object (DistilBERT or BERT) and fills Hugging Face's defaults. */
export function parseConfig(raw: unknown, source = "config.json"): ModelConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(source, "expected a JSON object");
  const r = raw as Record<string, unknown>;
  if (r.model_type === "bert") return parseBertConfig(r, source);
  if (r.model_type !== undefined && r.model_type !== "distilbert") {
    fail(source, `model_type is ${JSON.stringify(r.model_type)}; supported: "distilbert", "bert"`);
  }
  refusePrunedHeads(r, source);
  const sizes = distilBertSizes(r, source);
  const dim = intField(sizes, "dim", DEFAULTS.dim, 1, LIMITS.dim, source);
  const n_heads = intField(sizes, "n_heads", DEFAULTS.n_heads, 1, dim, source);
  if (dim % n_heads !== 0) fail(source, `"dim" (${dim}) must be divisible by "n_heads" (${n_heads})`);
  const vocab_size = intField(r, "vocab_size", DEFAULTS.vocab_size, 1, LIMITS.vocab_size, source);
  const activation = parseActivation(r, "activation", source);
  const sinusoidal = r.sinusoidal_pos_embds ?? DEFAULTS.sinusoidal_pos_embds;
  if (typeof sinusoidal !== "boolean") fail(source, `"sinusoidal_pos_embds" must be true or false`);
  return {
    model_type: "distilbert",
    vocab_size,
    max_position_embeddings: intField(
      r,
      "max_position_embeddings",
      DEFAULTS.max_position_embeddings,
      1,
      LIMITS.max_position_embeddings,
      source,
    ),
    sinusoidal_pos_embds: sinusoidal,
    n_layers: intField(sizes, "n_layers", DEFAULTS.n_layers, 1, LIMITS.n_layers, source),
    n_heads,
    dim,
    // transformers' DistilBertConfig defaults hidden_dim to 4 * 768 = 3072 whatever dim is, not to 4 * dim.
    hidden_dim: intField(r, "hidden_dim", DEFAULTS.hidden_dim, 1, 16 * LIMITS.dim, source),
    activation,
    layer_norm_eps: 1e-12, // transformers' DistilBERT hard-codes it
    type_vocab_size: 0,
    pad_token_id: intField(r, "pad_token_id", DEFAULTS.pad_token_id, 0, vocab_size - 1, source, true),
    ...parseLabels(r, source),
    extra: extraFields(r, KNOWN),
  };
}

const BERT_KNOWN = new Set([
  "model_type",
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "hidden_act",
  "max_position_embeddings",
  "type_vocab_size",
  "layer_norm_eps",
  "pad_token_id",
  "position_embedding_type",
  "architectures",
  "id2label",
  "label2id",
  "problem_type",
]);

// transformers' BertConfig defaults.
function parseBertConfig(r: Record<string, unknown>, source: string): BertConfig {
  refusePrunedHeads(r, source);
  const dim = intField(r, "hidden_size", 768, 1, LIMITS.dim, source);
  const n_heads = intField(r, "num_attention_heads", 12, 1, dim, source);
  if (dim % n_heads !== 0) {
    fail(source, `"hidden_size" (${dim}) must be divisible by "num_attention_heads" (${n_heads})`);
  }
  const vocab_size = intField(r, "vocab_size", 30522, 1, LIMITS.vocab_size, source);
  const n_layers = intField(r, "num_hidden_layers", 12, 1, LIMITS.n_layers, source);
  const hidden_dim = intField(r, "intermediate_size", 3072, 1, 16 * LIMITS.dim, source);
  const activation = parseActivation(r, "hidden_act", source);
  // Only an absent field defaults: transformers keeps a null, and then adds no position embeddings at all.
  const position = r.position_embedding_type === undefined ? "absolute" : r.position_embedding_type;
  if (position !== "absolute") {
    fail(
      source,
      `position_embedding_type ${JSON.stringify(position)} is not supported (supported: "absolute")`,
    );
  }
  // transformers' BertModel with is_decoder masks every later token (causal attention); this encoder always
  // attends both ways, so it would answer for a different model without a word.
  if (r.is_decoder !== undefined && r.is_decoder !== false) {
    fail(
      source,
      `is_decoder ${JSON.stringify(r.is_decoder)} is not supported (a decoder attends only to earlier ` +
        `tokens; this library runs encoders: is_decoder must be false or absent)`,
    );
  }
  const eps = r.layer_norm_eps === undefined ? 1e-12 : r.layer_norm_eps; // null fails in transformers
  if (typeof eps !== "number" || !(eps > 0 && eps < 1)) {
    fail(source, `"layer_norm_eps" must be a number between 0 and 1 (exclusive), got ${JSON.stringify(eps)}`);
  }
  return {
    model_type: "bert",
    vocab_size,
    max_position_embeddings: intField(
      r,
      "max_position_embeddings",
      512,
      1,
      LIMITS.max_position_embeddings,
      source,
    ),
    n_layers,
    n_heads,
    dim,
    hidden_dim,
    activation,
    hidden_size: dim,
    num_hidden_layers: n_layers,
    num_attention_heads: n_heads,
    intermediate_size: hidden_dim,
    hidden_act: activation,
    position_embedding_type: "absolute",
    layer_norm_eps: eps,
    type_vocab_size: intField(r, "type_vocab_size", 2, 1, 1 << 16, source),
    pad_token_id: intField(r, "pad_token_id", 0, 0, vocab_size - 1, source, true),
    ...parseLabels(r, source),
    extra: extraFields(r, BERT_KNOWN),
  };
}

/** Reads and validates `<dir>/config.json`. */
export async function loadConfig(dir: string): Promise<ModelConfig> {
  const path = `${dir}/config.json`;
  return parseConfig(await readJsonCapped(path, FILE_CAPS.config, "JSON config files"), path);
}
