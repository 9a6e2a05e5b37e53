// Loading the base checkpoint (page cache warm: the first load is not counted) and the memory of a process
// that loads it and runs one 8x128 forward, per dtype, each in a child process of its own (`--dtype D`): peak
// RSS (VmHWM) and RSS after a garbage collection (VmRSS). One JSON line for bench/report.ts.

import { parseArgs } from "node:util";
import { DTYPES } from "../src/backend.ts";
import { parseDtype } from "./dtypes.ts";
import { benchInputs, loadBenchModel, median } from "./cases.ts";

function statusMb(field: "VmHWM" | "VmRSS"): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

const { values } = parseArgs({
  args: Deno.args,
  options: { dtype: { type: "string" }, threads: { type: "string" } },
});
const threads = values.threads ? Number(values.threads) : undefined;

if (values.dtype !== undefined) {
  // Child: one model in one dtype; nothing else loaded before it raises the high-water mark.
  const dtype = parseDtype(values.dtype);
  const model = await loadBenchModel("base", threads, dtype);
  model.forward(benchInputs(model.config, 8, 128));
  const peak = statusMb("VmHWM");
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run the child with --v8-flags=--expose-gc");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log(JSON.stringify({ dtype, peak_rss_mb: peak, rss_mb: statusMb("VmRSS") }));
  model.close();
  Deno.exit(0);
}

const memory: Record<string, { peak_rss_mb: number; rss_mb: number }> = {};
for (const dtype of DTYPES) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--dtype",
      dtype,
      ...(values.threads ? ["--threads", values.threads] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`load_cases.ts --dtype ${dtype} failed (${out.code})`);
  memory[dtype] = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}

const times: number[] = [];
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  const model = await loadBenchModel("base", threads);
  if (i > 0) times.push(performance.now() - t0);
  model.close();
}
console.log(JSON.stringify({ kind: "load", load_ms: median(times), memory }));
