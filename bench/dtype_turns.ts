// fp32, bf16 and q8 of one model in one process, taking turns (rounds of a few runs each, one uncounted run
// after each switch), so the ratios quoted in the README compare the same minutes of a shared machine.
// Usage: deno run -A bench/dtype_turns.ts [--model base|minilm|bert-base|small] [--threads 2] [--rounds 5]

import { parseArgs } from "node:util";
import { benchInputs, loadBenchModel, median, parseModels, TABLE } from "./cases.ts";
import { DTYPES } from "./dtypes.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string", default: "base" },
    threads: { type: "string", default: "2" },
    rounds: { type: "string", default: "5" },
  },
});
const [name] = parseModels(values.model!, "--model");
const threads = Number(values.threads), rounds = Number(values.rounds);
const models = await Promise.all(DTYPES.map((d) => loadBenchModel(name, threads, d)));
for (const [batch, seq] of TABLE) {
  const inputs = benchInputs(models[0].config, batch, seq);
  const times = models.map(() => [] as number[]);
  const reps = batch * seq >= 1024 ? 3 : 10;
  for (let r = 0; r < rounds; r++) {
    models.forEach((m, i) => {
      m.forward(inputs);
      for (let k = 0; k < reps; k++) {
        const t0 = performance.now();
        m.forward(inputs);
        times[i].push(performance.now() - t0);
      }
    });
  }
  const ms = times.map(median);
  console.log(JSON.stringify({
    model: name,
    batch,
    seq,
    threads,
    ...Object.fromEntries(DTYPES.map((d, i) => [`${d}_ms`, ms[i]])),
    ...Object.fromEntries(DTYPES.slice(1).map((d, i) => [`${d}_ratio`, ms[i + 1] / ms[0]])),
  }));
}
for (const m of models) m.close();
