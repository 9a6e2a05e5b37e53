// fp32 against the machine's limits in the same minutes: rounds of a short FMA-peak and memory-read
// measurement (bench/limits.c, --only) followed by forward passes, each round's ratio taken on its own and
// the median of the ratios printed. On a shared machine whose speed drifts by 2x over minutes, a limit taken
// once (bench:report's table) and forward medians taken later compare different minutes; this compares the
// same ones.
//
// Also per round: the memory floor, the time to read the encoder's fp32 linear weights once at the measured
// read rate. When the weights are larger than the last-level cache (base: 170 MB) every forward streams them
// from memory, so no kernel can run faster than that floor, and flops / floor / FMA peak is the highest % of
// the peak a forward of that shape can reach on this machine.
//
// Usage: deno run -A bench/fp32_turns.ts [--model base] [--cases 1x32,8x128] [--rounds 7] [--threads 2]
// Prints one JSON line per case.

import { parseArgs } from "node:util";
import { benchInputs, forwardFlops, loadBenchModel, median, parseModels } from "./cases.ts";
import { buildLimits, measureLimits } from "./limits.ts";
import type { EncoderConfig } from "../src/config.ts";

/** Bytes of the encoder's fp32 linear weights (Q, K, V, output, two FFN matrices per layer), biases aside. */
export function linearWeightBytes(c: EncoderConfig): number {
  return 4 * c.n_layers * (4 * c.dim * c.dim + 2 * c.dim * c.hidden_dim);
}

/** The case list "BxS,BxS": each a batch and a sequence length, positive integers. */
export function parseCases(text: string): [number, number][] {
  return text.split(",").map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s.trim());
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
      throw new Error(`--cases takes batch x sequence pairs such as 1x32,8x128, got "${s}"`);
    }
    return [Number(m[1]), Number(m[2])];
  });
}

/** One case's line, as printed. */
export interface Fp32TurnsRow {
  kind: "fp32_turns";
  model: string;
  batch: number;
  seq: number;
  threads: number;
  rounds: number;
  gflop: number;
  weights_mb: number;
  l3_mb: number | null;
  median_ms: number;
  fma_gflops: number;
  mem_gbs: number;
  of_peak: number;
  of_peak_min: number;
  of_peak_max: number;
  floor_ms: number;
  ceiling_of_peak: number;
}

