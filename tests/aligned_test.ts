// src/aligned.ts: buffers on 64-byte cache lines, and the weights file of a model's own load read into one
// so that its tensor data (packed in place for the kernels) starts on a line. Addresses are read through
// Deno.UnsafePointer (the tests run with the FFI permission).

import assert from "node:assert/strict";
import {
  alignedArray,
  alignedBytes,
  bestLineStart,
  HUGE_PAGE_BYTES,
  LINE_BYTES,
  onLine,
} from "../src/aligned.ts";
import { Backend } from "../src/backend.ts";
import { openExclusiveCheckpoint } from "../src/checkpoint.ts";
import { SafetensorsError, SafetensorsFile, serializeSafetensors } from "../src/safetensors.ts";
import { encoderPrefix, loadEncoderWeights, TensorReader } from "../src/weights.ts";
import { tinyModelDir } from "./helpers/tiny_models.ts";

const SST2 = new URL("../weights/sst2-distilbert-small", import.meta.url).pathname;
const addressOf = (view: ArrayBufferView): bigint => Deno.UnsafePointer.value(Deno.UnsafePointer.of(view));
const lineOffset = (view: ArrayBufferView, at = 0): number =>
  Number((addressOf(view) + BigInt(at)) % BigInt(LINE_BYTES));

Deno.test("alignedBytes: byte `at` on a cache line, the length asked for, zeroed", () => {
  for (const length of [0, 1, 63, 64, 1000, 1 << 20, (1 << 22) + 8]) {
    for (const at of [0, 1, 8, 40, 100].filter((a) => a <= length)) {
      const bytes = alignedBytes(length, at);
      assert.equal(bytes.length, length);
      if (length > 0) assert.equal(lineOffset(bytes, at), 0, `length ${length}, at ${at}`);
      assert.ok(bytes.every((b) => b === 0));
    }
  }
  assert.throws(() => alignedBytes(-1), RangeError);
  assert.throws(() => alignedBytes(10, 11), /an offset within it/);
  assert.throws(() => alignedBytes(1.5), RangeError);
});

Deno.test("alignedBytes: any power-of-two alignment, such as a 2 MB page", () => {
  for (const alignment of [1, 128, 4096, HUGE_PAGE_BYTES]) {
    const bytes = alignedBytes(3 * HUGE_PAGE_BYTES, 0, alignment);
    assert.equal(bytes.length, 3 * HUGE_PAGE_BYTES);
    assert.equal(addressOf(bytes) % BigInt(alignment), 0n, `alignment ${alignment}`);
  }
  const at = alignedBytes(5000, 100, 4096);
  assert.equal((addressOf(at) + 100n) % 4096n, 0n);
  for (const bad of [0, 3, 96, -64, 1.5]) {
    assert.throws(() => alignedBytes(10, 0, bad), /is not a power of two/, `alignment ${bad}`);
  }
});

Deno.test("alignedArray: every element type starts on a cache line", () => {
  for (const length of [1, 17, 768 * 768, 3 << 20]) {
    for (const type of [Float32Array, Uint16Array, Uint8Array] as const) {
      const a = alignedArray<ArrayBufferView & { length: number }>(type, length);
      assert.equal(a.length, length);
      assert.equal(lineOffset(a), 0, `${type.name}(${length})`);
    }
  }
});

Deno.test("bestLineStart: the offset modulo 64 that the most tensor bytes share", () => {
  assert.equal(bestLineStart([]), 0);
  // A classifier's 8-byte bias first, then everything 8 bytes past a line.
  const sst2Like = [
    { byteOffset: 200, byteLength: 8 },
    { byteOffset: 208, byteLength: 6144 },
    { byteOffset: 208 + 6144, byteLength: 3072 * 768 },
  ];
  assert.equal(bestLineStart(sst2Like), 208 % 64);
  assert.equal(bestLineStart([{ byteOffset: 64, byteLength: 10 }, { byteOffset: 100, byteLength: 11 }]), 36);
});

