// src/aligned.ts: buffers on 64-byte cache lines, and the weights file of a model's own load read into one
// so that its tensor data (packed in place for the kernels) starts on a line. Addresses are read through
// Deno.UnsafePointer (the tests run with the FFI permission).

import assert from "node:assert/strict";
import { alignedArray, alignedBytes, LINE_BYTES } from "../src/aligned.ts";
import { openExclusiveCheckpoint } from "../src/checkpoint.ts";
import { SafetensorsError, SafetensorsFile, serializeSafetensors } from "../src/safetensors.ts";
import { tinyModelDir } from "./helpers/tiny_models.ts";

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

Deno.test("alignedArray: every element type starts on a cache line", () => {
  for (const length of [1, 17, 768 * 768, 3 << 20]) {
    for (const type of [Float32Array, Uint16Array, Uint8Array] as const) {
      const a = alignedArray<ArrayBufferView & { length: number }>(type, length);
      assert.equal(a.length, length);
      assert.equal(lineOffset(a), 0, `${type.name}(${length})`);
    }
  }
});

Deno.test("SafetensorsFile.open: allocate makes the buffer, told where the tensor data starts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denobert-aligned-" });
  try {
    const tensors = {
      a: { dtype: "F32" as const, shape: [3], data: new Float32Array([1, 2, 3]) },
      b: { dtype: "F32" as const, shape: [2, 2], data: new Float32Array([4, 5, 6, 7]) },
    };
    const raw = serializeSafetensors(tensors);
    const file = `${dir}/m.safetensors`;
    await Deno.writeFile(file, raw);
    const headerLen = Number(new DataView(raw.buffer).getBigUint64(0, true));
    const calls: [number, number][] = [];
    const opened = await SafetensorsFile.open(file, {
      allocate: (size, dataStart) => {
        calls.push([size, dataStart]);
        return alignedBytes(size, dataStart);
      },
    });
    assert.deepEqual(calls, [[raw.length, 8 + headerLen]]);
    assert.equal(lineOffset(opened.bytes, 8 + headerLen), 0);
    assert.deepEqual([...opened.getFloat32("b")], [4, 5, 6, 7]);
    assert.deepEqual(opened.bytes, raw);

    // A header length past the end: the data start is unknown (0), and the header check names the problem.
    const bad = raw.slice();
    new DataView(bad.buffer).setBigUint64(0, BigInt(raw.length), true);
    await Deno.writeFile(`${dir}/bad.safetensors`, bad);
    const starts: number[] = [];
    await assert.rejects(
      SafetensorsFile.open(`${dir}/bad.safetensors`, {
        allocate: (size, dataStart) => (starts.push(dataStart), new Uint8Array(size)),
      }),
      /runs past the end of the file/,
    );
    assert.deepEqual(starts, [0]);

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

Deno.test("a model's own load reads its weights file with the tensor data on a cache line", async () => {
  const dir = await tinyModelDir("mlm");
  try {
    const { file } = await openExclusiveCheckpoint(dir);
    const headerLen = Number(new DataView(file.bytes.buffer, file.bytes.byteOffset).getBigUint64(0, true));
    assert.equal(lineOffset(file.bytes, 8 + headerLen), 0);
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
