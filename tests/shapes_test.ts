// Models of unusual shapes against transformers 4.31 (scripts/shapes_reference.py): widths that are no
// multiple of 16 or 32, head sizes 1, 3, 5, 9, 17, 33 and 36, a single head, one layer, inputs at exactly
// max_position_embeddings, a ragged batch and a one-token batch, BERT with one and three token types, relu,
// a DistilBERT config without hidden_dim (transformers then builds a 3072-wide FFN, whatever dim is), one
// with its head and layer counts under the attribute_map names (num_attention_heads, num_hidden_layers).
// fp32 on 1 and 2 threads within 1e-5 of every hidden state and head; bf16 and q8 run the same shapes and
// stay close (worst per-token cosine). A checkpoint transformers writes that this library refuses: pruned
// heads.

import assert from "node:assert/strict";
import {
  BertForMaskedLM,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  DistilBertForMaskedLM,
  DistilBertForQuestionAnswering,
  DistilBertForSequenceClassification,
  DistilBertForTokenClassification,
  DistilBertModel,
  type Dtype,
  type FloatTensor,
  type IntTensor,
  type LoadOptions,
  type ModelInputs,
  SafetensorsFile,
} from "../mod.ts";
import { Backend } from "../src/backend.ts";
import { fixturePath, maxDiff, maxDiffUnpadded } from "./helpers/reference.ts";

const SHAPES = [
  "distilbert-d36-h1",
  "distilbert-d40-h8",
  "distilbert-d100-h100",
  "distilbert-d51-h3",
  "distilbert-d66-h2",
  "distilbert-d9-h3",
  "distilbert-d64-h2",
  "distilbert-d8-ffn-default",
  "distilbert-d48-aliases",
  "bert-d36-h4-types1",
  "bert-d40-h5-types3",
  "bert-d96-h3",
];
const CASES = ["ragged", "one"];
const TOL = 1e-5;

const dirOf = (shape: string) => fixturePath(`models/shapes/${shape}`);

async function reference(shape: string) {
  const file = await SafetensorsFile.open(`${dirOf(shape)}/ref.safetensors`);
  const inputs = (c: string): ModelInputs => {
    const info = file.info(`${c}.input_ids`);
    const dims = [info.shape[0], info.shape[1]];
    const out: ModelInputs = {
      inputIds: { data: file.getBigInt64(`${c}.input_ids`), dims } as IntTensor,
      attentionMask: { data: file.getInt32(`${c}.attention_mask`), dims } as IntTensor,
    };
    if (file.has(`${c}.token_type_ids`)) {
      out.tokenTypeIds = { data: file.getBigInt64(`${c}.token_type_ids`), dims } as IntTensor;
    }
    return out;
  };
  const float = (name: string): FloatTensor => ({
    data: file.getFloat32(name),
    dims: [...file.info(name).shape],
  });
  return { file, inputs, float };
}

// Every output of every class, by the reference's names.
async function outputs(shape: string, options: LoadOptions, inputs: ModelInputs) {
  const bert = shape.startsWith("bert");
  const dir = dirOf(shape);
  const out: Record<string, FloatTensor> = {};
  {
    using m = bert ? await BertModel.load(dir, options) : await DistilBertModel.load(dir, options);
    const o = m.forward(inputs, { outputHiddenStates: true });
    o.hiddenStates!.forEach((h, i) => out[`hidden_states.${i}`] = h);
    if (bert) out.pooler_output = o.poolerOutput!;
  }
  {
    using m = bert
      ? await BertForMaskedLM.load(dir, options)
      : await DistilBertForMaskedLM.load(dir, options);
    out["mlm.logits"] = m.forward(inputs).logits;
  }
  {
    using m = bert
      ? await BertForSequenceClassification.load(dir, options)
      : await DistilBertForSequenceClassification.load(dir, options);
    out["seqcls.logits"] = m.forward(inputs).logits;
  }
  {
    using m = bert
      ? await BertForQuestionAnswering.load(dir, options)
      : await DistilBertForQuestionAnswering.load(dir, options);
    const o = m.forward(inputs);
    out["qa.start_logits"] = o.startLogits;
    out["qa.end_logits"] = o.endLogits;
  }
  {
    using m = bert
      ? await BertForTokenClassification.load(dir, options)
      : await DistilBertForTokenClassification.load(dir, options);
    out["tokcls.logits"] = m.forward(inputs).logits;
  }
  return out;
}

const PER_SEQUENCE = new Set(["pooler_output", "seqcls.logits"]);

