/**
 * Task heads on top of the encoder, with Hugging Face's semantics and checkpoint key names:
 * masked LM, sequence classification, question answering, token classification, for DistilBERT and BERT
 * (one implementation each, wired by the family description in src/family.ts); `AutoModel` picks one from
 * `config.architectures` / `model_type`.
 *
 * Shapes: B = batch, S = sequence, T = real (unpadded) tokens, D = dim, V = vocab_size, L = labels.
 *
 * @module
 */

import type { Dtype } from "./backend.ts";
import type { ModelConfig } from "./config.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { familyOf } from "./family.ts";
import type { PackedBatch } from "./inputs.ts";
import {
  BertModel,
  DistilBertModel,
  EncoderCore,
  type LoadOptions,
  type ModelInputs,
  openOwnCheckpoint,
  poolFirstToken,
  requireFamily,
} from "./model.ts";
import type { FloatTensor } from "./tensor.ts";
import type { TensorReader } from "./weights.ts";

/** Output of heads that give one score vector per token or per sequence. */
export interface LogitsOutput {
  /** `[B, S, V]` (masked LM), `[B, L]` (sequence classification) or `[B, S, L]` (token classification). */
  logits: FloatTensor;
}

/** Output of the question-answering head. */
export interface QuestionAnsweringOutput {
  /** `[B, S]` score of each token being the answer's first token. */
  startLogits: FloatTensor;
  /** `[B, S]` score of each token being the answer's last token. */
  endLogits: FloatTensor;
}

/**
 * What every head shares: the validated config, label names, and closing. The encoder itself is held
 * privately by each subclass, so no internal type leaks into the public API.
 */
export abstract class EncoderHeadModel {
  /** The validated `config.json`. */
  readonly config: ModelConfig;
  /** Precision of the encoder's linear layers (the `dtype` load option); the head itself runs in fp32. */
  readonly dtype: Dtype;
  #close: () => void;

  /**
   * Called by each head's loader.
   *
   * @param config the model's configuration
   * @param close releases the model's native resources
   * @param dtype the encoder's precision
   */
  protected constructor(config: ModelConfig, close: () => void, dtype: Dtype = "fp32") {
    this.config = config;
    this.#close = close;
    this.dtype = dtype;
  }

