/**
 * The one table of tasks: names and aliases, the head each loads, the architectures whose default task it is,
 * the shape of one input, the call options, what a result is, and the server routes. `pipeline()`, the CLI
 * and the HTTP server all read it.
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
import { type Checkpoint, openExclusiveCheckpoint } from "../checkpoint.ts";
import { BertModel, DistilBertModel, type EncoderModel, type LoadOptions } from "../model.ts";
import { readSentenceTransformersConfig } from "./sentence_transformers.ts";
import type { Tokenizer } from "../tokenizer/mod.ts";
import {
  type PipelineOptions,
  type PipelineTask,
  type PipelineTaskName,
  specialTokenNames,
} from "./common.ts";
import { ensureDefaultSentimentModel } from "./default_model.ts";
import { CALL_KEYS as FEATURE_EXTRACTION_OPTIONS, featureExtractionPipeline } from "./feature_extraction.ts";
import { CALL_KEYS as FILL_MASK_OPTIONS, fillMaskPipeline } from "./fill_mask.ts";
import { CALL_KEYS as QUESTION_ANSWERING_OPTIONS, questionAnsweringPipeline } from "./question_answering.ts";
import {
  CALL_KEYS as TEXT_CLASSIFICATION_OPTIONS,
  textClassificationPipeline,
} from "./text_classification.ts";
import {
  CALL_KEYS as TOKEN_CLASSIFICATION_OPTIONS,
  tokenClassificationPipeline,
} from "./token_classification.ts";

/** What one input of a task is. */
export type InputShape =
  /** a string */
  | "text"
  /** a string, or `{ text, textPair }` */
  | "text-or-pair"
  /** `{ question, context }` */
  | "question-context";

/** One task. */
export interface TaskSpec {
  /** The canonical name. */
  readonly task: PipelineTask;
  /** Every name that selects it, the canonical one first. */
  readonly names: readonly PipelineTaskName[];
  /** Architectures (`config.architectures[0]`) whose default task this is. */
  readonly architectures: readonly string[];
  /** The shape of one input. */
  readonly input: InputShape;
  /** The call options the pipeline takes (besides `batchSize` and `onProgress`). */
  readonly callOptions: readonly string[];
  /** What a result is, in a line. */
  readonly output: string;
  /** The HTTP server's POST routes for models of this task. */
  readonly routes: readonly string[];
  /** The model when none is given, if the task has one. */
  readonly defaultModel?: () => Promise<string>;
  /** Loads the head and builds the pipeline. */
  create(dir: string, tokenizer: Tokenizer, options: PipelineOptions): Promise<unknown>;
}

const load = (options: PipelineOptions): LoadOptions => ({ threads: options.threads, dtype: options.dtype });

/** The head of the checkpoint's family (config.json's `model_type`): DistilBERT's class or BERT's. */
async function byFamily<T>(
  dir: string,
  options: LoadOptions,
  distilbert: (c: Checkpoint, o: LoadOptions) => Promise<T>,
  bert: (c: Checkpoint, o: LoadOptions) => Promise<T>,
): Promise<T> {
  const ckpt = await openExclusiveCheckpoint(dir, options);
  return ckpt.config.model_type === "bert" ? await bert(ckpt, options) : await distilbert(ckpt, options);
}

