/**
 * `text-classification` / `sentiment-analysis`, as transformers' `TextClassificationPipeline`.
 *
 * @module
 */

import type { SequenceClassificationModel } from "../heads.ts";
import type { Encoding, Tokenizer } from "../tokenizer/mod.ts";
import {
  argmax,
  asList,
  type BatchOptions,
  batchSettings,
  makeCallable,
  type PipelineBase,
  type PipelineOptions,
  rowOf,
  runBatched,
  sigmoid,
  softmax,
} from "./common.ts";

/** A text, or a pair of texts classified together (e.g. premise and hypothesis). */
export type TextInput = string | { text: string; textPair?: string };

/** What turns logits into scores (transformers' `function_to_apply`). */
export type ClassificationFunction = "softmax" | "sigmoid" | "none";

/** Options of a text-classification call. */
export interface TextClassificationOptions extends BatchOptions {
  /**
   * Omitted: only the best label, `{ label, score }` per input (for one text alone, a one-element list, as
   * transformers and Transformers.js give it). A number: that many labels, best first, as a list per input.
   * `null`: every label, best first.
   */
  topK?: number | null;
  /** Default from the config as transformers decides: sigmoid for multi-label or one label, else softmax. */
  functionToApply?: ClassificationFunction;
  /** Truncate inputs to the model's maximum length (tokenizer `model_max_length`, position embeddings). Default true. */
  truncation?: boolean;
}

/** One label and its score. */
export interface ClassificationResult {
  /** The label name from `config.id2label`. */
  label: string;
  /** Its probability (or raw logit with `functionToApply: "none"`). */
  score: number;
}

/** Everything computed for one input by {@link TextClassificationPipeline.classify}. */
export interface ClassificationDetail {
  /** The token ids the model saw. */
  inputIds: number[];
  /** Raw logits, one per label. */
  logits: number[];
  /** Scores after `functionToApply`, one per label. */
  scores: number[];
  /** Label names by class index. */
  labels: string[];
  /** The best label. */
  label: string;
  /** Its score. */
  score: number;
}

/** A callable text-classification pipeline. */
export interface TextClassificationPipeline extends PipelineBase {
  /** Classifies one text: its best label, in a one-element list (as transformers and Transformers.js). */
  (
    input: string,
    options?: TextClassificationOptions & { topK?: undefined },
  ): Promise<ClassificationResult[]>;
  /** Classifies one text pair: its best label, as an object (as transformers). */
  (
    input: { text: string; textPair?: string },
    options?: TextClassificationOptions & { topK?: undefined },
  ): Promise<ClassificationResult>;
  /** Classifies one input: its `topK` best labels (all with `null`). */
  (
    input: TextInput,
    options: TextClassificationOptions & { topK: number | null },
  ): Promise<ClassificationResult[]>;
  /** Classifies many inputs: the best label of each, in input order. */
  (
    inputs: readonly TextInput[],
    options?: TextClassificationOptions & { topK?: undefined },
  ): Promise<ClassificationResult[]>;
  /** Classifies many inputs: the `topK` best labels of each, in input order. */
  (
    inputs: readonly TextInput[],
    options: TextClassificationOptions & { topK: number | null },
  ): Promise<ClassificationResult[][]>;
  /** Classifies one or many inputs. */
  (
    input: TextInput | readonly TextInput[],
    options?: TextClassificationOptions,
  ): Promise<ClassificationResult | ClassificationResult[] | ClassificationResult[][]>;
  /** The task. */
  readonly task: "text-classification";
  /** The model. */
  readonly model: SequenceClassificationModel;
  /** The tokenizer. */
  readonly tokenizer: Tokenizer;
  /** The score function the config implies (transformers' default `function_to_apply`). */
  readonly defaultFunction: ClassificationFunction;
  /** Lower level: ids, raw logits and scores of each input, in input order. */
  classify(
    inputs: readonly TextInput[],
    options?: TextClassificationOptions,
  ): Promise<ClassificationDetail[]>;
}

/** transformers' rule for the default `function_to_apply` of a classification config. */
export function defaultClassificationFunction(
  problemType: string | undefined,
  numLabels: number,
): ClassificationFunction {
  if (problemType === "multi_label_classification" || numLabels === 1) return "sigmoid";
  if (problemType === "single_label_classification" || numLabels > 1) return "softmax";
  return "none";
}

