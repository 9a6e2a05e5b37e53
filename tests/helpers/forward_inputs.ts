// Inputs and output bytes shared by tests/threads_test.ts and its Worker.

import {
  type AnyDistilBertModel,
  AutoModel,
  DistilBertModel,
  type Dtype,
  type IntTensor,
} from "../../mod.ts";

/** One forward call's inputs. */
export interface BatchInput {
  inputIds: IntTensor;
  attentionMask: IntTensor;
}

/** A batch of `batch` right-padded rows of up to `seqLen` ids below `vocab`, the same for every caller. */
export function makeBatch(batch: number, seqLen: number, vocab: number, seed: number): BatchInput {
  const ids = new Int32Array(batch * seqLen), mask = new Int32Array(batch * seqLen);
  let h = seed >>> 0;
  const next = () => (h = (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0);
  for (let b = 0; b < batch; b++) {
    const len = b === 0 ? seqLen : 1 + (next() % seqLen);
    for (let s = 0; s < len; s++) {
      ids[b * seqLen + s] = s === 0 ? 101 % vocab : next() % vocab;
      mask[b * seqLen + s] = 1;
    }
  }
  return {
    inputIds: { data: ids, dims: [batch, seqLen] },
    attentionMask: { data: mask, dims: [batch, seqLen] },
  };
}

/** How a test loads a model: the bare encoder with every layer's output, or the head its config names. */
export type ModelKind = "encoder" | "auto";

/** One forward call of `model` as `kind` says. */
export function forwardOf(
  kind: ModelKind,
  model: DistilBertModel | AnyDistilBertModel,
  input: BatchInput,
): object {
  return kind === "encoder"
    ? (model as DistilBertModel).forward(input, { outputHiddenStates: true })
    : model.forward(input);
}

/** Loads `dir` as `kind` says, with `threads` and `dtype` (default fp32). */
export function loadAs(
  kind: ModelKind,
  dir: string,
  threads: number | undefined,
  dtype: Dtype = "fp32",
): Promise<DistilBertModel | AnyDistilBertModel> {
  return kind === "encoder"
    ? DistilBertModel.load(dir, { threads, dtype })
    : AutoModel.load(dir, { threads, dtype });
}

/** Every float tensor of a forward output (hidden states included), in key order, as bytes (bits, not values). */
export function outputBytes(out: object): Uint8Array {
  const parts: Uint8Array[] = [];
  const add = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(add);
    else if (v && typeof v === "object" && (v as { data?: unknown }).data instanceof Float32Array) {
      const d = (v as { data: Float32Array }).data;
      parts.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
  };
  for (const key of Object.keys(out).sort()) add((out as Record<string, unknown>)[key]);
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, at), at += p.length;
  return all;
}