/** BENCHMARKS.md's section: what was measured, then a row per case. */
export function fp32TurnsSection(rows: Fp32TurnsRow[]): string {
  if (!rows.length) return "";
  const r0 = rows[0];
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const cached = r0.l3_mb !== null && r0.weights_mb <= r0.l3_mb;
  const floorNote = cached
    ? `its ${r0.weights_mb.toFixed(0)} MB of fp32 linear weights fit in the ${
      r0.l3_mb!.toFixed(0)
    } MB L3, so the floor below is not a bound`
    : `its ${r0.weights_mb.toFixed(0)} MB of fp32 linear weights are more than the ${
      r0.l3_mb === null ? "(unknown)" : `${r0.l3_mb.toFixed(0)} MB`
    } L3, so every forward reads them from memory and no kernel can beat the floor`;
  return [
    `\`bench/fp32_turns.ts\`: ${r0.model}, ${r0.threads} threads, ${r0.rounds} rounds per case, each a short ` +
    `fp32 FMA peak and memory read measurement (\`limits.c --only fp32_fma,mem_read\`) then forward passes; ` +
    `*% of FMA peak* is the median of the rounds' own ratios (lowest-highest), so the machine's drift ` +
    `between minutes falls on both sides. *Memory floor*: reading the weights once at the round's read ` +
    `rate; ${floorNote}. *Highest % the memory allows*: flops / floor / FMA peak.`,
    "",
    "| model | B,S | median ms | FMA peak (median) | % of FMA peak | memory read | memory floor | highest % the memory allows |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${r.model} | ${r.batch},${r.seq} | ${r.median_ms.toFixed(1)} | ${
        r.fma_gflops.toFixed(0)
      } GFLOP/s | ` +
      `**${pct(r.of_peak)}** (${pct(r.of_peak_min)}-${pct(r.of_peak_max)}) | ${
        r.mem_gbs.toFixed(1)
      } GB/s | ` +
      `${r.floor_ms.toFixed(1)} ms | ${cached ? "-" : pct(Math.min(r.ceiling_of_peak, 1))} |`
    ),
  ].join("\n");
}

/** The size of cpu0's last-level (L3) cache in bytes, from Linux's sysfs; null when unknown. */
async function l3Bytes(): Promise<number | null> {
  const text = await Deno.readTextFile("/sys/devices/system/cpu/cpu0/cache/index3/size").catch(() => null);
  const m = text ? /^(\d+)([KMG]?)/.exec(text.trim()) : null;
  return m ? Number(m[1]) * ({ "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2]] ?? 1) : null;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string", default: "base" },
      cases: { type: "string", default: "1x32,8x128" },
      rounds: { type: "string", default: "7" },
      threads: { type: "string", default: "2" },
    },
  });
  const [name] = parseModels(values.model!, "--model");
  const cases = parseCases(values.cases!);
  const rounds = Number(values.rounds), threads = Number(values.threads);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`--rounds must be a positive integer, got "${values.rounds}"`);
  }
  const model = await loadBenchModel(name, threads, "fp32");
  const binary = await buildLimits();
  const weightBytes = linearWeightBytes(model.config), l3 = await l3Bytes();
  for (const [batch, seq] of cases) {
    const inputs = benchInputs(model.config, batch, seq);
    const flops = forwardFlops(model.config, batch, seq);
    const reps = batch * seq >= 1024 ? 3 : 10;
    const perRound: { ms: number; fma: number; mem: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      // Our pool's idle workers spin for a moment after a pass: let them settle before the limits run.
      await new Promise((done) => setTimeout(done, 50));
      const limits = await measureLimits({
        binary,
        threads,
        seconds: 0.05,
        repeats: 3,
        memMib: 512,
        only: ["fp32_fma", "mem_read"],
      });
      const fma = limits.limits.find((l) => l.what === "fp32_fma")?.value;
      const mem = limits.limits.find((l) => l.what === "mem_read")!.value;
      if (fma === undefined) throw new Error("this CPU has no fp32 FMA limit (limits.c needs AVX2 + FMA)");
      model.forward(inputs); // uncounted: after the switch
      const times: number[] = [];
      for (let k = 0; k < reps; k++) {
        const t0 = performance.now();
        model.forward(inputs);
        times.push(performance.now() - t0);
      }
      perRound.push({ ms: median(times), fma, mem });
    }
    const ratio = perRound.map((p) => flops / (p.ms * 1e6) / p.fma);
    const floorMs = perRound.map((p) => weightBytes / (p.mem * 1e6));
    const ceiling = perRound.map((p, i) => flops / (floorMs[i] * 1e6) / p.fma);
    const sorted = [...ratio].sort((a, b) => a - b);
    const row: Fp32TurnsRow = {
      kind: "fp32_turns",
      model: name,
      batch,
      seq,
      threads,
      rounds,
      gflop: flops / 1e9,
      weights_mb: weightBytes / 1e6,
      l3_mb: l3 === null ? null : l3 / 1e6,
      median_ms: median(perRound.map((p) => p.ms)),
      fma_gflops: median(perRound.map((p) => p.fma)),
      mem_gbs: median(perRound.map((p) => p.mem)),
      of_peak: median(ratio),
      of_peak_min: sorted[0],
      of_peak_max: sorted[sorted.length - 1],
      floor_ms: median(floorMs),
      ceiling_of_peak: median(ceiling),
    };
    console.log(JSON.stringify(row));
  }
  model[Symbol.dispose]();
}
