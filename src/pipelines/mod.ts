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

import {
  BertForMaskedLM,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  DistilBertForMaskedLM,
  DistilBertForQuestionAnswering,
  DistilBertForSequenceClassification,
  DistilBertForTokenClassification,
  type MaskedLMModel,
  type QuestionAnsweringModel,
  type SequenceClassificationModel,
  type TokenClassificationModel,
} from "../heads.ts";
import { BertModel, DistilBertModel, type EncoderModel } from "../model.ts";
import { type Checkpoint, openExclusiveCheckpoint } from "../checkpoint.ts";
import { resolveModelDir } from "../hub/mod.ts";
import { Tokenizer } from "../tokenizer/mod.ts";
import {
  type PipelineOptions,
  type PipelineTask,
  type PipelineTaskName,
  specialTokenNames,
  TASK_ALIASES,
} from "./common.ts";
import { ensureDefaultSentimentModel } from "./default_model.ts";
import { type FeatureExtractionPipeline, featureExtractionPipeline } from "./feature_extraction.ts";
import { type FillMaskPipeline, fillMaskPipeline } from "./fill_mask.ts";
import { readSentenceTransformersConfig } from "./sentence_transformers.ts";
import { type QuestionAnsweringPipeline, questionAnsweringPipeline } from "./question_answering.ts";
import { type TextClassificationPipeline, textClassificationPipeline } from "./text_classification.ts";
import { type TokenClassificationPipeline, tokenClassificationPipeline } from "./token_classification.ts";

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

/** Every task name `pipeline()` accepts, canonical names first. */
export const PIPELINE_TASKS: readonly PipelineTaskName[] = [
  "feature-extraction",
  "fill-mask",
  "question-answering",
  "text-classification",
  "token-classification",
  "embeddings",
  "ner",
  "sentiment-analysis",
];

/** The canonical task of a task name or alias, or undefined for an unknown name. */
export function canonicalTask(name: string): PipelineTask | undefined {
  return Object.hasOwn(TASK_ALIASES, name) ? TASK_ALIASES[name as PipelineTaskName] : undefined;
}

async function resolveDir(task: PipelineTask, model: string | null | undefined, options: PipelineOptions) {
  if (model === undefined || model === null || model === "") {
    if (task === "text-classification") return await ensureDefaultSentimentModel();
    throw new Error(`the ${task} pipeline has no default model: pass a model folder or Hugging Face hub id`);
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
  options: PipelineOptions = {},
): Promise<AnyPipeline> {
  const canonical = typeof task === "string" ? canonicalTask(task) : undefined;
  if (canonical === undefined) {
    throw new RangeError(`unknown task ${JSON.stringify(task)} (tasks: ${PIPELINE_TASKS.join(", ")})`);
  }
  const dir = await resolveDir(canonical, model, options);
  const tokenizer = await Tokenizer.fromDir(dir);
  const load = { threads: options.threads };
  // The task's class of the checkpoint's family (config.json's model_type).
  const ckpt = await openExclusiveCheckpoint(dir);
  const family = <T>(distilbert: (c: Checkpoint) => Promise<T>, bert: (c: Checkpoint) => Promise<T>) =>
    ckpt.config.model_type === "bert" ? bert(ckpt) : distilbert(ckpt);
  switch (canonical) {
    case "text-classification":
      return textClassificationPipeline(
        await family<SequenceClassificationModel>(
          (c) => DistilBertForSequenceClassification.fromCheckpoint(c, load),
          (c) => BertForSequenceClassification.fromCheckpoint(c, load),
        ),
        tokenizer,
        dir,
        options,
      );
    case "fill-mask": {
      const { mask } = await specialTokenNames(dir);
      const model = await family<MaskedLMModel>(
        (c) => DistilBertForMaskedLM.fromCheckpoint(c, load),
        (c) => BertForMaskedLM.fromCheckpoint(c, load),
      );
      return fillMaskPipeline(model, tokenizer, dir, mask, options);
    }
    case "feature-extraction": {
      const st = await readSentenceTransformersConfig(dir);
      const model = await family<EncoderModel>(
        (c) => DistilBertModel.fromCheckpoint(c, load),
        (c) => BertModel.fromCheckpoint(c, load),
      );
      return featureExtractionPipeline(model, tokenizer, dir, options, st);
    }
    case "question-answering":
      return questionAnsweringPipeline(
        await family<QuestionAnsweringModel>(
          (c) => DistilBertForQuestionAnswering.fromCheckpoint(c, load),
          (c) => BertForQuestionAnswering.fromCheckpoint(c, load),
        ),
        tokenizer,
        dir,
        options,
      );
    case "token-classification": {
      const { unk } = await specialTokenNames(dir);
      return tokenClassificationPipeline(
        await family<TokenClassificationModel>(
          (c) => DistilBertForTokenClassification.fromCheckpoint(c, load),
          (c) => BertForTokenClassification.fromCheckpoint(c, load),
        ),
        tokenizer,
        dir,
        unk,
        options,
      );
    }
  }
}