Deno.test("SafetensorsFile.open: allocate makes the buffer, knowing where the tensors are", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denobert-aligned-" });
  try {
    const tensors = {
      bias: { dtype: "F32" as const, shape: [3], data: new Float32Array([1, 2, 3]) },
      weight: { dtype: "F32" as const, shape: [2, 16], data: new Float32Array(32).map((_, i) => i) },
    };
    const raw = serializeSafetensors(tensors);
    const file = `${dir}/m.safetensors`;
    await Deno.writeFile(file, raw);
    const plain = await SafetensorsFile.open(file);
    const calls: [number, string[]][] = [];
    const opened = await SafetensorsFile.open(file, {
      allocate: (size, infos) => {
        calls.push([size, infos.map((t) => `${t.byteOffset}+${t.byteLength}`)]);
        return alignedBytes(size, bestLineStart(infos));
      },
    });
    const where = ["bias", "weight"].map((n) => `${plain.info(n).byteOffset}+${plain.info(n).byteLength}`);
    assert.deepEqual(calls, [[raw.length, where]]);
    // The larger tensor wins the line; the 12-byte bias before it is 12 bytes short of one.
    assert.equal(lineOffset(opened.bytes, plain.info("weight").byteOffset), 0);
    assert.deepEqual(opened.getFloat32("weight"), plain.getFloat32("weight"));
    assert.deepEqual(opened.bytes, raw);

    // A header length past the end: no tensors to place, and the header check names the problem.
    const bad = raw.slice();
    new DataView(bad.buffer).setBigUint64(0, BigInt(raw.length), true);
    await Deno.writeFile(`${dir}/bad.safetensors`, bad);
    const seen: number[] = [];
    await assert.rejects(
      SafetensorsFile.open(`${dir}/bad.safetensors`, {
        allocate: (size, infos) => (seen.push(infos.length), new Uint8Array(size)),
      }),
      /runs past the end of the file/,
    );
    assert.deepEqual(seen, [0]);

    await assert.rejects(
      SafetensorsFile.open(file, { allocate: (size) => new Uint8Array(size - 1) }),
      (e) => e instanceof SafetensorsError && /allocate\(\d+\) returned \d+ bytes/.test(e.message),
    );
    await assert.rejects(
      SafetensorsFile.open(file, { perTensor: true, allocate: (size) => new Uint8Array(size) }),
      /not perTensor/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a model's own load places its weights file so that its encoder's weights start on cache lines", async () => {
  // The embedded SST-2 checkpoint sorts its small classifier.bias first, ahead of the encoder.
  const sst2 = (await openExclusiveCheckpoint(SST2)).file;
  const linears = [...sst2.tensors.keys()].filter((n) =>
    /\.(q_lin|k_lin|v_lin|out_lin|lin1|lin2)\.weight$/.test(n)
  );
  assert.ok(linears.length >= 6, `${linears}`);
  for (const n of linears) assert.equal(lineOffset(sst2.bytes, sst2.info(n).byteOffset), 0, n);
  // The tiny model's odd widths (FFN 37) scatter its tensors: the largest group that shares a line is aligned.
  const dir = await tinyModelDir("mlm");
  try {
    const { file } = await openExclusiveCheckpoint(dir);
    const infos = [...file.tensors.values()];
    const best = bestLineStart(infos);
    const group = infos.filter((t) => t.byteOffset % LINE_BYTES === best);
    assert.ok(group.length > 0 && group.length < infos.length, `${group.length} of ${infos.length}`);
    for (const t of group) assert.equal(lineOffset(file.bytes, t.byteOffset), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without the FFI permission: plain buffers of the same sizes, no prompt, no error", async () => {
  const aligned = new URL("../src/aligned.ts", import.meta.url).href;
  const code = `import { alignedArray, alignedBytes } from "${aligned}";
    const b = alignedBytes(1000, 40), f = alignedArray(Float32Array, 300);
    f[299] = 1;
    console.log(JSON.stringify([b.length, b.byteOffset, f.length, f.byteOffset, f[299]]));`;
  const script = await Deno.makeTempFile({ prefix: "denobert-aligned-", suffix: ".ts" });
  try {
    await Deno.writeTextFile(script, code);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-lock", script], // no permissions at all
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [1000, 0, 300, 0, 1]);
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("onLine: whether a view starts on a cache line", () => {
  const bytes = alignedBytes(256);
  assert.ok(onLine(bytes));
  assert.ok(!onLine(bytes.subarray(16)));
  assert.ok(onLine(bytes.subarray(64)));
  assert.ok(onLine(new Float32Array(bytes.buffer, bytes.byteOffset + 128, 4)));
});

Deno.test("every packed linear weight starts on a cache line: F32 and widened F16 files, bf16 and q8", async () => {
  using backend = await Backend.open({ threads: 1 });
  const dir = await tinyModelDir("mlm", (c) => Object.assign(c, { dim: 64, hidden_dim: 128, n_heads: 2 }));
  try {
    for (const [path, dtypes] of [[dir, ["fp32", "bf16", "q8"]], [SST2, ["fp32"]]] as const) {
      for (const dtype of dtypes) {
        const perTensor = dtype !== "fp32";
        const { file, config } = await openExclusiveCheckpoint(path, { dtype });
        const reader = new TensorReader(file, encoderPrefix(file, config));
        const weights = loadEncoderWeights(reader, config, backend, dtype);
        for (const [i, layer] of weights.layers.entries()) {
          for (const name of ["qkv", "out", "ffn1", "ffn2"] as const) {
            const lw = layer[name];
            if (lw.dtype === "fp32") assert.ok(lw.packed, `${path} layer ${i} ${name} packed`);
            assert.ok(
              onLine(lw.w),
              `${path} ${dtype}${perTensor ? " (per tensor)" : ""}: layer ${i} ${name}`,
            );
          }
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kept weights (bf16, q8, fp32 copies): carved from 2 MB-aligned chunks in turn, on lines, apart", async () => {
  using backend = await Backend.open({ threads: 1 });
  const shapes = [[96, 64], [64, 64], [256, 64], [64, 256], [32, 40]] as const;
  const views: ArrayBufferView[] = [];
  for (const dtype of ["bf16", "q8"] as const) {
    const path = backend.lowpPath(dtype);
    for (const [n, k] of shapes) {
      const w = new Float32Array(n * k).map((_, i) => Math.sin(i));
      views.push(backend.packLowp(dtype, path, w, n, k).w);
    }
  }
  for (const length of [1, 17, 3 * 64 * 64]) {
    const w = backend.weightArray(length);
    assert.equal(w.length, length);
    assert.ok(w.every((v) => v === 0));
    views.push(w);
  }
  // The first is the start of a fresh chunk (each back end has its own, so a model's weights are its own).
  assert.equal(addressOf(views[0]) % BigInt(HUGE_PAGE_BYTES), 0n);
  const ranges = views.map((v) => [addressOf(v), addressOf(v) + BigInt(v.byteLength)] as const);
  for (const [i, v] of views.entries()) {
    assert.ok(onLine(v), `weight ${i} on a line`);
    for (let j = 0; j < i; j++) {
      assert.ok(
        ranges[i][0] >= ranges[j][1] || ranges[j][0] >= ranges[i][1],
        `weights ${i} and ${j} overlap`,
      );
    }
  }
  assert.throws(() => backend.weightArray(-1), /weight buffer of -1 floats/);
});
