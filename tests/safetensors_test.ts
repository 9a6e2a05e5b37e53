import assert from "node:assert/strict";
import {
  MAX_HEADER_BYTES,
  SafetensorsError,
  SafetensorsFile,
  serializeSafetensors,
  writeSafetensors,
} from "../src/safetensors.ts";

const ROOT = new URL("../", import.meta.url);
const path = (rel: string): string => new URL(rel, ROOT).pathname;

/** Builds a file from raw header text and data bytes; `headerLen` overrides the length field. */
function rawFile(header: string, data: Uint8Array = new Uint8Array(), headerLen?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Builds a file from a header object. */
function fileOf(header: Record<string, unknown>, dataLen: number): Uint8Array {
  return rawFile(JSON.stringify(header), new Uint8Array(dataLen));
}

/** Asserts parsing throws a SafetensorsError naming the source and matching `problem`. */
function assertRejects(bytes: Uint8Array, problem: RegExp): void {
  assert.throws(() => SafetensorsFile.parse(bytes, "bad.safetensors"), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    assert.match(e.message, /^safetensors: bad\.safetensors: /);
    assert.match(e.message, problem);
    return true;
  });
}

const f32bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];

Deno.test("round trip: every writable dtype, metadata, 8-byte padded header, alignment", () => {
  const f32 = new Float32Array([1.5, -2, 3.25, Math.PI, -0, Infinity]);
  const tensors = {
    "b.f32": { dtype: "F32" as const, shape: [2, 3], data: f32 },
    "a.f16": { dtype: "F16" as const, shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x0001]) },
    "bf": { dtype: "BF16" as const, shape: [1], data: new Uint16Array([0x3f80]) },
    "i64": { dtype: "I64" as const, shape: [2], data: new BigInt64Array([-5n, 1n << 40n]) },
    "i32": { dtype: "I32" as const, shape: [2], data: new Int32Array([-7, 9]) },
    "u8": { dtype: "U8" as const, shape: [3], data: new Uint8Array([1, 2, 255]) },
    "f64": { dtype: "F64" as const, shape: [], data: new Float64Array([0.1]) },
    "empty": { dtype: "F32" as const, shape: [0, 4], data: new Float32Array(0) },
  };
  const bytes = serializeSafetensors(tensors, { format: "pt", note: "x" });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0);
  const st = SafetensorsFile.parse(bytes);
  assert.deepEqual(st.metadata, { format: "pt", note: "x" });
  assert.deepEqual([...st.tensors.keys()].sort(), Object.keys(tensors).sort());
  for (const t of st.tensors.values()) assert.equal(t.byteOffset % 8 === 0 || t.byteLength < 8, true);
  assert.deepEqual(st.info("b.f32").shape, [2, 3]);
  assert.deepEqual(st.getFloat32("b.f32"), f32);
  assert.deepEqual([...st.getFloat32("a.f16")], [1, -2, 2 ** -24]);
  assert.deepEqual([...st.getFloat32("bf")], [1]);
  assert.deepEqual(st.getBigInt64("i64"), new BigInt64Array([-5n, 1n << 40n]));
  assert.deepEqual(st.getInt32("i32"), new Int32Array([-7, 9]));
  assert.deepEqual(st.getBigInt64("i32"), new BigInt64Array([-7n, 9n]));
  assert.deepEqual(st.getInt32("u8"), new Int32Array([1, 2, 255]));
  assert.deepEqual(st.getBytes("f64"), new Uint8Array(new Float64Array([0.1]).buffer));
  assert.equal(st.info("f64").size, 1);
  assert.equal(st.getFloat32("empty").length, 0);
  // Re-serializing what was read gives identical bytes.
  const again = serializeSafetensors(
    Object.fromEntries([...st.tensors].map(([k, t]) => [k, { ...t, data: st.getBytes(k) }])),
    st.metadata,
  );
  assert.deepEqual(again, bytes);
});

