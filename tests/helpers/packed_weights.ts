// Shared by the tests of the packed fp32 linears: seeded random arrays and a weight packed for them.

import type { Backend } from "../../src/backend.ts";
import { alignedArray } from "../../src/aligned.ts";
import { Rng } from "./fuzz.ts";

/** A source of Float32Arrays of uniform values in [-scale, scale), the same sequence for the same seed. */
export function randoms(seed: number): (len: number, scale: number) => Float32Array {
  const r = new Rng(seed);
  return (len, scale) => Float32Array.from({ length: len }, () => (r.float() * 2 - 1) * scale);
}

/** w [n, k] packed for `linearPacked` / `feedForward`, as the loader makes an fp32 weight. */
export function packedWeight(be: Backend, w: Float32Array, n: number, k: number) {
  const p = alignedArray(Float32Array, n * k);
  be.packWeights(w, n, k, p);
  return { dtype: "fp32" as const, n, k, w: p, packed: true };
}
