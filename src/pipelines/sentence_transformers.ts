/**
 * sentence-transformers model folders: what `modules.json` (Transformer -> Pooling -> optional Normalize),
 * `1_Pooling/config.json` (modes, `include_prompt`), `sentence_bert_config.json` and
 * `config_sentence_transformers.json` (`prompts`, `default_prompt_name`) ask of an embedding, and the pooling
 * modes themselves.
 *
 * @module
 */

import { FILE_CAPS, readOptionalJson } from "../fs/read.ts";

/** sentence-transformers' pooling modes (its `pooling_mode_*` flags). */
export type PoolingMode = "cls" | "mean" | "max" | "mean_sqrt_len" | "weightedmean" | "lasttoken";

/** All pooling modes, in the order sentence-transformers concatenates them when several are on. */
export const POOLING_MODES: readonly PoolingMode[] = [
  "cls",
  "max",
  "mean",
  "mean_sqrt_len",
  "weightedmean",
  "lasttoken",
];

/** The `1_Pooling/config.json` flag of each mode. */
export const POOLING_FLAGS: Record<PoolingMode, string> = {
  cls: "pooling_mode_cls_token",
  max: "pooling_mode_max_tokens",
  mean: "pooling_mode_mean_tokens",
  mean_sqrt_len: "pooling_mode_mean_sqrt_len_tokens",
  weightedmean: "pooling_mode_weightedmean_tokens",
  lasttoken: "pooling_mode_lasttoken",
};

/** What a sentence-transformers folder asks of its embeddings. */
export interface SentenceTransformersConfig {
  /** The pooling modes on, in concatenation order (usually one). */
  pooling: PoolingMode[];
  /** Whether the folder ends with a Normalize module (unit L2 norm). */
  normalize: boolean;
  /** `sentence_bert_config.json`'s `max_seq_length`, when set. */
  maxSeqLength?: number;
  /** `sentence_bert_config.json`'s `do_lower_case`: texts are lowercased before tokenizing. */
  doLowerCase: boolean;
  /** `config_sentence_transformers.json`'s `prompts`: name -> text prepended to each input. */
  prompts: Record<string, string>;
  /** `config_sentence_transformers.json`'s `default_prompt_name`: the prompt used when a call names none. */
  defaultPromptName?: string;
  /**
   * `1_Pooling/config.json`'s `include_prompt` (default true): false leaves the prompt's tokens out of pooling.
   */
  includePrompt: boolean;
}

// Through the model folder's one reader: a FIFO or a link to /dev/zero in place of modules.json would otherwise
// block the load, or read until memory runs out.
function readJson(path: string): Promise<unknown> {
  return readOptionalJson(path, FILE_CAPS.config, "JSON config files");
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Reads a folder's sentence-transformers configuration; `null` when it has no `modules.json` (a plain
 * transformers folder). Throws, naming the file, for modules this library does not implement (e.g. a Dense
 * module) and for malformed settings (a default prompt name that is not one of the prompts, as
 * sentence-transformers refuses it at load).
 */
export async function readSentenceTransformersConfig(
  dir: string,
): Promise<SentenceTransformersConfig | null> {
  const modulesPath = `${dir}/modules.json`;
  const modules = await readJson(modulesPath);
  if (modules === undefined) return null;
  if (!Array.isArray(modules) || modules.some((m) => !isObject(m) || typeof m.type !== "string")) {
    throw new Error(`${modulesPath}: expected an array of { type, path } modules`);
  }
  const kinds = modules.map((m) => String(m.type).replace(/^sentence_transformers\.models\./, ""));
  const order = kinds.join(" -> ");
  const valid = (kinds.length === 2 || (kinds.length === 3 && kinds[2] === "Normalize")) &&
    kinds[0] === "Transformer" && kinds[1] === "Pooling";
  if (!valid) {
    throw new Error(
      `${modulesPath}: modules ${order} are not supported (supported: Transformer -> Pooling -> optional Normalize)`,
    );
  }
  const poolingModule = modules[1] as Record<string, unknown>;
  const poolingDir = `${dir}/${typeof poolingModule.path === "string" ? poolingModule.path : "1_Pooling"}`;
  const poolingPath = `${poolingDir}/config.json`;
  const pc = await readJson(poolingPath);
  if (!isObject(pc)) throw new Error(`${poolingPath}: missing or not a JSON object`);
  for (const k of Object.keys(pc)) {
    if (k.startsWith("pooling_mode_") && !Object.values(POOLING_FLAGS).includes(k) && pc[k] === true) {
      throw new Error(`${poolingPath}: pooling mode "${k}" is not supported`);
    }
  }
  const pooling = POOLING_MODES.filter((m) => pc[POOLING_FLAGS[m]] === true);
  if (pooling.length === 0) throw new Error(`${poolingPath}: no pooling_mode_* is true`);

  if (pc.include_prompt !== undefined && typeof pc.include_prompt !== "boolean") {
    throw new Error(`${poolingPath}: "include_prompt" must be true or false`);
  }

  const config: SentenceTransformersConfig = {
    pooling,
    normalize: kinds.length === 3,
    doLowerCase: false,
    prompts: {},
    includePrompt: pc.include_prompt !== false,
  };
  const sbPath = `${dir}/sentence_bert_config.json`;
  const sb = await readJson(sbPath);
  if (sb !== undefined) {
    if (!isObject(sb)) throw new Error(`${sbPath}: expected a JSON object`);
    if (sb.max_seq_length !== undefined && sb.max_seq_length !== null) {
      const n = sb.max_seq_length;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
        throw new Error(`${sbPath}: "max_seq_length" must be a positive integer, got ${JSON.stringify(n)}`);
      }
      config.maxSeqLength = n;
    }
    if (sb.do_lower_case !== undefined && typeof sb.do_lower_case !== "boolean") {
      throw new Error(`${sbPath}: "do_lower_case" must be true or false`);
    }
    config.doLowerCase = sb.do_lower_case === true;
  }
  const stPath = `${dir}/config_sentence_transformers.json`;
  const st = await readJson(stPath);
  if (st !== undefined) {
    if (!isObject(st)) throw new Error(`${stPath}: expected a JSON object`);
    readPrompts(stPath, st, config);
  }
  return config;
}

