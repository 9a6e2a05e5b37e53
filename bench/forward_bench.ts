// deno bench: one forward pass per cell of the batch x sequence table, small and base model (synth-v1
// weights). `deno task bench:report` turns the same cases into BENCHMARKS.md with GFLOP/s and % of peak.

import { benchInputs, loadBenchModel, type ModelName, TABLE } from "./cases.ts";

for (const name of ["small", "base"] as ModelName[]) {
  const model = await loadBenchModel(name);
  for (const [batch, seq] of TABLE) {
    const inputs = benchInputs(model.config, batch, seq);
    Deno.bench({
      name: `${name} forward b${batch} s${seq}`,
      group: `${name} b${batch}`,
      fn: () => {
        model.forward(inputs);
      },
    });
  }
}
