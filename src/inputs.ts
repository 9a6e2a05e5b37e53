/**
 * Model inputs: validation of user tensors and packing of a padded [B, S] batch into the real tokens only.
 *
 * Every per-token operation runs over the packed rows, so a batch costs what its real tokens cost; only
 * attention needs to know where each sequence starts.
 *
 * @module
 */

import type { IntTensor } from "./tensor.ts";

/** The tokens of a batch with padding removed. */
export interface PackedBatch {
  batch: number; // B
  seqLen: number; // S
  tokens: number; // T, the packed row count
  ids: Int32Array; // [T] token ids
  positions: Int32Array; // [T] position of each token in its sequence (0..S-1)
  types: Int32Array | null; // [T] token type ids (zeros by default), null for a family without token types
  rows: Int32Array; // [T] row b*S+s of the padded [B, S] layout each token came from
  seqStarts: Int32Array; // [B+1] sequence b owns packed rows seqStarts[b]..seqStarts[b+1]
  uniform: Uint8Array; // [B] 1 for a sequence whose mask is all zero (see below)
}

/** Limits the inputs are checked against. */
export interface InputLimits {
  vocabSize: number;
  maxPositions: number;
  /** Rows of the token type embeddings; 0 when the family has none (then `tokenTypeIds` is refused). */
  typeVocabSize: number;
}

function shapeOf(name: string, t: IntTensor | undefined): [number, number] {
  if (!t || typeof t !== "object") throw new TypeError(`${name} must be { data, dims }`);
  if (!(t.data instanceof Int32Array) && !(t.data instanceof BigInt64Array)) {
    throw new TypeError(`${name}.data must be an Int32Array or a BigInt64Array`);
  }
  if (!Array.isArray(t.dims) || t.dims.length !== 2 || !t.dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`${name}.dims must be [batch, sequence], got ${JSON.stringify(t.dims)}`);
  }
  const [b, s] = t.dims;
  if (b * s !== t.data.length) {
    throw new RangeError(
      `${name}.dims [${b}, ${s}] do not match its data: ${b} x ${s} = ${
        b * s
      } values, data has ${t.data.length}`,
    );
  }
  return [b, s];
}

/**
 * Validates ids (and mask) and packs the tokens whose mask is non-zero.
 *
 * A sequence whose mask is all zero keeps all of its S tokens and is flagged `uniform`: Hugging Face fills
 * every score with the float32 minimum then, so its softmax is uniform and the result is finite.
 */
export function packBatch(
  inputIds: IntTensor,
  attentionMask: IntTensor | undefined,
  limits: InputLimits,
  tokenTypeIds?: IntTensor,
): PackedBatch {
  const [batch, seqLen] = shapeOf("inputIds", inputIds);
  if (batch === 0) throw new RangeError("empty batch: inputIds has batch size 0");
  if (seqLen === 0) throw new RangeError("empty sequences: inputIds has sequence length 0");
  if (seqLen > limits.maxPositions) {
    throw new RangeError(
      `sequence length ${seqLen} is longer than max_position_embeddings (${limits.maxPositions}); truncate the input`,
    );
  }
  if (attentionMask) {
    const [mb, ms] = shapeOf("attentionMask", attentionMask);
    if (mb !== batch || ms !== seqLen) {
      throw new RangeError(
        `attentionMask dims [${mb}, ${ms}] differ from inputIds dims [${batch}, ${seqLen}]`,
      );
    }
  }
  const n = batch * seqLen;
  let types: Int32Array | null = null;
  if (limits.typeVocabSize > 0) {
    types = new Int32Array(n);
    if (tokenTypeIds !== undefined) {
      const [tb, ts] = shapeOf("tokenTypeIds", tokenTypeIds);
      if (tb !== batch || ts !== seqLen) {
        throw new RangeError(
          `tokenTypeIds dims [${tb}, ${ts}] differ from inputIds dims [${batch}, ${seqLen}]`,
        );
      }
      const src = tokenTypeIds.data, typeVocab = limits.typeVocabSize;
      for (let i = 0; i < n; i++) {
        const v = Number(src[i]);
        if (!(v >= 0 && v < typeVocab)) {
          const b = Math.floor(i / seqLen);
          throw new RangeError(
            `tokenTypeIds[${b}][${i - b * seqLen}] = ${
              src[i]
            } is outside [0, ${typeVocab}) (type_vocab_size)`,
          );
        }
        types[i] = v;
      }
    }
  } else if (tokenTypeIds !== undefined) {
    throw new TypeError(
      "tokenTypeIds was given, but this model family has no token type embeddings (DistilBERT)",
    );
  }
  const ids = new Int32Array(n);
  const src = inputIds.data;
  const vocab = limits.vocabSize;
  for (let i = 0; i < n; i++) {
    const v = Number(src[i]);
    if (!(v >= 0 && v < vocab)) {
      const b = Math.floor(i / seqLen);
      throw new RangeError(`inputIds[${b}][${i - b * seqLen}] = ${src[i]} is outside [0, ${vocab})`);
    }
    ids[i] = v;
  }
  const positions = new Int32Array(n);
  const rows = new Int32Array(n);
  const seqStarts = new Int32Array(batch + 1);
  const uniform = new Uint8Array(batch);
  const mask = attentionMask?.data;
  let t = 0;
  for (let b = 0; b < batch; b++) {
    seqStarts[b] = t;
    const base = b * seqLen;
    let kept = 0;
    for (let s = 0; s < seqLen; s++) {
      if (mask !== undefined) {
        const m = Number(mask[base + s]);
        if (m === 0) continue;
        // Hugging Face reads other values differently by family (DistilBERT: any non-zero attends; BERT adds
        // (1 - m) * float32 min to the scores, so a 2 swamps the row): none of them means what a 1 does here.
        if (m !== 1) {
          throw new RangeError(
            `attentionMask[${b}][${s}] = ${mask[base + s]}: a mask holds 1 (real token) or 0 (padding)`,
          );
        }
      }
      ids[t] = ids[base + s]; // t <= base + s, so this never overwrites an id not yet read
      if (types) types[t] = types[base + s];
      positions[t] = s;
      rows[t] = base + s;
      t++;
      kept++;
    }
    if (kept === 0) {
      uniform[b] = 1;
      for (let s = 0; s < seqLen; s++) {
        ids[t] = Number(src[base + s]);
        if (types) types[t] = tokenTypeIds === undefined ? 0 : Number(tokenTypeIds.data[base + s]);
        positions[t] = s;
        rows[t] = base + s;
        t++;
      }
    }
  }
  seqStarts[batch] = t;
  return {
    batch,
    seqLen,
    tokens: t,
    ids: ids.subarray(0, t),
    positions: positions.subarray(0, t),
    types: types ? types.subarray(0, t) : null,
    rows: rows.subarray(0, t),
    seqStarts,
    uniform,
  };
}
