// A Worker for tests/threads_test.ts: loads models with the thread counts it is given, then on "go" runs
// each model's inputs through it `rounds` times, checks that each round gives the bits of its first, and
// sends the first round's output bytes back for comparison with a single-threaded run.
/// <reference lib="deno.worker" />

import type { Dtype } from "../../mod.ts";
import { type BatchInput, forwardOf, loadAs, type ModelKind, outputBytes } from "./forward_inputs.ts";

interface Setup {
  models: { kind: ModelKind; dir: string; threads?: number; dtype?: Dtype; inputs: BatchInput[] }[];
  rounds: number;
}

let setup: Setup;
let models: Awaited<ReturnType<typeof loadAs>>[] = [];

self.onmessage = async (e: MessageEvent<{ kind: "load"; setup: Setup } | { kind: "go" }>) => {
  try {
    if (e.data.kind === "load") {
      setup = e.data.setup;
      models = [];
      for (const m of setup.models) models.push(await loadAs(m.kind, m.dir, m.threads, m.dtype));
      self.postMessage({ kind: "loaded" });
      return;
    }
    const first: Uint8Array[][] = models.map(() => []);
    let mismatches = 0;
    for (let r = 0; r < setup.rounds; r++) {
      for (let m = 0; m < models.length; m++) {
        const inputs = setup.models[m].inputs;
        for (let i = 0; i < inputs.length; i++) {
          const bytes = outputBytes(forwardOf(setup.models[m].kind, models[m], inputs[i]));
          if (r === 0) first[m][i] = bytes;
          else if (!sameBytes(first[m][i], bytes)) mismatches++;
        }
      }
    }
    for (const m of models) m.close();
    self.postMessage({ kind: "done", outputs: first, mismatches });
  } catch (err) {
    self.postMessage({ kind: "error", message: String((err as Error)?.stack ?? err) });
  }
};

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