  /** Releases the native libraries. Repeating it is harmless; any later call throws. */
  close(): void {
    this.#close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Labels by class index from `config.id2label` (`LABEL_i` where it has none, as transformers does).
   *
   * @param count number of classes
   */
  labels(count: number): string[] {
    return Array.from({ length: count }, (_, i) => this.config.id2label[i] ?? `LABEL_${i}`);
  }
}

/** The former name of {@link EncoderHeadModel}, from when DistilBERT was the only family. */
export const DistilBertHeadModel = EncoderHeadModel;
/** The former name of {@link EncoderHeadModel}. */
export type DistilBertHeadModel = EncoderHeadModel;

/**
 * Throws when a head's `forward()` is given options. It takes none: `{ outputHiddenStates: true }`, which the
 * bare encoder's forward reads, was dropped here without a word and the logits came back alone.
 */
function refuseForwardOptions(model: EncoderHeadModel, extra: unknown[]): void {
  if (extra.length === 0 || (extra.length === 1 && extra[0] === undefined)) return;
  throw new TypeError(
    `${model.constructor.name}.forward() takes no options, only the inputs; for hidden states, load the ` +
      `checkpoint as ${familyOf(model.config).className}Model`,
  );
}

/** Per-token linear layer: packed [T, D] -> a fresh [B, S, N] with zeros at padded positions. */
function tokenLinear(
  core: EncoderCore,
  p: PackedBatch,
  hidden: Float32Array,
  weight: Float32Array,
  bias: Float32Array,
  n: number,
): FloatTensor {
  const be = core.backend;
  const packed = new Float32Array(p.tokens * n);
  be.matmulTransposed(hidden, weight, packed, p.tokens, n, core.config.dim);
  be.biasAdd(packed, p.tokens, n, bias);
  if (p.tokens === p.batch * p.seqLen) return { data: packed, dims: [p.batch, p.seqLen, n] };
  const data = new Float32Array(p.batch * p.seqLen * n);
  be.scatterRows(packed, p.tokens, n, p.rows, data, p.batch * p.seqLen);
  return { data, dims: [p.batch, p.seqLen, n] };
}

/**
 * `core.close` as a callback, made outside the head constructors: a closure made inside one would share its
 * scope with the constructor's other closures, and so keep the checkpoint's reader (and the file) alive.
 */
function closer(core: EncoderCore): () => void {
  return () => core.close();
}

/** Opens the encoder, then builds the head on it; the encoder is closed again if the head cannot be built. */
async function buildHead<T>(
  ckpt: Checkpoint,
  options: LoadOptions,
  className: string,
  make: (core: EncoderCore, reader: TensorReader) => T,
): Promise<T> {
  requireFamily(ckpt, className.startsWith("DistilBert") ? "distilbert" : "bert", className);
  const core = await EncoderCore.create(ckpt, options);
  try {
    const model = make(core, core.headReader());
    core.loaded();
    return model;
  } catch (err) {
    core.close();
    throw err;
  }
}

/**
 * The label count of a `classifier.weight` of shape [num_labels, dim], which must agree with `config.id2label`
 * when the config has one.
 */
function classifierLabelCount(r: TensorReader, config: ModelConfig): number {
  const dim = config.dim;
  const info = r.file.has("classifier.weight") ? r.file.info("classifier.weight") : undefined;
  if (!info || info.shape.length !== 2 || info.shape[1] !== dim || info.shape[0] < 1) {
    throw new Error(
      `${r.file.source}: "classifier.weight" must exist with shape [num_labels, ${dim}]` +
        (info ? `, got [${info.shape.join(", ")}]` : ""),
    );
  }
  const rows = info.shape[0];
  // transformers takes num_labels from id2label and refuses a classifier of another size; reading the rows
  // alone would name some classes LABEL_i and leave others out, or put labels on the wrong class.
  const ids = Object.keys(config.id2label).map(Number);
  if (ids.length > 0 && (ids.length !== rows || ids.some((i) => i >= rows))) {
    throw new Error(
      `${r.file.source}: "classifier.weight" has ${rows} rows (labels), but config.json's id2label names ` +
        `${ids.length} (ids ${ids.sort((a, b) => a - b).join(", ")}); they must be the ids 0 to ${rows - 1}`,
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------
// Masked LM: transform (DistilBERT's vocab_transform, BERT's cls.predictions.transform.dense) -> activation ->
// LayerNorm -> projection to the vocabulary (tied to the word embeddings)

/** The masked-language-modelling head of either family: {@link DistilBertForMaskedLM}, {@link BertForMaskedLM}. */
export abstract class MaskedLMModel extends EncoderHeadModel {
  #core: EncoderCore;
  #transformW: Float32Array; // [D, D]
  #transformB: Float32Array; // [D]
  #normGamma: Float32Array; // [D]
  #normBeta: Float32Array; // [D]
  #projectorW: Float32Array; // [V, D]
  #projectorB: Float32Array; // [V]

  /**
   * Called by each family's loader.
   *
   * @param core the loaded encoder
   * @param r reads the head's tensors (unprefixed keys)
   */
  protected constructor(core: EncoderCore, r: TensorReader) {
    super(core.config, closer(core), core.dtype);
    this.#core = core;
    const { dim, vocab_size: vocab } = core.config;
    const keys = familyOf(core.config).maskedLM;
    this.#transformW = r.get(`${keys.transform}.weight`, [dim, dim]);
    this.#transformB = r.get(`${keys.transform}.bias`, [dim]);
    this.#normGamma = r.get(`${keys.norm}.weight`, [dim]);
    this.#normBeta = r.get(`${keys.norm}.bias`, [dim]);
    const tied = core.config.extra.tie_word_embeddings !== false;
    if (r.has(keys.projector)) {
      this.#projectorW = r.get(keys.projector, [vocab, dim]);
      // Tied, the projection and the word embeddings are one parameter in transformers, into which the file's
      // two tensors are loaded in turn, the projection last: its values are the embeddings too. Reading each
      // tensor for its own use ran the encoder on other embeddings than transformers' when they differ.
      if (tied) core.weights.wordEmbeddings = this.#projectorW;
    } else if (!tied) {
      throw new Error(
        `${r.file.source}: missing tensor "${keys.projector}" and config.json sets tie_word_embeddings: false`,
      );
    } else {
      this.#projectorW = core.weights.wordEmbeddings; // tied, as Hugging Face does
    }
    const bias = keys.projectorBias.find((k) => r.has(k)) ?? keys.projectorBias[0];
    this.#projectorB = r.get(bias, [vocab]);
  }

  /**
   * logits: `[B, S, V]`, zeros at padded positions. That is B x S x V floats (500 MB at 32 x 128 tokens of a
   * 30,522-token vocabulary): to read a few positions, use {@link forwardAt}.
   */
  forward(inputs: ModelInputs, ...options: never[]): LogitsOutput {
    refuseForwardOptions(this, options);
    const core = this.#core;
    const p = core.pack(inputs);
    const h = this.#transform(core.encode(p), p.tokens);
    return { logits: tokenLinear(core, p, h, this.#projectorW, this.#projectorB, this.config.vocab_size) };
  }

  /**
   * logits at the given positions only: `[N, V]`, row `i` for `positions[i]`, which indexes the `[B, S]` layout
   * of the inputs (`b * S + s`) and must be a real (unmasked) token. The encoder runs on the whole batch; the
   * head (transform, layer norm and the vocabulary projection) only on those rows, so memory and work grow with
   * the positions read instead of B x S x V.
   */
  forwardAt(inputs: ModelInputs, positions: ArrayLike<number>): LogitsOutput {
    // A bare number was read as a list of length undefined and failed in an internal size check.
    if (typeof positions !== "object" || positions === null || !Number.isInteger(positions.length)) {
      throw new TypeError(
        `forwardAt(): positions must be an array of flat positions b * S + s, got ${String(positions)}`,
      );
    }
    const core = this.#core, config = this.config;
    const p = core.pack(inputs);
    const D = config.dim, V = config.vocab_size, n = positions.length;
    const packedRow = new Int32Array(p.batch * p.seqLen).fill(-1);
    for (let t = 0; t < p.tokens; t++) packedRow[p.rows[t]] = t;
    const rows = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const at = positions[i];
      if (!Number.isInteger(at) || at < 0 || at >= packedRow.length) {
        throw new RangeError(
          `positions[${i}] = ${at} is not a position of the [${p.batch}, ${p.seqLen}] inputs (0 to ${
            packedRow.length - 1
          })`,
        );
      }
      if (packedRow[at] < 0) {
        const b = Math.floor(at / p.seqLen);
        throw new RangeError(`positions[${i}] = ${at} (row ${b}, token ${at - b * p.seqLen}) is masked out`);
      }
      rows[i] = packedRow[at];
    }
    if (n === 0) return { logits: { data: new Float32Array(0), dims: [0, V] } };
    const be = core.backend;
    const picked = new Float32Array(n * D);
    be.gatherRows(core.encode(p), p.tokens, n, D, rows, picked);
    const h = this.#transform(picked, n);
    const logits = new Float32Array(n * V);
    be.matmulTransposed(h, this.#projectorW, logits, n, V, D);
    be.biasAdd(logits, n, V, this.#projectorB);
    return { logits: { data: logits, dims: [n, V] } };
  }

  /** transform -> activation -> LayerNorm of `[T, D]` hidden states, into a new `[T, D]`. */
  #transform(hidden: Float32Array, T: number): Float32Array {
    const be = this.#core.backend, config = this.config, D = config.dim;
    const h = new Float32Array(T * D);
    be.matmulTransposed(hidden, this.#transformW, h, T, D, D);
    if (config.activation === "gelu") be.biasGelu(h, T, D, this.#transformB);
    else be.biasRelu(h, T, D, this.#transformB);
    be.layerNorm(h, T, D, this.#normGamma, this.#normBeta, config.layer_norm_eps, h);
    return h;
  }
}

/** DistilBERT with the masked-language-modelling head, as `transformers.DistilBertForMaskedLM`. */
export class DistilBertForMaskedLM extends MaskedLMModel {
  /** Loads a `DistilBertForMaskedLM` checkpoint folder. */
  static async load(dir: string, options: LoadOptions = {}): Promise<DistilBertForMaskedLM> {
    return DistilBertForMaskedLM.fromCheckpoint(await openOwnCheckpoint(dir, options), options);
  }

  /** Builds the model from an opened checkpoint. */
  static async fromCheckpoint(ckpt: Checkpoint, options: LoadOptions = {}): Promise<DistilBertForMaskedLM> {
    return await buildHead(ckpt, options, "DistilBertForMaskedLM", (c, r) => new DistilBertForMaskedLM(c, r));
  }
}

/** BERT with the masked-language-modelling head (`cls.predictions`), as `transformers.BertForMaskedLM`. */
export class BertForMaskedLM extends MaskedLMModel {
  /** Loads a `BertForMaskedLM` checkpoint folder. */
  static async load(dir: string, options: LoadOptions = {}): Promise<BertForMaskedLM> {
    return BertForMaskedLM.fromCheckpoint(await openOwnCheckpoint(dir, options), options);
  }

  /** Builds the model from an opened checkpoint. */
  static async fromCheckpoint(ckpt: Checkpoint, options: LoadOptions = {}): Promise<BertForMaskedLM> {
    return await buildHead(ckpt, options, "BertForMaskedLM", (c, r) => new BertForMaskedLM(c, r));
  }
}

// ---------------------------------------------------------------------------------------------------
// Sequence classification: first token -> DistilBERT's pre_classifier + ReLU, or BERT's pooler + tanh ->
// classifier

/** The sequence-classification head of either family. */
export abstract class SequenceClassificationModel extends EncoderHeadModel {
  #core: EncoderCore;
  /** Number of classes. */
  readonly numLabels: number;
  #dense: { weight: Float32Array; bias: Float32Array };
  #activation: "relu" | "tanh";
  #clsW: Float32Array; // [L, D]
  #clsB: Float32Array; // [L]

  /**
   * Called by each family's loader.
   *
   * @param core the loaded encoder
   * @param r reads the head's tensors (unprefixed keys)
   */
  protected constructor(core: EncoderCore, r: TensorReader) {
    super(core.config, closer(core), core.dtype);
    this.#core = core;
    const dim = core.config.dim;
    const wiring = familyOf(core.config).sequenceClassification;
    this.numLabels = classifierLabelCount(r, core.config);
    const dr = wiring.prefixed ? core.reader : r;
    this.#dense = {
      weight: dr.get(`${wiring.dense}.weight`, [dim, dim]),
      bias: dr.get(`${wiring.dense}.bias`, [dim]),
    };
    this.#activation = wiring.activation;
    this.#clsW = r.get("classifier.weight", [this.numLabels, dim]);
    this.#clsB = r.get("classifier.bias", [this.numLabels]);
  }

  /** Label names by class index. */
  get labelNames(): string[] {
    return this.labels(this.numLabels);
  }

  /**
   * logits: `[B, L]` from each sequence's first token. The first token must be a real one (pad on the
   * right, as tokenizers do): a masked first token is an error rather than a meaningless score.
   */
  forward(inputs: ModelInputs, ...options: never[]): LogitsOutput {
    refuseForwardOptions(this, options);
    const core = this.#core, be = core.backend;
    const p = core.pack(inputs);
    const pooled = poolFirstToken(core, p, core.encode(p), this.#dense, this.#activation).data; // [B, D]
    const B = p.batch, D = this.config.dim, L = this.numLabels;
    const logits = new Float32Array(B * L);
    be.matmulTransposed(pooled, this.#clsW, logits, B, L, D);
    be.biasAdd(logits, B, L, this.#clsB);
    return { logits: { data: logits, dims: [B, L] } };
  }
}

/** DistilBERT with a classification head on the first token, as `DistilBertForSequenceClassification`. */
export class DistilBertForSequenceClassification extends SequenceClassificationModel {
  /** Loads a `DistilBertForSequenceClassification` checkpoint folder. */
  static async load(dir: string, options: LoadOptions = {}): Promise<DistilBertForSequenceClassification> {
    return DistilBertForSequenceClassification.fromCheckpoint(
      await openOwnCheckpoint(dir, options),
      options,
    );
  }

  /** Builds the model from an opened checkpoint. */
  static async fromCheckpoint(
    ckpt: Checkpoint,
    options: LoadOptions = {},
  ): Promise<DistilBertForSequenceClassification> {
    return await buildHead(
      ckpt,
      options,
      "DistilBertForSequenceClassification",
      (c, r) => new DistilBertForSequenceClassification(c, r),
    );
  }
}

/** BERT with a classifier on the pooler output, as `transformers.BertForSequenceClassification`. */
export class BertForSequenceClassification extends SequenceClassificationModel {
  /** Loads a `BertForSequenceClassification` checkpoint folder. */
  static async load(dir: string, options: LoadOptions = {}): Promise<BertForSequenceClassification> {
    return BertForSequenceClassification.fromCheckpoint(await openOwnCheckpoint(dir, options), options);
  }

  /** Builds the model from an opened checkpoint. */
  static async fromCheckpoint(
    ckpt: Checkpoint,
    options: LoadOptions = {},
  ): Promise<BertForSequenceClassification> {
    return await buildHead(
      ckpt,
      options,
      "BertForSequenceClassification",
      (c, r) => new BertForSequenceClassification(c, r),
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Question answering: qa_outputs per token -> (start, end)

/** The span-extraction head of either family (`qa_outputs`). */
export abstract class QuestionAnsweringModel extends EncoderHeadModel {
  #core: EncoderCore;
  #qaW: Float32Array; // [2, D]
  #qaB: Float32Array; // [2]

  /**
   * Called by each family's loader.
   *
   * @param core the loaded encoder
   * @param r reads the head's tensors (unprefixed keys)
   */
  protected constructor(core: EncoderCore, r: TensorReader) {
    super(core.config, closer(core), core.dtype);
    this.#core = core;
    this.#qaW = r.get("qa_outputs.weight", [2, core.config.dim]);
    this.#qaB = r.get("qa_outputs.bias", [2]);
  }

  /** startLogits, endLogits: `[B, S]`, zeros at padded positions. */
  forward(inputs: ModelInputs, ...options: never[]): QuestionAnsweringOutput {
    refuseForwardOptions(this, options);
    const core = this.#core;
    const p = core.pack(inputs);
    const both = tokenLinear(core, p, core.encode(p), this.#qaW, this.#qaB, 2).data; // [B, S, 2]
    const n = p.batch * p.seqLen;
    const start = new Float32Array(n), end = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      start[i] = both[2 * i];
      end[i] = both[2 * i + 1];
    }
    return {
      startLogits: { data: start, dims: [p.batch, p.seqLen] },
      endLogits: { data: end, dims: [p.batch, p.seqLen] },
    };
  }
}

/** DistilBERT with a span-extraction head, as `transformers.DistilBertForQuestionAnswering`. */
export class DistilBertForQuestionAnswering extends QuestionAnsweringModel {
  /** Loads a `DistilBertForQuestionAnswering` checkpoint folder. */
  static async load(dir: string, options: LoadOptions = {}): Promise<DistilBertForQuestionAnswering> {
    return DistilBertForQuestionAnswering.fromCheckpoint(
      await openOwnCheckpoint(dir, options),
      options,
    );
  }

  /** Builds the model from an opened checkpoint. */
  static async fromCheckpoint(
    ckpt: Checkpoint,
    options: LoadOptions = {},
  ): Promise<DistilBertForQuestionAnswering> {
    return await buildHead(
      ckpt,
      options,
      "DistilBertForQuestionAnswering",
      (c, r) => new DistilBertForQuestionAnswering(c, r),
    );
  }
}

/** BERT with a span-extraction head, as `transformers.BertForQuestionAnswering`. */
export class BertForQuestionAnswering extends QuestionAnsweringModel {
  /** Loads a `BertForQuestionAnswering` checkpoint folder. */
  static async load(dir: string, options: LoadOptions = {}): Promise<BertForQuestionAnswering> {
    return BertForQuestionAnswering.fromCheckpoint(await openOwnCheckpoint(dir, options), options);
  }

  /** Builds the model from an opened checkpoint. */
  static async fromCheckpoint(
    ckpt: Checkpoint,
    options: LoadOptions = {},
  ): Promise<BertForQuestionAnswering> {
    return await buildHead(
      ckpt,
      options,
      "BertForQuestionAnswering",
      (c, r) => new BertForQuestionAnswering(c, r),
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Token classification: classifier per token

/** The per-token classification head of either family (`classifier`). */
export abstract class TokenClassificationModel extends EncoderHeadModel {
  #core: EncoderCore;
  /** Number of classes. */
  readonly numLabels: number;
  #clsW: Float32Array; // [L, D]
  #clsB: Float32Array; // [L]

  /**
   * Called by each family's loader.
   *
   * @param core the loaded encoder
   * @param r reads the head's tensors (unprefixed keys)
   */
  protected constructor(core: EncoderCore, r: TensorReader) {
    super(core.config, closer(core), core.dtype);
    this.#core = core;
    const dim = core.config.dim;
    this.numLabels = classifierLabelCount(r, core.config);
    this.#clsW = r.get("classifier.weight", [this.numLabels, dim]);
    this.#clsB = r.get("classifier.bias", [this.numLabels]);
  }

  /** Label names by class index. */
  get labelNames(): string[] {
    return this.labels(this.numLabels);
  }

  /** logits: `[B, S, L]`, zeros at padded positions. */
  forward(inputs: ModelInputs, ...options: never[]): LogitsOutput {
    refuseForwardOptions(this, options);
    const core = this.#core;
    const p = core.pack(inputs);
    return { logits: tokenLinear(core, p, core.encode(p), this.#clsW, this.#clsB, this.numLabels) };
  }
}

/** DistilBERT with a per-token classifier, as `transformers.DistilBertForTokenClassification`. */
export class DistilBertForTokenClassification extends TokenClassificationModel {
  /** Loads a `DistilBertForTokenClassification` checkpoint folder. */
  static async load(dir: string, options: LoadOptions = {}): Promise<DistilBertForTokenClassification> {
    return DistilBertForTokenClassification.fromCheckpoint(
      await openOwnCheckpoint(dir, options),
      options,
    );
  }

  /** Builds the model from an opened checkpoint. */
  static async fromCheckpoint(
    ckpt: Checkpoint,
    options: LoadOptions = {},
  ): Promise<DistilBertForTokenClassification> {
    return await buildHead(
      ckpt,
      options,
      "DistilBertForTokenClassification",
      (c, r) => new DistilBertForTokenClassification(c, r),
    );
  }
}

/** BERT with a per-token classifier, as `transformers.BertForTokenClassification`. */
export class BertForTokenClassification extends TokenClassificationModel {
  /** Loads a `BertForTokenClassification` checkpoint folder. */
  static async load(dir: string, options: LoadOptions = {}): Promise<BertForTokenClassification> {
    return BertForTokenClassification.fromCheckpoint(await openOwnCheckpoint(dir, options), options);
  }

  /** Builds the model from an opened checkpoint. */
  static async fromCheckpoint(
    ckpt: Checkpoint,
    options: LoadOptions = {},
  ): Promise<BertForTokenClassification> {
    return await buildHead(
      ckpt,
      options,
      "BertForTokenClassification",
      (c, r) => new BertForTokenClassification(c, r),
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// AutoModel

/** Any model `AutoModel.load` can return. */
export type AnyModel =
  | DistilBertModel
  | DistilBertForMaskedLM
  | DistilBertForSequenceClassification
  | DistilBertForQuestionAnswering
  | DistilBertForTokenClassification
  | BertModel
  | BertForMaskedLM
  | BertForSequenceClassification
  | BertForQuestionAnswering
  | BertForTokenClassification;

/** The former name of {@link AnyModel}. */
export type AnyDistilBertModel = AnyModel;

const LOADERS: Record<string, (ckpt: Checkpoint, options: LoadOptions) => Promise<AnyModel>> = {
  DistilBertModel: (c, o) => DistilBertModel.fromCheckpoint(c, o),
  DistilBertForMaskedLM: (c, o) => DistilBertForMaskedLM.fromCheckpoint(c, o),
  DistilBertForSequenceClassification: (c, o) => DistilBertForSequenceClassification.fromCheckpoint(c, o),
  DistilBertForQuestionAnswering: (c, o) => DistilBertForQuestionAnswering.fromCheckpoint(c, o),
  DistilBertForTokenClassification: (c, o) => DistilBertForTokenClassification.fromCheckpoint(c, o),
  BertModel: (c, o) => BertModel.fromCheckpoint(c, o),
  BertForMaskedLM: (c, o) => BertForMaskedLM.fromCheckpoint(c, o),
  BertForSequenceClassification: (c, o) => BertForSequenceClassification.fromCheckpoint(c, o),
  BertForQuestionAnswering: (c, o) => BertForQuestionAnswering.fromCheckpoint(c, o),
  BertForTokenClassification: (c, o) => BertForTokenClassification.fromCheckpoint(c, o),
};

/** Picks the model class from `config.architectures`, as transformers' `AutoModelFor...` classes do. */
export class AutoModel {
  /**
   * Loads the architecture named first in `config.architectures`; without one, the bare encoder of the
   * config's `model_type` (`DistilBertModel` or `BertModel`).
   */
  static async load(dir: string, options: LoadOptions = {}): Promise<AnyModel> {
    const ckpt = await openOwnCheckpoint(dir, options);
    const arch = ckpt.config.architectures[0] ?? `${familyOf(ckpt.config).className}Model`;
    const load = Object.hasOwn(LOADERS, arch) ? LOADERS[arch] : undefined;
    if (!load) {
      throw new Error(
        `${dir}/config.json: architecture "${arch}" is not supported (supported: ${
          Object.keys(LOADERS).join(", ")
        })`,
      );
    }
    return await load(ckpt, options);
  }
}
