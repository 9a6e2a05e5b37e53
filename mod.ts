/**
 * DistilBERT inference for Deno at native speed: Hugging Face checkpoints, OpenBLAS and a small C library
 * through Deno's FFI.
 *
 * @example
 * ```ts
 * import { DistilBertModel } from "@denobert/distilbert";
 * const model = await DistilBertModel.load("./my-model");
 * const { lastHiddenState } = model.forward({ inputIds: { data: new Int32Array([101, 7592, 102]), dims: [1, 3] } });
 * model.close();
 * ```
 *
 * @module
 */

export type { FloatTensor, IntTensor } from "./src/tensor.ts";
export { type Dtype, DTYPES } from "./src/backend.ts";
export type { Activation, BertConfig, DistilBertConfig, EncoderConfig, ModelConfig } from "./src/config.ts";
export { loadConfig, parseConfig } from "./src/config.ts";
export {
  BertModel,
  DistilBertModel,
  EncoderModel,
  type ForwardOptions,
  type LoadOptions,
  type ModelInputs,
  type ModelOutput,
} from "./src/model.ts";
export {
  type AnyDistilBertModel,
  type AnyModel,
  AutoModel,
  BertForMaskedLM,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  DistilBertForMaskedLM,
  DistilBertForQuestionAnswering,
  DistilBertForSequenceClassification,
  DistilBertForTokenClassification,
  DistilBertHeadModel,
  EncoderHeadModel,
  type LogitsOutput,
  MaskedLMModel,
  QuestionAnsweringModel,
  type QuestionAnsweringOutput,
  SequenceClassificationModel,
  TokenClassificationModel,
} from "./src/heads.ts";
export { type Checkpoint, openCheckpoint } from "./src/checkpoint.ts";
export { FILE_CAPS, ModelFileError } from "./src/fs/read.ts";
export {
  DTYPE_BYTES,
  MAX_HEADER_BYTES,
  type SafetensorsDtype,
  SafetensorsError,
  SafetensorsFile,
  serializeSafetensors,
  type TensorInfo,
  type TensorToWrite,
  type WholeFileOptions,
  writeSafetensors,
} from "./src/safetensors.ts";
export {
  cachedCommit,
  DEFAULT_ENDPOINT,
  DEFAULT_REVISION,
  downloadModel,
  type DownloadOptions,
  type DownloadProgress,
  findCachedModel,
  hubCacheDir,
  HubError,
  type HubErrorCode,
  isValidRepoId,
  repoCacheDir,
  resolveModelDir,
  type ResolveModelOptions,
  validateRepoId,
} from "./src/hub/mod.ts";

// Pipelines (transformers' `pipeline()`) and the tokenizer they expose.
export {
  type BatchEncoding,
  type BatchTensor,
  type DecodeOptions,
  type EncodeOptions,
  type Encoding,
  type PaddingStrategy,
  Tokenizer,
  type TruncationStrategy,
} from "./src/tokenizer/mod.ts";
export {
  aggregateTokens,
  type AggregationStrategy,
  answerOffsets,
  type AnyPipeline,
  type BatchOptions,
  bestSpans,
  canonicalTask,
  type ClassificationDetail,
  type ClassificationFunction,
  type ClassificationResult,
  DEFAULT_SENTIMENT_MODEL_URL,
  defaultSentimentModelDir,
  ensureDefaultSentimentModel,
  type EntityGroup,
  type FeatureExtractionOptions,
  type FeatureExtractionPipeline,
  type FillMaskOptions,
  type FillMaskOutput,
  type FillMaskPipeline,
  type FillMaskResult,
  pipeline,
  PIPELINE_TASKS,
  type PipelineBase,
  PipelineInputError,
  type PipelineOptions,
  type PipelineProgress,
  type PipelineTask,
  type PipelineTaskName,
  type Pooling,
  POOLING_MODES,
  type PoolingMode,
  poolTokens,
  type QuestionAnsweringInput,
  type QuestionAnsweringOptions,
  type QuestionAnsweringPipeline,
  type QuestionAnsweringResult,
  readSentenceTransformersConfig,
  type SentenceTransformersConfig,
  type SpanCandidate,
  type TextClassificationOptions,
  type TextClassificationPipeline,
  type TextInput,
  type TokenClassificationOptions,
  type TokenClassificationPipeline,
  type TokenClassificationResult,
  type TokenEntity,
  type TokenPrediction,
  tokenPredictions,
  type TokensToString,
} from "./src/pipelines/mod.ts";
