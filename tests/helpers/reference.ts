// Loading Hugging Face reference tensors and comparing our outputs with them over unpadded positions.

import { SafetensorsFile } from "../../src/safetensors.ts";
import type { FloatTensor, IntTensor } from "../../src/tensor.ts";

export const FIXTURES = new URL("../fixtures/", import.meta.url);
export const fixturePath = (rel: string): string => decodeURIComponent(new URL(rel, FIXTURES).pathname);

export const REF_CASES = ["b1-s32", "b8-s32", "b1-s128", "b8-s128", "b2-s512", "b3-s1"] as const;

export interface Reference {
  file: SafetensorsFile;
  inputIds: IntTensor;
  attentionMask: IntTensor;
  /** [B, S] */
  dims: [number, number];
  float(name: string): FloatTensor;
  has(name: string): boolean;
}

export async function loadReference(size: "tiny" | "base", refCase: string): Promise<Reference> {
  const file = await SafetensorsFile.open(fixturePath(`models/${size}/ref-${refCase}.safetensors`));
  const ids = file.info("input_ids");
  const dims = [ids.shape[0], ids.shape[1]] as [number, number];
  return {
    file,
    dims,
    inputIds: { data: file.getBigInt64("input_ids"), dims },
    attentionMask: { data: file.getInt32("attention_mask"), dims },
    float: (name) => ({ data: file.getFloat32(name), dims: [...file.info(name).shape] }),
    has: (name) => file.has(name),
  };
}

/** Max |a - b| over rows whose mask is 1; `a` and `b` are [B, S, ...]. Throws on shape mismatch. */
export function maxDiffUnpadded(a: FloatTensor, b: FloatTensor, mask: IntTensor): number {
  if (a.dims.join() !== b.dims.join()) throw new Error(`shape [${a.dims}] != reference [${b.dims}]`);
  const [B, S] = a.dims;
  const inner = a.data.length / (B * S);
  let max = 0;
  for (let r = 0; r < B * S; r++) {
    if (Number(mask.data[r]) === 0) continue;
    for (let i = r * inner; i < (r + 1) * inner; i++) {
      const d = Math.abs(a.data[i] - b.data[i]);
      if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
    }
  }
  return max;
}

/** Max |a - b| over rows b whose first token is real (for per-sequence outputs like classification logits). */
export function maxDiff(a: FloatTensor, b: FloatTensor): number {
  if (a.dims.join() !== b.dims.join()) throw new Error(`shape [${a.dims}] != reference [${b.dims}]`);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** Worst cosine between corresponding rows of width `dim` over the rows `mask` marks real. */
export function worstCosine(a: Float32Array, b: Float32Array, dim: number, mask: Int32Array): number {
  let worst = 1;
  for (let t = 0; t < mask.length; t++) {
    if (!mask[t]) continue;
    let dot = 0, na = 0, nb = 0;
    for (let i = t * dim; i < (t + 1) * dim; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    worst = Math.min(worst, dot / Math.sqrt(na * nb));
  }
  return worst;
}