for (const shape of SHAPES) {
  for (const threads of [1, 2]) {
    Deno.test(`${shape}: fp32 on ${threads} thread(s) matches transformers, every hidden state and head`, async () => {
      const ref = await reference(shape);
      for (const c of CASES) {
        const inputs = ref.inputs(c);
        const got = await outputs(shape, { threads }, inputs);
        const names = [...ref.file.tensors.keys()].filter((k) =>
          k.startsWith(`${c}.`) && !/ids$|mask$/.test(k)
        );
        assert.deepEqual(Object.keys(got).sort(), names.map((k) => k.slice(c.length + 1)).sort());
        for (const [name, t] of Object.entries(got)) {
          const want = ref.float(`${c}.${name}`);
          const d = PER_SEQUENCE.has(name)
            ? maxDiff(t, want)
            : maxDiffUnpadded(t, want, inputs.attentionMask!);
          assert.ok(d <= TOL, `${c} ${name}: max|diff| ${d}`);
        }
      }
    });
  }
}

/** Worst cosine between rows of `a` and `b` ([B, S, D]) over real tokens. */
function worstCosine(a: FloatTensor, b: FloatTensor, mask: IntTensor): number {
  const D = a.dims[a.dims.length - 1];
  let worst = 1;
  for (let r = 0; r < a.data.length / D; r++) {
    if (Number(mask.data[r]) === 0) continue;
    let ab = 0, aa = 0, bb = 0;
    for (let i = r * D; i < (r + 1) * D; i++) {
      ab += a.data[i] * b.data[i];
      aa += a.data[i] * a.data[i];
      bb += b.data[i] * b.data[i];
    }
    const cos = ab / Math.sqrt(aa * bb);
    if (!(cos >= worst)) worst = Number.isNaN(cos) ? -Infinity : cos;
  }
  return worst;
}

const LOWP_BOUND: Record<Exclude<Dtype, "fp32">, number> = { bf16: 0.999, q8: 0.99 };

for (const dtype of ["bf16", "q8"] as const) {
  Deno.test(`unusual shapes in ${dtype}, every kernel path: every head runs and stays close to transformers`, async () => {
    using probe = await Backend.open({ threads: 1 });
    const paths = probe.lowpPaths()[dtype];
    for (const shape of SHAPES) {
      const ref = await reference(shape);
      for (const c of CASES) {
        const inputs = ref.inputs(c);
        let first: Record<string, FloatTensor> | undefined;
        for (const path of paths) {
          Deno.env.set("DENOBERT_LOWP_PATH", path);
          try {
            for (const threads of [1, 2]) {
              const got = await outputs(shape, { threads, dtype }, inputs);
              const at = `${shape} ${c} ${path} ${threads} thread(s)`;
              for (const [name, t] of Object.entries(got)) {
                assert.ok(t.data.every(Number.isFinite), `${at} ${name}: not finite`);
                if (!name.startsWith("hidden_states.")) continue;
                const cos = worstCosine(t, ref.float(`${c}.${name}`), inputs.attentionMask!);
                assert.ok(cos >= LOWP_BOUND[dtype], `${at} ${name}: cosine ${cos}`);
              }
              // Every q8 path gives the same bits (README), whatever the shape.
              if (dtype === "q8") {
                first ??= got;
                for (const name of Object.keys(got)) {
                  assert.deepEqual(
                    got[name].data,
                    first[name].data,
                    `${at} ${name} differs from ${paths[0]}`,
                  );
                }
              }
            }
          } finally {
            Deno.env.delete("DENOBERT_LOWP_PATH");
          }
        }
      }
    }
  });
}

Deno.test("a checkpoint with pruned heads (transformers' pruned_heads) is refused naming the field", async () => {
  // scripts/shapes_reference.py writes both as transformers has them after prune_heads({0: [1, 3]}): layer 0's
  // attention is narrower than dim. That is the config's own statement, not a file at odds with it.
  for (
    const [dir, load] of [
      ["distilbert-pruned", (d: string) => DistilBertModel.load(d)],
      ["bert-pruned", (d: string) => BertModel.load(d)],
    ] as const
  ) {
    await assert.rejects(
      () => load(dirOf(dir)),
      /config\.json: pruned_heads \{"0":\[1,3\]\} is not supported \(a pruned layer has fewer heads/,
    );
  }
  // An empty one (or empty lists), as an unpruned model's config may say, is no pruning.
  const dir = await Deno.makeTempDir({ prefix: "denobert-unpruned-" });
  try {
    const config = JSON.parse(await Deno.readTextFile(`${dirOf("distilbert-d40-h8")}/config.json`));
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, pruned_heads: {} }));
    await Deno.copyFile(`${dirOf("distilbert-d40-h8")}/model.safetensors`, `${dir}/model.safetensors`);
    using m = await DistilBertModel.load(dir);
    assert.equal(m.config.n_heads, 8);
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, pruned_heads: { "1": [] } }));
    using m2 = await DistilBertModel.load(dir);
    assert.equal(m2.config.n_heads, 8);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
