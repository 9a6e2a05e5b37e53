// Backend's packed x (PackedX): a LayerNorm that also writes its output in the form the next fp32 packed
// linear reads (dbk_bias_residual_layernorm_packed), and linearPacked / feedForward reading it instead of
// packing x themselves. The same bits as the row-major path, and a packed x of the wrong shape, too short,
// or overlapping a buffer the kernel reads is refused before C sees it.

import assert from "node:assert/strict";
import { Backend, type PackedX } from "../src/backend.ts";
import { packedWeight as packed, randoms } from "./helpers/packed_weights.ts";

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

Deno.test("packed x: LayerNorm's packed output gives the linears the bits of row-major x", async () => {
  for (const threads of [1, 2]) {
    using be = await Backend.open({ threads });
    const rand = randoms(4242 + threads);
    const pw = be.panelWidth, d = 100, h = 3 * pw, n = 2 * pw;
    const l1 = packed(be, rand(h * d, 0.2), h, d), l2 = packed(be, rand(n * h, 0.2), n, h);
    const b1 = rand(h, 1), gamma = rand(d, 1.5), beta = rand(d, 0.5), bias = rand(d, 0.5);
    // 1 and 13 tokens: partial panels; 700: several LayerNorm tasks and token blocks.
    for (const t of [1, 13, 700]) {
      const x = rand(t * d, 3), residual = rand(t * d, 3);
      const plain = new Float32Array(t * d), out = new Float32Array(t * d);
      be.biasResidualLayerNorm(x, bias, residual, t, d, gamma, beta, 1e-12, plain);
      const xp: PackedX = { packed: new Float32Array(be.packedXFloats(t, d)).fill(NaN), rows: t, cols: d };
      be.biasResidualLayerNorm(x, bias, residual, t, d, gamma, beta, 1e-12, out, xp);
      assert.deepEqual(bits(out), bits(plain), `layernorm output, ${threads} threads, ${t} tokens`);

      const want = new Float32Array(t * h), got = new Float32Array(t * h).fill(NaN);
      be.linearPacked(plain, l1.w, b1, want, t, h, d, "gelu");
      be.linearPacked(xp, l1.w, b1, got, t, h, d, "gelu");
      assert.deepEqual(bits(got), bits(want), `linear, ${threads} threads, ${t} tokens`);

      const ffnWant = new Float32Array(t * n), ffnGot = new Float32Array(t * n).fill(NaN);
      be.feedForward(plain, l1, b1, l2, null, ffnWant, t, "gelu");
      be.feedForward(xp, l1, b1, l2, null, ffnGot, t, "gelu");
      assert.deepEqual(bits(ffnGot), bits(ffnWant), `feed-forward, ${threads} threads, ${t} tokens`);
    }
  }
});

Deno.test("packed x: another shape, a short buffer or an overlapping one is refused", async () => {
  using be = await Backend.open({ threads: 1 });
  const rand = randoms(99);
  const pw = be.panelWidth, t = 13, d = 64, h = 2 * pw;
  const l1 = packed(be, rand(h * d, 0.2), h, d), l2 = packed(be, rand(d * h, 0.2), d, h);
  const x = rand(t * d, 1), residual = rand(t * d, 1), gamma = rand(d, 1), beta = rand(d, 1);
  const out = new Float32Array(t * d), y = new Float32Array(t * h), floats = be.packedXFloats(t, d);
  const xp: PackedX = { packed: new Float32Array(floats), rows: t, cols: d };
  be.biasResidualLayerNorm(x, gamma, residual, t, d, gamma, beta, 1e-12, out, xp);

  // Packed for 13 rows of 64, read as 12 or 14 rows, or 32 columns: the panels would be misread.
  assert.throws(
    () => be.linearPacked(xp, l1.w, null, y, 12, h, d),
    /packed x of 13x64 for a linear of 12x64/,
  );
  assert.throws(() => be.linearPacked(xp, l1.w, null, y, 14, h, d), /packed x of 13x64/);
  assert.throws(
    () => be.feedForward(xp, l1, null, l2, null, new Float32Array(14 * d), 14),
    /packed x of 13x64/,
  );
  // A buffer shorter than the padded panels.
  const short: PackedX = { packed: new Float32Array(floats - 1), rows: t, cols: d };
  assert.throws(() => be.linearPacked(short, l1.w, null, y, t, h, d), /packed x buffer for 13x64/);
  assert.throws(
    () => be.biasResidualLayerNorm(x, gamma, residual, t, d, gamma, beta, 1e-12, out, short),
    /packed x buffer for 13x64/,
  );
  // The packed output over one of the LayerNorm's own buffers, or a linear's output over the packed x.
  const big = new Float32Array(floats + t * d);
  const overOut: PackedX = { packed: big.subarray(0, floats), rows: t, cols: d };
  assert.throws(
    () =>
      be.biasResidualLayerNorm(
        x,
        gamma,
        residual,
        t,
        d,
        gamma,
        beta,
        1e-12,
        big.subarray(floats - 1),
        overOut,
      ),
    /packed layernorm output overlaps another buffer/,
  );
  assert.throws(
    () => be.linearPacked(xp, l1.w, null, xp.packed.subarray(0, t * h), t, h, d),
    /linear output overlaps an input/,
  );
  assert.throws(
    () => be.feedForward(xp, l1, null, l2, null, xp.packed.subarray(0, t * d), t),
    /feed-forward output overlaps an input/,
  );
  // A bf16 feed-forward reads x row-major only.
  const w = rand(64 * 64, 0.25),
    bf1 = be.packLowp("bf16", 0, w, 64, 64),
    bf2 = be.packLowp("bf16", 0, w, 64, 64);
  assert.throws(() => be.feedForward(xp, bf1, null, bf2, null, out, t), /takes x row-major/);
});
