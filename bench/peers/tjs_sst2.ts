// SST-2 dev accuracy of Transformers.js's text-classification pipeline on the embedded SST-2 model
// (export_tjs.py's folder), in fp32 or its q8 (onnx/model_quantized.onnx from quantize_onnx.py): the 872
// sentences of weights/sst2-distilbert-small/sst2-dev.tsv one at a time, its own tokenizer; the token ids are
// checked against the HF tokenizer's in dev-reference.jsonl. Prints one JSON line.
//
//   deno run -A --no-lock bench/peers/tjs_sst2.ts [--dtype fp32|q8] [--threads 2] [--time]
//        [--model-dir bench/peers/out/tjs-sst2]
//
// Without --time: the --dtype pipeline alone, its accuracy (field `accuracy`).
// With --time, the counterpart of sst2_ours.ts --time and sst2_int8.mjs --time 1: with --dtype q8 the fp32
// pipeline is loaded too, and the line gives accuracy_fp32, accuracy_q8, label_agreement (q8's labels against
// fp32's), median_ms_fp32 and median_ms_q8. The two pipelines take turns sentence by sentence (fp32 first on
// even sentences, q8 first on odd ones), each after one uncounted call on the same sentence, as the other
// two scripts do. What is timed is the whole pipeline call, `await classify(text)`: tokenizing, the ONNX
// Runtime session run and the softmax, as ours is timed (sst2_ours.ts times classify() on the text); ONNX
// Runtime in sst2_int8.mjs is given the token ids instead. The token-id check runs outside the timed calls.
//
// --threads (default 2, as the other two) is passed as the ONNX Runtime session's intraOpNumThreads through
// the pipeline's session_options; Transformers.js's other session defaults are kept.
//
// Run it without --config: "@huggingface/transformers" resolves from bench/peers/node_modules (package.json's
// pin), which the library's import map (deno.json) does not list; hence median from ../median.ts, which
// imports nothing, rather than from ../cases.ts, which imports the library.

import { parseArgs } from "node:util";
import { env, pipeline, type TextClassificationPipeline } from "@huggingface/transformers";
import { median } from "../median.ts";
import { parseTjsDtype, type TjsDtype } from "./tjs_dtype.ts";

const HERE = new URL(".", import.meta.url).pathname;
const WEIGHTS = new URL("../../weights/sst2-distilbert-small/", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    dtype: { type: "string", default: "fp32" },
    threads: { type: "string", default: "2" },
    time: { type: "boolean", default: false },
    "model-dir": { type: "string", default: `${HERE}out/tjs-sst2` },
  },
});
const folder = values["model-dir"]!.replace(/\/$/, "");
const dtype = parseTjsDtype(values.dtype!, folder);
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) {
  throw new Error(`--threads: not a positive integer: ${values.threads}`);
}
env.allowRemoteModels = false;
env.localModelPath = folder.replace(/[^/]+$/, "");
const name = folder.split("/").pop()!;
const load = async (d: TjsDtype) =>
  await pipeline("text-classification", name, {
    dtype: d,
    session_options: { intraOpNumThreads: threads },
  }) as TextClassificationPipeline;
// fp32 first, as sst2_int8.mjs orders its two sessions
const dtypes: TjsDtype[] = values.time && dtype !== "fp32" ? [parseTjsDtype("fp32", folder), dtype] : [dtype];
const pipes = new Map<TjsDtype, TextClassificationPipeline>();
for (const d of dtypes) pipes.set(d, await load(d));
// the pipeline's own tokenizer, the one the timed calls run
const tokenizer = pipes.get(dtype)!.tokenizer;

const rows = (await Deno.readTextFile(`${WEIGHTS}sst2-dev.tsv`)).split("\n").filter(Boolean).slice(1);
const refs = (await Deno.readTextFile(`${WEIGHTS}dev-reference.jsonl`)).split("\n").filter(Boolean)
  .map((l) => JSON.parse(l) as { text: string; input_ids: number[] });
if (refs.length !== rows.length) {
  throw new Error(`dev-reference.jsonl has ${refs.length} lines, the tsv ${rows.length}`);
}
const correct = new Map<TjsDtype, number>(dtypes.map((d) => [d, 0]));
const times = new Map<TjsDtype, number[]>(dtypes.map((d) => [d, []]));
let idMismatches = 0, agree = 0;
for (const [i, row] of rows.entries()) {
  const tab = row.indexOf("\t");
  const label = Number(row.slice(0, tab)), text = row.slice(tab + 1);
  if (refs[i]?.text !== text) throw new Error(`dev-reference.jsonl line ${i + 1}: not the tsv's sentence`);
  const ids = (tokenizer(text, { truncation: true }).input_ids.tolist() as bigint[][])[0].map(Number);
  if (ids.length !== refs[i].input_ids.length || ids.some((id, j) => id !== refs[i].input_ids[j])) {
    idMismatches++;
  }
  const labels = new Map<TjsDtype, number>();
  // alternate which runs first, so neither always follows the other's spinning threads
  for (const d of i % 2 ? [...dtypes].reverse() : dtypes) {
    const classify = pipes.get(d)!;
    if (values.time) await classify(text); // uncounted run after the switch
    const t0 = performance.now();
    const [best] = await classify(text) as { label: string; score: number }[];
    times.get(d)!.push(performance.now() - t0);
    // config.json: 0 NEGATIVE, 1 POSITIVE
    const predicted = best.label === "POSITIVE" ? 1 : 0;
    labels.set(d, predicted);
    if (predicted === label) correct.set(d, correct.get(d)! + 1);
  }
  if (labels.get(dtype) === labels.get(dtypes[0])) agree++;
}
for (const classify of pipes.values()) await classify.dispose();

const n = rows.length;
const out: Record<string, unknown> = {
  peer: "transformers.js",
  version: env.version,
  task: "sst2-dev",
  dtype,
  sentences: n,
};
if (!values.time) {
  out.accuracy = correct.get(dtype)! / n;
} else {
  out.accuracy_fp32 = correct.get("fp32")! / n;
  if (dtype !== "fp32") {
    out[`accuracy_${dtype}`] = correct.get(dtype)! / n;
    out.label_agreement = agree / n;
  }
  for (const d of dtypes) out[`median_ms_${d}`] = median(times.get(d)!);
  out.threads = threads;
}
out.token_id_mismatches_vs_transformers = idMismatches;
console.log(JSON.stringify(out));