/** Every task, in the order help texts list them. */
export const TASKS: readonly TaskSpec[] = [
  {
    task: "text-classification",
    names: ["text-classification", "sentiment-analysis"],
    architectures: ["DistilBertForSequenceClassification", "BertForSequenceClassification"],
    input: "text-or-pair",
    callOptions: TEXT_CLASSIFICATION_OPTIONS,
    output:
      `label and score of each text ({"label","score"}; a list with topK); without a model, the embedded ` +
      `SST-2 sentiment model (offline)`,
    routes: ["/predict", "/rerank"],
    defaultModel: ensureDefaultSentimentModel,
    create: async (dir, tokenizer, options) =>
      textClassificationPipeline(
        await byFamily<SequenceClassificationModel>(
          dir,
          load(options),
          (c, o) => DistilBertForSequenceClassification.fromCheckpoint(c, o),
          (c, o) => BertForSequenceClassification.fromCheckpoint(c, o),
        ),
        tokenizer,
        dir,
        options,
      ),
  },
  {
    task: "fill-mask",
    names: ["fill-mask"],
    architectures: ["DistilBertForMaskedLM", "BertForMaskedLM"],
    input: "text",
    callOptions: FILL_MASK_OPTIONS,
    output:
      `candidates for each mask: [{"score","token","token_str","sequence"}, ...] (a list per mask if several)`,
    routes: ["/fill-mask"],
    create: async (dir, tokenizer, options) => {
      const { mask } = await specialTokenNames(dir);
      return fillMaskPipeline(
        await byFamily<MaskedLMModel>(
          dir,
          load(options),
          (c, o) => DistilBertForMaskedLM.fromCheckpoint(c, o),
          (c, o) => BertForMaskedLM.fromCheckpoint(c, o),
        ),
        tokenizer,
        dir,
        mask,
        options,
      );
    },
  },
  {
    task: "feature-extraction",
    names: ["feature-extraction", "embeddings"],
    architectures: ["DistilBertModel", "BertModel"],
    input: "text-or-pair",
    callOptions: FEATURE_EXTRACTION_OPTIONS,
    output: "token vectors [tokens][dim], or one vector [dim] with any other pooling",
    routes: ["/embed", "/v1/embeddings"],
    create: async (dir, tokenizer, options) => {
      const st = await readSentenceTransformersConfig(dir);
      const model = await byFamily<EncoderModel>(
        dir,
        load(options),
        (c, o) => DistilBertModel.fromCheckpoint(c, o),
        (c, o) => BertModel.fromCheckpoint(c, o),
      );
      return featureExtractionPipeline(model, tokenizer, dir, options, st);
    },
  },
  {
    task: "question-answering",
    names: ["question-answering"],
    architectures: ["DistilBertForQuestionAnswering", "BertForQuestionAnswering"],
    input: "question-context",
    callOptions: QUESTION_ANSWERING_OPTIONS,
    output:
      `{"answer","score","start","end"} (start/end: UTF-16 offsets into the context; a list with topK > 1)`,
    routes: ["/question-answering"],
    create: async (dir, tokenizer, options) =>
      questionAnsweringPipeline(
        await byFamily<QuestionAnsweringModel>(
          dir,
          load(options),
          (c, o) => DistilBertForQuestionAnswering.fromCheckpoint(c, o),
          (c, o) => BertForQuestionAnswering.fromCheckpoint(c, o),
        ),
        tokenizer,
        dir,
        options,
      ),
  },
  {
    task: "token-classification",
    names: ["token-classification", "ner"],
    architectures: ["DistilBertForTokenClassification", "BertForTokenClassification"],
    input: "text",
    callOptions: TOKEN_CLASSIFICATION_OPTIONS,
    output:
      `entities [{"entity","score","index","word","start","end"}, ...], or grouped with an aggregation strategy`,
    routes: ["/token-classification"],
    create: async (dir, tokenizer, options) => {
      const { unk } = await specialTokenNames(dir);
      return tokenClassificationPipeline(
        await byFamily<TokenClassificationModel>(
          dir,
          load(options),
          (c, o) => DistilBertForTokenClassification.fromCheckpoint(c, o),
          (c, o) => BertForTokenClassification.fromCheckpoint(c, o),
        ),
        tokenizer,
        dir,
        unk,
        options,
      );
    },
  },
];

/** Routes every model serves, whatever its task. */
export const COMMON_ROUTES: readonly string[] = ["/tokenize", "/decode"];

/** Every task name, canonical names first. */
export const PIPELINE_TASKS: readonly PipelineTaskName[] = [
  ...TASKS.map((t) => t.names[0]),
  ...TASKS.flatMap((t) => t.names.slice(1)),
];

/** The task of a name or alias, or undefined for an unknown name. */
export function taskSpec(name: string): TaskSpec | undefined {
  return TASKS.find((t) => (t.names as readonly string[]).includes(name));
}

/** The canonical task of a task name or alias, or undefined for an unknown name. */
export function canonicalTask(name: string): PipelineTask | undefined {
  return taskSpec(name)?.task;
}

/** The task whose head an architecture is, or undefined. */
export function taskOfArchitecture(architecture: string): PipelineTask | undefined {
  return TASKS.find((t) => t.architectures.includes(architecture))?.task;
}