/** `prompts` and `default_prompt_name` of config_sentence_transformers.json into `config`. */
function readPrompts(path: string, st: Record<string, unknown>, config: SentenceTransformersConfig): void {
  if (st.prompts !== undefined && st.prompts !== null) {
    if (!isObject(st.prompts)) throw new Error(`${path}: "prompts" must be an object of name: text`);
    for (const [name, text] of Object.entries(st.prompts)) {
      if (typeof text !== "string") {
        throw new Error(
          `${path}: prompt ${JSON.stringify(name)} must be a string, got ${JSON.stringify(text)}`,
        );
      }
      config.prompts[name] = text;
    }
  }
  const name = st.default_prompt_name;
  if (name === undefined || name === null) return;
  if (typeof name !== "string") {
    throw new Error(`${path}: "default_prompt_name" must be a string, got ${JSON.stringify(name)}`);
  }
  if (!Object.hasOwn(config.prompts, name)) {
    throw new Error(
      `${path}: default_prompt_name ${JSON.stringify(name)} is not one of its prompts (prompts: ${
        promptNames(config.prompts)
      })`,
    );
  }
  config.defaultPromptName = name;
}

/** Prompt names for messages: `"query", "passage"`, or `none`. */
export function promptNames(prompts: Record<string, string>): string {
  const names = Object.keys(prompts);
  return names.length ? names.map((n) => JSON.stringify(n)).join(", ") : "none";
}

/**
 * Pools one row of hidden states (`[n, dim]`, row-major, the row's first `n` tokens) whose mask is `mask`,
 * as sentence-transformers' Pooling module: each mode's `[dim]` vector, concatenated in `modes` order. Sums
 * run in float64.
 */
export function poolTokens(
  hidden: Float32Array,
  dim: number,
  mask: ArrayLike<number>,
  modes: readonly PoolingMode[],
): Float32Array {
  const out = new Float32Array(dim * modes.length);
  const n = mask.length;
  modes.forEach((mode, m) => {
    const o = out.subarray(m * dim, (m + 1) * dim);
    if (mode === "cls") {
      // The first token whatever its mask: sentence-transformers takes it so even when include_prompt false
      // has masked it (the [CLS] counts as part of the prompt).
      o.set(hidden.subarray(0, dim));
    } else if (mode === "lasttoken") {
      // The last real token; zeros when the mask is all zero (sentence-transformers multiplies the gathered
      // token by its mask, which a prompt left out of pooling can make all zero on a tokenizer without a
      // final special token).
      let last = n - 1;
      while (last > 0 && !mask[last]) last--;
      if (mask[last]) o.set(hidden.subarray(last * dim, (last + 1) * dim));
    } else if (mode === "max") {
      o.fill(-1e9); // sentence-transformers' value for masked tokens
      for (let s = 0; s < n; s++) {
        if (!mask[s]) continue;
        for (let d = 0; d < dim; d++) o[d] = Math.max(o[d], hidden[s * dim + d]);
      }
    } else {
      const acc = new Float64Array(dim);
      let weight = 0;
      for (let s = 0; s < n; s++) {
        if (!mask[s]) continue;
        const w = mode === "weightedmean" ? s + 1 : 1; // weights are positions from 1
        weight += w;
        for (let d = 0; d < dim; d++) acc[d] += w * hidden[s * dim + d];
      }
      const denom = Math.max(weight, 1e-9);
      const scale = mode === "mean_sqrt_len" ? Math.sqrt(denom) : denom;
      for (let d = 0; d < dim; d++) o[d] = acc[d] / scale;
    }
  });
  return out;
}
