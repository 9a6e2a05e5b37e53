// Models used from several threads at once: 2 and 4 Workers, each loading its own models with `threads` 1, 2,
// the default, or a mix, while the main thread runs its own models too. Every output must be bit-identical
// to a single-threaded run of the same inputs on the main thread, and nothing may crash or hang. The
// models cover both native paths: the embedded SST-2 model (packed linears, threaded attention and
// LayerNorm), the tiny synth model (OpenBLAS sgemm through the serialising lock, dbk_linear) and, with 2
// Workers, base (the widest packed linears); and the SST-2 model in bf16 and q8 on the reduced-precision
// kernels (this CPU's best path: AMX where it has it, whose tile state is per thread).

import assert from "node:assert/strict";
import type { Dtype } from "../mod.ts";
import {
  type BatchInput,
  forwardOf,
  loadAs,
  makeBatch,
  type ModelKind,
  outputBytes,
} from "./helpers/forward_inputs.ts";
import { ensureSynthModel } from "./helpers/synth_cache.ts";

const ROUNDS = 4;
const DEFAULT_MODEL_DIR = new URL("../weights/sst2-distilbert-small", import.meta.url).pathname;

interface ModelCase {
  kind: ModelKind;
  dir: string;
  /** Default fp32. */
  dtype?: Dtype;
  inputs: BatchInput[];
}

async function modelCases(withBase: boolean): Promise<ModelCase[]> {
  const cases: ModelCase[] = [
    // 8 x 64: 2 rows over every threading threshold of the packed path (dim 128, FFN 512).
    {
      kind: "encoder",
      dir: DEFAULT_MODEL_DIR,
      inputs: [makeBatch(8, 64, 11454, 1), makeBatch(3, 17, 11454, 2)],
    },
    { kind: "auto", dir: DEFAULT_MODEL_DIR, inputs: [makeBatch(8, 64, 11454, 6)] },
    // The same on the reduced-precision kernels: each output element is still summed by one thread in a
    // fixed order, so these too are bit-identical to one thread.
    { kind: "encoder", dir: DEFAULT_MODEL_DIR, dtype: "bf16", inputs: [makeBatch(8, 64, 11454, 8)] },
    { kind: "auto", dir: DEFAULT_MODEL_DIR, dtype: "q8", inputs: [makeBatch(8, 64, 11454, 9)] },
    // 8 x 32 = up to 256 real tokens: the linears go to OpenBLAS (more than 64 rows) and dbk_linear.
    {
      kind: "encoder",
      dir: await ensureSynthModel("tiny", "seqcls"),
      inputs: [makeBatch(8, 32, 1124, 3), makeBatch(2, 40, 1124, 4)],
    },
    { kind: "auto", dir: await ensureSynthModel("tiny", "tokcls"), inputs: [makeBatch(8, 32, 1124, 7)] },
  ];
  if (withBase) {
    cases.push({
      kind: "encoder",
      dir: await ensureSynthModel("base", "tokcls"),
      inputs: [makeBatch(2, 24, 30522, 5)],
    });
  }
  return cases;
}

/** Single-threaded answers: every case's outputs on the main thread with threads: 1, one model at a time. */
async function reference(cases: ModelCase[]): Promise<Uint8Array[][]> {
  const out: Uint8Array[][] = [];
  for (const c of cases) {
    using model = await loadAs(c.kind, c.dir, 1, c.dtype);
    out.push(c.inputs.map((x) => outputBytes(forwardOf(c.kind, model, x))));
  }
  return out;
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `byte ${i} differs`;
  return "identical";
}

type Reply =
  | { kind: "loaded" }
  | { kind: "done"; outputs: Uint8Array[][]; mismatches: number }
  | { kind: "error"; message: string };

function nextReply(worker: Worker): Promise<Reply> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`worker failed: ${e.message}`));
    };
  });
}

