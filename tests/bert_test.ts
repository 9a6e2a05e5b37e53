// BERT against transformers 4.31 (scripts/bert_reference.py): synth-v1 checkpoints of the all-MiniLM-L6-v2
// shape (384 / 6 layers / 12 heads / 1536) and the bert-base shape, every hidden state, the pooler and every
// head, with token type ids 1 and a padded row; plus BERT's key-name variants and input checks.

import assert from "node:assert/strict";
import {
  AutoModel,
  BertForMaskedLM,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  DistilBertModel,
  type FloatTensor,
  type IntTensor,
  parseConfig,
  SafetensorsFile,
  serializeSafetensors,
} from "../mod.ts";
import { ensureSynthFromConfig, ensureSynthModel } from "./helpers/synth_cache.ts";
import { fixturePath, maxDiff, maxDiffUnpadded } from "./helpers/reference.ts";

type Shape = "bert-minilm" | "bert-base";
const TOL: Record<Shape, number> = { "bert-minilm": 1e-5, "bert-base": 5e-5 };
const CASES: Record<Shape, string[]> = { "bert-minilm": ["b1-s32", "b2-s16"], "bert-base": ["b2-s16"] };

function synth(shape: Shape, head: string): Promise<string> {
  return ensureSynthFromConfig(fixturePath(`models/${shape}/config.${head}.json`), `${shape}-${head}`);
}

async function reference(shape: Shape, refCase: string) {
  const file = await SafetensorsFile.open(fixturePath(`models/${shape}/ref-${refCase}.safetensors`));
  const info = file.info("input_ids");
  const dims = [info.shape[0], info.shape[1]];
  const inputs = {
    inputIds: { data: file.getBigInt64("input_ids"), dims } as IntTensor,
    attentionMask: { data: file.getInt32("attention_mask"), dims } as IntTensor,
    tokenTypeIds: { data: file.getBigInt64("token_type_ids"), dims } as IntTensor,
  };
  const float = (name: string): FloatTensor => ({
    data: file.getFloat32(name),
    dims: [...file.info(name).shape],
  });
  return { file, inputs, float, mask: inputs.attentionMask };
}

for (const shape of ["bert-minilm", "bert-base"] as Shape[]) {
  const tol = TOL[shape];
  Deno.test(`${shape}: every hidden state and the pooler output match transformers' BertModel`, async () => {
    const dir = await synth(shape, "model");
    using model = await BertModel.load(dir);
    assert.equal(model.hasPooler, true);
    // The weights are the ones the references were computed from (synth-v1 reproduces them bit for bit).
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/model.safetensors`)),
    );
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(hex, (await reference(shape, CASES[shape][0])).file.metadata["model.sha256"]);
    for (const c of CASES[shape]) {
      const ref = await reference(shape, c);
      const out = model.forward(ref.inputs, { outputHiddenStates: true });
      assert.equal(out.hiddenStates!.length, model.config.num_hidden_layers + 1);
      let worst = 0;
      out.hiddenStates!.forEach((h, i) => {
        const d = maxDiffUnpadded(h, ref.float(`hidden_states.${i}`), ref.mask);
        worst = Math.max(worst, d);
        assert.ok(d <= tol, `${c} hidden_states.${i}: ${d}`);
      });
      const pooled = maxDiff(out.poolerOutput!, ref.float("pooler_output"));
      console.log(
        `  ${shape} ${c} hidden states max|diff| ${worst.toExponential(2)}, pooler ${
          pooled.toExponential(2)
        }`,
      );
      assert.ok(pooled <= tol, `${c} pooler: ${pooled}`);
      // The token types matter: without them (all zeros) the second segment's states differ.
      const noTypes = model.forward({ inputIds: ref.inputs.inputIds, attentionMask: ref.mask });
      assert.ok(maxDiffUnpadded(noTypes.lastHiddenState, out.lastHiddenState, ref.mask) > 100 * tol);
    }
  });

  Deno.test(`${shape}: heads match transformers' BertFor* (AutoModel picks them)`, async () => {
    using mlm = await AutoModel.load(await synth(shape, "mlm"));
    using seqcls = await AutoModel.load(await synth(shape, "seqcls"));
    using qa = await AutoModel.load(await synth(shape, "qa"));
    using tokcls = await AutoModel.load(await synth(shape, "tokcls"));
    assert.ok(mlm instanceof BertForMaskedLM);
    assert.ok(seqcls instanceof BertForSequenceClassification);
    assert.ok(qa instanceof BertForQuestionAnswering);
    assert.ok(tokcls instanceof BertForTokenClassification);
    assert.equal(seqcls.config.layer_norm_eps, 1e-5);
    assert.deepEqual(seqcls.labelNames, ["negative", "neutral", "positive"]);
    for (const c of CASES[shape]) {
      const ref = await reference(shape, c);
      const positions = Array.from(ref.file.getBigInt64("mlm.positions"), Number);
      const d = {
        mlm: maxDiff(mlm.forwardAt(ref.inputs, positions).logits, ref.float("mlm.logits")),
        seqcls: maxDiff(seqcls.forward(ref.inputs).logits, ref.float("seqcls.logits")),
        qaStart: maxDiffUnpadded(qa.forward(ref.inputs).startLogits, ref.float("qa.start_logits"), ref.mask),
        qaEnd: maxDiffUnpadded(qa.forward(ref.inputs).endLogits, ref.float("qa.end_logits"), ref.mask),
        tokcls: maxDiffUnpadded(tokcls.forward(ref.inputs).logits, ref.float("tokcls.logits"), ref.mask),
      };
      // forward() gives the same rows as forwardAt().
      const full = mlm.forward(ref.inputs).logits, V = mlm.config.vocab_size;
      const rows = positions.flatMap((p) => Array.from(full.data.subarray(p * V, (p + 1) * V)));
      const mlmFull = maxDiff(
        { data: new Float32Array(rows), dims: [positions.length, V] },
        ref.float("mlm.logits"),
      );
      console.log(
        `  ${shape} ${c} ` +
          Object.entries({ ...d, mlmFull }).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", "),
      );
      for (const [k, v] of Object.entries({ ...d, mlmFull })) assert.ok(v <= tol, `${c} ${k}: ${v}`);
    }
  });
}

