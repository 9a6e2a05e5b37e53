/**
 * The bare encoders, as `transformers.DistilBertModel` and `transformers.BertModel`, and the encoder core every
 * head shares.
 *
 * @module
 */

import { Backend, type Dtype, DTYPES, validateThreads } from "./backend.ts";
import type { BertConfig, DistilBertConfig, ModelConfig } from "./config.ts";
import { familyOf } from "./family.ts";
import { type Checkpoint, openExclusiveCheckpoint } from "./checkpoint.ts";
import { runEncoder, Workspace } from "./encoder.ts";
import { packBatch, type PackedBatch } from "./inputs.ts";
import type { FloatTensor, IntTensor } from "./tensor.ts";
import { encoderPrefix, type EncoderWeights, loadEncoderWeights, TensorReader } from "./weights.ts";

/** Options for loading a model. */
export interface LoadOptions {
  /**
   * Threads this model's kernels compute on, the calling thread included, from 1 to 256 (OpenBLAS, which
   * runs the task heads and encoders whose widths do not fit the packed layout, always runs on one). Each
   * model keeps its own: models in other Workers or on the main thread are not affected. Default: the
   * number of CPU cores.
   */
  threads?: number;
  /**
   * Precision of the encoder's linear layers (Transformers.js's names): `"fp32"` (default, exact), `"bf16"`
   * (weights in bf16, inputs rounded to bf16, fp32 sums) or `"q8"` (int8 weights per output channel, inputs
   * quantized per token, int32 sums); with either, the GELU after the first feed-forward linear is a rational
   * approximation within 1.1e-6 of the exact one. In bf16, attention's two products take bf16-rounded inputs
   * too. Embeddings, softmax, LayerNorm and the task heads stay fp32. The weights are converted once, at load. bf16 and q8 need an x86 CPU with AVX2 at least (AVX-512 BF16 / VNNI
   * are used where present); elsewhere loading with them throws.
   */
  dtype?: Dtype;
}

const LOAD_OPTIONS: readonly (keyof LoadOptions)[] = ["threads", "dtype"];

/** Throws for load options that are not objects, unknown names (a typo would otherwise be ignored) or bad values. */
export function validateLoadOptions(options: unknown): asserts options is LoadOptions {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError("load options must be an object such as { threads: 2 }");
  }
  for (const key of Object.keys(options)) {
    if (!(LOAD_OPTIONS as readonly string[]).includes(key)) {
      throw new TypeError(`unknown load option "${key}" (options: ${LOAD_OPTIONS.join(", ")})`);
    }
  }
  const { threads, dtype } = options as LoadOptions;
  if (threads !== undefined) validateThreads(threads);
  if (dtype !== undefined && !(DTYPES as readonly unknown[]).includes(dtype)) {
    throw new RangeError(`unknown dtype ${JSON.stringify(dtype)} (dtypes: ${DTYPES.join(", ")})`);
  }
}

/**
 * The checkpoint of a model's own `load(dir, options)`, its options checked first: a bad one (`null`, an
 * unknown dtype) is the error naming it before the folder is read, not a TypeError from reading `dtype`
 * off it, nor after the whole weights file was read.
 */
export function openOwnCheckpoint(dir: string, options: LoadOptions): Promise<Checkpoint> {
  validateLoadOptions(options);
  return openExclusiveCheckpoint(dir, options);
}

/** Encoder inputs: `[batch, sequence]` integer tensors. */
export interface ModelInputs {
  /** Token ids, each in `[0, vocab_size)`. */
  inputIds: IntTensor;
  /** 1 for real tokens, 0 for padding; all ones when omitted. */
  attentionMask?: IntTensor;
  /**
   * BERT only: the segment of each token (0 for the first text, 1 for the second of a pair), each in
   * `[0, type_vocab_size)`; all zeros when omitted. DistilBERT has no token types and refuses it.
   */
  tokenTypeIds?: IntTensor;
}

/** Options for one forward call. */
export interface ForwardOptions {
  /** Also return the embeddings output and every layer's output. */
  outputHiddenStates?: boolean;
}

