/**
 * Messages between the HTTP thread (src/server/engine.ts) and the model's Worker (src/server/worker.ts).
 * Requests arrive validated for shape (src/server/routes.ts); the Worker tokenizes, checks lengths, queues,
 * batches and runs them.
 *
 * @module
 */

import type { TextInput } from "../pipelines/text_classification.ts";
import type { Dtype } from "../backend.ts";
import type { PipelineTask } from "../pipelines/common.ts";
import type { PoolingMode } from "../pipelines/sentence_transformers.ts";

/** Error kinds, as text-embeddings-inference names them (`error_type` of an error response). */
export type ErrorType =
  | "validation"
  | "tokenizer"
  | "overloaded"
  | "backend"
  | "unhealthy"
  | "empty"
  | "unauthorized"
  | "payload"
  | "not_found";

/** What one request asks for, by route. Texts are as the client sent them. */
export type Job =
  | {
    route: "embed";
    texts: string[];
    normalize: boolean;
    truncate: boolean;
    /** One of the model's prompts (TEI's `prompt_name`); undefined: the folder's default prompt, if any. */
    promptName?: string;
    /** The request's name for the texts, for errors: "inputs" (TEI's /embed), "input" (OpenAI's). */
    field: "inputs" | "input";
  }
  | { route: "predict"; inputs: TextInput[]; rawScores: boolean; truncate: boolean }
  | { route: "rerank"; query: string; texts: string[]; rawScores: boolean; truncate: boolean }
  | { route: "tokenize"; texts: string[]; addSpecialTokens: boolean }
  | { route: "decode"; ids: number[][]; skipSpecialTokens: boolean }
  | { route: "fill-mask"; texts: string[]; topK: number; truncate: boolean }
  | {
    route: "question-answering";
    items: { question: string; context: string }[];
    options: Record<string, number | boolean>;
  }
  | { route: "token-classification"; texts: string[]; options: Record<string, unknown>; truncate: boolean };

/** Settings the Worker starts with. */
export interface WorkerInit {
  modelDir: string;
  task: PipelineTask;
  threads?: number;
  dtype?: Dtype;
  maxBatchTokens: number;
  maxBatchRequests: number;
}

/** HTTP thread -> Worker. */
export type ToWorker =
  | { type: "init"; init: WorkerInit }
  | { type: "job"; id: number; job: Job }
  | { type: "cancel"; id: number };

/** Per-request timings and sizes, for the response headers and the metrics. */
export interface JobTiming {
  tokenizationMs: number;
  queueMs: number;
  inferenceMs: number;
  /** Real tokens this request computed. */
  computeTokens: number;
}

/** Facts about the loaded model, for `/info` and for validation on the HTTP thread. */
export interface ModelInfo {
  task: PipelineTask;
  modelType: string;
  architecture: string;
  /** Longest input in tokens (special tokens included). */
  maxInputLength: number;
  /** Labels by class index (classification tasks). */
  labels: string[] | null;
  /** Pooling modes of `/embed` (feature-extraction), concatenated when several. */
  pooling: PoolingMode[] | null;
  /** The folder's prompts by name (feature-extraction; empty when it has none). */
  prompts: Record<string, string> | null;
  /** The prompt `/embed` uses when a request names none. */
  defaultPromptName: string | null;
  hiddenSize: number;
}

/** Worker -> HTTP thread. */
export type FromWorker =
  | { type: "ready"; info: ModelInfo }
  | { type: "init-error"; message: string }
  | { type: "result"; id: number; result: unknown; timing: JobTiming }
  | {
    type: "error";
    id: number;
    errorType: ErrorType;
    message: string;
    timing?: JobTiming;
    /** The HTTP status when the error type's usual one is not it (an input too long: 413, as TEI). */
    status?: number;
  }
  | { type: "batch"; size: number; tokens: number; ms: number; queued: number };