/** Applies a classification function to one row of logits. */
export function applyClassificationFunction(logits: ArrayLike<number>, fn: ClassificationFunction): number[] {
  if (fn === "softmax") return Array.from(softmax(logits));
  if (fn === "sigmoid") return Array.from(logits, sigmoid);
  return Array.from(logits);
}

/** Whether `x` is a text or a `{ text, textPair }` pair. */
export function isTextInput(x: unknown): x is TextInput {
  if (typeof x === "string") return true;
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const o = x as { text?: unknown; textPair?: unknown };
  return typeof o.text === "string" && (o.textPair === undefined || typeof o.textPair === "string");
}

/** Tokenizes texts and pairs, truncated at `maxLength` unless `truncation` is false. */
export function encodeTexts(
  tokenizer: Tokenizer,
  items: readonly TextInput[],
  truncation: boolean,
  maxLength: number,
): Encoding[] {
  return items.map((x) => {
    const [text, pair] = typeof x === "string" ? [x, null] : [x.text, x.textPair ?? null];
    return tokenizer.encode(text, pair, truncation ? { truncation: true, maxLength } : {});
  });
}

/** The longest row the model and tokenizer accept. */
export function modelMaxLength(tokenizer: Tokenizer, maxPositions: number): number {
  return Math.min(tokenizer.modelMaxLength, maxPositions);
}

/** Builds the pipeline around a loaded model and tokenizer. */
export function textClassificationPipeline(
  model: SequenceClassificationModel,
  tokenizer: Tokenizer,
  modelDir: string,
  defaults: PipelineOptions,
): TextClassificationPipeline {
  const labels = model.labelNames;
  const defaultFunction = defaultClassificationFunction(model.config.problem_type, model.numLabels);
  const maxLength = modelMaxLength(tokenizer, model.config.max_position_embeddings);

  async function classify(
    inputs: readonly TextInput[],
    options: TextClassificationOptions = {},
  ): Promise<ClassificationDetail[]> {
    const { items } = asList(inputs, isTextInput, "a string or { text, textPair }");
    const settings = batchSettings(options, defaults);
    const fn = options.functionToApply ?? defaultFunction;
    if (fn !== "softmax" && fn !== "sigmoid" && fn !== "none") {
      throw new RangeError(
        `functionToApply must be "softmax", "sigmoid" or "none", got ${JSON.stringify(fn)}`,
      );
    }
    const truncation = options.truncation ?? true;
    const encodings = encodeTexts(tokenizer, items, truncation, maxLength);
    const out: ClassificationDetail[] = new Array(items.length);
    await runBatched(encodings, settings, model.config.pad_token_id, (batch) => {
      const { logits } = model.forward(batch);
      batch.rows.forEach((r, b) => {
        const row = Array.from(rowOf(logits, b));
        const scores = applyClassificationFunction(row, fn);
        const best = argmax(scores);
        out[r] = {
          inputIds: encodings[r].inputIds,
          logits: row,
          scores,
          labels,
          label: labels[best],
          score: scores[best],
        };
      });
    }, model.config.type_vocab_size > 0);
    return out;
  }

  async function call(
    input: TextInput | readonly TextInput[],
    options: TextClassificationOptions = {},
  ): Promise<ClassificationResult | ClassificationResult[] | ClassificationResult[][]> {
    const { items, single } = asList(input, isTextInput, "a string or { text, textPair }");
    const topK = options.topK;
    if (topK !== undefined && topK !== null && (!Number.isInteger(topK) || topK < 1)) {
      throw new RangeError(`topK must be a positive integer or null, got ${topK}`);
    }
    const details = await classify(items, options);
    if (topK === undefined) {
      const best = details.map((d) => ({ label: d.label, score: d.score }));
      // transformers wraps the result of one string in a list, but not that of one { text, text_pair }.
      if (single) return typeof input === "string" ? best : best[0];
      return best;
    }
    const ranked = details.map((d) =>
      d.scores.map((score, i) => ({ label: d.labels[i], score }))
        .sort((a, b) => b.score - a.score)
        .slice(0, topK ?? undefined)
    );
    return single ? ranked[0] : ranked;
  }

  return makeCallable<TextClassificationPipeline>(
    call,
    { task: "text-classification" as const, modelDir, model, tokenizer, defaultFunction, classify },
    () => model.close(),
  );
}
