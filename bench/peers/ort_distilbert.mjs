// Benchmark peer: the encoders exported by torch_distilbert.py (DistilBERT: small, base) and torch_bert.py
// (BERT: minilm, bert-base), run on onnxruntime-node (CPU EP), in fp32 or ONNX Runtime's dynamic int8.
//
//   node bench/peers/ort_distilbert.mjs DIR [--models small,base] [--dtype fp32|int8] [--threads 2]
//        [--warmup 5] [--runs 200] [--min-runs 15] [--max-seconds 8] [--serve 1]
//
// --dtype int8 loads DIR/<model>.int8.onnx, written by quantize_onnx.py from DIR/<model>.onnx (int8 weights
// per output channel, activations quantized per tensor at run time, int32 accumulation). Its check is not the
// fp32 tolerance: it runs the fp32 graph too on the same inputs and reports the max abs difference and the
// lowest cosine similarity of a token's vector, and fails below INT8_MIN_COSINE (a broken graph, not rounding).
//
// --serve 1 (used by paired.ts): after the parity checks, prints {"ready":true} and then answers requests
// read from stdin, one JSON object per line, {"model":"base","batch":1,"seq":32,"runs":8}, with
// {"times":[ms, ...]}: that many forward passes, timed one by one.
//
// DIR holds <model>.onnx and the <model>.parity.safetensors samples written by `torch_distilbert.py
// --export-onnx DIR` / `torch_bert.py --export-onnx DIR`. Before timing, each model's output is checked
// against the torch output for the sample (which has a padded row) and against the Hugging Face reference
// outputs in tests/fixtures/models/<fixture>/ref-*.safetensors. BERT graphs also take token_type_ids (zeros
// when timing, as ours gets none) and also return pooler_output, which is checked too.
//
// Output: one JSON object per line on stdout, e.g.
//   {"peer":"onnxruntime","model":"base","dtype":"fp32","batch":1,"seq":32,"median_ms":11.2,"runs":200}
// Everything else goes to stderr. Exit code 1 when a parity check fails.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import ort from "onnxruntime-node";

const HERE = dirname(fileURLToPath(import.meta.url));
const MODELS = resolve(HERE, "..", "..", "tests", "fixtures", "models");
// benchmark model -> fixture folder, its config, and the fp32 parity tolerance (as the tests use)
const MODEL_INFO = {
  small: { fixture: "tiny", config: "config.mlm.json", bert: false, tol: 1e-5 },
  base: { fixture: "base", config: "config.mlm.json", bert: false, tol: 5e-5 },
  minilm: { fixture: "bert-minilm", config: "config.model.json", bert: true, tol: 1e-5 },
  "bert-base": { fixture: "bert-base", config: "config.model.json", bert: true, tol: 5e-5 },
};
const CASES = [[1, 32], [1, 128], [8, 32], [8, 128]];
const DTYPES = ["fp32", "int8"];
// int8 against fp32: 1 - cosine per token vector measured <= 2.1e-4 (bert-base), 1.2e-4 (base); a
// cosine under 0.99 means a wiring error, not rounding.
const INT8_MIN_COSINE = 0.99;

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
    dtype: "fp32",
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
  if (!DTYPES.includes(opts.dtype)) {
    throw new Error(`--dtype must be one of ${DTYPES.join(", ")}, got ${JSON.stringify(opts.dtype)}`);
  }
  for (const m of opts.models.split(",")) {
    if (!(m in MODEL_INFO)) {
      throw new Error(`--models: unknown model "${m}" (known: ${Object.keys(MODEL_INFO).join(", ")})`);
    }
  }
  return opts;
}

const log = (...a) => console.error(...a);

/** Minimal safetensors reader (F32 / I64 / I32, what the fixtures and samples use). */
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
    const Ctor = { F32: Float32Array, I64: BigInt64Array, I32: Int32Array }[meta.dtype];
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

const int64 = (a) => a instanceof BigInt64Array ? a : BigInt64Array.from(a, (x) => BigInt(x));

/** The session's inputs; BERT graphs also take token_type_ids (zeros unless given). */
function feeds(ids, mask, shape, bert, types) {
  const f = {
    input_ids: new ort.Tensor("int64", int64(ids), shape),
    attention_mask: new ort.Tensor("int64", int64(mask), shape),
  };
  if (bert) {
    f.token_type_ids = new ort.Tensor("int64", types ? int64(types) : new BigInt64Array(ids.length), shape);
  }
  return f;
}

/** max |out - ref| and the lowest cosine of a row, over rows whose attention_mask is 1 (mask null: all). */
function compareRows(out, ref, mask, dim) {
  let worst = 0, minCos = 1;
  for (let t = 0; t < out.length / dim; t++) {
    if (mask && Number(mask[t]) === 0) continue;
    let dot = 0, na = 0, nb = 0;
    for (let j = t * dim; j < (t + 1) * dim; j++) {
      const d = Math.abs(out[j] - ref[j]);
      if (!(d <= worst)) worst = d; // NaN counts as failure
      dot += out[j] * ref[j];
      na += out[j] * out[j];
      nb += ref[j] * ref[j];
    }
    const cos = dot / Math.sqrt(na * nb);
    if (!(cos >= minCos)) minCos = cos;
  }
  return { err: worst, cos: minCos };
}