Deno.test("writeSafetensors writes the same bytes as serializeSafetensors, atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tensors = new Map([
      ["w", { dtype: "F32" as const, shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
      ["ids", { dtype: "I64" as const, shape: [3], data: new BigInt64Array([1n, 2n, 3n]) }],
    ]);
    await writeSafetensors(`${dir}/m.safetensors`, tensors, { format: "pt" });
    assert.deepEqual(
      await Deno.readFile(`${dir}/m.safetensors`),
      serializeSafetensors(tensors, { format: "pt" }),
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["m.safetensors"]);
    await assert.rejects(
      writeSafetensors(`${dir}/bad.safetensors`, {
        x: { dtype: "F32", shape: [3], data: new Float32Array(1) },
      }),
      /bad\.safetensors: tensor "x": data is 4 bytes/,
    );
    await assert.rejects(writeSafetensors(`${dir}/no/such/dir/m.safetensors`, tensors), Deno.errors.NotFound);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["m.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serialize rejects mismatched data", () => {
  assert.throws(
    () => serializeSafetensors({ x: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
    /tensor "x": data is 8 bytes, shape \[3\] x F32 needs 12/,
  );
  assert.throws(
    () => serializeSafetensors({ x: { dtype: "F16", shape: [2], data: new Float32Array(1) } }),
    /F16 data must be Uint16Array or Uint8Array, got Float32Array/,
  );
});

Deno.test("reads every real fixture file", async () => {
  const files: string[] = [];
  for (const dir of ["tests/fixtures/models/tiny", "tests/fixtures/models/base"]) {
    for (const e of Deno.readDirSync(path(dir))) {
      if (e.name.endsWith(".safetensors")) files.push(`${dir}/${e.name}`);
    }
  }
  files.push("weights/sst2-distilbert-small/model.safetensors");
  assert.ok(files.length >= 14);
  for (const f of files) {
    const st = await SafetensorsFile.open(path(f));
    assert.ok(st.tensors.size > 0, f);
    for (const [name, t] of st.tensors) {
      if (t.dtype === "I64") {
        const ints = st.getInt32(name);
        const bigs = st.getBigInt64(name);
        assert.equal(ints.length, t.size);
        for (let i = 0; i < ints.length; i++) assert.equal(BigInt(ints[i]), bigs[i]);
      } else {
        assert.ok(["F32", "F16"].includes(t.dtype), `${f} ${name} ${t.dtype}`);
        const v = st.getFloat32(name);
        assert.equal(v.length, t.size);
        for (const x of v) assert.ok(Number.isFinite(x), `${f} ${name}`);
      }
    }
  }
  const ref = await SafetensorsFile.open(path("tests/fixtures/models/tiny/ref-b1-s32.safetensors"));
  assert.deepEqual(ref.info("input_ids").shape, [1, 32]);
  assert.equal(ref.getInt32("input_ids")[0], 101);
  assert.deepEqual(ref.info("last_hidden_state"), {
    ...ref.info("last_hidden_state"),
    dtype: "F32",
    shape: [1, 32, 32],
  });
});

Deno.test("open's beforeRead sees the whole, still empty buffer the file is then read into", async () => {
  const file = path("tests/fixtures/models/tiny/model.safetensors");
  const seen: { length: number; zero: boolean }[] = [];
  const st = await SafetensorsFile.open(file, {
    beforeRead: (bytes) => void seen.push({ length: bytes.length, zero: bytes.every((b) => b === 0) }),
  });
  assert.deepEqual(seen, [{ length: (await Deno.stat(file)).size, zero: true }]);
  assert.deepEqual(st.bytes, await Deno.readFile(file));
});

Deno.test("F16 checkpoint widens exactly (checked against DataView.getFloat16)", async () => {
  const st = await SafetensorsFile.open(path("weights/sst2-distilbert-small/model.safetensors"));
  assert.equal(st.info("classifier.weight").dtype, "F16");
  for (const name of st.tensors.keys()) {
    const raw = st.getBytes(name);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const v = st.getFloat32(name);
    for (let i = 0; i < v.length; i++) assert.equal(v[i], dv.getFloat16(2 * i, true));
  }
});

Deno.test("F16 widening is exact for all 65536 bit patterns (subnormals, inf, NaN payloads)", () => {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const st = SafetensorsFile.parse(serializeSafetensors({ h: { dtype: "F16", shape: [65536], data: bits } }));
  const v = st.getFloat32("h");
  const dv = new DataView(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp === 0x1f && mant !== 0) {
      assert.ok(Number.isNaN(v[h])); // its bits: the torch test below
    } else {
      assert.equal(Object.is(v[h], dv.getFloat16(2 * h, true)), true, `bits 0x${h.toString(16)}`);
    }
  }
  assert.equal(v[0x0001], 2 ** -24); // smallest subnormal
  assert.equal(v[0x03ff], 1023 * 2 ** -24); // largest subnormal
  assert.equal(v[0x0400], 2 ** -14); // smallest normal
  assert.equal(v[0x7bff], 65504);
  assert.equal(v[0x7c00], Infinity);
  assert.equal(v[0xfc00], -Infinity);
  assert.ok(Object.is(v[0x8000], -0));
  assert.equal(v[0x3555], Math.fround(0.333251953125));
});

Deno.test("F16 and BF16 widen to torch's .float() bit for bit, NaNs included (scripts/widen_reference.py)", () => {
  // torch (as transformers loading a half checkpoint into a float32 model) keeps a NaN's payload and sets
  // its quiet bit: F16 0x7c01 becomes 0x7fc02000, not the signalling 0x7f802000.
  const ref = SafetensorsFile.parse(
    Deno.readFileSync(path("tests/fixtures/safetensors/widen_torch.safetensors")),
  );
  const bits = new Uint16Array(65536).map((_, i) => i);
  for (const [name, dtype] of [["f16", "F16"], ["bf16", "BF16"]] as const) {
    const st = SafetensorsFile.parse(serializeSafetensors({ t: { dtype, shape: [65536], data: bits } }));
    const v = st.getFloat32("t");
    const got = new Uint32Array(v.buffer, v.byteOffset, v.length);
    const w = ref.getInt32(name), want = new Uint32Array(w.buffer, w.byteOffset, w.length);
    const wrong: string[] = [];
    for (let h = 0; h < 65536; h++) {
      if (got[h] !== want[h]) {
        wrong.push(`0x${h.toString(16)}: 0x${got[h].toString(16)} != 0x${want[h].toString(16)}`);
      }
    }
    assert.deepEqual(wrong.slice(0, 5), [], `${dtype}: ${wrong.length} patterns differ from torch`);
  }
});

Deno.test("BF16 widening is exact (subnormals, inf, NaN payloads)", () => {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const st = SafetensorsFile.parse(
    serializeSafetensors({ b: { dtype: "BF16", shape: [65536], data: bits } }),
  );
  const v = st.getFloat32("b");
  const vBits = new Uint32Array(v.buffer, v.byteOffset, v.length);
  for (let h = 0; h < 65536; h++) assert.equal(vBits[h], h << 16 >>> 0);
  assert.equal(v[0x3f80], 1);
  assert.equal(v[0xc040], -3);
  assert.equal(v[0x0001], 2 ** -133); // smallest bf16 subnormal
  assert.equal(v[0x7f80], Infinity);
  assert.equal(v[0xff80], -Infinity);
  assert.ok(Number.isNaN(v[0x7fc1]));
  assert.ok(Object.is(v[0x8000], -0));
});

Deno.test("aligned F32 is a zero-copy view; unaligned data is copied and read correctly", () => {
  const values = new Float32Array([1, -2.5, 3e-40, 7]);
  const aligned = serializeSafetensors({ x: { dtype: "F32", shape: [4], data: values } });
  const st = SafetensorsFile.parse(aligned);
  const view = st.getFloat32("x");
  assert.equal(view.buffer, aligned.buffer);
  assert.deepEqual(view, values);

  // Header of odd length: data starts at an odd offset in the file.
  const header = JSON.stringify({
    f: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
    i: { dtype: "I64", shape: [2], data_offsets: [16, 32] },
    h: { dtype: "F16", shape: [2], data_offsets: [32, 36] },
    b: { dtype: "BF16", shape: [1], data_offsets: [36, 38] },
    j: { dtype: "I32", shape: [1], data_offsets: [38, 42] },
  });
  const data = new Uint8Array(42);
  data.set(new Uint8Array(values.buffer), 0);
  data.set(new Uint8Array(new BigInt64Array([-3n, 1234567890123n]).buffer), 16);
  data.set(new Uint8Array(new Uint16Array([0x3c00, 0x0001, 0x3f80]).buffer), 32);
  data.set(new Uint8Array(new Int32Array([-9]).buffer), 38);
  for (const pad of ["", " ", "  ", "   "]) {
    const file = rawFile(header + pad, data);
    for (const shift of [0, 1, 2, 3]) {
      // Also place the file itself at an odd offset inside a larger buffer.
      const host = new Uint8Array(file.length + shift);
      host.set(file, shift);
      const u = SafetensorsFile.parse(host.subarray(shift));
      assert.deepEqual(u.getFloat32("f"), values);
      assert.deepEqual(u.getBigInt64("i"), new BigInt64Array([-3n, 1234567890123n]));
      assert.deepEqual([...u.getFloat32("h")], [1, 2 ** -24]);
      assert.deepEqual([...u.getFloat32("b")], [1]);
      assert.deepEqual([...u.getInt32("j")], [-9]);
      assert.deepEqual([...u.getBigInt64("j")], [-9n]);
    }
  }
});

Deno.test("getInt32 range-checks I64; float and int getters reject other dtypes", () => {
  const st = SafetensorsFile.parse(serializeSafetensors({
    big: { dtype: "I64", shape: [3], data: new BigInt64Array([0n, -(2n ** 31n), 2n ** 31n]) },
    ok: { dtype: "I64", shape: [2], data: new BigInt64Array([2n ** 31n - 1n, -(2n ** 31n)]) },
    f64: { dtype: "F64", shape: [1], data: new Float64Array([1]) },
    f32: { dtype: "F32", shape: [1], data: new Float32Array([1]) },
  }));
  assert.deepEqual([...st.getInt32("ok")], [2 ** 31 - 1, -(2 ** 31)]);
  assert.throws(
    () => st.getInt32("big"),
    /tensor "big" \(I64\) element 2 = 2147483648 does not fit in int32/,
  );
  assert.throws(() => st.getFloat32("f64"), /tensor "f64" has dtype F64, which cannot be read as float32/);
  assert.throws(() => st.getFloat32("ok"), /dtype I64, which cannot be read as float32/);
  assert.throws(() => st.getInt32("f32"), /dtype F32, which cannot be read as int32/);
  assert.throws(() => st.getBigInt64("f32"), /dtype F32, which cannot be read as int64/);
});

Deno.test("missing tensor and missing file are named", async () => {
  const st = SafetensorsFile.parse(serializeSafetensors({}), "m.safetensors");
  assert.equal(st.has("x"), false);
  assert.throws(
    () => st.getFloat32("nope"),
    /^SafetensorsError: safetensors: m\.safetensors: no tensor named "nope"/,
  );
  await assert.rejects(
    SafetensorsFile.open("/nonexistent/dir/model.safetensors"),
    (e: unknown) =>
      e instanceof SafetensorsError &&
      /\/nonexistent\/dir\/model\.safetensors: cannot read file/.test(e.message),
  );
});

// ---- malformed files: one test per validation rule ----

const F32x2 = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

Deno.test("malformed: file shorter than 8 bytes", () => {
  assertRejects(new Uint8Array(5), /file is 5 bytes, shorter than the 8-byte header length/);
});

Deno.test("malformed: header length 0", () => {
  assertRejects(rawFile("", new Uint8Array(4), 0n), /header length is 0/);
});

Deno.test("malformed: header length over 100 MB, up to 2^64-1", () => {
  assertRejects(rawFile("{}", undefined, BigInt(MAX_HEADER_BYTES) + 1n), /header length 100000001 exceeds/);
  assertRejects(rawFile("{}", undefined, 2n ** 64n - 1n), /header length 18446744073709551615 exceeds/);
  assertRejects(rawFile("{}", undefined, 2n ** 63n), /exceeds the 100000000-byte limit/);
});

Deno.test("malformed: header length past the end of the file", () => {
  assertRejects(rawFile("{}", undefined, 3n), /header length 3 runs past the end of the file \(10 bytes\)/);
});

Deno.test("malformed: invalid UTF-8", () => {
  const bytes = rawFile('{"\u00e9": 1}');
  bytes[10] = 0xff; // corrupt the first byte of the two-byte sequence
  assertRejects(bytes, /header is not valid UTF-8/);
});

Deno.test("malformed: invalid JSON", () => {
  assertRejects(rawFile('{"a": {"dtype": "F32",'), /header is not valid JSON/);
  assertRejects(rawFile("{} trailing"), /header is not valid JSON/);
});

Deno.test("malformed: JSON not an object", () => {
  assertRejects(rawFile("[1, 2]"), /header is not a JSON object/);
  assertRejects(rawFile("null"), /header is not a JSON object/);
  assertRejects(rawFile("\ufeff{}"), /header is not a JSON object/);
});

Deno.test("malformed: entry not an object", () => {
  assertRejects(fileOf({ w: [1, 2] }, 0), /tensor "w": entry is an array, not an object/);
  assertRejects(fileOf({ w: "F32" }, 0), /tensor "w": entry is string "F32", not an object/);
});

Deno.test("malformed: unknown or missing dtype", () => {
  assertRejects(fileOf({ w: { ...F32x2, dtype: "F17" } }, 8), /tensor "w": unknown dtype string "F17"/);
  assertRejects(
    fileOf({ w: { shape: [2], data_offsets: [0, 8] } }, 8),
    /tensor "w": unknown dtype undefined/,
  );
});

Deno.test("malformed: shape not an array of non-negative safe integers", () => {
  assertRejects(fileOf({ w: { ...F32x2, shape: 2 } }, 8), /tensor "w": shape is number 2, not an array/);
  assertRejects(
    fileOf({ w: { ...F32x2, shape: [-2] } }, 8),
    /shape \[-2\] has number -2, not a non-negative/,
  );
  assertRejects(fileOf({ w: { ...F32x2, shape: ["2"] } }, 8), /has string "2", not a non-negative integer/);
  assertRejects(fileOf({ w: { ...F32x2, shape: [2 ** 53] } }, 8), /not a non-negative integer/);
  assertRejects(
    rawFile('{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', new Uint8Array(8)),
    /2\.0.*not an integer/,
  );
  assertRejects(
    rawFile('{"w":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}', new Uint8Array(8)),
    /not an integer/,
  );
});

Deno.test("malformed: shape product overflows", () => {
  assertRejects(fileOf({ w: { ...F32x2, shape: [2 ** 30, 2 ** 30, 2 ** 30] } }, 8), /product overflows/);
  assertRejects(fileOf({ w: { ...F32x2, shape: [2 ** 26, 2 ** 26] } }, 8), /byte size overflows/);
});

Deno.test("malformed: data_offsets not [begin, end] integers with begin <= end", () => {
  const bad = /tensor "w": data_offsets .* is not \[begin, end\] non-negative integers/;
  assertRejects(fileOf({ w: { ...F32x2, data_offsets: [0] } }, 8), bad);
  assertRejects(fileOf({ w: { ...F32x2, data_offsets: [0, 8, 9] } }, 8), bad);
  assertRejects(fileOf({ w: { ...F32x2, data_offsets: [-1, 7] } }, 8), bad);
  assertRejects(fileOf({ w: { ...F32x2, data_offsets: "0-8" } }, 8), bad);
  assertRejects(fileOf({ w: { ...F32x2, data_offsets: [0, 2 ** 64] } }, 8), bad);
  assertRejects(
    fileOf({ w: { ...F32x2, data_offsets: [8, 0] } }, 8),
    /data_offsets \[8, 0\] has begin > end/,
  );
});

Deno.test("malformed: end past the data buffer", () => {
  assertRejects(
    fileOf({ w: F32x2 }, 7),
    /tensor "w": data_offsets end 8 is past the end of the data buffer \(7 bytes\)/,
  );
});

Deno.test("malformed: byte length != product(shape) * dtype size", () => {
  assertRejects(
    fileOf({ w: { ...F32x2, dtype: "F16" } }, 8),
    /tensor "w": byte length 8 does not match shape \[2\] x F16 \(4 bytes\)/,
  );
});

Deno.test("malformed: overlapping tensors", () => {
  assertRejects(
    fileOf({ a: F32x2, b: { ...F32x2, data_offsets: [4, 12] } }, 12),
    /tensors "a" and "b" overlap in the data buffer/,
  );
});

Deno.test("malformed: holes and uncovered trailing data", () => {
  assertRejects(
    fileOf({ a: F32x2, b: { ...F32x2, data_offsets: [12, 20] } }, 20),
    /data buffer bytes \[8, 12\) before tensor "b" are not covered/,
  );
  assertRejects(fileOf({ a: { ...F32x2, data_offsets: [4, 12] } }, 12), /bytes \[0, 4\) before tensor "a"/);
  assertRejects(fileOf({ a: F32x2 }, 9), /data buffer bytes \[8, 9\) after the last tensor are not covered/);
});

Deno.test("malformed: __metadata__ not string -> string", () => {
  assertRejects(fileOf({ __metadata__: { a: 1 } }, 0), /__metadata__\["a"\] is number 1, not a string/);
  assertRejects(fileOf({ __metadata__: ["x"] }, 0), /__metadata__ is an array, not an object/);
  assertRejects(fileOf({ __metadata__: "pt" }, 0), /__metadata__ is string "pt", not an object/);
  // The reference treats null metadata as absent.
  assert.deepEqual(SafetensorsFile.parse(fileOf({ __metadata__: null }, 0)).metadata, {});
});

Deno.test("malformed: duplicate keys", () => {
  const t = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
  assertRejects(rawFile(`{"w":${t},"w":${t}}`, new Uint8Array(8)), /duplicate key "w" in the JSON header/);
  assertRejects(rawFile(`{"w":${t},"\\u0077":${t}}`, new Uint8Array(8)), /duplicate key "w"/);
  assertRejects(
    rawFile('{"w":{"dtype":"F32","shape":[2],"dtype":"F16","data_offsets":[0,8]}}', new Uint8Array(8)),
    /duplicate key "dtype"/,
  );
  assertRejects(rawFile('{"__metadata__":{"a":"1","a":"2"}}'), /duplicate key "a"/);
  // Same key in different objects and keys equal to string values are fine.
  const ok = `{"__metadata__":{"w":"w","dtype":"dtype"},"w":${t}}`;
  assert.deepEqual(SafetensorsFile.parse(rawFile(ok, new Uint8Array(8))).metadata, {
    w: "w",
    dtype: "dtype",
  });
});

Deno.test("malformed: deeply nested JSON does not crash", () => {
  const depth = 200_000;
  assertRejects(rawFile(`{"w":${"[".repeat(depth)}${"]".repeat(depth)}}`), /tensor "w": entry is an array/);
  assertRejects(
    rawFile(`{"w":{"dtype":"F32","shape":${"[".repeat(depth)}${"]".repeat(depth)},"data_offsets":[0,0]}}`),
    /shape .* not a non-negative integer/,
  );
  assertRejects(
    rawFile(`{"__metadata__":{"a":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}}`),
    /__metadata__/,
  );
});

Deno.test("space-padded header and empty file are valid", () => {
  const st = SafetensorsFile.parse(rawFile(JSON.stringify({ w: F32x2 }) + "     ", new Uint8Array(8)));
  assert.deepEqual([...st.getFloat32("w")], [0, 0]);
  assert.equal(SafetensorsFile.parse(rawFile("{}")).tensors.size, 0);
  assert.equal(f32bits(st.getFloat32("w")[0]), 0);
});
