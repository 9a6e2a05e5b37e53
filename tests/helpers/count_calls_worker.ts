// A Worker for tests/ffi_calls_test.ts: a fresh isolate, so the native library is opened here (once per
// isolate) and every symbol can be wrapped with a counter before the model loads it.
/// <reference lib="deno.worker" />

import { countNativeCalls } from "./count_native_calls.ts";

const counts = new Map<string, number>();
countNativeCalls((name) => counts.set(name, (counts.get(name) ?? 0) + 1));

self.onmessage = async (e: MessageEvent<{ dir: string; dtype?: "fp32" | "bf16" | "q8" }>) => {
  const { DistilBertModel } = await import("../../mod.ts");
  using model = await DistilBertModel.load(e.data.dir, { threads: 2, dtype: e.data.dtype });
  const ids = new Int32Array(2 * 16).fill(1000 % model.config.vocab_size);
  model.forward({ inputIds: { data: ids, dims: [2, 16] } }); // the first pass sizes the buffers
  counts.clear();
  model.forward({ inputIds: { data: ids, dims: [2, 16] } });
  self.postMessage({ counts: [...counts], layers: model.config.n_layers });
  self.close();
};