/**
 * fp32: the session against the torch sample and the HF refs, within the tests' tolerance. int8: the same
 * inputs through the fp32 graph (`reference`, a session) and this one; fails below INT8_MIN_COSINE.
 */
async function parity(model, session, dir, config, reference) {
  const info = MODEL_INFO[model];
  let ok = true;
  const check = async (label, file) => {
    const ref = readSafetensors(file);
    const shape = ref.input_ids.shape;
    const f = feeds(ref.input_ids.data, ref.attention_mask.data, shape, info.bert, ref.token_type_ids?.data);
    const res = await session.run(f);
    const want = reference ? await reference.run(f) : null;
    const mask = ref.attention_mask.data;
    // DistilBERT refs hold last_hidden_state; BERT refs every hidden state, the last being the output
    const last = ref.last_hidden_state ?? ref[`hidden_states.${config.num_hidden_layers}`];
    const pairs = [
      ["last_hidden_state", res.last_hidden_state, want ? want.last_hidden_state.data : last?.data, mask],
    ];
    if (info.bert) {
      const pooled = want ? want.pooler_output.data : ref.pooler_output?.data;
      pairs.push(["pooler_output", res.pooler_output, pooled, null]);
    }
    for (const [name, out, expected, rowMask] of pairs) {
      if (!expected) throw new Error(`${file}: no ${name} to compare with`);
      const { err, cos } = compareRows(out.data, expected, rowMask, out.dims[out.dims.length - 1]);
      const good = reference ? cos >= INT8_MIN_COSINE : err <= info.tol;
      ok &&= good;
      log(
        `[${model}] ${reference ? "int8 vs fp32 graph" : "parity vs"} ${label} ${shape.join("x")} ${name}: ` +
          `max abs err ${err.toExponential(2)}, 1 - min cosine ${(1 - cos).toExponential(2)} ` +
          `(${reference ? `bound: cosine >= ${INT8_MIN_COSINE}` : `tol ${info.tol}`}) ${
            good ? "ok" : "FAIL"
          }`,
      );
    }
  };
  await check("torch", join(dir, `${model}.parity.safetensors`));
  const folder = join(MODELS, info.fixture);
  for (const name of readdirSync(folder).sort()) {
    if (/^ref-b\d+-s\d+\.safetensors$/.test(name)) {
      await check(`HF ${name}`, join(folder, name));
    }
  }
  return ok;
}

function caseFeeds(vocab, batch, seq, opts, bert) {
  const rand = rng(opts.seed + 1000 * batch + seq);
  const n = batch * seq;
  const ids = BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rand() * vocab)));
  const mask = new BigInt64Array(n).fill(1n);
  return feeds(ids, mask, [batch, seq], bert);
}

async function timeCase(session, vocab, batch, seq, opts, bert) {
  const f = caseFeeds(vocab, batch, seq, opts, bert);
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
    if (!cache.has(k)) cache.set(k, caseFeeds(s.vocab, batch, seq, opts, MODEL_INFO[model].bert));
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
      `${opts.threads}, inter-op 1, sequential, graph optimization "all"; dtype ${opts.dtype}; ` +
      `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? "(unset)"} (ONNX Runtime uses its own MLAS ` +
      `kernels, not OpenBLAS)`,
  );
  let failed = false;
  const sessions = new Map();
  const sessionOptions = {
    executionProviders: ["cpu"],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  };
  const open = (file) => {
    const path = join(opts.dir, file);
    if (!existsSync(path)) {
      const how = file.endsWith(".int8.onnx")
        ? `quantize_onnx.py ${file.replace(".int8", "")} ${file}`
        : "torch_distilbert.py / torch_bert.py --export-onnx DIR";
      throw new Error(`${path}: not found (written by ${how}; run.sh makes it)`);
    }
    return ort.InferenceSession.create(path, sessionOptions);
  };
  for (const model of opts.models.split(",")) {
    const info = MODEL_INFO[model];
    const config = JSON.parse(readFileSync(join(MODELS, info.fixture, info.config), "utf8"));
    const vocab = config.vocab_size;
    const int8 = opts.dtype === "int8";
    const session = await open(int8 ? `${model}.int8.onnx` : `${model}.onnx`);
    const reference = int8 ? await open(`${model}.onnx`) : null;
    const good = await parity(model, session, opts.dir, config, reference);
    await reference?.release();
    if (!good) {
      log(`[${model}] ${int8 ? "INT8 CHECK" : "PARITY"} FAILED; not timing it`);
      failed = true;
      await session.release();
      continue;
    }
    if (opts.serve) {
      sessions.set(model, { session, vocab });
      continue;
    }
    for (const [batch, seq] of CASES) {
      const { median, runs } = await timeCase(session, vocab, batch, seq, opts, info.bert);
      const line = {
        peer: "onnxruntime",
        model,
        dtype: opts.dtype,
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
