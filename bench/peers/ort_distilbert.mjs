// Benchmark peer: the DistilBERT encoder exported by torch_distilbert.py, run on onnxruntime-node (CPU EP).
//
//   node bench/peers/ort_distilbert.mjs DIR [--models small,base] [--threads 2] [--warmup 5]
//        [--runs 200] [--min-runs 15] [--max-seconds 8] [--serve 1]
//
// --serve 1 (used by paired.ts): after the parity checks, prints {"ready":true} and then answers requests
// read from stdin, one JSON object per line, {"model":"base","batch":1,"seq":32,"runs":8}, with
// {"times":[ms, ...]}: that many forward passes, timed one by one.
//
// DIR holds small.onnx / base.onnx and the <model>.parity.safetensors samples written by
// `torch_distilbert.py --export-onnx DIR`. Before timing, each model's output is checked against the torch
// output for the sample (which has a padded row) and against the Hugging Face reference outputs in
// tests/fixtures/models/<fixture>/ref-*.safetensors.
//
// Output: one JSON object per line on stdout, e.g.
//   {"peer":"onnxruntime","model":"base","batch":1,"seq":32,"median_ms":11.2,"runs":200}
// Everything else goes to stderr. Exit code 1 when a parity check fails.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import ort from "onnxruntime-node";

const HERE = dirname(fileURLToPath(import.meta.url));
const MODELS = resolve(HERE, "..", "..", "tests", "fixtures", "models");
const FIXTURE = { small: "tiny", base: "base" };
const CASES = [[1, 32], [1, 128], [8, 32], [8, 128]];
const TOL = { small: 1e-5, base: 5e-5 };

function parseArgs(argv) {
  const opts = {
    dir: null,
    models: "small,base",
    threads: 2,
    warmup: 5,
    runs: 200,
    "min-runs": 15,
    "max-seconds": 8,
    seed: 0,
    serve: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const [k, v] = a.includes("=") ? a.slice(2).split("=", 2) : [a.slice(2), argv[++i]];
      if (!(k in opts)) throw new Error(`unknown option --${k}`);
      opts[k] = typeof opts[k] === "number" ? Number(v) : v;
    } else opts.dir = a;
  }
  if (!opts.dir) {
    console.error(
      "usage: node bench/peers/ort_distilbert.mjs DIR  (DIR from torch_distilbert.py --export-onnx)",
    );
    process.exit(2);
  }
  return opts;
}

const log = (...a) => console.error(...a);

/** Minimal safetensors reader (F32 / I64 only, what the fixtures and samples use). */
function readSafetensors(path) {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const out = {};
  for (const [name, meta] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [b, e] = meta.data_offsets;
    // copy into a fresh, aligned buffer
    const bytes = new Uint8Array(buf.subarray(8 + n + b, 8 + n + e));
    const Ctor = { F32: Float32Array, I64: BigInt64Array }[meta.dtype];
    if (!Ctor) continue;
    out[name] = { data: new Ctor(bytes.buffer), shape: meta.shape };
  }
  return out;
}

/** mulberry32: a tiny seeded PRNG for the (irrelevant to timing, but fixed) token ids. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function feeds(ids, mask, shape) {
  return {
    input_ids: new ort.Tensor("int64", ids, shape),
    attention_mask: new ort.Tensor("int64", mask, shape),
  };
}

/** max |out - ref| over positions whose attention_mask is 1. */
function maxErr(out, ref, mask, dim) {
  let worst = 0;
  for (let t = 0; t < mask.length; t++) {
    if (mask[t] === 0n) continue;
    for (let j = t * dim; j < (t + 1) * dim; j++) {
      const d = Math.abs(out[j] - ref[j]);
      if (!(d <= worst)) worst = d; // NaN counts as failure
    }
  }
  return worst;
}

