// What running several models at once costs and gains (a benchmark, not a test): the same forward passes
// done by one model on the main thread, or split over W Workers each with its own model and `threads`.
// Reports passes per second per configuration, as a median of 5 rounds, the configurations taking turns.
//
//   deno run -A bench/parallel.ts [--model sst2|base] [--passes 64]

import { parseArgs } from "node:util";
import { makeBatch } from "../tests/helpers/forward_inputs.ts";
import { ensureSynthModel } from "../tests/helpers/synth_cache.ts";
import { median } from "./cases.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { model: { type: "string", default: "sst2" }, passes: { type: "string", default: "64" } },
});
const PASSES = Number(values.passes);
const dir = values.model === "base"
  ? await ensureSynthModel("base", "mlm")
  : new URL("../weights/sst2-distilbert-small", import.meta.url).pathname;
const vocab = values.model === "base" ? 30522 : 11454;
const input = makeBatch(8, 32, vocab, 1);

const WORKER = `
import { DistilBertModel } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
let model;
self.onmessage = async (e) => {
  if (e.data.load) { model = await DistilBertModel.load(e.data.dir, { threads: e.data.threads }); self.postMessage("ready"); return; }
  for (let i = 0; i < e.data.passes; i++) model.forward(e.data.input);
  self.postMessage("done");
};`;
const workerUrl = `data:application/typescript;base64,${btoa(WORKER)}`;

interface Config {
  name: string;
  workers: number;
  threads: number;
}
const configs: Config[] = [
  { name: "1 model, threads 2", workers: 1, threads: 2 },
  { name: "1 model, threads 1", workers: 1, threads: 1 },
  { name: "2 Workers, threads 1 each", workers: 2, threads: 1 },
  { name: "2 Workers, threads 2 each", workers: 2, threads: 2 },
  { name: "4 Workers, threads 1 each", workers: 4, threads: 1 },
];

const reply = (w: Worker) => new Promise((r) => (w.onmessage = (e) => r(e.data)));
const pools = new Map<Config, Worker[]>();
for (const c of configs) {
  const ws = Array.from({ length: c.workers }, () => new Worker(workerUrl, { type: "module" }));
  await Promise.all(ws.map((w) => {
    const p = reply(w);
    w.postMessage({ load: true, dir, threads: c.threads });
    return p;
  }));
  pools.set(c, ws);
}
const rates = new Map<Config, number[]>(configs.map((c) => [c, []]));
for (let round = 0; round < 6; round++) {
  for (const c of configs) {
    const ws = pools.get(c)!;
    const each = Math.ceil(PASSES / ws.length);
    const t0 = performance.now();
    await Promise.all(ws.map((w) => {
      const p = reply(w);
      w.postMessage({ passes: each, input });
      return p;
    }));
    if (round > 0) rates.get(c)!.push((each * ws.length) / ((performance.now() - t0) / 1000)); // round 0 warms up
  }
}
const base = median(rates.get(configs[0])!);
console.log(`| ${values.model} 8x32 | passes/s (median of 5) | vs 1 model, threads 2 |\n|---|---|---|`);
for (const c of configs) {
  const r = median(rates.get(c)!);
  console.log(`| ${c.name} | ${r.toFixed(1)} | ${(r / base).toFixed(2)}x |`);
}
for (const ws of pools.values()) ws.forEach((w) => w.terminate());
