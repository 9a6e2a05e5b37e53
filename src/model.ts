/**
 * `DistilBertModel`: the bare encoder, as `transformers.DistilBertModel`.
 *
 * @module
 */

import { Backend, validateThreads } from "./backend.ts";
import type { DistilBertConfig } from "./config.ts";
import { type Checkpoint, openExclusiveCheckpoint } from "./checkpoint.ts";
import { runEncoder, Workspace } from "./encoder.ts";
import { packBatch, type PackedBatch } from "./inputs.ts";
import type { FloatTensor, IntTensor } from "./tensor.ts";
import { encoderPrefix, type EncoderWeights, loadEncoderWeights, TensorReader } from "./weights.ts";

/** Options for loading a model. */
export interface LoadOptions {
  /**
   * Threads this model computes on, the calling thread included (our kernels and OpenBLAS alike), from 1
   * to 256. Each model keeps its own: models in other Workers or on the main thread are not affected.
   * Default: the number of CPU cores.
   */
  threads?: number;
}

const LOAD_OPTIONS: readonly (keyof LoadOptions)[] = ["threads"];

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
  const { threads } = options as LoadOptions;
  if (threads !== undefined) validateThreads(threads);
}

/** Encoder inputs: `[batch, sequence]` integer tensors. */
export interface ModelInputs {
  /** Token ids, each in `[0, vocab_size)`. */
  inputIds: IntTensor;
  /** 1 for real tokens, 0 for padding; all ones when omitted. */
  attentionMask?: IntTensor;
}

/** Options for one forward call. */
export interface ForwardOptions {
  /** Also return the embeddings output and every layer's output. */
  outputHiddenStates?: boolean;
}

/** The encoder's outputs. Positions whose mask is 0 hold zeros (Hugging Face computes meaningless values there). */
export interface ModelOutput {
  /** `[batch, sequence, dim]`. */
  lastHiddenState: FloatTensor;
  /** With `outputHiddenStates`: the embeddings output, then each layer's output, each `[batch, sequence, dim]`. */
  hiddenStates?: FloatTensor[];
}

/**
 * The encoder and what every head shares: the native back end, the weights, the reusable activation buffers.
 * Forward calls are synchronous, so one model never runs two passes at once and its buffers are never shared
 * between calls in flight.
 */
export class EncoderCore {
  readonly config: DistilBertConfig;
  readonly backend: Backend;
  readonly weights: EncoderWeights;
  readonly workspace: Workspace = new Workspace();

  constructor(config: DistilBertConfig, backend: Backend, weights: EncoderWeights) {
    this.config = config;
    this.backend = backend;
    this.weights = weights;
  }

  /** Opens the back end and reads the encoder weights of a checkpoint. */
  static async create(ckpt: Checkpoint, options: LoadOptions = {}): Promise<EncoderCore> {
    validateLoadOptions(options);
    const reader = new TensorReader(ckpt.file, encoderPrefix(ckpt.file));
    const backend = await Backend.open({ threads: options.threads ?? navigator.hardwareConcurrency });
    try {
      return new EncoderCore(ckpt.config, backend, loadEncoderWeights(reader, ckpt.config, backend));
    } catch (err) {
      backend.close();
      throw err;
    }
  }

  /** Validates and packs inputs; throws on closed models and bad inputs before any native call. */
  pack(inputs: ModelInputs): PackedBatch {
    if (this.backend.closed) throw new Error("the model was closed: load it again to use it");
    if (!inputs || typeof inputs !== "object") {
      throw new TypeError("forward() takes { inputIds, attentionMask }");
    }
    return packBatch(inputs.inputIds, inputs.attentionMask, {
      vocabSize: this.config.vocab_size,
      maxPositions: this.config.max_position_embeddings,
    });
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

/** The bare DistilBERT encoder, as `transformers.DistilBertModel`. */
export class DistilBertModel {
  /** The validated `config.json`. */
  readonly config: DistilBertConfig;
  #core: EncoderCore;

  private constructor(core: EncoderCore) {
    this.#core = core;
    this.config = core.config;
  }

  /** Loads `config.json` + `model.safetensors` from a folder (keys with or without the `distilbert.` prefix). */
  static async load(dir: string, options: LoadOptions = {}): Promise<DistilBertModel> {
    return DistilBertModel.fromCheckpoint(await openExclusiveCheckpoint(dir), options);
  }

  /** Builds the model from an opened checkpoint (`openCheckpoint`). */
  static async fromCheckpoint(ckpt: Checkpoint, options: LoadOptions = {}): Promise<DistilBertModel> {
    return new DistilBertModel(await EncoderCore.create(ckpt, options));
  }

  /** Runs the encoder. Synchronous: the result is ready when it returns (awaiting it also works). */
  forward(inputs: ModelInputs, options: ForwardOptions = {}): ModelOutput {
    const core = this.#core;
    const p = core.pack(inputs);
    const hiddenStates: FloatTensor[] = [];
    const onHidden = options.outputHiddenStates
      ? (x: Float32Array) => hiddenStates.push(core.unpack(p, x))
      : undefined;
    const last = core.encode(p, onHidden);
    const output: ModelOutput = { lastHiddenState: core.unpack(p, last) };
    if (options.outputHiddenStates) output.hiddenStates = hiddenStates;
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
