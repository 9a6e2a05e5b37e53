// Loading the base checkpoint (page cache warm: the first load is not counted) and the peak RSS of a
// process that loads it and runs one 8x128 forward. One JSON line for bench/report.ts.

import { benchInputs, loadBenchModel, median } from "./cases.ts";

function peakRssMb(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

// Peak first, before later loads raise the high-water mark.
const first = await loadBenchModel("base");
first.forward(benchInputs(first.config, 8, 128));
const peak = peakRssMb();
first.close();
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const model = await loadBenchModel("base");
  times.push(performance.now() - t0);
  model.close();
}
console.log(JSON.stringify({ kind: "load", load_ms: median(times), peak_rss_mb: peak }));
