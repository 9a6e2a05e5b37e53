// Fuzzing the safetensors reader: thousands of deterministic mutations of valid files (bit flips,
// truncation, header lengths up to 2^64-1, overflowing shapes, offsets past the end or overlapping,
// dtype/length mismatches, duplicate keys, non-UTF-8 and deeply nested JSON). Each one must load, with
// every tensor inside the file, or throw a SafetensorsError; nothing may crash, hang or allocate more
// than the file's own size.

import assert from "node:assert/strict";
import {
  DTYPE_BYTES,
  type SafetensorsDtype,
  SafetensorsError,
  SafetensorsFile,
  serializeSafetensors,
  type TensorToWrite,
} from "../src/safetensors.ts";
import { outcome, outcomeAsync, repoPath, Rng, rss } from "./helpers/fuzz.ts";
import { elapsedMs, LINEAR_MB_BOUND_MS } from "./helpers/work.ts";
import { slowTest } from "./helpers/unit.ts";

const encoder = new TextEncoder();

/** A small valid file with one tensor of most dtypes, a scalar and an empty tensor. */
function sampleFile(): Uint8Array {
  const r = new Rng(7);
  const f32 = new Float32Array(12).map(() => r.float() * 2 - 1);
  const tensors: Record<string, TensorToWrite> = {
    "a.f32": { dtype: "F32", shape: [3, 4], data: f32 },
    "b.f16": { dtype: "F16", shape: [5], data: new Uint16Array([0x3c00, 0x7c00, 0xfc00, 0x7e01, 0x0001]) },
    "c.bf16": { dtype: "BF16", shape: [2, 2], data: new Uint16Array([0x3f80, 0x7f80, 0x7fc1, 0x8000]) },
    "d.i64": { dtype: "I64", shape: [3], data: new BigInt64Array([1n, -2n, 2n ** 40n]) },
    "e.i32": { dtype: "I32", shape: [2], data: new Int32Array([-7, 2 ** 31 - 1]) },
    "f.u32": { dtype: "U32", shape: [2], data: new Uint32Array([1, 2 ** 32 - 1]) },
    "g.u8": { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) },
    "h.bool": { dtype: "BOOL", shape: [2], data: new Uint8Array([0, 1]) },
    "i.i16": { dtype: "I16", shape: [1], data: new Int16Array([-3]) },
    "j.scalar": { dtype: "F32", shape: [], data: new Float32Array([42]) },
    "k.empty": { dtype: "F32", shape: [0, 3], data: new Float32Array(0) },
    "l.f64": { dtype: "F64", shape: [1], data: new Float64Array([Math.PI]) },
  };
  return serializeSafetensors(tensors, { format: "pt" });
}

/** Splits a file into its JSON header text and data buffer. */
function split(file: Uint8Array): { json: string; data: Uint8Array } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { json: new TextDecoder().decode(file.subarray(8, 8 + n)).trimEnd(), data: file.subarray(8 + n) };
}

