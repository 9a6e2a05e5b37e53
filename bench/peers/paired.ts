// ONNX Runtime and ours in lockstep: short bursts of forward passes, taking turns, so both see the same
// moments of a shared machine. Our model runs in this process; ONNX Runtime in a node child
// (ort_distilbert.mjs --serve) that sits idle, blocked on its stdin, while ours runs, and the other way round.
//
//   deno run -A --config deno.json bench/peers/paired.ts OUT_DIR [--models small,base] [--pairs 40]
//        [--burst-ms 120] [--threads 2] [--dtype fp32|q8]
//
// --dtype q8: ours loads with { dtype: "q8" } and ONNX Runtime runs OUT_DIR/<model>.int8.onnx (quantize_onnx.py),
// int8 against int8; fp32 (the default) is fp32 against fp32. Models: small, base, minilm, bert-base.
// --config: bench/peers/ has its own package.json, which Deno would otherwise take as the project config.
// OUT_DIR holds the ONNX exports written by torch_distilbert.py (run.sh makes them). Prints one JSON line per
// cell ({"peer":"paired",...}) and then a markdown table. Per pair, each side's burst median is taken (the
// burst's first run, after the switch, not counted); the ratio is the median over pairs of ONNX Runtime's
// burst median / ours, and "ours faster" counts the pairs in which ours had the lower median.

import { parseArgs } from "node:util";
import { benchInputs, loadBenchModel, median, parseModels, TABLE } from "../cases.ts";
import { parseDtype } from "../dtypes.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    models: { type: "string", default: "small,base" },
    pairs: { type: "string", default: "40" },
    "burst-ms": { type: "string", default: "120" },
    threads: { type: "string", default: "2" },
    dtype: { type: "string", default: "fp32" },
  },
});
const outDir = positionals[0];
if (!outDir) {
  console.error(
    "usage: deno run -A --config deno.json bench/peers/paired.ts OUT_DIR [--models ...] [--pairs N]",
  );
  Deno.exit(2);
}
const pairs = Number(values.pairs), burstMs = Number(values["burst-ms"]), threads = Number(values.threads);
const models = parseModels(values.models!);
const dtype = parseDtype(values.dtype!);
// ONNX Runtime's counterpart of each of our dtypes (it has no bf16 graph here)
const ORT_DTYPE: Record<string, string> = { fp32: "fp32", q8: "int8" };
const ortDtype = ORT_DTYPE[dtype];
if (!ortDtype) throw new Error(`--dtype ${dtype}: no ONNX Runtime counterpart (use fp32 or q8)`);

/** The node child, spoken to one JSON line at a time. */
class OrtServer {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;

  constructor() {
    const script = new URL("./ort_distilbert.mjs", import.meta.url).pathname;
    this.#child = new Deno.Command("node", {
      args: [
        script,
        outDir,
        ...["--models", models.join(","), "--threads", String(threads), "--dtype", ortDtype, "--serve", "1"],
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = splitLines(this.#child.stdout.pipeThrough(new TextDecoderStream()))[Symbol.asyncIterator]();
  }

  async next(): Promise<Record<string, unknown>> {
    const r = await this.#lines.next();
    if (r.done) throw new Error("the ONNX Runtime process ended (see its messages above)");
    return JSON.parse(r.value);
  }

  async time(model: string, batch: number, seq: number, runs: number): Promise<number[]> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify({ model, batch, seq, runs }) + "\n"));
    return (await this.next()).times as number[];
  }

  async close(): Promise<void> {
    await this.#writer.close();
    await this.#child.status;
  }
}

async function* splitLines(text: ReadableStream<string>): AsyncIterable<string> {
  let rest = "";
  for await (const chunk of text) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest) yield rest;
}

const ort = new OrtServer();
if (!(await ort.next()).ready) throw new Error("ONNX Runtime did not get ready");

interface Cell {
  model: string;
  batch: number;
  seq: number;
  pairs: number;
  runsPerBurst: number;
  oursMs: number;
  ortMs: number;
  ratio: number;
  oursFaster: number;
}
const cells: Cell[] = [];
for (const name of models) {
  using model = await loadBenchModel(name, threads, dtype);
  for (const [batch, seq] of TABLE) {
    const inputs = benchInputs(model.config, batch, seq);
    const ours = (runs: number) => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        model.forward(inputs);
        times.push(performance.now() - t0);
      }
      return times;
    };
    // Warm-up, and the burst length: as many runs as the slower side fits in burstMs, at least 3. The first
    // run of every burst is not counted: the side that just stopped still has threads spinning for a moment
    // (measured: with single-run bursts, whichever side ran second was 5-20% slower).
    const warm = Math.max(median(ours(5)), median(await ort.time(name, batch, seq, 5)));
    const runs = Math.max(3, Math.min(100, Math.round(burstMs / warm)));
    const oursAll: number[] = [], ortAll: number[] = [], ratios: number[] = [];
    let oursFaster = 0;
    for (let p = 0; p < pairs; p++) {
      let mine: number[], theirs: number[];
      if (p % 2 === 0) {
        theirs = (await ort.time(name, batch, seq, runs + 1)).slice(1);
        mine = ours(runs + 1).slice(1);
      } else {
        mine = ours(runs + 1).slice(1);
        theirs = (await ort.time(name, batch, seq, runs + 1)).slice(1);
      }
      oursAll.push(...mine);
      ortAll.push(...theirs);
      ratios.push(median(theirs) / median(mine));
      if (median(mine) < median(theirs)) oursFaster++;
    }
    const cell: Cell = {
      model: name,
      batch,
      seq,
      pairs,
      runsPerBurst: runs,
      oursMs: median(oursAll),
      ortMs: median(ortAll),
      ratio: median(ratios),
      oursFaster,
    };
    cells.push(cell);
    console.log(JSON.stringify({ peer: "paired", dtype, ort_dtype: ortDtype, ...cell, ratios }));
  }
}
await ort.close();

const fmt = (ms: number) => ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
console.log(
  [
    "",
    `| model | batch x seq | ours ${dtype} ms | onnxruntime ${ortDtype} ms | onnxruntime / ours | ours faster in |`,
    `| --- | --- | ---: | ---: | ---: | ---: |`,
    ...cells.map((c) =>
      `| ${c.model} | ${c.batch}x${c.seq} | ${fmt(c.oursMs)} | ${fmt(c.ortMs)} | ${c.ratio.toFixed(2)}x | ` +
      `${c.oursFaster} of ${c.pairs} pairs |`
    ),
    "",
    `Lockstep: ${pairs} pairs of bursts (~${burstMs} ms of the slower side each, at least 3 runs, plus one ` +
    `uncounted run after each switch), the two sides taking turns; ` +
    `ms: medians over every run; ratio: median over pairs of the burst medians' ratio. ${threads} threads each; ` +
    `OPENBLAS_CORETYPE=${Deno.env.get("OPENBLAS_CORETYPE") ?? "(unset)"}.`,
  ].join("\n"),
);