async function run(workers: number, threads: (number | undefined)[], withBase: boolean) {
  const cases = await modelCases(withBase);
  const want = await reference(cases);
  const pool = Array.from(
    { length: workers },
    () => new Worker(new URL("./helpers/forward_worker.ts", import.meta.url), { type: "module" }),
  );
  try {
    // Load everywhere first, so the passes below overlap rather than queue behind loading.
    await Promise.all(pool.map((w, i) => {
      const loaded = nextReply(w);
      w.postMessage({
        kind: "load",
        setup: {
          models: cases.map((c) => ({
            kind: c.kind,
            dir: c.dir,
            threads: threads[i % threads.length],
            dtype: c.dtype,
            inputs: c.inputs,
          })),
          rounds: ROUNDS,
        },
      });
      return loaded.then((r) => assert.equal(r.kind, "loaded", JSON.stringify(r)));
    }));
    const done = pool.map((w) => {
      const reply = nextReply(w);
      w.postMessage({ kind: "go" });
      return reply;
    });
    // The main thread computes at the same time, with the default thread count.
    const mainModels = await Promise.all(cases.map((c) => loadAs(c.kind, c.dir, undefined, c.dtype)));
    let mainMismatches = 0;
    try {
      for (let r = 0; r < ROUNDS; r++) {
        for (let m = 0; m < cases.length; m++) {
          for (let i = 0; i < cases[m].inputs.length; i++) {
            const got = outputBytes(forwardOf(cases[m].kind, mainModels[m], cases[m].inputs[i]));
            if (firstDifference(got, want[m][i]) !== "identical") mainMismatches++;
          }
          await new Promise((res) => setTimeout(res, 0)); // let the workers' messages in
        }
      }
    } finally {
      for (const m of mainModels) m.close();
    }
    assert.equal(mainMismatches, 0, "the main thread's outputs differ from the single-threaded run");
    const replies = await Promise.all(done);
    let compared = 0;
    replies.forEach((reply, w) => {
      assert.equal(reply.kind, "done", JSON.stringify(reply));
      if (reply.kind !== "done") return;
      assert.equal(reply.mismatches, 0, `worker ${w}: a later round differs from its first`);
      for (let m = 0; m < cases.length; m++) {
        for (let i = 0; i < cases[m].inputs.length; i++) {
          const diff = firstDifference(reply.outputs[m][i], want[m][i]);
          assert.equal(
            diff,
            "identical",
            `worker ${w} (threads ${threads[w % threads.length]}), model ${m}: ${diff}`,
          );
          compared += want[m][i].length;
        }
      }
    });
    console.log(
      `  ${workers} workers, threads ${threads.map((t) => t ?? "default").join("/")}: ` +
        `${(compared / 1e6).toFixed(1)} MB of worker outputs bit-identical to threads: 1`,
    );
  } finally {
    for (const w of pool) w.terminate();
  }
}

for (const workers of [2, 4]) {
  for (const threads of [[1], [2], [undefined], [1, 2, 3, undefined]]) {
    Deno.test(
      `${workers} Workers with threads ${threads.map((t) => t ?? "default").join("/")} and the main thread ` +
        `at once: bit-identical to one thread`,
      () => run(workers, threads, workers === 2),
    );
  }
}

Deno.test("load options: a bad or unknown option is an error naming it; threads belong to one model", async () => {
  const { DistilBertModel } = await import("../mod.ts");
  for (
    const [options, re] of [
      [{ threads: 0 }, /threads must be an integer from 1 to 256, got 0/],
      [{ threads: 1.5 }, /threads/],
      [{ threads: 257 }, /threads/],
      [{ thread: 2 }, /unknown load option "thread"/],
      [{ dtype: "int4" }, /unknown dtype "int4" \(dtypes: fp32, bf16, q8\)/],
    ] as const
  ) {
    await assert.rejects(() => DistilBertModel.load(DEFAULT_MODEL_DIR, options as never), re);
  }
  // Options that are not an object, through every own load(dir): the error names them (once a TypeError
  // from reading `dtype` off null), checked before the folder is read (a missing folder is not the error).
  const { AutoModel, BertModel, DistilBertForSequenceClassification } = await import("../mod.ts");
  for (
    const load of [
      DistilBertModel.load,
      AutoModel.load,
      BertModel.load,
      DistilBertForSequenceClassification.load,
    ]
  ) {
    for (const options of [null, "q8", [1]]) {
      await assert.rejects(
        () => load("/no/such/model/folder", options as never),
        (e: Error) => e instanceof TypeError && /load options must be an object/.test(e.message),
      );
    }
    await assert.rejects(
      () => load("/no/such/model/folder", { dtype: "int4" } as never),
      /unknown dtype "int4"/,
    );
  }
  const { Backend } = await import("../src/backend.ts");
  using a = await Backend.open({ threads: 1 });
  using b = await Backend.open({ threads: 3 });
  assert.equal(b.kernelThreads, 3);
  assert.equal(a.kernelThreads, 1, "opening b changed a");
  b.setThreads(2);
  assert.equal(a.kernelThreads, 1, "b.setThreads changed a");
});