/** Builds a file from header bytes and data, with a correct length field unless `claimed` is given. */
function assemble(header: Uint8Array | string, data: Uint8Array, claimed?: bigint): Uint8Array {
  const h = typeof header === "string" ? encoder.encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, claimed ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/**
 * Parses `bytes` and reads every tensor with every getter. Checks that a loaded file's tensors lie inside
 * it and do not overlap, that each read returns `size` elements, and that anything thrown is a
 * SafetensorsError. Returns whether the file loaded.
 */
function exercise(label: string, bytes: Uint8Array): boolean {
  let file: SafetensorsFile | undefined;
  const parsed = outcome(label, () => file = SafetensorsFile.parse(bytes, label), [SafetensorsError]);
  if (!parsed.ok) return false;
  const spans: [number, number][] = [];
  for (const [name, t] of file!.tensors) {
    assert.ok(
      t.byteOffset >= 8 && t.byteOffset + t.byteLength <= bytes.length,
      `${label}: ${name} outside the file`,
    );
    assert.equal(t.byteLength, t.size * DTYPE_BYTES[t.dtype], `${label}: ${name} byteLength`);
    assert.equal(t.shape.reduce((a, b) => a * b, 1), t.size, `${label}: ${name} size`);
    if (t.byteLength > 0) spans.push([t.byteOffset, t.byteOffset + t.byteLength]);
    for (
      const read of [
        () => file!.getFloat32(name),
        () => file!.getInt32(name),
        () => file!.getBigInt64(name),
        () => file!.getBytes(name),
      ]
    ) {
      let got: ArrayLike<unknown> | undefined;
      const r = outcome(`${label}: reading ${name}`, () => got = read(), [SafetensorsError]);
      if (r.ok && !(got instanceof Uint8Array)) assert.equal(got!.length, t.size, `${label}: ${name} length`);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    assert.ok(spans[i][0] >= spans[i - 1][1], `${label}: overlapping tensors`);
  }
  return true;
}

const DTYPES = Object.keys(DTYPE_BYTES) as SafetensorsDtype[];
const HUGE = [2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 62, 1e300, -1, -0, 0.5, 1e21, NaN];

/** One mutation of the JSON header (as an object), re-serialized with a correct length field. */
function mutateHeader(r: Rng, header: Record<string, Record<string, unknown>>): string {
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  if (names.length === 0) return JSON.stringify(header);
  const name = r.pick(names);
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;
  if (!isObject(header[name])) header[name] = { dtype: "F32", shape: [1], data_offsets: [0, 4] };
  const entry = header[name];
  const otherEntry = header[r.pick(names)];
  const other = isObject(otherEntry) ? otherEntry : entry;
  switch (r.int(14)) {
    case 0: // shape whose product overflows, or is huge
      entry.shape = Array.from({ length: r.range(1, 4) }, () => r.pick([...HUGE, 2 ** 31, 65536, 3]));
      break;
    case 1: // shape of the wrong kind
      entry.shape = r.pick<unknown>([null, "3", { 0: 3 }, [[3]], ["3"], [true], [3, null], 3]);
      break;
    case 2: // offsets past the end
      entry.data_offsets = [r.int(1000), 10_000 + r.int(2 ** 31)];
      break;
    case 3: // offsets overlapping another tensor
      entry.data_offsets = [...(other.data_offsets as number[])];
      break;
    case 4: // begin > end, wrong arity, wrong types
      entry.data_offsets = r.pick<unknown>([[8, 4], [0], [0, 4, 8], null, [0, "4"], [-4, 0], [0.5, 4], [
        0,
        1e300,
      ]]);
      break;
    case 5: // dtype that does not match the byte length
      entry.dtype = r.pick(DTYPES);
      break;
    case 6: // unknown dtypes
      entry.dtype = r.pick<unknown>(["f32", "F4", "", null, 4, "__proto__", "toString", "F8_E4M3FNUZ"]);
      break;
    case 7: // a shape one element off
      entry.shape = [...(entry.shape as number[]), r.pick([0, 2, 1])];
      break;
    case 8: // missing fields
      delete entry[r.pick(["dtype", "shape", "data_offsets"])];
      break;
    case 9: // entry that is not an object
      header[name] = r.pick<unknown>([null, 3, "x", [1, 2], true]) as Record<string, unknown>;
      break;
    case 10: // metadata of the wrong kind
      header.__metadata__ = r.pick<unknown>([
        { a: 1 },
        [],
        "x",
        { a: null },
        { a: { b: "c" } },
        null,
      ]) as Record<string, unknown>;
      break;
    case 11: // tensor named like an Object.prototype member
      header[r.pick(["__proto__", "constructor", "toString", "hasOwnProperty"])] = entry;
      delete header[name];
      break;
    case 12: // offsets given as 2^64 - 1 (an integer literal no double holds exactly)
      return JSON.stringify(header).replace(
        JSON.stringify(entry.data_offsets),
        `[0,${r.pick(["18446744073709551615", "9007199254740993", "99999999999999999999999"])}]`,
      );
    default: // extra unknown fields are allowed
      entry[r.pick(["extra", "offsets", "DTYPE"])] = r.pick<unknown>([1, "x", null]);
  }
  return JSON.stringify(header);
}

Deno.test("safetensors fuzz: structured header mutations load or throw SafetensorsError", () => {
  const base = sampleFile();
  assert.ok(exercise("sample", base), "the unmutated sample must load");
  const { json, data } = split(base);
  const r = new Rng(1);
  let loaded = 0;
  const started = performance.now();
  const N = 3000;
  for (let i = 0; i < N; i++) {
    const header = JSON.parse(json);
    let text = mutateHeader(r, header);
    if (r.chance(0.3)) text = mutateHeader(r, JSON.parse(text));
    const dataCut = r.chance(0.2) ? data.subarray(0, r.int(data.length + 1)) : data;
    if (exercise(`header mutation #${i}`, assemble(text, dataCut))) loaded++;
  }
  const ms = performance.now() - started;
  console.log(`  ${N} header mutations: ${loaded} loaded, ${N - loaded} rejected, ${ms.toFixed(0)} ms`);
  assert.ok(loaded > 0 && loaded < N);
});

Deno.test("safetensors fuzz: byte-level mutations (bit flips, splices, truncation, length field)", () => {
  const sample = sampleFile();
  const tiny = Deno.readFileSync(repoPath("tests/fixtures/models/tiny/model.safetensors"));
  const r = new Rng(2);
  let loaded = 0, total = 0;
  const started = performance.now();
  for (const [which, base, count] of [["sample", sample, 3000], ["tiny", tiny, 300]] as const) {
    const headerEnd = 8 + Number(new DataView(base.buffer).getBigUint64(0, true));
    for (let i = 0; i < count; i++) {
      let bytes = base.slice();
      const kind = r.int(6);
      if (kind === 0) { // bit flips, mostly in the header
        for (let k = r.range(1, 4); k > 0; k--) {
          const at = r.chance(0.8) ? r.int(headerEnd) : r.int(bytes.length);
          bytes[at] ^= 1 << r.int(8);
        }
      } else if (kind === 1) { // random bytes spliced into the header (non-UTF-8, control characters)
        for (let k = r.range(1, 3); k > 0; k--) {
          bytes[8 + r.int(headerEnd - 8)] = r.pick([0x80, 0xff, 0xc0, 0, 0x7b, 0x22, 0x5b, r.int(256)]);
        }
      } else if (kind === 2) { // truncation
        bytes = bytes.slice(0, r.int(bytes.length));
      } else if (kind === 3) { // trailing garbage
        const more = new Uint8Array(bytes.length + r.range(1, 64));
        more.set(bytes);
        bytes = more;
      } else { // the length field
        const n = BigInt(headerEnd - 8);
        const claims = [
          0n,
          1n,
          7n,
          n - 1n,
          n + 1n,
          n + 8n,
          BigInt(bytes.length),
          BigInt(bytes.length - 8),
          99_999_999n,
          100_000_000n,
          100_000_001n,
          2n ** 32n,
          2n ** 53n + 1n,
          2n ** 63n,
          2n ** 64n - 1n,
          BigInt(r.u32()) * BigInt(r.u32()),
        ];
        new DataView(bytes.buffer).setBigUint64(0, r.pick(claims), true);
      }
      total++;
      if (exercise(`${which} byte mutation #${i} (kind ${kind})`, bytes)) loaded++;
    }
  }
  const ms = performance.now() - started;
  console.log(`  ${total} byte mutations: ${loaded} loaded, ${total - loaded} rejected, ${ms.toFixed(0)} ms`);
});

Deno.test("safetensors fuzz: duplicate keys, integer literals, odd JSON text", () => {
  const { json, data } = split(sampleFile());
  const cases: [string, string][] = [
    [
      "duplicate tensor",
      json.replace(',"a.f32"', ',"a.f32":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a.f32"'),
    ],
    ["duplicate field", json.replace('"dtype":"F32"', '"dtype":"F32","dtype":"F32"')],
    ["duplicate metadata key", json.replace('"format":"pt"', '"format":"pt","format":"pt"')],
    [
      "escaped duplicate",
      json.replace(',"a.f32"', ',"a\\u002ef32":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a.f32"'),
    ],
    ["float shape literal", json.replace('"shape":[3,4]', '"shape":[3.0,4]')],
    ["exponent offsets", json.replace(/"data_offsets":\[0,/, '"data_offsets":[0e0,')],
    ["negative zero", json.replace('"shape":[3,4]', '"shape":[-0,4]')],
    ["BOM", "\uFEFF" + json],
    ["leading space", " " + json],
    ["trailing garbage", json + "x"],
    ["two objects", json + "{}"],
    ["array header", `[${json}]`],
    ["string header", JSON.stringify(json)],
    ["null header", "null"],
    ["empty object", "{}"],
    ["lone surrogate escape", json.replace('"format"', '"\\ud800"')],
    ["NUL in key", json.replace('"format"', '"\\u0000"')],
    ["unterminated", json.slice(0, -1)],
    ["unbalanced", json + "}"],
  ];
  const loaded = cases.filter(([label, text]) => exercise(label, assemble(text, data))).map(([l]) => l);
  // Keys may be any JSON string; everything else above is malformed.
  assert.deepEqual(loaded, ["lone surrogate escape", "NUL in key"]);
  // Bytes that are not UTF-8 anywhere in the header.
  for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
    const h = encoder.encode(json);
    const at = h.indexOf(0x22) + 1; // inside the first key
    const bytes = new Uint8Array([...h.subarray(0, at), ...bad, ...h.subarray(at)]);
    assert.equal(
      outcome(`non-UTF-8 ${bad}`, () => SafetensorsFile.parse(assemble(bytes, data)), [SafetensorsError]).ok,
      false,
    );
  }
});

Deno.test("safetensors fuzz: deeply nested JSON neither overflows the stack nor hangs", () => {
  for (const depth of [1_000, 100_000, 1_000_000]) {
    for (const [open, close] of depth > 100_000 ? [["[", "]"]] : [["[", "]"], ['{"a":', "}"]]) {
      const nested = open.repeat(depth) + "0" + close.repeat(depth);
      const texts = [
        `{"__metadata__":${nested}}`,
        `{"t":{"dtype":"F32","shape":${nested},"data_offsets":[0,0]}}`,
        `{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"x":${nested}}}`,
      ];
      for (const text of depth > 100_000 ? texts.slice(0, 1) : texts) {
        // At most 2 MB of JSON: the bound for a linear pass over a megabyte or two.
        const ms = elapsedMs(() => exercise(`depth ${depth} ${open}`, assemble(text, new Uint8Array(0))));
        assert.ok(ms < LINEAR_MB_BOUND_MS, `depth ${depth}: ${ms} ms`);
      }
    }
  }
});

slowTest("safetensors fuzz: huge claims allocate nothing the file cannot justify", () => {
  const before = rss();
  const claims: string[] = [
    `{"t":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}`,
    `{"t":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`,
    `{"t":{"dtype":"F32","shape":[100000,100000],"data_offsets":[0,40000000000]}}`,
    `{"t":{"dtype":"F32","shape":[${"1,".repeat(200_000)}1],"data_offsets":[0,4]}}`,
    `{"t":{"dtype":"F32","shape":[0,${2 ** 53}],"data_offsets":[0,0]}}`,
  ];
  for (const text of claims) {
    for (let k = 0; k < 5; k++) exercise(`claim ${text.slice(0, 60)}`, assemble(text, new Uint8Array(4)));
  }
  // A header length of 99,999,999 (just under the cap) on a tiny file: rejected before reading it.
  const bytes = assemble("{}", new Uint8Array(0), 99_999_999n);
  assert.equal(
    outcome("99,999,999-byte header claim", () => SafetensorsFile.parse(bytes), [SafetensorsError]).ok,
    false,
  );
  const grown = rss() - before;
  console.log(`  RSS growth over the huge claims: ${(grown / 2 ** 20).toFixed(1)} MB`);
  assert.ok(grown < 64 * 2 ** 20, `RSS grew ${grown} bytes`);
});

Deno.test("safetensors fuzz: open() on truncated and empty files on disk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denobert-fuzz-st-" });
  try {
    const base = sampleFile();
    const r = new Rng(3);
    for (const len of [0, 1, 7, 8, 9, 16, r.int(base.length), base.length - 1]) {
      const path = `${dir}/cut-${len}.safetensors`;
      await Deno.writeFile(path, base.subarray(0, len));
      const o = await outcomeAsync(`open cut ${len}`, () => SafetensorsFile.open(path), [SafetensorsError]);
      assert.equal(o.ok, false, `a file cut to ${len} bytes loaded`);
    }
    const dirAsFile = await outcomeAsync("open a folder", () => SafetensorsFile.open(dir), [
      SafetensorsError,
    ]);
    assert.equal(dirAsFile.ok, false);
    const missing = await outcomeAsync("open missing", () => SafetensorsFile.open(`${dir}/nope`), [
      SafetensorsError,
    ]);
    assert.equal(missing.ok, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** What a file's parse gives, to compare the two ways of reading it: its error message, or its tensors. */
function summary(read: () => SafetensorsFile): string {
  let file: SafetensorsFile;
  try {
    file = read();
  } catch (e) {
    assert.ok(e instanceof SafetensorsError, `not a SafetensorsError: ${e}`);
    return `error: ${e.message}`;
  }
  const parts = [JSON.stringify(file.metadata)];
  for (const [name, t] of file.tensors) {
    parts.push(`${name} ${JSON.stringify(t)} ${Array.from(file.getBytes(name)).join(",")}`);
  }
  return parts.join("\n");
}

Deno.test("safetensors fuzz: open({ perTensor }) gives what parse() of the whole file gives, error or tensors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denobert-fuzz-st-" });
  try {
    const sample = sampleFile();
    const r = new Rng(5);
    const path = `${dir}/m.safetensors`;
    let loaded = 0;
    for (let i = 0; i < 300; i++) {
      let bytes = sample.slice();
      const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const kind = r.int(4);
      if (kind === 0) bytes[r.chance(0.8) ? r.int(headerEnd) : r.int(bytes.length)] ^= 1 << r.int(8);
      else if (kind === 1) bytes = bytes.slice(0, r.int(bytes.length + 1));
      else if (kind === 2) {
        new DataView(bytes.buffer).setBigUint64(0, r.pick([0n, 7n, BigInt(bytes.length), 2n ** 40n]), true);
      }
      await Deno.writeFile(path, bytes);
      const whole = summary(() => SafetensorsFile.parse(bytes, path));
      let file: SafetensorsFile | undefined;
      let perTensor: string;
      try {
        file = await SafetensorsFile.open(path, { perTensor: true });
        perTensor = summary(() => file!);
      } catch (e) {
        perTensor = summary(() => {
          throw e;
        });
      }
      assert.equal(perTensor, whole, `mutation #${i} (kind ${kind})`);
      if (file) {
        loaded++;
        assert.throws(() => file!.bytes, /no whole-file buffer/);
        for (const name of file.tensors.keys()) {
          // each tensor read into a buffer of its own, from its start (aligned), shared with nothing
          assert.equal(file.getBytes(name).byteOffset, 0);
          assert.equal(file.aliases(file.getBytes(name)), false);
        }
      }
    }
    assert.ok(loaded > 0 && loaded < 300, `${loaded} of 300 loaded`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: a file opened perTensor that changes before a tensor is read is an error naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denobert-st-changed-" });
  try {
    const path = `${dir}/m.safetensors`;
    const bytes = sampleFile();
    await Deno.writeFile(path, bytes);
    const file = await SafetensorsFile.open(path, { perTensor: true });
    const [first, last] = [
      [...file.tensors.keys()][0],
      [...file.tensors.entries()].sort((a, b) => b[1].byteOffset - a[1].byteOffset)[0][0],
    ];
    assert.deepEqual(file.getBytes(first), SafetensorsFile.parse(bytes).getBytes(first));
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 1)); // shorter
    assert.throws(
      () => file.getBytes(last),
      (e: Error) =>
        e instanceof SafetensorsError && /changed since it was opened/.test(e.message) &&
        e.message.includes(path),
    );
    // Replaced by another file of the very same size (a re-saved checkpoint of the same shapes): its tensors
    // would be mixed with the first file's without a word.
    const other = bytes.slice();
    other[other.length - 1] ^= 0xff;
    await Deno.writeFile(`${path}.new`, other);
    await Deno.rename(`${path}.new`, path);
    assert.throws(() => file.getBytes(last), /changed since it was opened \(replaced or rewritten/);
    await Deno.writeFile(path, bytes); // rewritten in place, same size
    assert.throws(() => file.getBytes(last), /changed since it was opened \(replaced or rewritten/);
    await Deno.remove(path);
    await Deno.mkdir(path); // not a file any more
    assert.throws(() => file.getBytes(first), /changed since it was opened \(now not a file/);
    await Deno.remove(path);
    assert.throws(() => file.getBytes(first), /cannot read file/); // gone
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
