// Concurrency, lifetime and long runs: concurrent async calls and Workers give the sequential results;
// close() twice is harmless and every later call throws; closing one model leaves others working; loading
// and closing 100 models leaves RSS where it started; 10,000 pipeline calls grow RSS by under 10 MB and the
// work of each (native calls, Map lookups) stays the same. The RSS measurements run in a child process
// (`deno run --v8-flags=--expose-gc` on this same file) so that other tests' memory and the lack of an explicit
// GC cannot blur them.

import assert from "node:assert/strict";
import {
  AutoModel,
  DistilBertForMaskedLM,
  DistilBertModel,
  type Dtype,
  DTYPES,
  type ModelInputs,
  pipeline,
  type PipelineTaskName,
} from "../mod.ts";
import { SafetensorsFile } from "../src/safetensors.ts";
import { gc, repoPath, Rng, rss, tinyModelDir } from "./helpers/fuzz.ts";
import { tinyModelDir as tinyHeadDir } from "./helpers/tiny_models.ts";
import { slowTest } from "./helpers/unit.ts";
import { countNativeCalls } from "./helpers/count_native_calls.ts";

const DEFAULT_MODEL = repoPath("weights/sst2-distilbert-small");
const CHILD_ENV = "DENOBERT_LIFETIME_CHILD";

function sst2Sentences(count: number): string[] {
  const lines = Deno.readTextFileSync(`${DEFAULT_MODEL}/sst2-dev.tsv`).split("\n").slice(1);
  return lines.filter((l) => l.includes("\t")).slice(0, count).map((l) => l.split("\t")[1]);
}

function randomIds(r: Rng, b: number, s: number, vocab: number) {
  const data = new Int32Array(b * s).map(() => r.range(1000, vocab - 1));
  const mask = new Int32Array(b * s).fill(1);
  for (let row = 0; row < b; row++) {
    data[row * s] = 101;
    const len = r.range(2, s);
    data[row * s + len - 1] = 102;
    mask.fill(0, row * s + len, (row + 1) * s);
  }
  return { inputIds: { data, dims: [b, s] }, attentionMask: { data: mask, dims: [b, s] } };
}

// ---------------------------------------------------------------------------------------------------
// Child process measurements

/** Loads and closes `count` models (after a warm-up), returning RSS before and after in bytes. */
async function measureLoadClose(count: number): Promise<Record<string, number>> {
  const dir = await tinyModelDir();
  const inputs = randomIds(new Rng(31), 2, 16, 1124);
  const cycle = async (i: number) => {
    const model = i % 2 === 0 ? await DistilBertModel.load(dir) : await AutoModel.load(dir);
    // deno-lint-ignore no-explicit-any
    (model as any).forward(inputs);
    model.close();
    model.close();
  };
  gc();
  const start = rss();
  // Warm-up: each cycle dlopens and dlcloses OpenBLAS and the kernels, and the runtime's RSS climbs by a
  // few MB over the first few dozen cycles before levelling off (plain Deno.dlopen/close of libc does too).
  for (let i = 0; i < 50; i++) await cycle(i);
  gc();
  const before = rss();
  const started = performance.now();
  for (let i = 0; i < count; i++) await cycle(i);
  const ms = performance.now() - started;
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  const after = rss();
  await Deno.remove(dir, { recursive: true });
  return { start, before, after, ms };
}

