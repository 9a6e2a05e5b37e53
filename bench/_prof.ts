import { benchInputs, loadBenchModel } from "./cases.ts";
import { Backend } from "../src/backend.ts";
const acc: Record<string, number> = {};
for (const name of ["linearLowp", "linearPacked", "attention", "biasResidualLayerNorm", "embedLayerNorm", "scatterRows", "gatherRows"]) {
  // deno-lint-ignore no-explicit-any
  const proto = Backend.prototype as any; const orig = proto[name]; if (!orig) continue;
  proto[name] = function (...a: unknown[]) { const t0 = performance.now(); const r = orig.apply(this, a); acc[name] = (acc[name] ?? 0) + performance.now() - t0; return r; };
}
for (const dtype of ["fp32", "q8", "bf16"] as const) {
  const m = await loadBenchModel("base", 2, dtype);
  const inputs = benchInputs(m.config, Number(Deno.args[0] ?? 8), Number(Deno.args[1] ?? 128));
  m.forward(inputs);
  for (const k of Object.keys(acc)) acc[k] = 0;
  const t0 = performance.now(); for (let i = 0; i < 20; i++) m.forward(inputs); const tot = (performance.now() - t0) / 20;
  console.log(dtype, tot.toFixed(1), Object.entries(acc).map(([k, v]) => `${k} ${(v / 20).toFixed(1)}`).join(", "));
  m.close();
}
