/**
 * The encoder forward pass (DistilBERT and BERT: the same post-LN blocks) over packed tokens: one plain function per layer, shapes in the
 * comments (T = real tokens in the batch, D = dim, H = hidden_dim).
 *
 * @module
 */

import { alignedArray } from "./aligned.ts";
import { Backend, type LinearWeight, type PackedX } from "./backend.ts";
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
  ffn: Float32Array = new Float32Array(0); // [T, H]
  xPacked: Float32Array = new Float32Array(0); // x again in the packed linears' form (takesPackedX), or empty
  scratch: Float32Array = new Float32Array(0); // attention scratch for the longest sequence
  scratchLen: number = 0;

  ensure(backend: Backend, config: EncoderConfig, tokens: number, maxLen: number, packsX: boolean): void {
    const { dim, hidden_dim: hidden } = config;
    if (tokens > this.capacity) {
      // Grow geometrically so a slowly rising batch size does not reallocate every call.
      const rows = Math.max(tokens, Math.ceil(this.capacity * 1.5));
      this.x = alignedArray(Float32Array, rows * dim);
      this.qkv = alignedArray(Float32Array, rows * 3 * dim);
      this.context = alignedArray(Float32Array, rows * dim);
      this.projected = alignedArray(Float32Array, rows * dim);
      this.ffn = alignedArray(Float32Array, rows * hidden);
      this.capacity = rows;
    }
    const packedFloats = packsX ? backend.packedXFloats(this.capacity, dim) : 0;
    if (this.xPacked.length < packedFloats) this.xPacked = alignedArray(Float32Array, packedFloats);
    if (maxLen > this.scratchLen) {
      this.scratch = alignedArray(Float32Array, backend.attentionScratchSize(maxLen, dim / config.n_heads));
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

// Whether a linear reads its x in the packed form (fp32 weights packed at load): the LayerNorm before it then
// writes that form beside its output, and the linear skips its own pass packing x.
function takesPackedX(w: LinearWeight): boolean {
  return w.dtype === "fp32" && w.packed;
}

// y: [T, n] = act(x: [T, k] . w^T (+ bias)), w as loaded: fp32 packed or in checkpoint layout, or bf16 / int8.
// x packed only for a weight that takesPackedX.
function linear(
  be: Backend,
  w: LinearWeight,
  x: Float32Array | PackedX,
  bias: Float32Array | null,
  y: Float32Array,
  T: number,
  act: "none" | "gelu" | "relu" = "none",
) {
  if (w.dtype === "fp32" && w.packed) return be.linearPacked(x, w.w, bias, y, T, w.n, w.k, act);
  if (!(x instanceof Float32Array)) throw new Error("internal: only a packed fp32 linear reads x packed");
  if (w.dtype !== "fp32") return be.linearLowp(x, w, bias, y, T, act);
  be.matmulTransposed(x, w.w, y, T, w.n, w.k);
  if (act === "gelu") be.biasGelu(y, T, w.n, bias!);
  else if (act === "relu") be.biasRelu(y, T, w.n, bias!);
  else if (bias) throw new Error("internal: an unpacked linear adds its bias later");
}

// x: [T, D] -> x: [T, D] through one post-LN block:
//   x = sa_layer_norm(out_lin(attention(q_lin x, k_lin x, v_lin x)) + x)
//   x = output_layer_norm(lin2(act(lin1(x))) + x)
// Each LayerNorm writes over its residual, x, in place: its rows are in cache from the residual read,
// where a separate output buffer's were not (a layer's weights stream through the cache in between).
// xPacked: x is also in packed (ws.xPacked), written by the previous layer's last LayerNorm; next: the
// layer after this one, whose first linear this one's last LayerNorm writes packed x for when it takes it.
// Returns whether it did.
function transformerBlock(
  be: Backend,
  cfg: EncoderConfig,
  l: LayerWeights,
  next: LayerWeights | undefined,
  p: PackedBatch,
  ws: Workspace,
  packed: PackedX,
  xPacked: boolean,
): boolean {
  const T = p.tokens, D = cfg.dim, heads = cfg.n_heads;
  linear(be, l.qkv, xPacked ? packed : ws.x, null, ws.qkv, T); // qkv: [T, 3D], bias added in attention
  // A bf16 model's attention products take bf16 inputs too (fp32 sums), as its linears do.
  const bf16 = l.qkv.dtype === "bf16";
  be.attention(
    ws.qkv,
    l.qkvBias,
    p.seqStarts,
    p.uniform,
    p.batch,
    heads,
    D / heads,
    ws.scratch,
    ws.context,
    bf16,
  );
  linear(be, l.out, ws.context, null, ws.projected, T); // [T, D], bias added with the residual
  const ffnPacked = takesPackedX(l.ffn1);
  be.biasResidualLayerNorm(
    ws.projected,
    l.outBias,
    ws.x,
    T,
    D,
    l.saGamma,
    l.saBeta,
    cfg.layer_norm_eps,
    ws.x,
    ffnPacked ? packed : null,
  );
  const ffnX = ffnPacked ? packed : ws.x;
  if (Backend.fusesFeedForward(l.ffn1, l.ffn2)) {
    // [T, D], the hidden [T, H] going from lin1 straight into the form lin2 reads
    be.feedForward(ffnX, l.ffn1, l.ffn1Bias, l.ffn2, null, ws.projected, T, cfg.activation);
  } else {
    linear(be, l.ffn1, ffnX, l.ffn1Bias, ws.ffn, T, cfg.activation); // [T, H]
    linear(be, l.ffn2, ws.ffn, null, ws.projected, T); // [T, D]
  }
  const nextPacked = next !== undefined && takesPackedX(next.qkv);
  be.biasResidualLayerNorm(
    ws.projected,
    l.ffn2Bias,
    ws.x,
    T,
    D,
    l.outGamma,
    l.outBeta,
    cfg.layer_norm_eps,
    ws.x,
    nextPacked ? packed : null,
  );
  return nextPacked;
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
  const packsX = w.layers.some((l) => takesPackedX(l.ffn1) || takesPackedX(l.qkv));
  ws.ensure(be, cfg, p.tokens, longestSequence(p), packsX);
  embeddings(be, cfg, w, p, ws.x);
  onHidden?.(ws.x);
  const packed: PackedX = { packed: ws.xPacked, rows: p.tokens, cols: cfg.dim };
  let xPacked = false; // the embeddings' LayerNorm writes x row-major only
  for (let i = 0; i < w.layers.length; i++) {
    xPacked = transformerBlock(be, cfg, w.layers[i], w.layers[i + 1], p, ws, packed, xPacked);
    onHidden?.(ws.x);
  }
  return ws.x;
}
