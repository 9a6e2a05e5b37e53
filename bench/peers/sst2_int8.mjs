// SST-2 dev accuracy of ONNX Runtime's dynamic int8 graph against its fp32 graph, on the embedded SST-2 model
// (the same weights as ours): the 872 sentences and labels of weights/sst2-distilbert-small/sst2-dev.tsv, one
// sentence per run (batch 1, no padding). The token ids are the HF tokenizer's, from dev-reference.jsonl
// (ours and Transformers.js's tokenizers give the same ids: tests/sst2_test.ts, tjs_sst2.ts); Transformers.js's
// tokenizer cannot run in this process, as its onnxruntime-node 1.21 binding cannot load next to the 1.30 one.
// The fp32 logits are checked against transformers' in the same file.
//
//   node bench/peers/sst2_int8.mjs [--model-dir bench/peers/out/tjs-sst2] [--threads 2] [--time 1]
//
// The folder is export_tjs.py's: onnx/model.onnx (fp32) and onnx/model_quantized.onnx (quantize_onnx.py).
// Prints one JSON line: accuracy of each, label agreement, logit differences; with --time 1 also each one's
// median ms per sentence (the two run in turns, sentence by sentence).

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import ort from "onnxruntime-node";

const HERE = dirname(fileURLToPath(import.meta.url));
const WEIGHTS = resolve(HERE, "..", "..", "weights", "sst2-distilbert-small");

function parseArgs(argv) {
  const opts = { "model-dir": join(HERE, "out", "tjs-sst2"), threads: 2, time: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const [k, v] = a.includes("=") ? a.slice(2).split("=", 2) : [a.slice(2), argv[++i]];
    if (!(k in opts)) throw new Error(`unknown option --${k} (options: ${Object.keys(opts).join(", ")})`);
    if (v === undefined) throw new Error(`--${k} needs a value`);
    opts[k] = typeof opts[k] === "number" ? Number(v) : v;
    if (typeof opts[k] === "number" && !Number.isFinite(opts[k])) {
      throw new Error(`--${k}: not a number: ${v}`);
    }
  }
  return opts;
}

/** sst2-dev.tsv: a header, then "label<TAB>sentence" lines. */
export function readDev(path) {
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.length > 0);
  if (lines[0] !== "label\tcontent") throw new Error(`${path}: expected the header "label\\tcontent"`);
  return lines.slice(1).map((line, i) => {
    const tab = line.indexOf("\t");
    const label = Number(line.slice(0, tab));
    if (tab < 0 || (label !== 0 && label !== 1)) throw new Error(`${path}: line ${i + 2}: bad label`);
    return { label, text: line.slice(tab + 1) };
  });
}

const argmax = (xs) => xs.reduce((best, x, i) => x > xs[best] ? i : best, 0);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dir = resolve(opts["model-dir"]);
  const files = { fp32: join(dir, "onnx", "model.onnx"), int8: join(dir, "onnx", "model_quantized.onnx") };
  for (const [d, f] of Object.entries(files)) {
    if (!existsSync(f)) {
      throw new Error(
        `${f}: not found (${
          d === "int8" ? "quantize_onnx.py onnx/model.onnx onnx/model_quantized.onnx" : "export_tjs.py"
        })`,
      );
    }
  }
  const dev = readDev(join(WEIGHTS, "sst2-dev.tsv"));
  const refs = readFileSync(join(WEIGHTS, "dev-reference.jsonl"), "utf8").split("\n").filter(Boolean)
    .map((l) => JSON.parse(l));
  if (refs.length !== dev.length) {
    throw new Error(`dev-reference.jsonl has ${refs.length} lines, the tsv ${dev.length}`);
  }

  const sessionOptions = {
    executionProviders: ["cpu"],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  };
  const sessions = {
    fp32: await ort.InferenceSession.create(files.fp32, sessionOptions),
    int8: await ort.InferenceSession.create(files.int8, sessionOptions),
  };

  const correct = { fp32: 0, int8: 0 }, times = { fp32: [], int8: [] };
  let agree = 0, hfDiff = 0, int8Diff = 0;
  for (let i = 0; i < dev.length; i++) {
    const { text, label } = dev[i];
    if (refs[i].text !== text) throw new Error(`dev-reference.jsonl line ${i + 1}: not the tsv's sentence`);
    const ids = refs[i].input_ids;
    const shape = [1, ids.length];
    const feeds = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), shape),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(ids.length).fill(1n), shape),
    };
    const logits = {};
    // alternate which runs first, so neither always follows the other's spinning threads
    for (const d of i % 2 ? ["int8", "fp32"] : ["fp32", "int8"]) {
      if (opts.time) await sessions[d].run(feeds); // uncounted run after the switch
      const t0 = performance.now();
      logits[d] = Array.from((await sessions[d].run(feeds)).logits.data);
      times[d].push(performance.now() - t0);
    }
    for (const d of ["fp32", "int8"]) if (argmax(logits[d]) === label) correct[d]++;
    if (argmax(logits.fp32) === argmax(logits.int8)) agree++;
    for (let j = 0; j < logits.fp32.length; j++) {
      hfDiff = Math.max(hfDiff, Math.abs(logits.fp32[j] - refs[i].logits[j]));
      int8Diff = Math.max(int8Diff, Math.abs(logits.int8[j] - logits.fp32[j]));
    }
  }
  const n = dev.length;
  const out = {
    peer: "onnxruntime",
    task: "sst2-dev",
    sentences: n,
    accuracy_fp32: correct.fp32 / n,
    accuracy_int8: correct.int8 / n,
    label_agreement: agree / n,
    max_logit_diff_fp32_vs_transformers: hfDiff,
    max_logit_diff_int8_vs_fp32: int8Diff,
  };
  if (opts.time) {
    out.median_ms_fp32 = median(times.fp32);
    out.median_ms_int8 = median(times.int8);
    out.threads = opts.threads;
  }
  console.log(JSON.stringify(out));
}

await main();
