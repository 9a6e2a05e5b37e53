// A ragged batch (32 sequences of 5-60 tokens) run packed, as the engine does, against the same batch
// padded to its longest with every position real (what an engine without packing computes).

import { parseArgs } from "node:util";
import { loadBenchModel, timeMedian } from "./cases.ts";

const { values } = parseArgs({ args: Deno.args, options: { threads: { type: "string" } } });
const threads = values.threads ? Number(values.threads) : navigator.hardwareConcurrency;
using model = await loadBenchModel("base", threads);
const B = 32, minLen = 5, maxLen = 60;
const lengths = Array.from(
  { length: B },
  (_, i) => minLen + Math.round((i * 37 % B) * (maxLen - minLen) / (B - 1)),
);
const S = Math.max(...lengths);
const ids = new Int32Array(B * S), mask = new Int32Array(B * S);
for (let b = 0; b < B; b++) {
  for (let s = 0; s < S; s++) {
    ids[b * S + s] = 1000 + ((b * 131 + s * 17) % 20000);
    mask[b * S + s] = s < lengths[b] ? 1 : 0;
  }
}
const ragged = { inputIds: { data: ids, dims: [B, S] }, attentionMask: { data: mask, dims: [B, S] } };
const padded = { inputIds: { data: ids, dims: [B, S] } };
const packedMs = timeMedian(() => model.forward(ragged), 15);
const paddedMs = timeMedian(() => model.forward(padded), 15);
console.log(JSON.stringify({
  kind: "ragged",
  sentences: B,
  min_len: Math.min(...lengths),
  max_len: S,
  real_tokens: lengths.reduce((a, b) => a + b, 0),
  padded_tokens: B * S,
  packed_ms: packedMs,
  padded_ms: paddedMs,
  speedup: paddedMs / packedMs,
}));