// A small BERT checkpoint written here, for key-name variants and errors (no reference needed: it must give
// exactly what the same weights under the canonical names give).
const TINY = {
  model_type: "bert",
  architectures: ["BertModel"],
  vocab_size: 50,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 24,
  max_position_embeddings: 20,
  type_vocab_size: 3,
};

async function tinyDir(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(TINY));
  return dir;
}

Deno.test("BERT keys: the bert. prefix and legacy LayerNorm.gamma/beta names load the same weights", async () => {
  const src = await ensureSynthFromConfig(await writeTinyConfig(), "bert-tiny-model");
  const file = await SafetensorsFile.open(`${src}/model.safetensors`);
  const inputs = {
    inputIds: { data: new Int32Array([1, 7, 9, 3, 2, 5, 0, 0]), dims: [2, 4] },
    attentionMask: { data: new Int32Array([1, 1, 1, 1, 1, 1, 0, 0]), dims: [2, 4] },
    tokenTypeIds: { data: new Int32Array([0, 0, 1, 2, 0, 1, 0, 0]), dims: [2, 4] },
  };
  using plain = await BertModel.load(src);
  const want = plain.forward(inputs).lastHiddenState;
  const renamed: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const key of file.tensors.keys()) {
    const name = "bert." +
      key.replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(/LayerNorm\.bias$/, "LayerNorm.beta");
    renamed[name] = { dtype: "F32", shape: [...file.info(key).shape], data: file.getFloat32(key) };
  }
  const dir = await tinyDir();
  try {
    await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(renamed));
    using legacy = await BertModel.load(dir);
    assert.deepEqual(legacy.forward(inputs).lastHiddenState, want);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function writeTinyConfig(): Promise<string> {
  const path = `${await Deno.makeTempDir()}/config.json`;
  await Deno.writeTextFile(path, JSON.stringify(TINY));
  return path;
}

Deno.test("BERT inputs: tokenTypeIds are checked like inputIds; DistilBERT refuses them", async () => {
  using model = await BertModel.load(await ensureSynthFromConfig(await writeTinyConfig(), "bert-tiny-model"));
  const inputIds = { data: new Int32Array([1, 7, 9]), dims: [1, 3] };
  assert.throws(
    () => model.forward({ inputIds, tokenTypeIds: { data: new Int32Array([0, 3, 0]), dims: [1, 3] } }),
    /tokenTypeIds\[0\]\[1\] = 3 is outside \[0, 3\) \(type_vocab_size\)/,
  );
  assert.throws(
    () => model.forward({ inputIds, tokenTypeIds: { data: new Int32Array([0, -1, 0]), dims: [1, 3] } }),
    /tokenTypeIds\[0\]\[1\] = -1 is outside/,
  );
  assert.throws(
    () => model.forward({ inputIds, tokenTypeIds: { data: new Int32Array([0, 0]), dims: [1, 2] } }),
    /tokenTypeIds dims \[1, 2\] differ from inputIds dims \[1, 3\]/,
  );
  // Omitted = zeros.
  const zeros = model.forward({ inputIds, tokenTypeIds: { data: new Int32Array(3), dims: [1, 3] } });
  assert.deepEqual(model.forward({ inputIds }).lastHiddenState, zeros.lastHiddenState);
  // Left padding is refused by the pooler (it reads the first token).
  assert.throws(
    () => model.forward({ inputIds, attentionMask: { data: new Int32Array([0, 1, 1]), dims: [1, 3] } }),
    /row 0: its first token is masked/,
  );
  const distilDir = await ensureSynthModel("tiny", "mlm");
  using distil = await DistilBertModel.load(distilDir);
  assert.throws(
    () => distil.forward({ inputIds, tokenTypeIds: { data: new Int32Array(3), dims: [1, 3] } }),
    /tokenTypeIds was given, but this model family has no token type embeddings \(DistilBERT\)/,
  );
  await assert.rejects(
    BertModel.load(distilDir),
    /model_type is "distilbert", so BertModel cannot load it \(use DistilBertModel or AutoModel\)/,
  );
});

Deno.test("BERT config: HF's defaults, and clear errors for what is not supported", () => {
  const c = parseConfig({ model_type: "bert" });
  assert.equal(c.model_type, "bert");
  if (c.model_type !== "bert") return;
  assert.deepEqual(
    [c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size, c.hidden_act],
    [768, 12, 12, 3072, "gelu"],
  );
  assert.deepEqual([c.dim, c.n_layers, c.n_heads, c.hidden_dim, c.activation], [768, 12, 12, 3072, "gelu"]);
  assert.deepEqual(
    [c.layer_norm_eps, c.type_vocab_size, c.max_position_embeddings, c.pad_token_id, c.vocab_size],
    [1e-12, 2, 512, 0, 30522],
  );
  assert.equal(parseConfig({ model_type: "bert", layer_norm_eps: 1e-7 }).layer_norm_eps, 1e-7);
  assert.throws(
    () => parseConfig({ model_type: "bert", position_embedding_type: "relative_key" }),
    /position_embedding_type "relative_key" is not supported \(supported: "absolute"\)/,
  );
  // transformers keeps a null and then adds no position embeddings: not the absolute default.
  assert.throws(
    () => parseConfig({ model_type: "bert", position_embedding_type: null }),
    /position_embedding_type null is not supported \(supported: "absolute"\)/,
  );
  assert.throws(
    () => parseConfig({ model_type: "bert", hidden_act: "gelu_new" }),
    /hidden_act "gelu_new" is not supported/,
  );
  assert.throws(
    () => parseConfig({ model_type: "bert", hidden_size: 100, num_attention_heads: 12 }),
    /"hidden_size" \(100\) must be divisible by "num_attention_heads" \(12\)/,
  );
  assert.throws(
    () => parseConfig({ model_type: "bert", layer_norm_eps: 0 }),
    /"layer_norm_eps" must be a number/,
  );
  assert.throws(
    () => parseConfig({ model_type: "bert", type_vocab_size: 0 }),
    /"type_vocab_size" must be an integer/,
  );
  // A decoder's causal mask is not run here: refused rather than answered as an encoder.
  for (const bad of [true, 1, "true"]) {
    assert.throws(
      () => parseConfig({ model_type: "bert", is_decoder: bad }),
      /is_decoder .* is not supported .*is_decoder must be false or absent/,
    );
  }
  assert.equal(parseConfig({ model_type: "bert", is_decoder: false }).model_type, "bert");
});
