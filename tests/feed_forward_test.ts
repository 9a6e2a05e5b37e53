// Backend.feedForward, the transformer's feed-forward block in one native call (dbk_packed_ffn in fp32,
// dbk_bf16_ffn in bf16): the same bits as its two linears, whatever the batch's shape (partial token panels,
// more than one token block, one thread or two), and weights it cannot fuse refused.

import assert from "node:assert/strict";
import { Backend, LOWP_PATHS } from "../src/backend.ts";
import { packedWeight as packed, randoms } from "./helpers/packed_weights.ts";

Deno.test("feed-forward: the fp32 block gives its two packed linears' bits; unpacked weights refused", async () => {
  for (const threads of [1, 2]) {
    using be = await Backend.open({ threads });
    const rand = randoms(777 + threads);
    const pw = be.panelWidth, k = 96, h = 6 * pw, n = 2 * pw;
    const w1 = rand(h * k, 0.2), w2 = rand(n * h, 0.2), b1 = rand(h, 1), b2 = rand(n, 1);
    const l1 = packed(be, w1, h, k), l2 = packed(be, w2, n, h);
    // 1 and 13 tokens: a partial token panel; 300: two token blocks, the last panel partial, and enough
    // work for both threads.
    for (const m of [1, 13, 300]) {
      const x = rand(m * k, 3);
      for (const [bias, act] of [[b2, "gelu"], [null, "relu"], [b2, "none"]] as const) {
        const hidden = new Float32Array(m * h),
          two = new Float32Array(m * n),
          fused = new Float32Array(m * n);
        be.linearPacked(x, l1.w, b1, hidden, m, h, k, act);
        be.linearPacked(hidden, l2.w, bias, two, m, n, h);
        fused.fill(NaN);
        be.feedForward(x, l1, b1, l2, bias, fused, m, act);
        assert.deepEqual(
          new Uint32Array(fused.buffer),
          new Uint32Array(two.buffer),
          `${threads} ${m} ${act}`,
        );
      }
    }
    const x = rand(13 * k, 3), y = new Float32Array(13 * n);
    const unpacked = { ...l2, w: w2, packed: false };
    assert.throws(() => be.feedForward(x, l1, b1, unpacked, null, y, 13), /takes two packed fp32 weights/);
    assert.throws(() => be.feedForward(x, l1, b1, l1, null, y, 13), /feed-forward widths 96 -> \d+ -> 96/);
    assert.throws(() => be.feedForward(x, l1, b1, l2, null, x, 13), /overlaps an input/);
    assert.throws(() => be.feedForward(x, l1, b1, l2, null, y, 14), /feed-forward 14x96x/);
  }
});

Deno.test("feed-forward: the bf16 block gives its two linears' bits; mismatched weights refused", async () => {
  using be = await Backend.open({ threads: 2 });
  const rand = randoms(12345);
  const m = 13, k = 96, h = 200, n = 40;
  const w1 = rand(h * k, 0.2), w2 = rand(n * h, 0.2), b1 = rand(h, 1), b2 = rand(n, 1);
  const x = rand(600 * k, 3);
  for (const path of be.lowpPaths().bf16.map((p) => LOWP_PATHS.indexOf(p))) {
    const l1 = be.packLowp("bf16", path, w1, h, k), l2 = be.packLowp("bf16", path, w2, n, h);
    // 13 tokens: one partial tile; 600: three token blocks, the block by block path.
    for (const rows of [m, 600]) {
      const hidden = new Float32Array(rows * h), two = new Float32Array(rows * n);
      const fused = new Float32Array(rows * n).fill(NaN);
      be.linearLowp(x, l1, b1, hidden, rows, "gelu");
      be.linearLowp(hidden, l2, b2, two, rows);
      be.feedForward(x, l1, b1, l2, b2, fused, rows, "gelu");
      assert.deepEqual(
        new Uint32Array(fused.buffer),
        new Uint32Array(two.buffer),
        `${LOWP_PATHS[path]} ${rows}`,
      );
    }
  }
  const path = be.lowpPath("bf16");
  const l1 = be.packLowp("bf16", path, w1, h, k), l2 = be.packLowp("bf16", path, w2, n, h);
  const y = new Float32Array(m * n);
  const narrow = be.packLowp("bf16", path, w2, n, h - 8);
  assert.throws(
    () => be.feedForward(x, l1, b1, narrow, null, y, m),
    /feed-forward widths 96 -> 200 -> 192/,
  );
  const q8 = be.packLowp("q8", be.lowpPath("q8"), w2, n, h);
  assert.throws(
    () => be.feedForward(x, l1, b1, q8, null, y, m),
    /takes two packed fp32 weights or two bf16 weights/,
  );
  assert.throws(() => be.feedForward(x, l1, b1, l2, null, x, m), /overlaps an input/);
  assert.throws(() => be.feedForward(x, l1, b1, l2, null, y, m + 1), /feed-forward 14x96x200x40/);
  if (path !== 0) {
    const other = be.packLowp("bf16", 0, w2, n, h);
    assert.throws(() => be.feedForward(x, l1, b1, other, null, y, m), /on one kernel path/);
  }
});
