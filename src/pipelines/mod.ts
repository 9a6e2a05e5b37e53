/**
 * Task pipelines, as transformers' `pipeline()`: text in, labels / answers / entities / embeddings out.
 *
 * ```ts
 * const classifier = await pipeline("sentiment-analysis"); // the embedded SST-2 model, offline
 * await classifier("a gorgeous, witty, seductive movie."); // { label: "POSITIVE", score: 0.98... }
 * classifier.dispose();
 * ```
 *
 * @module
 */

import { DistilBertForSequenceClassification } from "../heads.ts";
import { resolveModelDir } from "../hub/mod.ts";
import { Tokenizer } from "../tokenizer/mod.ts";
import { type PipelineOptions, type PipelineTask, type PipelineTaskName, TASK_ALIASES } from "./common.ts";
import { defaultSentimentModelDir } from "./default_model.ts";
import { type TextClassificationPipeline, textClassificationPipeline } from "./text_classification.ts";

export type {
  BatchOptions,
  PipelineBase,
  PipelineOptions,
  PipelineProgress,
  PipelineTask,
  PipelineTaskName,
} from "./common.ts";
export { DEFAULT_SENTIMENT_MODEL_URL, defaultSentimentModelDir } from "./default_model.ts";
export type {
  ClassificationDetail,
  ClassificationFunction,
  ClassificationResult,
  TextClassificationOptions,
  TextClassificationPipeline,
  TextInput,
} from "./text_classification.ts";

/** Any pipeline `pipeline()` can return. */
export type AnyPipeline = TextClassificationPipeline;

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
    if (task === "text-classification") return defaultSentimentModelDir();
    throw new Error(`the ${task} pipeline has no default model: pass a model folder or Hugging Face hub id`);
  }
  if (typeof model !== "string") {
    throw new TypeError(`model must be a folder or hub id string, got ${typeof model}`);
  }
  return await resolveModelDir(model, options.hub ?? {});
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
  switch (canonical) {
    case "text-classification":
      return textClassificationPipeline(
        await DistilBertForSequenceClassification.load(dir, load),
        tokenizer,
        dir,
        options,
      );
    default:
      throw new Error(`task ${canonical} is not implemented yet`);
  }
}
