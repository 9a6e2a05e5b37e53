/**
 * The encoder forward pass (DistilBERT and BERT: the same post-LN blocks) over packed tokens: one plain function per layer, shapes in the
 * comments (T = real tokens in the batch, D = dim, H = hidden_dim).
 *
 * @module
 */

import type { Backend } from "./backend.ts";
import type { EncoderConfig } from "./config.ts";
import type { PackedBatch } from "./inputs.ts";
import type { EncoderWeights, LayerWeights } from "./weights.ts";

/** Activation buffers, grown to the largest batch seen and reused by every later call. */
export class Workspace {
  capacity: number = 0; // rows (tokens) the float buffers hold
  x: Float32Array = new Float32Array(0); // [T, D] the hidden state between layers
  qkv: Float32Array = new Float32Array(0); // [T, 3D]
  context: Float32Array = new Float32Array(0); // [T, D] attention output before out_lin
  projected: Float32Array = new Float32Array(0); // [T, D] a linear layer's output before bias + residual
  attended: Float32Array = new Float32Array(0); // [T, D] hidden state after the attention sub-block
  ffn: Float32Array = new Float32Array(0); // [T, H]
  scratch: Float32Array = new Float32Array(0); // attention scratch for the longest sequence
  scratchLen: number = 0;

  ensure(backend: Backend, config: EncoderConfig, tokens: number, maxLen: number): void {
    const { dim, hidden_dim: hidden } = config;
    if (tokens > this.capacity) {
      // Grow geometrically so a slowly rising batch size does not reallocate every call.
      const rows = Math.max(tokens, Math.ceil(this.capacity * 1.5));
      this.x = new Float32Array(rows * dim);
      this.qkv = new Float32Array(rows * 3 * dim);
      this.context = new Float32Array(rows * dim);
      this.projected = new Float32Array(rows * dim);
      this.attended = new Float32Array(rows * dim);
      this.ffn = new Float32Array(rows * hidden);
      this.capacity = rows;
    }
    if (maxLen > this.scratchLen) {
      this.scratch = new Float32Array(backend.attentionScratchSize(maxLen, dim / config.n_heads));
      this.scratchLen = maxLen;
    }
  }
}

function longestSequence(p: PackedBatch): number {
  let max = 0;
  for (let b = 0; b < p.batch; b++) max = Math.max(max, p.seqStarts[b + 1] - p.seqStarts[b]);
  return max;
}

// x: [T, D] = LayerNorm(word_embeddings[ids] (+ token_type_embeddings[types]) + position_embeddings[positions])
function embeddings(be: Backend, cfg: EncoderConfig, w: EncoderWeights, p: PackedBatch, x: Float32Array) {
  if ((p.types === null) !== (w.tokenTypeEmbeddings === null)) {
    throw new Error("internal: token type ids and token type embeddings must come together");
  }
  be.embedLayerNorm(
    p.ids,
    p.positions,
    p.types,
    p.tokens,
    w.wordEmbeddings,
    w.positionEmbeddings,
    w.tokenTypeEmbeddings,
    cfg.dim,
    w.embGamma,
    w.embBeta,
    cfg.layer_norm_eps,
    x,
  );
}

// y: [T, n] = x: [T, k] . w^T, w packed at load (l.packed) or in checkpoint layout [n, k].
function linear(
  be: Backend,
  l: LayerWeights,
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  T: number,
  n: number,
  k: number,
) {
  if (l.packed) be.linearPacked(x, w, null, y, T, n, k);
  else be.matmulTransposed(x, w, y, T, n, k);
}

// x: [T, D] -> x: [T, D] through one post-LN block:
//   attended = sa_layer_norm(out_lin(attention(q_lin x, k_lin x, v_lin x)) + x)
//   x        = output_layer_norm(lin2(act(lin1(attended))) + attended)
function transformerBlock(
  be: Backend,
  cfg: EncoderConfig,
  l: LayerWeights,
  p: PackedBatch,
  ws: Workspace,
) {
  const T = p.tokens, D = cfg.dim, H = cfg.hidden_dim, heads = cfg.n_heads;
  linear(be, l, ws.x, l.qkvWeight, ws.qkv, T, 3 * D, D); // qkv: [T, 3D], bias added in attention
  be.attention(ws.qkv, l.qkvBias, p.seqStarts, p.uniform, p.batch, heads, D / heads, ws.scratch, ws.context);
  linear(be, l, ws.context, l.outWeight, ws.projected, T, D, D); // [T, D]
  be.biasResidualLayerNorm(
    ws.projected,
    l.outBias,
    ws.x,
    T,
    D,
    l.saGamma,
    l.saBeta,
    cfg.layer_norm_eps,
    ws.attended,
  );
  if (l.packed) {
    be.linearPacked(ws.attended, l.ffn1Weight, l.ffn1Bias, ws.ffn, T, H, D, cfg.activation); // [T, H]
  } else {
    be.matmulTransposed(ws.attended, l.ffn1Weight, ws.ffn, T, H, D); // [T, H]
    if (cfg.activation === "gelu") be.biasGelu(ws.ffn, T, H, l.ffn1Bias);
    else be.biasRelu(ws.ffn, T, H, l.ffn1Bias);
  }
  linear(be, l, ws.ffn, l.ffn2Weight, ws.projected, T, D, H); // [T, D]
  be.biasResidualLayerNorm(
    ws.projected,
    l.ffn2Bias,
    ws.attended,
    T,
    D,
    l.outGamma,
    l.outBeta,
    cfg.layer_norm_eps,
    ws.x,
  );
}

/**
 * Runs the encoder on a packed batch. Returns the workspace's hidden-state buffer ([T, D] packed), which
 * the next call overwrites. `onHidden` sees the embeddings output and each layer's output, in order.
 */
export function runEncoder(
  be: Backend,
  cfg: EncoderConfig,
  w: EncoderWeights,
  p: PackedBatch,
  ws: Workspace,
  onHidden?: (x: Float32Array) => void,
): Float32Array {
  ws.ensure(be, cfg, p.tokens, longestSequence(p));
  embeddings(be, cfg, w, p, ws.x);
  onHidden?.(ws.x);
  for (const layer of w.layers) {
    transformerBlock(be, cfg, layer, p, ws);
    onHidden?.(ws.x);
  }
  return ws.x;
}
