import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  checkpointLayout,
  sinusoidalPositionEmbeddings,
  synthCheckpoint,
  type SynthConfig,
  synthTensor,
  writeSynthModel,
} from "../scripts/synth.ts";
import { SafetensorsFile } from "../src/safetensors.ts";
import { ensureSynthModel } from "./helpers/synth_cache.ts";
import { slowTest } from "./helpers/unit.ts";

const MODELS = new URL("./fixtures/models/", import.meta.url);
const HEADS = ["mlm", "seqcls", "qa", "tokcls"] as const;

type Manifest = Record<string, { sha256: string; shape: number[] }>;

function readJson<T>(rel: string): T {
  return JSON.parse(Deno.readTextFileSync(new URL(rel, MODELS))) as T;
}

function sha256(data: Float32Array): string {
  return createHash("sha256").update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest(
    "hex",
  );
}

function sortedShapes(entries: Iterable<[string, { shape: readonly number[] }]>): [string, number[]][] {
  return [...entries].map(([k, v]): [string, number[]] => [k, [...v.shape]]).sort(([a], [b]) =>
    a < b ? -1 : 1
  );
}

function checkSize(size: "tiny" | "base"): void {
  // Encoder tensors are identical across heads: generate and hash every distinct tensor once.
  const hashes = new Map<string, string>();
  for (const head of HEADS) {
    const config = readJson<SynthConfig>(`${size}/config.${head}.json`);
    const manifest = readJson<Manifest>(`${size}/synth-v1.${head}.sha256.json`);
    const layout = checkpointLayout(config);
    assert.deepEqual(
      sortedShapes(layout.map((s) => [s.key, s]) as [string, { shape: number[] }][]),
      sortedShapes(Object.entries(manifest)),
      `${size} ${head}: keys and shapes`,
    );
    for (const { key, shape } of layout) {
      const id = `${key} ${shape}`;
      if (!hashes.has(id)) hashes.set(id, sha256(synthTensor(key, shape)));
      assert.equal(hashes.get(id), manifest[key].sha256, `${size} ${head}: ${key}`);
    }
  }
}

Deno.test("synth-v1 reproduces every sha256 of the tiny manifests (all four heads)", () => {
  checkSize("tiny");
  // synthCheckpoint returns the same data, keyed and shaped like the layout.
  for (const head of HEADS) {
    const config = readJson<SynthConfig>(`tiny/config.${head}.json`);
    const manifest = readJson<Manifest>(`tiny/synth-v1.${head}.sha256.json`);
    const ck = synthCheckpoint(config);
    assert.deepEqual(sortedShapes(ck), sortedShapes(Object.entries(manifest)));
    for (const [k, t] of ck) {
      assert.equal(t.dtype, "F32");
      assert.equal(sha256(t.data), manifest[k].sha256, k);
    }
  }
});

Deno.test("synth-v1 reproduces every sha256 of the base manifests (all four heads)", () => {
  const t0 = performance.now();
  checkSize("base");
  const ms = performance.now() - t0;
  console.log(`base: generated and hashed 4 heads in ${(ms / 1000).toFixed(2)} s`);
});

Deno.test("synth-v1 tiny MLM equals the HF-exported fixture model.safetensors bit for bit", async () => {
  const hf = await SafetensorsFile.open(new URL("tiny/model.safetensors", MODELS).pathname);
  const ck = synthCheckpoint(readJson<SynthConfig>("tiny/config.mlm.json"));
  assert.deepEqual(sortedShapes(hf.tensors), sortedShapes(ck));
  for (const [k, t] of ck) {
    assert.equal(hf.info(k).dtype, "F32");
    assert.deepEqual(hf.getBytes(k), new Uint8Array(t.data.buffer), k);
  }
});

