import { benchInputs, loadBenchModel, median } from "./cases.ts";
const models = {
  fp32: await loadBenchModel("base", 2, "fp32"),
  bf16: await loadBenchModel("base", 2, "bf16"),
  q8: await loadBenchModel("base", 2, "q8"),
};
for (const [b, s] of [[1, 32], [1, 128], [8, 32], [8, 128]]) {
  const inputs = benchInputs(models.fp32.config, b, s);
  const t: Record<string, number[]> = { fp32: [], bf16: [], q8: [] };
  const reps = b * s >= 1024 ? 3 : 10;
  for (let round = 0; round < 5; round++) {
    for (const [k, m] of Object.entries(models)) {
      m.forward(inputs);
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        m.forward(inputs);
        t[k].push(performance.now() - t0);
      }
    }
  }
  const f = median(t.fp32);
  console.log(
    `${b}x${s}: fp32 ${f.toFixed(2)} ms, bf16 ${median(t.bf16).toFixed(2)} (${
      (median(t.bf16) / f).toFixed(2)
    }x), q8 ${median(t.q8).toFixed(2)} (${(median(t.q8) / f).toFixed(2)}x)`,
  );
}
