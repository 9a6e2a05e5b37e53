// bench/sst2_md.ts: BENCHMARKS.md's SST-2 table from sst2.jsonl's lines (bench/peers/sst2_int8.mjs,
// sst2_ours.ts and tjs_sst2.ts with their timing flags). Each peer's row reads its own reduced dtype's fields.

import assert from "node:assert/strict";
import { sst2Section } from "../bench/sst2_md.ts";

Deno.test("sst2Section: a row per peer, each with its reduced dtype's fields", () => {
  const md = sst2Section([
    {
      peer: "onnxruntime",
      accuracy_fp32: 0.8096,
      accuracy_int8: 0.8096,
      label_agreement: 1,
      median_ms_fp32: 1.395,
      median_ms_int8: 0.897,
    },
    {
      peer: "denobert",
      dtype: "q8",
      accuracy_fp32: 0.8096,
      accuracy_q8: 0.8085,
      label_agreement: 0.99,
      median_ms_fp32: 0.579,
      median_ms_q8: 0.349,
    },
    {
      peer: "transformers.js",
      version: "3.7.5",
      dtype: "q8",
      accuracy_fp32: 0.8096,
      accuracy_q8: 0.8096,
      label_agreement: 1,
      median_ms_fp32: 1.467,
      median_ms_q8: 1.141,
    },
  ]);
  const rows = md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| peer"));
  assert.deepEqual(rows, [
    "| ONNX Runtime 1.30 (dynamic int8) | 80.96% | 80.96% | 100.0% | 1.395 | 0.897 |",
    "| ours (q8) | 80.96% | 80.85% | 99.0% | 0.579 | 0.349 |",
    "| Transformers.js 3.7.5 (q8) | 80.96% | 80.96% | 100.0% | 1.467 | 1.141 |",
  ]);
  assert.match(md, /bench\/peers\/tjs_sst2\.ts --dtype q8 --time/);
});

Deno.test("sst2Section: a line without timings (an accuracy-only run) shows - instead of failing", () => {
  const md = sst2Section([{ peer: "transformers.js", dtype: "q8", accuracy: 0.8096 }]);
  assert.match(md, /\| Transformers\.js 3\.7\.5 \(q8\) \| - \| - \| - \| - \| - \|/);
});