/**
 * transformers' input names (and inputs it takes that these models do not), refused rather than ignored; the
 * latter in camelCase too, this API's spelling: `positionIds` for a left-padded batch would otherwise run with
 * the default positions 0..S-1 without a word.
 */
const TRANSFORMERS_INPUT_NAMES = [
  "input_ids",
  "attention_mask",
  "token_type_ids",
  "position_ids",
  "head_mask",
  "inputs_embeds",
  "positionIds",
  "headMask",
  "inputsEmbeds",
] as const;

/** Throws for forward options that are not an object, unknown names (`output_hidden_states`) or bad values. */
function validateForwardOptions(options: unknown): asserts options is ForwardOptions {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError("forward options must be an object such as { outputHiddenStates: true }");
  }
  for (const key of Object.keys(options)) {
    if (key !== "outputHiddenStates") {
      throw new TypeError(`unknown forward option "${key}" (options: outputHiddenStates)`);
    }
  }
  const { outputHiddenStates } = options as ForwardOptions;
  if (outputHiddenStates !== undefined && typeof outputHiddenStates !== "boolean") {
    throw new TypeError(`outputHiddenStates must be true or false, got ${String(outputHiddenStates)}`);
  }
}

/** The encoder's outputs. Positions whose mask is 0 hold zeros (Hugging Face computes meaningless values there). */
export interface ModelOutput {
  /** `[batch, sequence, dim]`. */
  lastHiddenState: FloatTensor;
  /** BERT only (`BertModel` whose checkpoint has `pooler.dense`): `[batch, dim]` = tanh(pooler.dense(first token)). */
  poolerOutput?: FloatTensor;
  /** With `outputHiddenStates`: the embeddings output, then each layer's output, each `[batch, sequence, dim]`. */
  hiddenStates?: FloatTensor[];
}

/**
 * The encoder and what every head shares: the native back end, the weights, the reusable activation buffers.
 * Forward calls are synchronous, so one model never runs two passes at once and its buffers are never shared
 * between calls in flight.
 */
export class EncoderCore {
  readonly config: ModelConfig;
  readonly backend: Backend;
  readonly weights: EncoderWeights;
  readonly workspace: Workspace = new Workspace();
  /** Precision of the encoder's linear layers (the `dtype` load option). */
  readonly dtype: Dtype;

  #reader: TensorReader | null;

  constructor(
    config: ModelConfig,
    backend: Backend,
    weights: EncoderWeights,
    reader: TensorReader,
    dtype: Dtype = "fp32",
  ) {
    this.#reader = reader;
    this.dtype = dtype;
    this.config = config;
    this.backend = backend;
    this.weights = weights;
  }

  /** Opens the back end and reads the encoder weights of a checkpoint. */
  static async create(ckpt: Checkpoint, options: LoadOptions = {}): Promise<EncoderCore> {
    validateLoadOptions(options);
    const dtype = options.dtype ?? "fp32";
    const reader = new TensorReader(ckpt.file, encoderPrefix(ckpt.file, ckpt.config));
    const backend = await Backend.open({ threads: options.threads ?? navigator.hardwareConcurrency });
    try {
      const weights = loadEncoderWeights(reader, ckpt.config, backend, dtype);
      return new EncoderCore(ckpt.config, backend, weights, reader, dtype);
    } catch (err) {
      backend.close();
      throw err;
    }
  }

