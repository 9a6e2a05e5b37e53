// Fuzzing config.json and model inputs: mutated configs load or throw an Error; random shapes, ids out of
// range, odd dtypes and masks (including rows that are all zero) either throw an Error before any native
// call or give exactly what each row gives on its own; NaN and Infinity in the weights propagate as in
// PyTorch without crashing.

import assert from "node:assert/strict";
import { AutoModel, DistilBertForSequenceClassification, DistilBertModel, parseConfig } from "../mod.ts";
import { SafetensorsFile, serializeSafetensors, type TensorToWrite } from "../src/safetensors.ts";
import type { IntTensor } from "../src/tensor.ts";
import { outcome, outcomeAsync, repoPath, Rng, tinyModelDir } from "./helpers/fuzz.ts";

const TINY_CONFIG = JSON.parse(Deno.readTextFileSync(repoPath("tests/fixtures/models/tiny/config.mlm.json")));

function randomValue(r: Rng): unknown {
  return r.pick<unknown>([
    null,
    true,
    "32",
    "gelu",
    "relu",
    "gelu_new",
    [],
    {},
    0,
    1,
    -1,
    2,
    3,
    4,
    7,
    31,
    32,
    37,
    64,
    1.5,
    1e9,
    2 ** 31,
    2 ** 53,
    1e308,
    -0,
    { "0": "NEG" },
    ["DistilBertForSequenceClassification"],
  ]);
}

Deno.test("config fuzz: mutated config.json objects parse or throw an Error naming the file", () => {
  const r = new Rng(21);
  const keys = Object.keys(TINY_CONFIG).concat([
    "id2label",
    "label2id",
    "problem_type",
    "tie_word_embeddings",
  ]);
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    const raw = structuredClone(TINY_CONFIG);
    for (let k = r.range(1, 3); k > 0; k--) {
      const key = r.pick(keys);
      if (r.chance(0.2)) delete raw[key];
      else raw[key] = randomValue(r);
    }
    const o = outcome(`config mutation #${i}`, () => {
      const c = parseConfig(raw, "fuzz/config.json");
      // Whatever parses is internally consistent.
      assert.ok(c.dim % c.n_heads === 0 && c.pad_token_id < c.vocab_size);
      for (const n of [c.dim, c.n_heads, c.n_layers, c.hidden_dim, c.vocab_size, c.max_position_embeddings]) {
        assert.ok(Number.isSafeInteger(n) && n > 0, `config mutation #${i}: ${n}`);
      }
      assert.ok(c.activation === "gelu" || c.activation === "relu");
    });
    if (o.ok) parsed++;
    else assert.match(o.error.message, /^fuzz\/config\.json: /, o.error.message);
  }
  console.log(`  3000 config mutations: ${parsed} parsed`);
  for (const raw of [null, 5, "x", [], [TINY_CONFIG]]) {
    assert.equal(outcome(`config ${JSON.stringify(raw)}`, () => parseConfig(raw)).ok, false);
  }
  // id2label keys are decimal integers: "", " 1" or "0x1" used to become label 0 or 1 silently.
  for (const key of ["", " 1", "0x1", "1e1", "1.0", "-0"]) {
    const o = outcome(`id2label key ${JSON.stringify(key)}`, () => parseConfig({ id2label: { [key]: "X" } }));
    assert.equal(o.ok, false, `id2label key ${JSON.stringify(key)} was accepted`);
  }
  assert.deepEqual(parseConfig({ id2label: { "0": "NEG", "01": "POS" } }).id2label, { 0: "NEG", 1: "POS" });
});

Deno.test("config fuzz: loading the tiny weights under mutated configs loads or throws an Error", async () => {
  const dir = await tinyModelDir();
  try {
    const r = new Rng(22);
    const fields = [
      "dim",
      "n_heads",
      "n_layers",
      "hidden_dim",
      "vocab_size",
      "max_position_embeddings",
      "activation",
    ];
    let loaded = 0;
    const cases: Record<string, unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const raw = structuredClone(TINY_CONFIG);
      raw[r.pick(fields)] = randomValue(r);
      cases.push(raw);
    }
    cases.push({ ...TINY_CONFIG, architectures: ["DistilBertForSequenceClassification"] });
    cases.push({ ...TINY_CONFIG, architectures: ["DistilBertForQuestionAnswering"] });
    cases.push({ ...TINY_CONFIG, architectures: ["GPT2"] });
    cases.push({ ...TINY_CONFIG, architectures: [] });
    cases.push({ ...TINY_CONFIG, tie_word_embeddings: false });
    for (const [i, raw] of cases.entries()) {
      await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(raw));
      const o = await outcomeAsync(`load with config #${i}`, async () => {
        using model = await AutoModel.load(dir);
        // deno-lint-ignore no-explicit-any
        (model as any).forward({ inputIds: { data: new Int32Array([101, 7, 102]), dims: [1, 3] } });
      });
      if (o.ok) loaded++;
    }
    await Deno.writeTextFile(`${dir}/config.json`, "{ not json");
    assert.equal((await outcomeAsync("config not JSON", () => AutoModel.load(dir))).ok, false);
    await Deno.writeTextFile(`${dir}/config.json`, "");
    assert.equal((await outcomeAsync("config empty", () => AutoModel.load(dir))).ok, false);
    console.log(`  ${cases.length} configs over the tiny weights: ${loaded} loaded`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function tensor(data: Int32Array | BigInt64Array, b: number, s: number): IntTensor {
  return { data, dims: [b, s] };
}

/** Max |a - b| over two equal-length arrays, NaN-aware (NaN vs NaN is 0, NaN vs a number is Infinity). */
function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Number.isNaN(a[i]) || Number.isNaN(b[i])
      ? (Number.isNaN(a[i]) && Number.isNaN(b[i]) ? 0 : Infinity)
      : Math.abs(a[i] - b[i]);
    if (d > m) m = d;
  }
  return m;
}