async function parity(model, session, dir) {
  let ok = true;
  const check = async (label, file, tol) => {
    const ref = readSafetensors(file);
    const shape = ref.input_ids.shape;
    const res = await session.run(feeds(ref.input_ids.data, ref.attention_mask.data, shape));
    const out = res.last_hidden_state;
    const dim = out.dims[2];
    const err = maxErr(out.data, ref.last_hidden_state.data, ref.attention_mask.data, dim);
    const good = err <= tol;
    ok &&= good;
    log(
      `[${model}] parity vs ${label} ${shape.join("x")}: max abs err ${err.toExponential(2)} ` +
        `(tol ${tol}) ${good ? "ok" : "FAIL"}`,
    );
  };
  await check("torch", join(dir, `${model}.parity.safetensors`), TOL[model]);
  const folder = join(MODELS, FIXTURE[model]);
  for (const name of readdirSync(folder).sort()) {
    if (name.startsWith("ref-") && name.endsWith(".safetensors")) {
      await check(`HF ${name}`, join(folder, name), TOL[model]);
    }
  }
  return ok;
}

function caseFeeds(vocab, batch, seq, opts) {
  const rand = rng(opts.seed + 1000 * batch + seq);
  const n = batch * seq;
  const ids = BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rand() * vocab)));
  const mask = new BigInt64Array(n).fill(1n);
  return feeds(ids, mask, [batch, seq]);
}

async function timeCase(session, vocab, batch, seq, opts) {
  const f = caseFeeds(vocab, batch, seq, opts);
  for (let i = 0; i < opts.warmup; i++) await session.run(f);
  const times = [];
  const tEnd = performance.now() + opts["max-seconds"] * 1e3;
  while (times.length < opts["min-runs"] || (times.length < opts.runs && performance.now() < tEnd)) {
    const t0 = performance.now();
    await session.run(f);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const m = times.length >> 1;
  const median = times.length % 2 ? times[m] : (times[m - 1] + times[m]) / 2;
  return { median, runs: times.length };
}

/** --serve: answers timing requests from stdin until it closes (see the header). */
async function serve(sessions, opts) {
  const { createInterface } = await import("node:readline");
  console.log(JSON.stringify({ ready: true }));
  const cache = new Map();
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const { model, batch, seq, runs } = JSON.parse(line);
    const s = sessions.get(model);
    if (!s) throw new Error(`model ${model} not loaded`);
    const k = `${model} ${batch} ${seq}`;
    if (!cache.has(k)) cache.set(k, caseFeeds(s.vocab, batch, seq, opts));
    const f = cache.get(k);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await s.session.run(f);
      times.push(performance.now() - t0);
    }
    console.log(JSON.stringify({ times }));
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  log(
    `onnxruntime-node ${ort.env.versions?.node ?? "?"}, node ${process.version}; intra-op threads ` +
      `${opts.threads}, inter-op 1, sequential, graph optimization "all"; ` +
      `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? "(unset)"} (ONNX Runtime uses its own MLAS ` +
      `kernels, not OpenBLAS)`,
  );
  let failed = false;
  const sessions = new Map();
  for (const model of opts.models.split(",")) {
    const config = JSON.parse(readFileSync(join(MODELS, FIXTURE[model], "config.mlm.json"), "utf8"));
    const session = await ort.InferenceSession.create(join(opts.dir, `${model}.onnx`), {
      executionProviders: ["cpu"],
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    if (!(await parity(model, session, opts.dir))) {
      log(`[${model}] PARITY FAILED; not timing it`);
      failed = true;
      await session.release();
      continue;
    }
    if (opts.serve) {
      sessions.set(model, { session, vocab: config.vocab_size });
      continue;
    }
    for (const [batch, seq] of CASES) {
      const { median, runs } = await timeCase(session, config.vocab_size, batch, seq, opts);
      const line = {
        peer: "onnxruntime",
        model,
        batch,
        seq,
        median_ms: Math.round(median * 1e3) / 1e3,
        runs,
      };
      console.log(JSON.stringify(line));
    }
    await session.release();
  }
  if (opts.serve && !failed) await serve(sessions, opts);
  process.exit(failed ? 1 : 0);
}

await main();
