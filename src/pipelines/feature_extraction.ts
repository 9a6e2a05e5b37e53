/**
 * `feature-extraction` / `embeddings`: the encoder's last hidden states, per token or pooled. On a
 * sentence-transformers folder the defaults are the folder's: its pooling, its Normalize module, its
 * `max_seq_length` and `do_lower_case`, and its default prompt (a pooling with `include_prompt: false` leaves
 * the prompt's tokens out).
 *
 * @module
 */

import type { EncoderModel } from "../model.ts";
import type { FloatTensor } from "../tensor.ts";
import type { Tokenizer } from "../tokenizer/mod.ts";
import {
  asList,
  type BatchOptions,
  callSettings,
  makeCallable,
  type PipelineBase,
  PipelineInputError,
  type PipelineOptions,
  runBatched,
} from "./common.ts";
import { encodeTexts, modelMaxLength, type TextInput, textInputProblem } from "./text_classification.ts";
import { boolOption, enumOption } from "./validate.ts";
import { POOLING_MODES, poolTokens, type SentenceTransformersConfig } from "./sentence_transformers.ts";
import { promptTokenCount, resolvePrompt } from "./prompts.ts";

/**
 * How token vectors become one vector: none (every token), mean (over real tokens), cls (the first token), or
 * sentence-transformers' max, mean_sqrt_len (sum / sqrt(tokens)), weightedmean (weights 1, 2, ... by position)
 * and lasttoken.
 */
export type Pooling = "none" | "mean" | "cls" | "max" | "mean_sqrt_len" | "weightedmean" | "lasttoken";

/** Every `pooling` value, in the order the help lists them. */
export const POOLINGS: readonly Pooling[] = ["none", ...POOLING_MODES];

/** Options of a feature-extraction call. */
export interface FeatureExtractionOptions extends BatchOptions {
  /**
   * `"none"`: `[1, tokens, dim]` per input; any other mode: `[1, dim]` per input. Default: a
   * sentence-transformers folder's pooling (its modes concatenated when several are on), else `"none"`.
   */
  pooling?: Pooling;
  /**
   * Scale each output vector to unit L2 norm. Default: for pooled outputs, whether the folder has a Normalize
   * module (which, as in sentence-transformers, leaves token embeddings as they are); else false.
   */
  normalize?: boolean;
  /** Truncate inputs to the model's maximum length. Default true. */
  truncation?: boolean;
  /**
   * Text prepended to every input (sentence-transformers' `prompt`), e.g. `"query: "`. `""`: no prompt, not
   * even the folder's default. Not with `promptName`.
   */
  prompt?: string;
  /**
   * The name of one of the folder's prompts (`config_sentence_transformers.json`'s `prompts`), e.g.
   * `"query"`; sentence-transformers' `prompt_name`. Default: the folder's `default_prompt_name`, if any.
   */
  promptName?: string;
}

export const CALL_KEYS = [
  "pooling",
  "normalize",
  "truncation",
  "prompt",
  "promptName",
] as const satisfies readonly (keyof FeatureExtractionOptions)[];
const _callKeysComplete:
  Exclude<keyof FeatureExtractionOptions, typeof CALL_KEYS[number] | keyof BatchOptions> extends never ? true
    : never = true;
void _callKeysComplete;

/** A callable feature-extraction pipeline. Each input gives its own tensor: `[1, tokens, dim]` or `[1, dim]`. */
export interface FeatureExtractionPipeline extends PipelineBase {
  /** Embeds one input. */
  (input: TextInput, options?: FeatureExtractionOptions): Promise<FloatTensor>;
  /** Embeds many inputs; one tensor per input, in input order. */
  (inputs: readonly TextInput[], options?: FeatureExtractionOptions): Promise<FloatTensor[]>;
  /** Embeds one or many inputs. */
  (
    input: TextInput | readonly TextInput[],
    options?: FeatureExtractionOptions,
  ): Promise<FloatTensor | FloatTensor[]>;
  /** The task. */
  readonly task: "feature-extraction";
  /** The encoder. */
  readonly model: EncoderModel;
  /** The tokenizer. */
  readonly tokenizer: Tokenizer;
  /** The folder's prompts by name (`config_sentence_transformers.json`); empty when it has none. */
  readonly prompts: Readonly<Record<string, string>>;
  /** The prompt used when a call gives neither `prompt` nor `promptName`, if the folder names one. */
  readonly defaultPromptName: string | undefined;
}

/**
 * Pools one row of hidden states (`[seqLen, dim]`, row-major) over its first `length` tokens, whose mask is
 * `mask`: mean over mask-1 tokens, or the first token; then optionally L2-normalizes.
 */
