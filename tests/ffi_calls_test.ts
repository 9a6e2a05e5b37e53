// How many native calls one forward pass makes: each costs a JS -> C transition, which at the small model's
// sub-millisecond passes is a visible share of the time. Counted by wrapping every symbol of every library
// opened while the test runs (Deno.dlopen is patched for its duration only).

import assert from "node:assert/strict";
import { DistilBertModel } from "../mod.ts";
import { ensureSynthModel } from "./helpers/synth_cache.ts";

type Counts = Map<string, number>;

async function countedLoad(dir: string): Promise<{ model: DistilBertModel; counts: Counts }> {
  const counts: Counts = new Map();
  const dlopen = Deno.dlopen;
  // deno-lint-ignore no-explicit-any
  (Deno as any).dlopen = (path: string | URL, symbols: Deno.ForeignLibraryInterface) => {
    const lib = dlopen(path, symbols);
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(lib.symbols)) {
      wrapped[name] = typeof fn === "function"
        ? (...args: unknown[]) => {
          counts.set(name, (counts.get(name) ?? 0) + 1);
          return (fn as (...a: unknown[]) => unknown)(...args);
        }
        : fn;
    }
    return { symbols: wrapped, close: () => lib.close() };
  };
  try {
    return { model: await DistilBertModel.load(dir, { threads: 2 }), counts };
  } finally {
    // deno-lint-ignore no-explicit-any
    (Deno as any).dlopen = dlopen;
  }
}

function total(c: Counts): number {
  return [...c.values()].reduce((a, b) => a + b, 0);
}

for (const size of ["base", "tiny"] as const) {
  Deno.test(`native calls per forward pass: ${size} model`, async () => {
    const { model, counts } = await countedLoad(await ensureSynthModel(size, "mlm"));
    try {
      const layers = model.config.n_layers;
      const ids = new Int32Array(2 * 16).fill(1000 % model.config.vocab_size);
      model.forward({ inputIds: { data: ids, dims: [2, 16] } }); // the first pass sizes the buffers
      counts.clear();
      model.forward({ inputIds: { data: ids, dims: [2, 16] } });
      const breakdown = [...counts].map(([k, v]) => `${k} ${v}`).join(", ");
      console.log(`  ${size}: ${total(counts)} native calls (${breakdown})`);
      // Per layer: the QKV, out, FFN1 and FFN2 linears (packed: FFN1's bias and GELU in the same call;
      // unpacked: one more call for them), attention, two LayerNorms. Plus the embeddings and the copy of the
      // packed rows into the padded [batch, seq, dim] output.
      const perLayer = size === "base" ? 7 : 8;
      assert.ok(
        total(counts) <= 2 + perLayer * layers,
        `${total(counts)} native calls, expected at most ${2 + perLayer * layers}: ${breakdown}`,
      );
    } finally {
      model.close();
    }
  });
}
