// bf16 and q8 against fp32, the figures the README and BENCHMARKS.md quote (tests/dtype_test.ts holds the
// bounds): worst per-token cosine of every hidden state on ragged batches of each benchmark model, and the
// embedded SST-2 model's labels and accuracy on its 872 dev sentences. One JSON line per measurement.
// Usage: deno run -A bench/dtype_accuracy.ts [--models base,minilm,bert-base] [--threads 2]

import { parseArgs } from "node:util";
import { pipeline } from "../src/pipelines/mod.ts";
import { makeBatch } from "../tests/helpers/forward_inputs.ts";
import { worstCosine } from "../tests/helpers/reference.ts";
import { loadBenchModel, parseModels } from "./cases.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { models: { type: "string", default: "base,minilm" }, threads: { type: "string", default: "2" } },
});
const threads = Number(values.threads);
const LOW = ["bf16", "q8"] as const;

for (const name of parseModels(values.models!)) {
  using ref = await loadBenchModel(name, threads);
  const inputs = makeBatch(6, 48, ref.config.vocab_size, 3);
  const mask = inputs.attentionMask.data as Int32Array;
  const want = ref.forward(inputs, { outputHiddenStates: true }).hiddenStates!;
  for (const dtype of LOW) {
    using m = await loadBenchModel(name, threads, dtype);
    const got = m.forward(inputs, { outputHiddenStates: true }).hiddenStates!;
    const dim = got[0].dims[2];
    const worst = Math.min(...got.map((h, l) => worstCosine(h.data, want[l].data, dim, mask)));
    console.log(JSON.stringify({ kind: "dtype_accuracy", model: name, dtype, worst_token_cosine: worst }));
  }
}

const refs =
  (await Deno.readTextFile(new URL("../weights/sst2-distilbert-small/dev-reference.jsonl", import.meta.url)))
    .split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as { text: string; label: number });
const labels = async (dtype: "fp32" | "bf16" | "q8") => {
  using clf = await pipeline("sentiment-analysis", undefined, { dtype });
  return (await clf(refs.map((r) => r.text))).map((r) => r.label === "POSITIVE" ? 1 : 0);
};
const fp32 = await labels("fp32");
const accuracy = (l: number[]) => l.filter((v, i) => v === refs[i].label).length / refs.length;
for (const dtype of LOW) {
  const got = await labels(dtype);
  console.log(JSON.stringify({
    kind: "dtype_sst2",
    dtype,
    sentences: refs.length,
    agreement: got.filter((v, i) => v === fp32[i]).length / refs.length,
    accuracy: accuracy(got),
    accuracy_fp32: accuracy(fp32),
  }));
}
