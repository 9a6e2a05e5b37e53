// Prints one JSON line per cell of the batch x sequence table (and the sgemm peak), for bench/report.ts and
// bench/peers/compare.ts. Usage:
//   deno run -A bench/forward_cases.ts [--threads N] [--models small,base,minilm,bert-base]
//     [--dtypes fp32,bf16,q8 | --dtype q8]
// Each model runs in every dtype asked (default fp32), every line says its dtype; the interleaved peak ratio
// at the end is fp32's.

import { parseArgs } from "node:util";
import { Backend } from "../src/backend.ts";
import { parseDtype, parseDtypes } from "./dtypes.ts";
import {
  benchInputs,
  forwardFlops,
  loadBenchModel,
  measureSgemmPeak,
  median,
  parseModels,
  sgemmPeakCase,
  TABLE,
  timeMedian,
} from "./cases.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    threads: { type: "string" },
    models: { type: "string", default: "small,base" },
    dtype: { type: "string" },
    dtypes: { type: "string", default: "fp32" },
  },
});
const threads = values.threads ? Number(values.threads) : navigator.hardwareConcurrency;
const models = parseModels(values.models!);
if (values.dtype !== undefined && Deno.args.some((a) => a.startsWith("--dtypes"))) {
  throw new Error("give --dtype or --dtypes, not both");
}
const dtypes = values.dtype !== undefined ? [parseDtype(values.dtype)] : parseDtypes(values.dtypes!);
// The peak is measured before and after the model cases and the better of the two kept: on a shared machine
// one measurement can land in a slow minute and make every percentage meaningless.
const peakBefore = await measureSgemmPeak(threads);
const rows: string[] = [];
for (const name of models) {
  for (const dtype of dtypes) {
    using model = await loadBenchModel(name, threads, dtype);
    for (const [batch, seq] of TABLE) {
      const inputs = benchInputs(model.config, batch, seq);
      const runs = name === "small" ? 300 : batch * seq >= 1024 ? 15 : 40;
      const ms = timeMedian(() => model.forward(inputs), runs);
      // The fp32 model's FLOP count whatever the dtype, so the rows of one cell compare by time.
      const gflops = forwardFlops(model.config, batch, seq) / (ms * 1e6);
      rows.push(
        JSON.stringify({
          peer: "denobert",
          model: name,
          dtype,
          batch,
          seq,
          median_ms: ms,
          runs,
          gflops,
          threads,
        }),
      );
    }
  }
}
// The headline ratio, base 8x128 against the sgemm peak, measured interleaved: each round times one forward
// pass bracketed by sgemms (10 before, 10 after, ~0.2 s each side) and compares it with their median, and
// the median of the per-round ratios is reported, so a slow moment slows both sides of a ratio instead of one.
if (models.includes("base")) {
  using model = await loadBenchModel("base", threads);
  using be = await Backend.open({ threads });
  const sgemm = sgemmPeakCase(be);
  const inputs = benchInputs(model.config, 8, 128);
  const flops = forwardFlops(model.config, 8, 128);
  const ratios: number[] = [];
  const time = (fn: () => void) => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) {
    model.forward(inputs);
    sgemm.run();
  }
  for (let round = 0; round < 25; round++) {
    const sgemmMs: number[] = [];
    for (let i = 0; i < 10; i++) sgemmMs.push(time(sgemm.run));
    const forwardMs = time(() => model.forward(inputs));
    for (let i = 0; i < 10; i++) sgemmMs.push(time(sgemm.run));
    ratios.push((flops / forwardMs) / (sgemm.flops / median(sgemmMs)));
  }
  console.log(JSON.stringify({
    peer: "denobert",
    kind: "peak_ratio_interleaved",
    model: undefined,
    dtype: "fp32",
    cell: "base 8x128",
    rounds: ratios.length,
    median_ratio: median(ratios),
    ratios,
  }));
}
const peakAfter = await measureSgemmPeak(threads);
const peak = peakAfter.gflops > peakBefore.gflops ? peakAfter : peakBefore;
console.log(JSON.stringify({
  peer: "denobert",
  kind: "sgemm_peak",
  gflops: peak.gflops,
  gflops_before: peakBefore.gflops,
  gflops_after: peakAfter.gflops,
  openblas_core: peak.coreName,
  openblas_coretype_env: Deno.env.get("OPENBLAS_CORETYPE") ?? null,
  threads,
}));
for (const row of rows) console.log(row);
