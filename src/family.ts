/**
 * What differs between the encoder families this library runs, as data: checkpoint key names, whether the
 * embeddings have token types, and how the heads are wired. The loader (src/weights.ts), the forward pass
 * (src/encoder.ts) and the heads (src/heads.ts) read it; nothing else is family-specific.
 *
 * @module
 */

import type { EncoderConfig } from "./config.ts";

/** Key names of one family, relative to the encoder prefix unless said otherwise. */
export interface Family {
  /** `model_type`, and the prefix task checkpoints put before encoder keys (without its dot). */
  name: "distilbert" | "bert";
  /** Class-name prefix: `DistilBert` or `Bert`. */
  className: string;
  /** For messages: `DistilBERT` or `BERT`. */
  displayName: string;
  /** The keys of layer `i`, without `.weight` / `.bias`. */
  layer(i: number): {
    query: string;
    key: string;
    value: string;
    attentionOut: string;
    attentionNorm: string;
    ffnIn: string;
    ffnOut: string;
    outputNorm: string;
  };
  /** The token type embeddings (`[type_vocab_size, dim]`), or null when the family has none. */
  tokenTypeEmbeddings: string | null;
  /** Masked LM head keys (not prefixed): dense -> activation -> LayerNorm -> projection to the vocabulary. */
  maskedLM: { transform: string; norm: string; projector: string; projectorBias: string[] };
  /**
   * Sequence classification: the first token -> `dense` -> `activation` -> `classifier`. BERT's dense layer is
   * the encoder's pooler (keys under the encoder prefix).
   */
  sequenceClassification: { dense: string; prefixed: boolean; activation: "relu" | "tanh" };
  /** BERT's pooler (under the encoder prefix): tanh(dense(first token)); null for DistilBERT. */
  pooler: string | null;
}

const DISTILBERT: Family = {
  name: "distilbert",
  className: "DistilBert",
  displayName: "DistilBERT",
  layer: (i) => {
    const p = `transformer.layer.${i}.`;
    return {
      query: `${p}attention.q_lin`,
      key: `${p}attention.k_lin`,
      value: `${p}attention.v_lin`,
      attentionOut: `${p}attention.out_lin`,
      attentionNorm: `${p}sa_layer_norm`,
      ffnIn: `${p}ffn.lin1`,
      ffnOut: `${p}ffn.lin2`,
      outputNorm: `${p}output_layer_norm`,
    };
  },
  tokenTypeEmbeddings: null,
  maskedLM: {
    transform: "vocab_transform",
    norm: "vocab_layer_norm",
    projector: "vocab_projector.weight",
    projectorBias: ["vocab_projector.bias"],
  },
  sequenceClassification: { dense: "pre_classifier", prefixed: false, activation: "relu" },
  pooler: null,
};

const BERT: Family = {
  name: "bert",
  className: "Bert",
  displayName: "BERT",
  layer: (i) => {
    const p = `encoder.layer.${i}.`;
    return {
      query: `${p}attention.self.query`,
      key: `${p}attention.self.key`,
      value: `${p}attention.self.value`,
      attentionOut: `${p}attention.output.dense`,
      attentionNorm: `${p}attention.output.LayerNorm`,
      ffnIn: `${p}intermediate.dense`,
      ffnOut: `${p}output.dense`,
      outputNorm: `${p}output.LayerNorm`,
    };
  },
  tokenTypeEmbeddings: "embeddings.token_type_embeddings.weight",
  maskedLM: {
    transform: "cls.predictions.transform.dense",
    norm: "cls.predictions.transform.LayerNorm",
    projector: "cls.predictions.decoder.weight",
    // transformers ties decoder.bias to cls.predictions.bias; a file may hold either name.
    projectorBias: ["cls.predictions.bias", "cls.predictions.decoder.bias"],
  },
  sequenceClassification: { dense: "pooler.dense", prefixed: true, activation: "tanh" },
  pooler: "pooler.dense",
};

/** The family of a validated config. */
export function familyOf(config: EncoderConfig): Family {
  return config.model_type === "bert" ? BERT : DISTILBERT;
}
