/**
 * DistilBERT's `config.json`: Hugging Face's field names and defaults, validated.
 *
 * @module
 */

import { FILE_CAPS, readJsonCapped } from "./fs/read.ts";

/** Activations this library implements (HF names). `gelu` is the exact erf form. */
export type Activation = "gelu" | "relu";

/** A validated DistilBERT configuration. Field names follow Hugging Face's `DistilBertConfig`. */
export interface DistilBertConfig {
  /** Always `"distilbert"`. */
  model_type: "distilbert";
  /** Vocabulary size (rows of the word embeddings). */
  vocab_size: number;
  /** Longest sequence the position embeddings cover. */
  max_position_embeddings: number;
  /** Whether the position embeddings were created sinusoidal (they are stored in the checkpoint either way). */
  sinusoidal_pos_embds: boolean;
  /** Transformer blocks. */
  n_layers: number;
  /** Attention heads; divides `dim`. */
  n_heads: number;
  /** Hidden size. */
  dim: number;
  /** Feed-forward inner size. */
  hidden_dim: number;
  /** Feed-forward activation. */
  activation: Activation;
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

const DEFAULTS = {
  vocab_size: 30522,
  max_position_embeddings: 512,
  sinusoidal_pos_embds: false,
  n_layers: 6,
  n_heads: 12,
  dim: 768,
  activation: "gelu",
  pad_token_id: 0,
} as const;

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
]);

/** Upper bounds that keep sizes far from overflow; real checkpoints are orders of magnitude smaller. */
const LIMITS = { vocab_size: 1 << 22, max_position_embeddings: 1 << 16, n_layers: 256, dim: 1 << 16 };

function fail(source: string, msg: string): never {
  throw new Error(`${source}: ${msg}`);
}

function intField(
  raw: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
  max: number,
  src: string,
) {
  const v = raw[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(src, `"${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(raw[key])}`);
  }
  return v;
}

/** Validates a parsed `config.json` object and fills Hugging Face's defaults. */
export function parseConfig(raw: unknown, source = "config.json"): DistilBertConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(source, "expected a JSON object");
  const r = raw as Record<string, unknown>;
  if (r.model_type !== undefined && r.model_type !== "distilbert") {
    fail(source, `model_type is ${JSON.stringify(r.model_type)}; only "distilbert" is supported`);
  }
  const dim = intField(r, "dim", DEFAULTS.dim, 1, LIMITS.dim, source);
  const n_heads = intField(r, "n_heads", DEFAULTS.n_heads, 1, dim, source);
  if (dim % n_heads !== 0) fail(source, `"dim" (${dim}) must be divisible by "n_heads" (${n_heads})`);
  const vocab_size = intField(r, "vocab_size", DEFAULTS.vocab_size, 1, LIMITS.vocab_size, source);
  const activation = r.activation ?? DEFAULTS.activation;
  if (activation !== "gelu" && activation !== "relu") {
    fail(
      source,
      `activation ${JSON.stringify(activation)} is not supported (supported: "gelu" (exact erf), "relu")`,
    );
  }
  const sinusoidal = r.sinusoidal_pos_embds ?? DEFAULTS.sinusoidal_pos_embds;
  if (typeof sinusoidal !== "boolean") fail(source, `"sinusoidal_pos_embds" must be true or false`);
  const architectures = r.architectures ?? [];
  if (!Array.isArray(architectures) || architectures.some((a) => typeof a !== "string")) {
    fail(source, `"architectures" must be an array of strings`);
  }
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
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!KNOWN.has(k)) extra[k] = v;
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
    n_layers: intField(r, "n_layers", DEFAULTS.n_layers, 1, LIMITS.n_layers, source),
    n_heads,
    dim,
    hidden_dim: intField(r, "hidden_dim", 4 * dim, 1, 16 * LIMITS.dim, source),
    activation,
    pad_token_id: intField(r, "pad_token_id", DEFAULTS.pad_token_id, 0, vocab_size - 1, source),
    architectures: architectures as string[],
    id2label,
    label2id,
    problem_type: r.problem_type as string | undefined,
    extra,
  };
}

/** Reads and validates `<dir>/config.json`. */
export async function loadConfig(dir: string): Promise<DistilBertConfig> {
  const path = `${dir}/config.json`;
  return parseConfig(await readJsonCapped(path, FILE_CAPS.config, "JSON config files"), path);
}
