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
  callSettings,
  makeCallable,
  type PipelineBase,
  type PipelineOptions,
  rowOf,
  runBatched,
  sigmoid,
  softmax,
} from "./common.ts";
import { boolOption, describeValue, enumOption, isPlainObject, objectInputProblem } from "./validate.ts";

/** A text, or a pair of texts classified together (e.g. premise and hypothesis); an empty `textPair` is no pair. */
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
  /** Lower level: ids, raw logits and scores (every label's, so no `topK`) of each input, in input order. */
  classify(
    inputs: readonly TextInput[],
    options?: Omit<TextClassificationOptions, "topK">,
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
  return textInputProblem(x) === undefined;
}

/** What is wrong with `x` as a text or `{ text, textPair }` pair; undefined when nothing is. */
export function textInputProblem(x: unknown): string | undefined {
  if (typeof x === "string") return undefined;
  if (!isPlainObject(x)) return `expected a string or { text, textPair }, got ${describeValue(x)}`;
  const problem = objectInputProblem(x, ["text"], ["textPair"]);
  return problem !== undefined && "text_pair" in x ? `${problem}; the pair's key is textPair` : problem;
}

/** The options of a call, besides `batchSize` and `onProgress`. */
export const CALL_KEYS = [
  "topK",
  "functionToApply",
  "truncation",
] as const satisfies readonly (keyof TextClassificationOptions)[];
const _callKeysComplete: Exclude<keyof TextClassificationOptions, CallKey> extends never ? true : never =
  true;
void _callKeysComplete;
type CallKey = typeof CALL_KEYS[number] | keyof BatchOptions;
const FUNCTIONS: readonly ClassificationFunction[] = ["softmax", "sigmoid", "none"];

/** Tokenizes texts and pairs, truncated at `maxLength` unless `truncation` is false. */
export function encodeTexts(
  tokenizer: Tokenizer,
  items: readonly TextInput[],
  truncation: boolean,
  maxLength: number,
): Encoding[] {
  return items.map((x) => {
    // An empty textPair is no pair: transformers' tokenizer call encodes the pair only `if text_pair`, so
    // { text, textPair: "" } is the text alone ([CLS] text [SEP]), not text + an empty second segment.
    const [text, pair] = typeof x === "string" ? [x, null] : [x.text, x.textPair || null];
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

  // classify() returns every label's score, so it takes no topK.
  async function classify(
    inputs: readonly TextInput[],
    call?: Omit<TextClassificationOptions, "topK">,
  ): Promise<ClassificationDetail[]> {
    if (!Array.isArray(inputs)) {
      throw new TypeError(`classify() takes an array of inputs, got ${describeValue(inputs)}`);
    }
    const { items } = asList(inputs, textInputProblem);
    const { options, settings } = callSettings(
      call,
      defaults,
      CALL_KEYS.filter((k) => k !== "topK"),
      "classify()",
    );
    const fn = enumOption("functionToApply", options.functionToApply, FUNCTIONS) ?? defaultFunction;
    const truncation = boolOption("truncation", options.truncation) ?? true;
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
    call?: TextClassificationOptions,
  ): Promise<ClassificationResult | ClassificationResult[] | ClassificationResult[][]> {
    const { items, single } = asList(input, textInputProblem);
    const { options } = callSettings(call, defaults, CALL_KEYS, "text-classification");
    const topK = options.topK;
    if (topK !== undefined && topK !== null && (!Number.isSafeInteger(topK) || topK < 1)) {
      throw new RangeError(`topK must be a positive integer or null, got ${describeValue(topK)}`);
    }
    const { topK: _, ...rest } = options;
    const details = await classify(items, rest);
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