/** `calls` forward calls on the tiny model after a warm-up; RSS before and after, with GC in between. */
async function measureForwardCalls(calls: number): Promise<Record<string, number>> {
  const dir = await tinyModelDir();
  try {
    using model = await DistilBertModel.load(dir);
    const inputs = randomIds(new Rng(35), 8, 32, 1124);
    // Warm-up: glibc's allocator keeps the freed backing stores of per-call output arrays pooled, so
    // RSS climbs by a few tens of MB over the first few thousand calls, then levels off.
    for (let i = 0; i < 3000; i++) model.forward(inputs);
    gc();
    const before = rss();
    for (let i = 0; i < calls; i++) model.forward(inputs);
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
    return { before, after: rss() };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Counts work from now on: calls into every native library opened afterwards (Deno.dlopen is wrapped) and Map
 * lookups (the tokenizer's vocabulary). Returns the running total.
 */
function countWork(): () => number {
  let n = 0;
  countNativeCalls(() => n++);
  const get = Map.prototype.get, has = Map.prototype.has;
  Map.prototype.get = function <K, V>(this: Map<K, V>, key: K) {
    n++;
    return get.call(this, key);
  };
  Map.prototype.has = function <K, V>(this: Map<K, V>, key: K) {
    n++;
    return has.call(this, key);
  };
  return () => n;
}

/**
 * `calls` sequential pipeline calls; RSS after a warm-up and at the end; the work (native calls and Map lookups)
 * of each call, which must be the same for the same sentence on every pass after the first (the first pass may
 * grow buffers); time of the first and last 1,000 for the log.
 */
async function measureLongRun(calls: number): Promise<Record<string, number>> {
  const sentences = sst2Sentences(872);
  const work = countWork();
  // One thread: single short sentences gain nothing from more, and a busy CI machine makes spinning
  // BLAS threads slow and noisy.
  using classifier = await pipeline("sentiment-analysis", undefined, { threads: 1 });
  for (let i = 0; i < 300; i++) await classifier(sentences[i % sentences.length]);
  gc();
  const before = rss();
  const window = 1000;
  const perCall = new Float64Array(calls);
  const expected: string[] = [];
  const workOf: number[] = [];
  let workChecked = 0;
  for (let i = 0; i < calls; i++) {
    const k = i % sentences.length;
    const t0 = performance.now();
    const before = work();
    const [{ label, score }] = await classifier(sentences[k]);
    const done = work() - before;
    perCall[i] = performance.now() - t0;
    // Same sentence, same answer, every time.
    const key = `${label} ${score}`;
    if (expected[k] === undefined) expected[k] = key;
    else if (expected[k] !== key) throw new Error(`call ${i}: ${key} != ${expected[k]}`);
    // Same sentence, same work, on every pass after the first: nothing accumulates from call to call.
    if (i >= sentences.length) {
      if (workOf[k] === undefined) workOf[k] = done;
      else if (workOf[k] !== done) {
        throw new Error(`call ${i}: ${done} operations, ${workOf[k]} on an earlier pass`);
      } else workChecked++;
    }
  }
  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
  const median = (a: Float64Array) => a.slice().sort()[a.length >> 1];
  const first = perCall.subarray(0, window), last = perCall.subarray(calls - window);
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  const after = rss();
  return {
    before,
    after,
    first: sum(first),
    last: sum(last),
    firstMedian: median(first),
    lastMedian: median(last),
    total: sum(perCall),
    workChecked,
    workPerCall: workOf.reduce((a, b) => a + b, 0) / workOf.length,
  };
}

/** Two Workers each load the tiny model and run it while the main thread runs its own copy. */
async function measureWorkers(): Promise<Record<string, number>> {
  const dir = await tinyModelDir();
  const inputs = randomIds(new Rng(35), 3, 24, 1124);
  try {
    using model = await DistilBertModel.load(dir);
    const expected = model.forward(inputs).lastHiddenState.data;
    const modUrl = new URL("../src/model.ts", import.meta.url).href;
    const code = `
      import { DistilBertModel } from ${JSON.stringify(modUrl)};
      self.onmessage = async (e) => {
        try {
          const model = await DistilBertModel.load(e.data.dir);
          const outs = [];
          for (let i = 0; i < 5; i++) outs.push(model.forward(e.data.inputs).lastHiddenState.data);
          model.close();
          self.postMessage({ outs });
        } catch (err) {
          self.postMessage({ error: String(err && err.stack || err) });
        }
      };`;
    const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
    const runWorker = () =>
      new Promise<Float32Array[]>((resolve, reject) => {
        const w = new Worker(url, { type: "module" });
        w.onmessage = (e) => {
          w.terminate();
          if (e.data.error) reject(new Error(e.data.error));
          else resolve(e.data.outs);
        };
        w.onerror = (e) => {
          e.preventDefault();
          w.terminate();
          reject(new Error(e.message));
        };
        w.postMessage({ dir, inputs });
      });
    // Meanwhile the main thread keeps running its model too.
    const [w1, w2] = await Promise.all([
      runWorker(),
      runWorker(),
      (async () => {
        for (let i = 0; i < 5; i++) {
          assert.deepEqual(model.forward(inputs).lastHiddenState.data, expected);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })(),
    ]);
    URL.revokeObjectURL(url);
    let maxDiff = 0;
    for (const out of [...w1, ...w2]) {
      assert.equal(out.length, expected.length);
      for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - expected[i]));
    }
    // The main thread's model still works after the Workers closed theirs and ended.
    assert.deepEqual(model.forward(inputs).lastHiddenState.data, expected);
    return { maxDiff, workerOutputs: w1.length + w2.length };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Per model kind and dtype, after loading a model and collecting garbage: of the checkpoint's linear weights
 * as the load read them (float32), how many are still alive (of how many); whether the word embeddings read
 * are; whether the model's outputs are unchanged afterwards (1 = equal). Nothing but the model holds the file.
 */
async function measureFileLifetime(): Promise<Record<string, number>> {
  const dir = await tinyModelDir();
  const getFloat32 = SafetensorsFile.prototype.getFloat32;
  const result: Record<string, number> = {};
  const LINEAR = /\.(q_lin|k_lin|v_lin|out_lin|lin1|lin2)\.weight$/;
  try {
    // The two ways a model is built: a head on the encoder (the tiny fixture is a masked LM), the bare encoder.
    const kinds = {
      head: async (dtype: Dtype) => {
        const model = await AutoModel.load(dir, { dtype }) as DistilBertForMaskedLM;
        return { run: (x: ModelInputs) => model.forward(x).logits.data, close: () => model.close() };
      },
      encoder: async (dtype: Dtype) => {
        const model = await DistilBertModel.load(dir, { dtype });
        return { run: (x: ModelInputs) => model.forward(x).lastHiddenState.data, close: () => model.close() };
      },
    };
    for (const [kind, load] of Object.entries(kinds)) {
      for (const dtype of DTYPES) {
        // What the load reads of each tensor, as float32: the fp32 arrays the model may keep.
        const linear: WeakRef<ArrayBufferLike>[] = [];
        let embeddings: WeakRef<ArrayBufferLike> | undefined;
        SafetensorsFile.prototype.getFloat32 = function (name: string) {
          const t = getFloat32.call(this, name);
          if (LINEAR.test(name)) linear.push(new WeakRef(t.buffer));
          if (name.endsWith("word_embeddings.weight")) embeddings = new WeakRef(t.buffer);
          return t;
        };
        const model = await load(dtype);
        SafetensorsFile.prototype.getFloat32 = getFloat32;
        const inputs = randomIds(new Rng(33), 2, 12, 1124);
        const before = model.run(inputs).slice();
        for (let i = 0; i < 3; i++) {
          gc();
          await new Promise((r) => setTimeout(r, 10)); // WeakRefs clear between tasks
        }
        const after = model.run(inputs);
        result[`${kind}_${dtype}_linear_alive`] = linear.filter((w) => w.deref() !== undefined).length;
        result[`${kind}_${dtype}_linear_tensors`] = linear.length;
        result[`${kind}_${dtype}_embeddings_alive`] = embeddings?.deref() === undefined ? 0 : 1;
        result[`${kind}_${dtype}_same_output`] = before.every((v, i) => Object.is(v, after[i])) ? 1 : 0;
        model.close();
      }
    }
  } finally {
    SafetensorsFile.prototype.getFloat32 = getFloat32;
    await Deno.remove(dir, { recursive: true });
  }
  return result;
}

if (Deno.env.get(CHILD_ENV)) {
  const [mode, n] = Deno.env.get(CHILD_ENV)!.split(":");
  const result = mode === "load-close"
    ? await measureLoadClose(Number(n))
    : mode === "workers"
    ? await measureWorkers()
    : mode === "forward"
    ? await measureForwardCalls(Number(n))
    : mode === "file"
    ? await measureFileLifetime()
    : await measureLongRun(Number(n));
  console.log(JSON.stringify(result));
  Deno.exit(0);
}

async function runChild(mode: string): Promise<Record<string, number>> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      new URL(import.meta.url).pathname,
    ],
    env: { [CHILD_ENV]: mode },
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `child ${mode} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

const MB = 2 ** 20;

// ---------------------------------------------------------------------------------------------------
// Tests

Deno.test("lifetime: close() twice is harmless and every later call throws, for models and pipelines", async () => {
  const dir = await tinyModelDir();
  try {
    const inputs = randomIds(new Rng(32), 1, 8, 1124);
    const encoder = await DistilBertModel.load(dir);
    const mlm = await DistilBertForMaskedLM.load(dir);
    for (const model of [encoder, mlm]) {
      model.forward(inputs);
      model.close();
      model.close();
      model[Symbol.dispose]();
      assert.throws(() => model.forward(inputs), /closed/);
      assert.throws(() => model.forward(inputs), /closed/); // and again
    }
    const classifier = await pipeline("sentiment-analysis", DEFAULT_MODEL);
    await classifier("fine");
    classifier.dispose();
    classifier.dispose();
    await assert.rejects(() => classifier("fine"), /closed/);
    await assert.rejects(() => classifier(["a", "b"]), /closed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lifetime: a disposed pipeline of every task rejects every call, whatever its input", async () => {
  const mlm = await tinyHeadDir("mlm"), qa = await tinyHeadDir("qa"), tokcls = await tinyHeadDir("tokcls");
  try {
    const cases: [PipelineTaskName, string | undefined, unknown][] = [
      ["sentiment-analysis", undefined, "fine"],
      ["fill-mask", mlm, "a [MASK] day"],
      ["feature-extraction", mlm, "a day"],
      ["question-answering", qa, { question: "who?", context: "john is here" }],
      ["token-classification", tokcls, "john lives here"],
    ];
    for (const [task, dir, input] of cases) {
      const p = await pipeline(task, dir);
      // deno-lint-ignore no-explicit-any
      const call = p as unknown as (input: unknown, options?: unknown) => Promise<any>;
      await call(input);
      p.dispose();
      // An empty batch has nothing to run, and a bad input fails its checks before the model is reached:
      // neither may answer as if the pipeline were still there.
      for (const late of [input, [], [input], 42, [42]]) {
        await assert.rejects(() => call(late), /pipeline was closed/, `${task} ${JSON.stringify(late)}`);
      }
      await assert.rejects(() => call(input, { nonsense: 1 }), /pipeline was closed/, task);
    }
    const classifier = await pipeline("sentiment-analysis");
    classifier.dispose();
    await assert.rejects(() => classifier.classify([]), /pipeline was closed/);
    await assert.rejects(() => classifier.classify(["fine"]), /pipeline was closed/);
  } finally {
    for (const dir of [mlm, qa, tokcls]) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lifetime: closing one model leaves other models (same library) working and exact", async () => {
  const dir = await tinyModelDir();
  try {
    const inputs = randomIds(new Rng(33), 3, 20, 1124);
    const a = await DistilBertModel.load(dir);
    const b = await DistilBertModel.load(dir);
    const expected = b.forward(inputs).lastHiddenState.data;
    a.close();
    assert.deepEqual(b.forward(inputs).lastHiddenState.data, expected);
    const c = await DistilBertModel.load(dir);
    b.close();
    assert.deepEqual(c.forward(inputs).lastHiddenState.data, expected);
    c.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("concurrency: Promise.all over interleaved models and pipelines equals sequential calls", async () => {
  const dir = await tinyModelDir();
  try {
    using m1 = await DistilBertModel.load(dir);
    using m2 = await DistilBertModel.load(dir);
    using classifier = await pipeline("sentiment-analysis", DEFAULT_MODEL);
    const r = new Rng(34);
    const batches = Array.from({ length: 24 }, () => randomIds(r, r.range(1, 4), r.range(2, 40), 1124));
    const sentences = sst2Sentences(48);
    // Sequential reference.
    const seq = batches.map((x) => m1.forward(x).lastHiddenState.data);
    const seqLabels = [];
    for (const s of sentences) seqLabels.push((await classifier(s))[0]);
    // Concurrent: async wrappers that yield between steps, alternating models, mixed with pipeline calls.
    const run = async (i: number) => {
      await new Promise((resolve) => setTimeout(resolve, r.int(3)));
      const model = i % 2 === 0 ? m1 : m2;
      const first = model.forward(batches[i]).lastHiddenState.data;
      await Promise.resolve();
      const again = (i % 2 === 0 ? m2 : m1).forward(batches[i]).lastHiddenState.data;
      return [first, again];
    };
    const [results, labels, batched] = await Promise.all([
      Promise.all(batches.map((_, i) => run(i))),
      Promise.all(sentences.map(async (s) => (await classifier(s))[0])),
      Promise.all([classifier(sentences.slice(0, 24)), classifier(sentences.slice(24))]),
    ]);
    for (let i = 0; i < batches.length; i++) {
      assert.deepEqual(results[i][0], seq[i], `batch ${i}`);
      assert.deepEqual(results[i][1], seq[i], `batch ${i} (other model)`);
    }
    assert.deepEqual(labels, seqLabels);
    // Batched calls sort by length and pad: same labels, scores within float noise.
    const flat = batched.flat();
    for (let i = 0; i < sentences.length; i++) {
      assert.equal(flat[i].label, seqLabels[i].label);
      assert.ok(Math.abs(flat[i].score - seqLabels[i].score) < 1e-5, `sentence ${i}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

slowTest(
  "concurrency: two Workers each loading the tiny model match the main thread (child process)",
  async () => {
    // In a child `deno run`: under `deno test` every Worker module graph is type-checked again (~10 s).
    const { maxDiff, workerOutputs } = await runChild("workers");
    console.log(`  2 Workers x 5 forward calls: max |diff| vs the main thread ${maxDiff}`);
    assert.equal(workerOutputs, 10);
    assert.ok(maxDiff <= 1e-6, `worker results differ by ${maxDiff}`);
  },
);

Deno.test("lifetime: a bf16 / q8 model keeps none of its checkpoint's linear weights in memory; fp32 does (child process)", async () => {
  const r = await runChild("file");
  const all = JSON.stringify(r);
  for (const kind of ["head", "encoder"]) {
    // 30 linear weights in the tiny fixture's 5 layers: the check has something to find.
    for (const dtype of DTYPES) assert.equal(r[`${kind}_${dtype}_linear_tensors`], 30, all);
    // fp32's weights are the file's bytes (packed in place, or read as views): the file stays.
    assert.equal(r[`${kind}_fp32_linear_alive`], 30, all);
    // bf16 and q8 convert the linears from a file read per tensor, so those bytes can go, while the
    // embeddings they use in fp32 stay.
    for (const dtype of ["bf16", "q8"]) {
      assert.equal(r[`${kind}_${dtype}_linear_alive`], 0, `${kind} ${dtype}: ${all}`);
      assert.equal(r[`${kind}_${dtype}_embeddings_alive`], 1, `${kind} ${dtype}: ${all}`);
    }
    // and what the model runs on afterwards is its own memory: outputs unchanged after the collection
    for (const dtype of DTYPES) {
      assert.equal(r[`${kind}_${dtype}_same_output`], 1, `${kind} ${dtype}: ${all}`);
    }
  }
});

slowTest("lifetime: loading and closing 100 models leaves RSS within 10% (child process)", async () => {
  const { start, before, after, ms } = await runChild("load-close:100");
  const growth = (after - before) / before;
  console.log(
    `  100 load/forward/close cycles in ${(ms / 1000).toFixed(1)} s: RSS ${(before / MB).toFixed(1)} MB -> ` +
      `${(after / MB).toFixed(1)} MB (${(growth * 100).toFixed(1)}%); before the 50 warm-up cycles ` +
      `${(start / MB).toFixed(1)} MB`,
  );
  assert.ok(Math.abs(growth) <= 0.1, `RSS changed by ${(growth * 100).toFixed(1)}%`);
});

slowTest("long run: 10,000 pipeline calls, RSS and work per call stay flat (child process)", async () => {
  const r = await runChild("long-run:10000");
  const grown = (r.after - r.before) / MB;
  const change = `${grown >= 0 ? "+" : ""}${grown.toFixed(1)} MB`;
  console.log(
    `  10,000 sentiment-analysis calls (default model) in ${(r.total / 1000).toFixed(1)} s: RSS ` +
      `${(r.before / MB).toFixed(1)} MB -> ${(r.after / MB).toFixed(1)} MB (${change}); ` +
      `first 1,000 ${r.first.toFixed(0)} ms (median ${r.firstMedian.toFixed(3)} ms/call), last 1,000 ` +
      `${r.last.toFixed(0)} ms (median ${r.lastMedian.toFixed(3)} ms/call); ${r.workPerCall.toFixed(0)} ` +
      `operations per call, the same on every pass`,
  );
  assert.ok(grown < 10, `RSS grew ${grown.toFixed(1)} MB`);
  // The child throws if a call's work differs from the same sentence's on an earlier pass: a slowdown that
  // counts would show, not one a busy machine makes. Every call after the first two passes was compared.
  assert.equal(r.workChecked, 10_000 - 2 * 872);
});

slowTest(
  "memory: 1,000 forward calls on tiny (batch 8 x 32) keep RSS flat after GC (child process)",
  async () => {
    const { before, after } = await runChild("forward:1000");
    const growth = (after - before) / MB;
    console.log(
      `  RSS ${(before / MB).toFixed(1)} -> ${(after / MB).toFixed(1)} MiB (${growth.toFixed(2)} MiB)`,
    );
    assert.ok(growth < 5, `RSS grew ${growth.toFixed(2)} MiB over 1,000 forward calls`);
  },
);