  /** Reads the encoder's own tensors (keys under its prefix, e.g. BERT's pooler) while the model is built. */
  get reader(): TensorReader {
    if (!this.#reader) throw new Error("internal: the checkpoint is read only while the model is built");
    return this.#reader;
  }

  /** Reads the head's tensors (unprefixed keys) of the same file. */
  headReader(): TensorReader {
    return new TensorReader(this.reader.file, "");
  }

  /**
   * Called once the model on this core is built: drops the reference to the checkpoint, so that a bf16 / q8
   * model, whose own load read the file per tensor, keeps only the tensors it uses (in fp32) alive.
   */
  loaded(): void {
    this.#reader = null;
  }

  /** Validates and packs inputs; throws on closed models and bad inputs before any native call. */
  pack(inputs: ModelInputs): PackedBatch {
    if (this.backend.closed) throw new Error("the model was closed: load it again to use it");
    if (!inputs || typeof inputs !== "object") {
      throw new TypeError("forward() takes { inputIds, attentionMask, tokenTypeIds }");
    }
    // transformers' names would otherwise be ignored without a word: a mask given as `attention_mask` ran
    // the batch unmasked. Other keys are left alone, so a BERT model still takes a whole BatchEncoding.
    for (const key of TRANSFORMERS_INPUT_NAMES) {
      if (Object.hasOwn(inputs, key)) {
        throw new TypeError(
          `forward() got "${key}", which it does not read: the inputs are { inputIds, attentionMask, tokenTypeIds }`,
        );
      }
    }
    return packBatch(inputs.inputIds, inputs.attentionMask, {
      vocabSize: this.config.vocab_size,
      maxPositions: this.config.max_position_embeddings,
      typeVocabSize: this.config.type_vocab_size,
    }, inputs.tokenTypeIds);
  }

  /** Runs the encoder; the returned packed [T, dim] buffer is overwritten by the next call. */
  encode(p: PackedBatch, onHidden?: (x: Float32Array) => void): Float32Array {
    return runEncoder(this.backend, this.config, this.weights, p, this.workspace, onHidden);
  }

  /** Packed [T, dim] rows -> a fresh zero-padded [B, S, dim] tensor. */
  unpack(p: PackedBatch, packed: Float32Array): FloatTensor {
    const dim = this.config.dim;
    const data = new Float32Array(p.batch * p.seqLen * dim);
    this.backend.scatterRows(packed, p.tokens, dim, p.rows, data, p.batch * p.seqLen);
    return { data, dims: [p.batch, p.seqLen, dim] };
  }

  close(): void {
    this.backend.close();
  }
}

/**
 * Throws unless the checkpoint is of the family `className` belongs to (a BERT checkpoint in a DistilBERT
 * class would otherwise fail later with a confusing missing-key error).
 */
export function requireFamily(ckpt: Checkpoint, family: ModelConfig["model_type"], className: string): void {
  if (ckpt.config.model_type !== family) {
    const other = familyOf(ckpt.config).className;
    throw new Error(
      `${ckpt.dir}/config.json: model_type is "${ckpt.config.model_type}", so ${className} cannot load it ` +
        `(use ${className.replace(/^(DistilBert|Bert)/, other)} or AutoModel)`,
    );
  }
}

/** What the bare encoders share: forward to hidden states (and BERT's pooler), closing. */
export abstract class EncoderModel {
  /** The validated `config.json`. */
  abstract readonly config: ModelConfig;
  #core: EncoderCore;
  #pooler: { weight: Float32Array; bias: Float32Array } | null;

  /**
   * Called by each encoder's loader.
   *
   * @param core the loaded encoder
   * @param pooler BERT's pooler weights (`poolerOutput`), or null for none
   */
  protected constructor(
    core: EncoderCore,
    pooler: { weight: Float32Array; bias: Float32Array } | null = null,
  ) {
    this.#core = core;
    this.#pooler = pooler;
    core.loaded();
  }

  /** Precision of the encoder's linear layers (the `dtype` load option). */
  get dtype(): Dtype {
    return this.#core.dtype;
  }

  /** Whether `forward` returns `poolerOutput` (a BERT checkpoint with `pooler.dense`). */
  get hasPooler(): boolean {
    return this.#pooler !== null;
  }