Deno.test("synthTensor: roles, range and known values", () => {
  const w = synthTensor("x.weight", [1000]);
  const lim = 0.02 * Math.sqrt(3);
  for (const v of w) assert.ok(Math.abs(v) < lim);
  for (const v of synthTensor("x.LayerNorm.weight", [100])) assert.ok(v > 0.9 && v < 1.1);
  for (const v of synthTensor("x.layer_norm.bias", [100])) assert.ok(Math.abs(v) < 0.1);
  for (const v of synthTensor("x.bias", [100])) assert.ok(Math.abs(v) < 0.02);
  // Literal transcription of the spec for a few elements.
  const key = "distilbert.embeddings.word_embeddings.weight";
  let seed = 0x811c9dc5;
  for (const b of new TextEncoder().encode(key)) {
    seed = Number((BigInt((seed ^ b) >>> 0) * 0x01000193n) % 2n ** 32n);
  }
  seed >>>= 0;
  const mul = (a: number, b: number) => Number((BigInt(a >>> 0) * BigInt(b)) % 2n ** 32n);
  const data = synthTensor(key, [7, 3]);
  for (let i = 0; i < 21; i++) {
    let x = (i ^ seed) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    x = mul(x, 0x7feb352d);
    x = (x ^ (x >>> 15)) >>> 0;
    x = mul(x, 0x846ca68b);
    x = (x ^ (x >>> 16)) >>> 0;
    const u = ((x >>> 8) + 0.5) / 2 ** 24;
    assert.equal(data[i], Math.fround(0 + 0.02 * Math.sqrt(3) * (2 * u - 1)));
  }
  assert.throws(() => synthTensor("k", [-1]), /synth-v1: k: invalid shape/);
});

Deno.test("checkpointLayout: DistilBertModel, untied MLM, label counts, errors", () => {
  const base = readJson<SynthConfig>("tiny/config.mlm.json");
  const plain = checkpointLayout({ ...base, architectures: ["DistilBertModel"] });
  assert.equal(plain.length, 4 + 5 * 16);
  assert.equal(plain[0].key, "embeddings.word_embeddings.weight");
  assert.ok(plain.every((s) => !s.key.startsWith("distilbert.")));
  assert.deepEqual(checkpointLayout({ ...base, architectures: undefined }), plain);
  const untied = checkpointLayout({ ...base, tie_word_embeddings: false });
  assert.deepEqual(untied.find((s) => s.key === "vocab_projector.weight")?.shape, [1124, 32]);
  const seq = checkpointLayout({
    ...base,
    architectures: ["DistilBertForSequenceClassification"],
    num_labels: 5,
  });
  assert.deepEqual(seq.find((s) => s.key === "classifier.weight")?.shape, [5, 32]);
  const dflt = checkpointLayout({ ...base, architectures: ["DistilBertForTokenClassification"] });
  assert.deepEqual(dflt.find((s) => s.key === "classifier.bias")?.shape, [2]);
  assert.throws(
    () => checkpointLayout({ ...base, architectures: ["BertModel"] }),
    /architectures must be one of/,
  );
  assert.throws(() => checkpointLayout({ ...base, dim: 30 }), /dim 30 is not divisible by n_heads 4/);
  assert.throws(
    () => checkpointLayout({ ...base, hidden_dim: 0 }),
    /config\.hidden_dim must be a positive integer/,
  );
  assert.throws(() => checkpointLayout({ ...base, model_type: "roberta" }), /model_type is "roberta"/);
  // BERT reads its own size names.
  assert.throws(
    () => checkpointLayout({ ...base, model_type: "bert", architectures: ["BertModel"] }),
    /config\.hidden_size must be a positive integer/,
  );
});

Deno.test("checkpointLayout: BERT keys (bert. prefix in heads, pooler, tied MLM decoder)", () => {
  const bert = {
    model_type: "bert",
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 12,
    vocab_size: 10,
    max_position_embeddings: 6,
  } as unknown as SynthConfig;
  const keys = (arch: string) => checkpointLayout({ ...bert, architectures: [arch] }).map((t) => t.key);
  const model = keys("BertModel");
  assert.equal(model.length, 5 + 16 + 2);
  assert.ok(model.includes("embeddings.token_type_embeddings.weight"));
  assert.ok(model.includes("encoder.layer.0.attention.self.query.weight"));
  assert.ok(model.includes("pooler.dense.bias"));
  const mlm = keys("BertForMaskedLM");
  assert.ok(
    mlm.includes("bert.encoder.layer.0.output.LayerNorm.weight") && mlm.includes("cls.predictions.bias"),
  );
  assert.ok(!mlm.includes("cls.predictions.decoder.weight") && !mlm.includes("bert.pooler.dense.weight"));
  assert.ok(keys("BertForSequenceClassification").includes("bert.pooler.dense.weight"));
  const types = checkpointLayout({ ...bert, type_vocab_size: 3 }).find((t) =>
    t.key === "embeddings.token_type_embeddings.weight"
  );
  assert.deepEqual(types?.shape, [3, 8]);
});

