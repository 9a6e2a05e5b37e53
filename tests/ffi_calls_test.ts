// How many native calls one forward pass makes: each costs a JS -> C transition, which at the small model's
// sub-millisecond passes is a visible share of the time. Counted in a Worker (a fresh isolate, where the
// native library is opened anew) that wraps every symbol of every library it opens.

import assert from "node:assert/strict";
import { ensureSynthModel } from "./helpers/synth_cache.ts";

async function countCalls(
  dir: string,
  dtype?: "fp32" | "bf16" | "q8",
): Promise<{ counts: Map<string, number>; layers: number }> {
  const worker = new Worker(new URL("./helpers/count_calls_worker.ts", import.meta.url), { type: "module" });
  try {
    const reply = await new Promise<{ counts: [string, number][]; layers: number }>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`counting worker failed: ${e.message}`));
      };
      worker.postMessage({ dir, dtype });
    });
    return { counts: new Map(reply.counts), layers: reply.layers };
  } finally {
    worker.terminate();
  }
}

function total(c: Map<string, number>): number {
  return [...c.values()].reduce((a, b) => a + b, 0);
}

for (const size of ["base", "tiny"] as const) {
  Deno.test(`native calls per forward pass: ${size} model`, async () => {
    const { counts, layers } = await countCalls(await ensureSynthModel(size, "mlm"));
    const breakdown = [...counts].map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(`  ${size}: ${total(counts)} native calls (${breakdown})`);
    // Per layer: the QKV and out linears, the feed-forward block (packed: one call, FFN1's bias and GELU
    // in it; unpacked: FFN1, its bias and GELU, FFN2), attention, two LayerNorms. Plus the embeddings and
    // the copy of the packed rows into the padded [batch, seq, dim] output.
    const perLayer = size === "base" ? 6 : 8;
    assert.ok(
      total(counts) <= 2 + perLayer * layers,
      `${total(counts)} native calls, expected at most ${2 + perLayer * layers}: ${breakdown}`,
    );
    // Every layer's calls were seen (a count of nothing would pass the bound above).
    assert.equal(counts.get("dbk_attention"), layers, breakdown);
    assert.equal(counts.get("dbk_embed_layernorm"), 1, breakdown);
    if (size === "base") {
      assert.equal(counts.get("dbk_packed_ffn"), layers, breakdown);
      assert.equal(counts.get("dbk_packed_linear"), 2 * layers, breakdown);
    }
  });
}

Deno.test("native calls per forward pass: base model in bf16, the feed-forward block one call", async () => {
  const { counts, layers } = await countCalls(await ensureSynthModel("base", "mlm"), "bf16");
  const breakdown = [...counts].map(([k, v]) => `${k} ${v}`).join(", ");
  // Per layer: the QKV and out linears, the feed-forward block (dbk_bf16_ffn), attention, two LayerNorms.
  assert.equal(counts.get("dbk_bf16_ffn"), layers, breakdown);
  assert.equal(counts.get("dbk_bf16_linear"), 2 * layers, breakdown);
  assert.ok(total(counts) <= 2 + 6 * layers, `${total(counts)} native calls: ${breakdown}`);
});