  /**
   * Runs the encoder, and the pooler when the model has one. Synchronous: the result is ready when it returns
   * (awaiting it also works). The pooler reads each row's first token, which must then be a real one (pad on
   * the right, as tokenizers do).
   */
  forward(inputs: ModelInputs, options: ForwardOptions = {}): ModelOutput {
    validateForwardOptions(options);
    const core = this.#core;
    const p = core.pack(inputs);
    const hiddenStates: FloatTensor[] = [];
    const onHidden = options.outputHiddenStates
      ? (x: Float32Array) => hiddenStates.push(core.unpack(p, x))
      : undefined;
    const last = core.encode(p, onHidden);
    const output: ModelOutput = { lastHiddenState: core.unpack(p, last) };
    if (options.outputHiddenStates) output.hiddenStates = hiddenStates;
    if (this.#pooler) output.poolerOutput = poolFirstToken(core, p, last, this.#pooler);
    return output;
  }

  /** Releases the native libraries. Repeating it is harmless; any later call throws. */
  close(): void {
    this.#core.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The bare DistilBERT encoder, as `transformers.DistilBertModel`. */
export class DistilBertModel extends EncoderModel {
  /** The validated `config.json`. */
  readonly config: DistilBertConfig;

  private constructor(core: EncoderCore) {
    super(core);
    this.config = core.config as DistilBertConfig;
  }

  /** Loads `config.json` + `model.safetensors` from a folder (keys with or without the `distilbert.` prefix). */
  static async load(dir: string, options: LoadOptions = {}): Promise<DistilBertModel> {
    return DistilBertModel.fromCheckpoint(await openOwnCheckpoint(dir, options), options);
  }

  /** Builds the model from an opened checkpoint (`openCheckpoint`). */
  static async fromCheckpoint(ckpt: Checkpoint, options: LoadOptions = {}): Promise<DistilBertModel> {
    requireFamily(ckpt, "distilbert", "DistilBertModel");
    return new DistilBertModel(await EncoderCore.create(ckpt, options));
  }
}

/**
 * The bare BERT encoder, as `transformers.BertModel`: `lastHiddenState`, and `poolerOutput` when the
 * checkpoint has the pooler (`pooler.dense`; sentence-transformers' and base checkpoints do).
 */
export class BertModel extends EncoderModel {
  /** The validated `config.json`. */
  readonly config: BertConfig;

  private constructor(core: EncoderCore) {
    super(core, readPooler(core));
    this.config = core.config as BertConfig;
  }

  /** Loads `config.json` + `model.safetensors` from a folder (keys with or without the `bert.` prefix). */
  static async load(dir: string, options: LoadOptions = {}): Promise<BertModel> {
    return BertModel.fromCheckpoint(await openOwnCheckpoint(dir, options), options);
  }

  /** Builds the model from an opened checkpoint (`openCheckpoint`). */
  static async fromCheckpoint(ckpt: Checkpoint, options: LoadOptions = {}): Promise<BertModel> {
    requireFamily(ckpt, "bert", "BertModel");
    const core = await EncoderCore.create(ckpt, options);
    try {
      return new BertModel(core);
    } catch (err) {
      core.close();
      throw err;
    }
  }
}

/** BERT's pooler weights under the encoder prefix, or null when the checkpoint has none. */
export function readPooler(core: EncoderCore): { weight: Float32Array; bias: Float32Array } | null {
  const key = familyOf(core.config).pooler;
  if (key === null || !core.reader.has(`${key}.weight`)) return null;
  const dim = core.config.dim;
  return {
    weight: core.reader.get(`${key}.weight`, [dim, dim]),
    bias: core.reader.get(`${key}.bias`, [dim]),
  };
}

/**
 * `[B, D]` = activation(dense(hidden state of each row's first token)): BERT's pooler (tanh) and DistilBERT's
 * pre_classifier (ReLU). A masked first token is an error rather than a meaningless value.
 */
export function poolFirstToken(
  core: EncoderCore,
  p: PackedBatch,
  hidden: Float32Array,
  dense: { weight: Float32Array; bias: Float32Array },
  activation: "tanh" | "relu" = "tanh",
): FloatTensor {
  for (let b = 0; b < p.batch; b++) {
    if (p.positions[p.seqStarts[b]] !== 0) {
      throw new RangeError(
        `row ${b}: its first token is masked (left padding?); the pooler reads the first token, so pad on the right`,
      );
    }
  }
  const be = core.backend, B = p.batch, D = core.config.dim;
  const first = new Float32Array(B * D);
  be.gatherRows(hidden, p.tokens, B, D, p.seqStarts, first);
  const pooled = new Float32Array(B * D);
  be.matmulTransposed(first, dense.weight, pooled, B, D, D);
  if (activation === "relu") {
    be.biasRelu(pooled, B, D, dense.bias);
  } else {
    be.biasAdd(pooled, B, D, dense.bias);
    for (let i = 0; i < pooled.length; i++) pooled[i] = Math.tanh(pooled[i]);
  }
  return { data: pooled, dims: [B, D] };
}
