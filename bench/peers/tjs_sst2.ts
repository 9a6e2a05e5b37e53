// SST-2 dev accuracy of Transformers.js's text-classification pipeline on the embedded SST-2 model
// (export_tjs.py's folder), in fp32 or its q8 (onnx/model_quantized.onnx from quantize_onnx.py): the 872
// sentences of weights/sst2-distilbert-small/sst2-dev.tsv one at a time, its own tokenizer; the token ids are
// checked against the HF tokenizer's in dev-reference.jsonl. Prints one JSON line.
//
//   deno run -A --no-lock bench/peers/tjs_sst2.ts [--dtype fp32|q8] [--model-dir bench/peers/out/tjs-sst2]

import { parseArgs } from "node:util";
import { AutoTokenizer, env, pipeline } from "@huggingface/transformers";
import { parseTjsDtype } from "./tjs_dtype.ts";

const HERE = new URL(".", import.meta.url).pathname;
const WEIGHTS = new URL("../../weights/sst2-distilbert-small/", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    dtype: { type: "string", default: "fp32" },
    "model-dir": { type: "string", default: `${HERE}out/tjs-sst2` },
  },
});
const folder = values["model-dir"]!.replace(/\/$/, "");
const dtype = parseTjsDtype(values.dtype!, folder);
env.allowRemoteModels = false;
env.localModelPath = folder.replace(/[^/]+$/, "");
const name = folder.split("/").pop()!;
const classify = await pipeline("text-classification", name, { dtype });
const tokenizer = await AutoTokenizer.from_pretrained(name);

const rows = (await Deno.readTextFile(`${WEIGHTS}sst2-dev.tsv`)).split("\n").filter(Boolean).slice(1);
const refs = (await Deno.readTextFile(`${WEIGHTS}dev-reference.jsonl`)).split("\n").filter(Boolean)
  .map((l) => JSON.parse(l) as { text: string; input_ids: number[] });
let correct = 0, idMismatches = 0;
for (const [i, row] of rows.entries()) {
  const tab = row.indexOf("\t");
  const label = Number(row.slice(0, tab)), text = row.slice(tab + 1);
  if (refs[i]?.text !== text) throw new Error(`dev-reference.jsonl line ${i + 1}: not the tsv's sentence`);
  const ids = (tokenizer(text, { truncation: true }).input_ids.tolist() as bigint[][])[0].map(Number);
  if (ids.length !== refs[i].input_ids.length || ids.some((id, j) => id !== refs[i].input_ids[j])) {
    idMismatches++;
  }
  const [best] = await classify(text) as { label: string; score: number }[];
  // config.json: 0 NEGATIVE, 1 POSITIVE
  if ((best.label === "POSITIVE" ? 1 : 0) === label) correct++;
}
console.log(JSON.stringify({
  peer: "transformers.js",
  task: "sst2-dev",
  dtype,
  sentences: rows.length,
  accuracy: correct / rows.length,
  token_id_mismatches_vs_transformers: idMismatches,
}));