Deno.test("sinusoidal position embeddings match HF's formula (hashes computed with NumPy)", () => {
  // numpy: pos / np.power(10000, 2 * (j // 2) / dim); sin on even columns, cos on odd; astype(float32)
  const expected: [number, number, string][] = [
    [512, 768, "8d6fbfc7dc2988fe01e17ab981c41cb9d4f1a82cd7a41c59fe9882bfdc8fff0a"],
    [512, 32, "849be61b088d3b6a41d7f6a9a7c652a0b525b47e957e0eacb015249109803807"],
    [128, 128, "fc55907aaba4d3a44202989bc361f183a0509f4fa09547f980419a0adb116582"],
  ];
  for (const [n, d, h] of expected) assert.equal(sha256(sinusoidalPositionEmbeddings(n, d)), h, `${n}x${d}`);
  const config = { ...readJson<SynthConfig>("tiny/config.qa.json"), sinusoidal_pos_embds: true };
  const ck = synthCheckpoint(config);
  assert.equal(sha256(ck.get("distilbert.embeddings.position_embeddings.weight")!.data), expected[1][2]);
});

Deno.test("writeSynthModel writes config.json + model.safetensors; ensureSynthModel caches", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const configPath = new URL("tiny/config.seqcls.json", MODELS).pathname;
    await writeSynthModel(configPath, `${dir}/out`);
    assert.equal(await Deno.readTextFile(`${dir}/out/config.json`), await Deno.readTextFile(configPath));
    const st = await SafetensorsFile.open(`${dir}/out/model.safetensors`);
    const ck = synthCheckpoint(readJson<SynthConfig>("tiny/config.seqcls.json"));
    assert.deepEqual(sortedShapes(st.tensors), sortedShapes(ck));
    for (const [k, t] of ck) assert.deepEqual(st.getFloat32(k), t.data);
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort(), [
      "config.json",
      "model.safetensors",
    ]);
    // Config object form.
    const config = readJson<SynthConfig>("tiny/config.qa.json");
    await writeSynthModel(config, `${dir}/obj`);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/obj/config.json`)), config);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const cached = await ensureSynthModel("tiny", "tokcls");
  assert.match(cached, /\/\.cache\/synth-v1\/tiny-tokcls$/);
  const mtime = (await Deno.stat(`${cached}/model.safetensors`)).mtime;
  assert.equal(await ensureSynthModel("tiny", "tokcls"), cached);
  assert.deepEqual((await Deno.stat(`${cached}/model.safetensors`)).mtime, mtime, "reused, not rewritten");
  const st = await SafetensorsFile.open(`${cached}/model.safetensors`);
  assert.deepEqual(st.info("classifier.weight").shape, [9, 32]);
  // A truncated file is detected and regenerated.
  const bytes = await Deno.readFile(`${cached}/model.safetensors`);
  await Deno.writeFile(`${cached}/model.safetensors`, bytes.subarray(0, bytes.length - 4));
  await ensureSynthModel("tiny", "tokcls");
  assert.equal((await Deno.stat(`${cached}/model.safetensors`)).size, bytes.length);
});

slowTest("CLI writes a model", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        new URL("../scripts/synth.ts", import.meta.url).pathname,
        new URL("tiny/config.qa.json", MODELS).pathname,
        dir,
      ],
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const st = await SafetensorsFile.open(`${dir}/model.safetensors`);
    assert.deepEqual(st.info("qa_outputs.weight").shape, [2, 32]);
    assert.equal(st.metadata.generator, "synth-v1");
    const usage = await new Deno.Command(Deno.execPath(), {
      args: ["run", new URL("../scripts/synth.ts", import.meta.url).pathname],
    }).output();
    assert.equal(usage.code, 2);
    assert.match(new TextDecoder().decode(usage.stderr), /usage: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
