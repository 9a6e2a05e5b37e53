// Ours on the SST-2 dev set, the counterpart of sst2_int8.mjs: our text-classification pipeline on the
// embedded SST-2 model, the 872 sentences and labels of weights/sst2-distilbert-small/sst2-dev.tsv one at a
// time (batch 1, no padding), our tokenizer; its ids are checked against the HF tokenizer's in
// dev-reference.jsonl. With --dtype other than fp32, the fp32 model runs too and the line gives both
// accuracies, the label agreement and the largest logit difference, as sst2_int8.mjs does for ONNX Runtime.
//
//   deno run -A bench/peers/sst2_ours.ts [--dtype fp32|bf16|q8] [--threads 2] [--time]
//
// --dtype is passed to the load options only when it is not fp32. --time adds each model's median ms per
// sentence (the two run in turns, sentence by sentence, after one uncounted run each).

import { parseArgs } from "node:util";
import { pipeline, type PipelineOptions, type TextClassificationPipeline } from "../../mod.ts";
import { median } from "../cases.ts";
import { type Dtype, parseDtype } from "../dtypes.ts";

const WEIGHTS = new URL("../../weights/sst2-distilbert-small/", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    dtype: { type: "string", default: "fp32" },
    threads: { type: "string", default: "2" },
    time: { type: "boolean", default: false },
  },
});
const dtype = parseDtype(values.dtype!);
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) {
  throw new Error(`--threads: not a positive integer: ${values.threads}`);
}

const load = (d: Dtype) =>
  pipeline(
    "text-classification",
    WEIGHTS,
    (d === "fp32" ? { threads } : { threads, dtype: d }) as PipelineOptions,
  );
const models: [Dtype, TextClassificationPipeline][] = [[dtype, await load(dtype)]];
if (dtype !== "fp32") models.push(["fp32", await load("fp32")]);

const rows = (await Deno.readTextFile(`${WEIGHTS}sst2-dev.tsv`)).split("\n").filter(Boolean);
if (rows[0] !== "label\tcontent") {
  throw new Error(`${WEIGHTS}sst2-dev.tsv: expected the header "label\\tcontent"`);
}
const refs = (await Deno.readTextFile(`${WEIGHTS}dev-reference.jsonl`)).split("\n").filter(Boolean)
  .map((l) => JSON.parse(l) as { text: string; input_ids: number[]; logits: number[] });
const dev = rows.slice(1).map((row, i) => {
  const tab = row.indexOf("\t");
  const label = Number(row.slice(0, tab));
  if (tab < 0 || (label !== 0 && label !== 1)) throw new Error(`sst2-dev.tsv line ${i + 2}: bad label`);
  return { label, text: row.slice(tab + 1) };
});
if (refs.length !== dev.length) {
  throw new Error(`dev-reference.jsonl has ${refs.length} lines, the tsv ${dev.length}`);
}

const argmax = (xs: number[]) => xs.reduce((best, x, i) => x > xs[best] ? i : best, 0);
const correct = new Map<Dtype, number>(models.map(([d]) => [d, 0]));
const times = new Map<Dtype, number[]>(models.map(([d]) => [d, []]));
let agree = 0, idMismatches = 0, hfDiff = 0, dtypeDiff = 0;
for (const [i, { text, label }] of dev.entries()) {
  if (refs[i].text !== text) throw new Error(`dev-reference.jsonl line ${i + 1}: not the tsv's sentence`);
  const logits = new Map<Dtype, number[]>();
  for (const [d, classify] of i % 2 ? [...models].reverse() : models) {
    if (values.time) await classify.classify([text], { batchSize: 1 }); // uncounted run after the switch
    const t0 = performance.now();
    const [detail] = await classify.classify([text], { batchSize: 1 });
    times.get(d)!.push(performance.now() - t0);
    logits.set(d, detail.logits);
    if (d === dtype) {
      const ids = detail.inputIds, want = refs[i].input_ids;
      if (ids.length !== want.length || ids.some((id, j) => id !== want[j])) idMismatches++;
    }
    if (argmax(detail.logits) === label) correct.set(d, correct.get(d)! + 1);
  }
  const mine = logits.get(dtype)!, fp32 = logits.get("fp32")!;
  if (argmax(mine) === argmax(fp32)) agree++;
  for (let j = 0; j < fp32.length; j++) {
    hfDiff = Math.max(hfDiff, Math.abs(fp32[j] - refs[i].logits[j]));
    dtypeDiff = Math.max(dtypeDiff, Math.abs(mine[j] - fp32[j]));
  }
}
for (const [, classify] of models) classify.dispose();

const n = dev.length;
const out: Record<string, unknown> = {
  peer: "denobert",
  task: "sst2-dev",
  dtype,
  sentences: n,
  accuracy_fp32: correct.get("fp32")! / n,
  max_logit_diff_fp32_vs_transformers: hfDiff,
  token_id_mismatches_vs_transformers: idMismatches,
};
if (dtype !== "fp32") {
  out[`accuracy_${dtype}`] = correct.get(dtype)! / n;
  out.label_agreement = agree / n;
  out[`max_logit_diff_${dtype}_vs_fp32`] = dtypeDiff;
}
if (values.time) {
  for (const [d] of models) out[`median_ms_${d}`] = median(times.get(d)!);
  out.threads = threads;
}
console.log(JSON.stringify(out));
