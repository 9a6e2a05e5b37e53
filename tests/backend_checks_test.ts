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