export function poolRow(
  hidden: Float32Array,
  dim: number,
  mask: ArrayLike<number>,
  pooling: "mean" | "cls",
  normalize: boolean,
): Float32Array {
  const out = new Float32Array(dim);
  if (pooling === "cls") {
    out.set(hidden.subarray(0, dim));
  } else {
    const acc = new Float64Array(dim);
    let count = 0;
    for (let s = 0; s < mask.length; s++) {
      if (!mask[s]) continue;
      count++;
      for (let d = 0; d < dim; d++) acc[d] += hidden[s * dim + d];
    }
    for (let d = 0; d < dim; d++) out[d] = count > 0 ? acc[d] / count : 0;
  }
  if (normalize) normalizeInPlace(out);
  return out;
}

/** Scales `v` to unit L2 norm (zero vectors stay zero; the norm is floored at 1e-12 as torch's normalize). */
export function normalizeInPlace(v: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const norm = Math.max(Math.sqrt(sum), 1e-12);
  for (let i = 0; i < v.length; i++) v[i] /= norm;
}

/** Builds the pipeline around a loaded encoder and tokenizer. */
export function featureExtractionPipeline(
  model: EncoderModel,
  tokenizer: Tokenizer,
  modelDir: string,
  defaults: PipelineOptions,
  sentenceTransformers: SentenceTransformersConfig | null = null,
): FeatureExtractionPipeline {
  const dim = model.config.dim;
  const st = sentenceTransformers;
  const maxLength = Math.min(
    modelMaxLength(tokenizer, model.config.max_position_embeddings),
    st?.maxSeqLength ?? Infinity,
  );

  async function call(
    input: TextInput | readonly TextInput[],
    call?: FeatureExtractionOptions,
  ): Promise<FloatTensor | FloatTensor[]> {
    const { items, single } = asList(input, textInputProblem);
    const { options, settings } = callSettings(call, defaults, CALL_KEYS, "feature-extraction");
    const pooling = enumOption("pooling", options.pooling, POOLINGS) ?? (st ? st.pooling : "none");
    const modes = typeof pooling === "string" ? [pooling] : pooling;
    // The folder's Normalize applies to pooled outputs only: sentence-transformers' Normalize module scales
    // the sentence embedding, never the token embeddings.
    const normalize = boolOption("normalize", options.normalize) ?? (modes[0] !== "none" && st?.normalize) ??
      false;
    const truncation = boolOption("truncation", options.truncation) ?? true;
    const prompt = resolvePrompt(options.prompt, options.promptName, st) || undefined;
    if (prompt !== undefined) {
      // sentence-transformers prepends prompts to single texts only; a pair has no one place for it.
      const pair = items.findIndex((x) => typeof x !== "string");
      if (pair >= 0) {
        throw new PipelineInputError(
          single ? undefined : pair,
          `a prompt (${JSON.stringify(prompt)}) applies to single texts, not { text, textPair } pairs; ` +
            `pass prompt: "" to embed pairs without it`,
        );
      }
    }
    // sentence-transformers lowercases the texts themselves when its config says do_lower_case, prompt
    // included.
    const lower = (x: string) => st?.doLowerCase ? x.toLowerCase() : x;
    const texts = items.map((x) =>
      typeof x === "string"
        ? lower((prompt ?? "") + x)
        : { text: lower(x.text), textPair: x.textPair === undefined ? undefined : lower(x.textPair) }
    );
    const encodings = encodeTexts(tokenizer, texts, truncation, maxLength);
    // include_prompt false: the prompt's leading tokens are masked out of pooling (not out of attention).
    const skip = prompt !== undefined && st !== null && !st.includePrompt
      ? promptTokenCount(tokenizer, lower(prompt), truncation ? { truncation: true, maxLength } : {})
      : 0;
    const out: FloatTensor[] = new Array(items.length);
    await runBatched(encodings, settings, model.config.pad_token_id, (batch) => {
      const { lastHiddenState } = model.forward(batch);
      const rowSize = batch.seqLen * dim;
      batch.rows.forEach((r, b) => {
        const enc = encodings[r];
        const n = enc.inputIds.length;
        const hidden = lastHiddenState.data.subarray(b * rowSize, b * rowSize + n * dim);
        if (modes[0] === "none") {
          const data = hidden.slice();
          if (normalize) {
            for (let s = 0; s < n; s++) normalizeInPlace(data.subarray(s * dim, (s + 1) * dim));
          }
          out[r] = { data, dims: [1, n, dim] };
        } else {
          const mask = skip > 0 ? enc.attentionMask.map((m, s) => s < skip ? 0 : m) : enc.attentionMask;
          const data = poolTokens(hidden, dim, mask, modes as Exclude<Pooling, "none">[]);
          if (normalize) normalizeInPlace(data);
          out[r] = { data, dims: [1, data.length] };
        }
      });
    }, model.config.type_vocab_size > 0);
    return single ? out[0] : out;
  }

  return makeCallable<FeatureExtractionPipeline>(
    call,
    {
      task: "feature-extraction" as const,
      modelDir,
      model,
      tokenizer,
      prompts: Object.freeze({ ...st?.prompts }),
      defaultPromptName: st?.defaultPromptName,
    },
    () => model.close(),
  );
}