Deno.test("input fuzz: random shapes, ids and masks throw an Error or equal each row run alone", async () => {
  const dir = await tinyModelDir();
  try {
    using model = await DistilBertModel.load(dir);
    const { vocab_size: V, max_position_embeddings: P, dim: D } = model.config;
    const r = new Rng(23);
    let ok = 0, rejected = 0, zeroRows = 0;
    for (let i = 0; i < 300; i++) {
      const b = r.pick([0, 1, 1, 2, 3, 5]);
      const s = r.pick([0, 1, 2, 7, 33, 128, P, P + 1]);
      const n = b * s;
      const ids = new Int32Array(n).map(() => r.int(V));
      if (r.chance(0.15) && n > 0) ids[r.int(n)] = r.pick([-1, V, V + 1, 2 ** 31 - 1, -(2 ** 31)]);
      const mask = new Int32Array(n).fill(1);
      for (let row = 0; row < b; row++) {
        const kind = r.int(4);
        if (kind === 1) mask.fill(0, row * s + r.range(1, Math.max(1, s)), (row + 1) * s); // right padding
        if (kind === 2) mask.fill(0, row * s, (row + 1) * s); // all zero
        if (kind === 3) { for (let k = 0; k < s; k++) mask[row * s + k] = r.pick([0, 1, 2, -1]); // holes, odd values
         }
      }
      const big = r.chance(0.2);
      const inputIds = tensor(big ? BigInt64Array.from(ids, (v) => BigInt(v)) : ids, b, s);
      const attentionMask = r.chance(0.8) ? tensor(mask, b, s) : undefined;
      let out: ReturnType<typeof model.forward> | undefined;
      const o = outcome(`inputs #${i} [${b}, ${s}]`, () => out = model.forward({ inputIds, attentionMask }));
      if (!o.ok) {
        assert.ok(o.error instanceof RangeError, `inputs #${i}: ${o.error.name}: ${o.error.message}`);
        rejected++;
        continue;
      }
      ok++;
      const h = out!.lastHiddenState;
      assert.deepEqual(h.dims, [b, s, D]);
      // Each row alone gives the same numbers; masked positions are zero; everything is finite.
      for (let row = 0; row < b; row++) {
        const rowMask = attentionMask ? mask.subarray(row * s, (row + 1) * s) : undefined;
        if (rowMask && rowMask.every((m) => m === 0)) zeroRows++;
        const alone = model.forward({
          inputIds: tensor(ids.slice(row * s, (row + 1) * s), 1, s),
          attentionMask: rowMask ? tensor(rowMask.slice(), 1, s) : undefined,
        }).lastHiddenState.data;
        const got = h.data.subarray(row * s * D, (row + 1) * s * D);
        assert.ok(maxDiff(got, alone) <= 1e-5, `inputs #${i} row ${row} differs from the row alone`);
        assert.ok(got.every(Number.isFinite), `inputs #${i} row ${row}: non-finite output`);
        const allMasked = rowMask?.every((m) => m === 0) ?? false;
        for (let k = 0; k < s && rowMask && !allMasked; k++) {
          if (rowMask[k] === 0) assert.ok(got.subarray(k * D, (k + 1) * D).every((x) => x === 0));
        }
      }
    }
    console.log(`  300 random inputs: ${ok} ran (${zeroRows} all-masked rows), ${rejected} rejected`);
    assert.ok(ok > 50 && rejected > 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("input fuzz: malformed input objects throw clear errors before any native call", async () => {
  const dir = await tinyModelDir();
  try {
    using model = await DistilBertModel.load(dir);
    const ids = new Int32Array([101, 7, 102]);
    const cases: [string, unknown][] = [
      ["undefined", undefined],
      ["null", null],
      ["a string", "hello"],
      ["no inputIds", {}],
      ["inputIds null", { inputIds: null }],
      ["plain array data", { inputIds: { data: [101, 7, 102], dims: [1, 3] } }],
      ["Float32Array data", { inputIds: { data: new Float32Array([101, NaN, Infinity]), dims: [1, 3] } }],
      ["Float64Array data", { inputIds: { data: new Float64Array([101, 1.5, 102]), dims: [1, 3] } }],
      ["Uint32Array data", { inputIds: { data: new Uint32Array([101, 7, 102]), dims: [1, 3] } }],
      ["no dims", { inputIds: { data: ids } }],
      ["dims 1-D", { inputIds: { data: ids, dims: [3] } }],
      ["dims 3-D", { inputIds: { data: ids, dims: [1, 1, 3] } }],
      ["dims mismatch", { inputIds: { data: ids, dims: [1, 4] } }],
      ["dims NaN", { inputIds: { data: ids, dims: [NaN, 3] } }],
      ["dims Infinity", { inputIds: { data: ids, dims: [Infinity, 0] } }],
      ["dims negative", { inputIds: { data: ids, dims: [-1, -3] } }],
      ["dims fractional", { inputIds: { data: ids, dims: [0.5, 6] } }],
      ["dims strings", { inputIds: { data: ids, dims: ["1", "3"] } }],
      ["dims huge", { inputIds: { data: new Int32Array(0), dims: [2 ** 53, 0] } }],
      ["empty", { inputIds: { data: new Int32Array(0), dims: [0, 0] } }],
      ["too long", { inputIds: { data: new Int32Array(513), dims: [1, 513] } }],
      ["BigInt ids huge", { inputIds: { data: new BigInt64Array([101n, 2n ** 62n, 102n]), dims: [1, 3] } }],
      ["BigInt ids negative", { inputIds: { data: new BigInt64Array([101n, -1n, 102n]), dims: [1, 3] } }],
      ["mask wrong dims", {
        inputIds: { data: ids, dims: [1, 3] },
        attentionMask: { data: ids, dims: [3, 1] },
      }],
      ["mask floats", {
        inputIds: { data: ids, dims: [1, 3] },
        attentionMask: { data: new Float32Array([1, NaN, 1]), dims: [1, 3] },
      }],
      ["mask not a tensor", { inputIds: { data: ids, dims: [1, 3] }, attentionMask: [1, 1, 1] }],
    ];
    for (const [label, inputs] of cases) {
      // deno-lint-ignore no-explicit-any
      const o = outcome(label, () => model.forward(inputs as any), [TypeError, RangeError]);
      assert.equal(o.ok, false, `${label}: expected an error`);
    }
    // The model still works after all of that.
    const out = model.forward({ inputIds: { data: ids, dims: [1, 3] } });
    assert.ok(out.lastHiddenState.data.every(Number.isFinite));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The tiny checkpoint with `edit` applied to a copy of one tensor, written into a fresh folder. */
async function editedCheckpoint(name: string, edit: (data: Float32Array) => void): Promise<string> {
  const dir = await tinyModelDir("denobert-nan-");
  const src = await SafetensorsFile.open(`${dir}/model.safetensors`);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [key, info] of src.tensors) {
    const data = src.getFloat32(key).slice();
    if (key === name) edit(data);
    tensors[key] = { dtype: "F32", shape: info.shape, data };
  }
  await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(tensors));
  return dir;
}

Deno.test("NaN/Infinity in weights: propagate like PyTorch, confined to the sequences that use them", async () => {
  const D = TINY_CONFIG.dim;
  const BAD_ID = 7;
  const ids = new Int32Array([101, BAD_ID, 102, 0, 101, 8, 9, 102]);
  const mask = new Int32Array([1, 1, 1, 0, 1, 1, 1, 1]);
  const masked = new Int32Array([1, 0, 1, 0, 1, 1, 1, 1]); // BAD_ID masked out in row 0
  const clean = await tinyModelDir();
  let reference: Float32Array, referenceMasked: Float32Array;
  {
    using model = await DistilBertModel.load(clean);
    reference =
      model.forward({ inputIds: tensor(ids, 2, 4), attentionMask: tensor(mask, 2, 4) }).lastHiddenState.data;
    referenceMasked = model.forward({ inputIds: tensor(ids, 2, 4), attentionMask: tensor(masked, 2, 4) })
      .lastHiddenState.data;
  }
  await Deno.remove(clean, { recursive: true });
  const rowOf = (x: Float32Array, row: number) => x.subarray(row * 4 * D, (row + 1) * 4 * D);
  for (const value of [NaN, Infinity, -Infinity]) {
    // One word-embedding row: every real token of a sequence that contains it becomes NaN (LayerNorm of
    // Inf is NaN, attention spreads it), other sequences are untouched, and masking the token out hides it.
    const dir = await editedCheckpoint(
      "distilbert.embeddings.word_embeddings.weight",
      (w) => w[BAD_ID * D + 3] = value,
    );
    try {
      using model = await DistilBertModel.load(dir);
      const out =
        model.forward({ inputIds: tensor(ids, 2, 4), attentionMask: tensor(mask, 2, 4) }).lastHiddenState;
      const row0 = rowOf(out.data, 0);
      assert.ok(row0.subarray(0, 3 * D).every(Number.isNaN), `${value}: row 0 should be all NaN`);
      assert.ok(row0.subarray(3 * D).every((x) => x === 0), `${value}: padding stays zero`);
      assert.equal(maxDiff(rowOf(out.data, 1), rowOf(reference, 1)), 0, `${value}: row 1 must be untouched`);
      const hidden = model.forward({ inputIds: tensor(ids, 2, 4), attentionMask: tensor(masked, 2, 4) })
        .lastHiddenState.data;
      assert.equal(maxDiff(hidden, referenceMasked), 0, `${value}: a masked token must not leak`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  // NaN/Inf in other weights: no crash, the shapes are right, and a NaN anywhere in a layer reaches the output.
  const r = new Rng(24);
  const names = [
    "distilbert.transformer.layer.0.attention.q_lin.weight",
    "distilbert.transformer.layer.1.attention.v_lin.bias",
    "distilbert.transformer.layer.2.ffn.lin1.weight",
    "distilbert.transformer.layer.4.output_layer_norm.weight",
    "distilbert.embeddings.position_embeddings.weight",
    "vocab_projector.bias",
  ];
  for (const name of names) {
    const value = r.pick([NaN, Infinity, -Infinity]);
    const dir = await editedCheckpoint(name, (w) => w[r.int(Math.min(w.length, 32))] = value);
    try {
      using model = await AutoModel.load(dir);
      // deno-lint-ignore no-explicit-any
      const out = (model as any).forward({ inputIds: tensor(ids, 2, 4), attentionMask: tensor(mask, 2, 4) });
      const data: Float32Array = (out.logits ?? out.lastHiddenState).data;
      assert.ok(data.some((x) => !Number.isFinite(x)), `${name} = ${value}: the output should show it`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("sequence classification: a masked first token is refused; an all-zero row is finite and row-independent", async () => {
  const dir = await tinyModelDir();
  try {
    const raw = { ...TINY_CONFIG, architectures: ["DistilBertForSequenceClassification"] };
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(raw));
    const src = await SafetensorsFile.open(`${dir}/model.safetensors`);
    const tensors: Record<string, TensorToWrite> = {};
    for (const [key, info] of src.tensors) {
      if (key.startsWith("distilbert.")) {
        tensors[key] = { dtype: "F32", shape: info.shape, data: src.getFloat32(key) };
      }
    }
    const D = TINY_CONFIG.dim;
    const r = new Rng(25);
    const rand = (n: number) => new Float32Array(n).map(() => r.float() - 0.5);
    tensors["pre_classifier.weight"] = { dtype: "F32", shape: [D, D], data: rand(D * D) };
    tensors["pre_classifier.bias"] = { dtype: "F32", shape: [D], data: rand(D) };
    tensors["classifier.weight"] = { dtype: "F32", shape: [2, D], data: rand(2 * D) };
    tensors["classifier.bias"] = { dtype: "F32", shape: [2], data: rand(2) };
    await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(tensors));
    using model = await DistilBertForSequenceClassification.load(dir);
    const ids = tensor(new Int32Array([101, 7, 102, 101, 8, 102]), 2, 3);
    const masked = outcome(
      "masked first token",
      () => model.forward({ inputIds: ids, attentionMask: tensor(new Int32Array([1, 1, 1, 0, 1, 1]), 2, 3) }),
    );
    assert.equal(masked.ok, false);
    assert.match(masked.error.message, /first token is masked/);
    // An all-zero row attends uniformly over all its tokens, as Hugging Face does: finite, and the same as
    // that row alone.
    const out = model.forward({
      inputIds: ids,
      attentionMask: tensor(new Int32Array([1, 1, 0, 0, 0, 0]), 2, 3),
    });
    assert.deepEqual(out.logits.dims, [2, 2]);
    assert.ok(out.logits.data.every(Number.isFinite));
    const alone = model.forward({
      inputIds: tensor(new Int32Array([101, 8, 102]), 1, 3),
      attentionMask: tensor(new Int32Array([0, 0, 0]), 1, 3),
    });
    assert.ok(maxDiff(out.logits.data.subarray(2), alone.logits.data) <= 1e-6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
