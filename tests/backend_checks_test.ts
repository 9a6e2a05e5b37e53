// Backend's checks before each native call (src/backend.ts, ffi/kernels.h's contract): arguments that would
// make a kernel read or write outside its buffers, or run code the CPU or the build does not have, are
// refused with a RangeError before C sees them. Each case here got through once.

import assert from "node:assert/strict";
import { Backend, LOWP_PATHS } from "../src/backend.ts";

Deno.test("backend checks: scatter and gather take a whole number of rows", async () => {
  using be = await Backend.open({ threads: 1 });
  // dst holds 2.5 rows of 2: row 2 would be written to floats 4 and 5, one past the view's end.
  const whole = new Float32Array(8), dst = whole.subarray(0, 5);
  for (const rows of [2.5, -1, NaN]) {
    assert.throws(
      () => be.scatterRows(new Float32Array([7, 7]), 1, 2, new Int32Array([2]), dst, rows),
      /scatter destination/,
    );
    assert.throws(
      () => be.gatherRows(whole.subarray(0, 5), rows, 1, 2, new Int32Array([2]), new Float32Array(2)),
      /gather source/,
    );
  }
  assert.deepEqual(whole, new Float32Array(8), "nothing written past the view");
  // Whole row counts still work.
  be.scatterRows(new Float32Array([7, 8]), 1, 2, new Int32Array([1]), dst, 2);
  assert.deepEqual(Array.from(whole), [0, 0, 7, 8, 0, 0, 0, 0]);
  const out = new Float32Array(2);
  be.gatherRows(dst, 2, 1, 2, new Int32Array([1]), out);
  assert.deepEqual(Array.from(out), [7, 8]);
});

Deno.test("backend checks: a kernel path past the last is refused, whatever was asked before", async () => {
  using be = await Backend.open({ threads: 1 });
  const w = new Float32Array(64 * 64).fill(0.5);
  // The plain C path runs everywhere: q8 on it is cached as runnable. bf16's "path 8" once read that same
  // cache entry (dtype code * 8 + path), was packed, and dbk_bf16_linear then crashed on a path it has not.
  be.packLowp("q8", 0, w, 64, 64);
  for (const path of [8, 13, LOWP_PATHS.length, -1, 0.5]) {
    assert.throws(() => be.packLowp("bf16", path, w, 64, 64), /kernel path/, `path ${path}`);
    const forged = { ...be.packLowp("bf16", 0, w, 64, 64), path };
    assert.throws(
      () => be.linearLowp(new Float32Array(64), forged, null, new Float32Array(64), 1),
      /kernel path of the weights/,
      `path ${path}`,
    );
  }
});

Deno.test("backend checks: an output that overlaps an input or the weights is refused", async () => {
  using be = await Backend.open({ threads: 1 });
  const w = new Float32Array(64 * 64).fill(0.25), x = new Float32Array(64).fill(1);
  for (const dtype of ["bf16", "q8"] as const) {
    const lw = be.packLowp(dtype, 0, w, 64, 64);
    // A Float32Array over the packed weights themselves: the kernel would overwrite what it still reads.
    const onWeights = new Float32Array(lw.w.buffer, lw.w.byteOffset, 64);
    assert.throws(() => be.linearLowp(x, lw, null, onWeights, 1), /overlaps an input/, dtype);
    if (lw.dtype === "q8") {
      const onScale = new Float32Array(lw.scale.buffer, lw.scale.byteOffset, 64);
      assert.throws(() => be.linearLowp(x, lw, null, onScale, 1), /overlaps an input/);
    }
  }
  const l1 = be.packLowp("bf16", 0, w, 64, 64), l2 = be.packLowp("bf16", 0, w, 64, 64);
  for (const weights of [l1, l2]) {
    const y = new Float32Array(weights.w.buffer, weights.w.byteOffset, 64);
    assert.throws(() => be.feedForward(x, l1, null, l2, null, y, 1), /overlaps an input/);
  }
  // Attention: one sequence of 2 tokens, 2 heads of 4.
  const nHeads = 2, headDim = 4, dim = nHeads * headDim, t = 2;
  const qkv = new Float32Array(t * 3 * dim + t * dim).fill(0.5), bias = new Float32Array(3 * dim);
  const starts = new Int32Array([0, t]), uniform = new Uint8Array(1);
  const scratch = new Float32Array(be.attentionScratchSize(t, headDim));
  const args = (out: Float32Array, s = scratch) => () =>
    be.attention(qkv, bias, starts, uniform, 1, nHeads, headDim, s, out);
  assert.throws(args(qkv.subarray(0, t * dim)), /attention output or scratch overlaps an input/);
  assert.throws(args(new Float32Array(t * dim), qkv), /attention output or scratch overlaps an input/);
  assert.throws(args(scratch.subarray(0, t * dim)), /attention output overlaps its scratch/);
  args(new Float32Array(t * dim))(); // separate buffers still run
  // Rows copied within one buffer: memcpy of overlapping rows.
  const rows = new Float32Array(8);
  assert.throws(
    () => be.scatterRows(rows.subarray(0, 4), 2, 2, new Int32Array([1, 2]), rows.subarray(2), 3),
    /scatter destination overlaps its source/,
  );
  assert.throws(
    () => be.gatherRows(rows.subarray(2), 3, 2, 2, new Int32Array([1, 2]), rows.subarray(0, 4)),
    /gather destination overlaps its source/,
  );
});
