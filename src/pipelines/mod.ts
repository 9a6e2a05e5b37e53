/**
 * Task pipelines, as transformers' `pipeline()`: text in, labels / answers / entities / embeddings out.
 *
 * ```ts
 * const classifier = await pipeline("sentiment-analysis"); // the embedded SST-2 model, offline
 * await classifier("a gorgeous, witty, seductive movie."); // [{ label: "POSITIVE", score: 0.98... }]
 * classifier.dispose();
 * ```
 *
 * @module
 */

import { resolveModelDir } from "../hub/mod.ts";
import { Tokenizer } from "../tokenizer/mod.ts";
import { checkPipelineOptions, type PipelineOptions, type PipelineTaskName } from "./common.ts";
import type { FeatureExtractionPipeline } from "./feature_extraction.ts";
import type { FillMaskPipeline } from "./fill_mask.ts";
import type { QuestionAnsweringPipeline } from "./question_answering.ts";
import type { TextClassificationPipeline } from "./text_classification.ts";
import type { TokenClassificationPipeline } from "./token_classification.ts";
import { PIPELINE_TASKS, type TaskSpec, taskSpec } from "./registry.ts";

export {
  type BatchOptions,
  type PipelineBase,
  PipelineInputError,
  type PipelineOptions,
  type PipelineProgress,
  type PipelineTask,
  type PipelineTaskName,
} from "./common.ts";
export {
  DEFAULT_SENTIMENT_MODEL_URL,
  defaultSentimentModelDir,
  ensureDefaultSentimentModel,
} from "./default_model.ts";
export type {
  ClassificationDetail,
  ClassificationFunction,
  ClassificationResult,
  TextClassificationOptions,
  TextClassificationPipeline,
  TextInput,
} from "./text_classification.ts";

export type { FeatureExtractionOptions, FeatureExtractionPipeline, Pooling } from "./feature_extraction.ts";
export {
  POOLING_MODES,
  type PoolingMode,
  poolTokens,
  readSentenceTransformersConfig,
  type SentenceTransformersConfig,
} from "./sentence_transformers.ts";
export type { FillMaskOptions, FillMaskOutput, FillMaskPipeline, FillMaskResult } from "./fill_mask.ts";
export {
  answerOffsets,
  bestSpans,
  type QuestionAnsweringInput,
  type QuestionAnsweringOptions,
  type QuestionAnsweringPipeline,
  type QuestionAnsweringResult,
  type SpanCandidate,
} from "./question_answering.ts";
export {
  aggregateTokens,
  type AggregationStrategy,
  type EntityGroup,
  type TokenClassificationOptions,
  type TokenClassificationPipeline,
  type TokenClassificationResult,
  type TokenEntity,
  type TokenPrediction,
  tokenPredictions,
  type TokensToString,
} from "./token_classification.ts";

/** Any pipeline `pipeline()` can return. */
export type AnyPipeline =
  | FeatureExtractionPipeline
  | FillMaskPipeline
  | QuestionAnsweringPipeline
  | TextClassificationPipeline
  | TokenClassificationPipeline;

export { canonicalTask, COMMON_ROUTES, PIPELINE_TASKS, TASKS, type TaskSpec, taskSpec } from "./registry.ts";

async function resolveDir(spec: TaskSpec, model: string | null | undefined, options: PipelineOptions) {
  if (model === undefined || model === null || model === "") {
    if (spec.defaultModel) return await spec.defaultModel();
    throw new Error(
      `the ${spec.task} pipeline has no default model: pass a model folder or Hugging Face hub id`,
    );
  }
  if (typeof model !== "string") {
    throw new TypeError(`model must be a folder or hub id string, got ${typeof model}`);
  }
  const dir = await resolveModelDir(model, options.hub ?? {});
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`model folder ${dir} does not exist`);
    throw err;
  }
  if (!info.isDirectory) throw new Error(`${dir} is not a folder`);
  return dir;
}

/**
 * Loads a model and its tokenizer for a task and returns a callable pipeline, as transformers' `pipeline()`.
 *
 * @param task `text-classification` (alias `sentiment-analysis`), `fill-mask`, `feature-extraction` (alias
 *   `embeddings`), `question-answering`, `token-classification` (alias `ner`)
 * @param model a local folder or Hugging Face hub id; for text classification, omitted means the embedded SST-2
 *   sentiment model
 * @param options threads, hub options, call defaults (`batchSize`, `onProgress`)
 * @returns the pipeline; call `dispose()` (or use `using`) when done
 */
export function pipeline(
  task: "text-classification" | "sentiment-analysis",
  model?: string | null,
  options?: PipelineOptions,
): Promise<TextClassificationPipeline>;
/** Loads a fill-mask pipeline (a `DistilBertForMaskedLM` or `BertForMaskedLM` checkpoint). */
export function pipeline(
  task: "fill-mask",
  model: string,
  options?: PipelineOptions,
): Promise<FillMaskPipeline>;
/** Loads a feature-extraction pipeline (the encoder of any DistilBERT or BERT checkpoint). */
export function pipeline(
  task: "feature-extraction" | "embeddings",
  model: string,
  options?: PipelineOptions,
): Promise<FeatureExtractionPipeline>;
/** Loads a question-answering pipeline (a `DistilBertForQuestionAnswering` or `BertForQuestionAnswering` checkpoint). */
export function pipeline(
  task: "question-answering",
  model: string,
  options?: PipelineOptions,
): Promise<QuestionAnsweringPipeline>;
/** Loads a token-classification pipeline (a `DistilBertForTokenClassification` or `BertForTokenClassification` checkpoint). */
export function pipeline(
  task: "token-classification" | "ner",
  model: string,
  options?: PipelineOptions,
): Promise<TokenClassificationPipeline>;
/** Loads a pipeline for any task name. */
export function pipeline(
  task: PipelineTaskName,
  model?: string | null,
  options?: PipelineOptions,
): Promise<AnyPipeline>;
export async function pipeline(
  task: PipelineTaskName,
  model?: string | null,
  pipelineOptions?: PipelineOptions,
): Promise<AnyPipeline> {
  const spec = typeof task === "string" ? taskSpec(task) : undefined;
  if (spec === undefined) {
    throw new RangeError(`unknown task ${JSON.stringify(task)} (tasks: ${PIPELINE_TASKS.join(", ")})`);
  }
  const options = checkPipelineOptions(pipelineOptions);
  const dir = await resolveDir(spec, model, options);
  const tokenizer = await Tokenizer.fromDir(dir);
  return await spec.create(dir, tokenizer, options) as AnyPipeline;
}
