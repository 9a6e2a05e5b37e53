// bench/fp32_turns.ts's arithmetic and its BENCHMARKS.md section (the measuring itself is a benchmark, and
// limits.c's --only, which it uses, is tested in limits_test.ts). Nothing here is timed.

import assert from "node:assert/strict";
import { type Fp32TurnsRow, fp32TurnsSection, linearWeightBytes, parseCases } from "../bench/fp32_turns.ts";
import { parseConfig } from "../src/config.ts";

Deno.test("fp32_turns: the linear weights' bytes, from the config (distilbert-base: 170 MB)", () => {
  const base = parseConfig({ model_type: "distilbert", hidden_dim: 3072 });
  // Per layer q, k, v, out (768 x 768) and the two FFN matrices (768 x 3072), 4 bytes each.
  assert.equal(linearWeightBytes(base), 4 * 6 * (4 * 768 * 768 + 2 * 768 * 3072));
  assert.equal(linearWeightBytes(base), 169_869_312);
});

Deno.test("fp32_turns: --cases takes BxS pairs and names a bad one", () => {
  assert.deepEqual(parseCases("1x32,8x128"), [[1, 32], [8, 128]]);
  assert.deepEqual(parseCases(" 2x16 "), [[2, 16]]);
  for (const bad of ["1x", "0x32", "1x32,8*128", "", "ax3"]) {
    assert.throws(() => parseCases(bad), /--cases takes batch x sequence pairs/, bad);
  }
});

const row = (over: Partial<Fp32TurnsRow>): Fp32TurnsRow => ({
  kind: "fp32_turns",
  model: "base",
  batch: 1,
  seq: 32,
  threads: 2,
  rounds: 7,
  gflop: 2.737,
  weights_mb: 169.9,
  l3_mb: 110.1,
  median_ms: 23.5,
  fma_gflops: 246.5,
  mem_gbs: 13.7,
  of_peak: 0.4725,
  of_peak_min: 0.4228,
  of_peak_max: 0.5312,
  floor_ms: 12.41,
  ceiling_of_peak: 0.9153,
  ...over,
});

Deno.test("fp32_turns: the section gives each round-median, and the memory bound only where it is one", () => {
  assert.equal(fp32TurnsSection([]), "");
  const md = fp32TurnsSection([row({}), row({ batch: 8, seq: 128, ceiling_of_peak: 26.8 })]);
  assert.match(md, /are more than the 110 MB L3/);
  assert.match(
    md,
    /\| base \| 1,32 \| 23\.5 \| 247 GFLOP\/s \| \*\*47%\*\* \(42%-53%\) \| 13\.7 GB\/s \| 12\.4 ms \| 92% \|/,
  );
  // A floor far below the time (weights reused from cache within the pass) caps at 100%.
  assert.match(md, /\| base \| 8,128 \| .* \| 100% \|/);
  // Weights that fit in the L3: no bound claimed.
  const small = fp32TurnsSection([row({ weights_mb: 30, l3_mb: 110 })]);
  assert.match(small, /fit in the 110 MB L3, so the floor below is not a bound/);
  assert.match(small, /\| 12\.4 ms \| - \|$/);
});
