// Task heads against the fixture logits (synth-v1 checkpoints for each head, tiny and base).

import assert from "node:assert/strict";
import {
  AutoModel,
  DistilBertForMaskedLM,
  DistilBertForQuestionAnswering,
  DistilBertForSequenceClassification,
  DistilBertForTokenClassification,
  DistilBertModel,
} from "../mod.ts";
import * as heads from "../mod.ts";
import type { AnyModel } from "../mod.ts";
import { ensureSynthModel, type SynthSize } from "./helpers/synth_cache.ts";
import { fixturePath, loadReference, maxDiff, maxDiffUnpadded } from "./helpers/reference.ts";

const TOL = { tiny: 1e-5, base: 5e-5 } as const;
const CASES = ["b1-s32", "b8-s32"];
// Fixtures exported without MLM logits ([8, 32, 30522] floats would be 31 MB); every other case must have them.
const NO_MLM_LOGITS: Record<SynthSize, readonly string[]> = { tiny: [], base: ["b8-s32"] };

for (const size of ["tiny", "base"] as SynthSize[]) {
  Deno.test(`${size}: masked LM logits`, async () => {
    using model = await DistilBertForMaskedLM.load(await ensureSynthModel(size, "mlm"));
    let checked = 0;
    for (const c of CASES) {
      const ref = await loadReference(size, c);
      if (NO_MLM_LOGITS[size].includes(c)) {
        assert.ok(!ref.has("mlm.logits"), `${size} ${c} now has mlm.logits: remove it from NO_MLM_LOGITS`);
        continue;
      }
      assert.ok(ref.has("mlm.logits"), `${size} ${c}: the fixture lacks mlm.logits`);
      checked++;
      const { logits } = model.forward({ inputIds: ref.inputIds, attentionMask: ref.attentionMask });
      const d = maxDiffUnpadded(logits, ref.float("mlm.logits"), ref.attentionMask);
      console.log(`  ${size} ${c} mlm.logits max|diff| ${d.toExponential(2)}`);
      assert.ok(d <= TOL[size], `${c}: ${d}`);
    }
    assert.ok(checked > 0, `no ${size} case checked the MLM logits`);
  });

  Deno.test(`${size}: masked LM logits at chosen positions (forwardAt) are the same rows`, async () => {
    using model = await DistilBertForMaskedLM.load(await ensureSynthModel(size, "mlm"));
    const c = size === "tiny" ? "b8-s32" : "b1-s32"; // the cases with MLM logits
    const ref = await loadReference(size, c);
    const inputs = { inputIds: ref.inputIds, attentionMask: ref.attentionMask };
    const [B, S] = ref.dims;
    const V = model.config.vocab_size;
    // Real tokens of every row, in a scrambled order, one of them twice.
    const real = Array.from({ length: B * S }, (_, i) => i).filter((i) => ref.attentionMask.data[i] === 1);
    const positions = real.filter((_, k) => k % 5 === 0).reverse().concat(real[0]);
    const { logits } = model.forwardAt(inputs, positions);
    assert.deepEqual(logits.dims, [positions.length, V]);
    const full = ref.float("mlm.logits");
    let d = 0;
    positions.forEach((at, i) => {
      for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(logits.data[i * V + v] - full.data[at * V + v]));
    });
    console.log(`  ${size} ${c} mlm.logits at ${positions.length} positions max|diff| ${d.toExponential(2)}`);
    assert.ok(d <= TOL[size], `${d}`);
    const padded = {
      inputIds: { data: new Int32Array([5, 6, 7, 0, 8, 9, 0, 0]), dims: [2, 4] },
      attentionMask: { data: new Int32Array([1, 1, 1, 0, 1, 1, 0, 0]), dims: [2, 4] },
    };
    assert.deepEqual(model.forwardAt(padded, []).logits.dims, [0, V]);
    assert.deepEqual(model.forwardAt(padded, [5, 0]).logits.dims, [2, V]);
    assert.throws(
      () => model.forwardAt(padded, [0, 6]),
      /positions\[1\] = 6 \(row 1, token 2\) is masked out/,
    );
    assert.throws(
      () => model.forwardAt(padded, [8]),
      /positions\[0\] = 8 is not a position of the \[2, 4\] inputs/,
    );
    assert.throws(() => model.forwardAt(padded, [1.5]), /positions\[0\] = 1.5 is not a position/);
    // A bare number (or nothing) was read as a list of length undefined and failed in an internal size check.
    for (const bad of [5, undefined, null, "5"]) {
      assert.throws(
        () => model.forwardAt(padded, bad as never),
        /forwardAt\(\): positions must be an array of flat positions b \* S \+ s, got /,
      );
    }
  });

  Deno.test(`${size}: sequence classification logits`, async () => {
    using model = await DistilBertForSequenceClassification.load(await ensureSynthModel(size, "seqcls"));
    assert.deepEqual(model.labelNames, ["NEGATIVE", "POSITIVE"]);
    for (const c of CASES) {
      const ref = await loadReference(size, c);
      const { logits } = model.forward({ inputIds: ref.inputIds, attentionMask: ref.attentionMask });
      const d = maxDiff(logits, ref.float("seqcls.logits"));
      console.log(`  ${size} ${c} seqcls.logits max|diff| ${d.toExponential(2)}`);
      assert.ok(d <= TOL[size], `${c}: ${d}`);
    }
  });

  Deno.test(`${size}: question answering start/end logits`, async () => {
    using model = await DistilBertForQuestionAnswering.load(await ensureSynthModel(size, "qa"));
    for (const c of CASES) {
      const ref = await loadReference(size, c);
      const out = model.forward({ inputIds: ref.inputIds, attentionMask: ref.attentionMask });
      const ds = maxDiffUnpadded(out.startLogits, ref.float("qa.start_logits"), ref.attentionMask);
      const de = maxDiffUnpadded(out.endLogits, ref.float("qa.end_logits"), ref.attentionMask);
      console.log(`  ${size} ${c} qa start ${ds.toExponential(2)} end ${de.toExponential(2)}`);
      assert.ok(ds <= TOL[size] && de <= TOL[size], `${c}: ${ds} ${de}`);
    }
  });

  Deno.test(`${size}: token classification logits`, async () => {
    using model = await DistilBertForTokenClassification.load(await ensureSynthModel(size, "tokcls"));
    assert.equal(model.numLabels, 9);
    for (const c of CASES) {
      const ref = await loadReference(size, c);
      const { logits } = model.forward({ inputIds: ref.inputIds, attentionMask: ref.attentionMask });
      const d = maxDiffUnpadded(logits, ref.float("tokcls.logits"), ref.attentionMask);
      console.log(`  ${size} ${c} tokcls.logits max|diff| ${d.toExponential(2)}`);
      assert.ok(d <= TOL[size], `${c}: ${d}`);
    }
  });
}

Deno.test("AutoModel picks the class from config.architectures", async () => {
  const expected = {
    mlm: DistilBertForMaskedLM,
    seqcls: DistilBertForSequenceClassification,
    qa: DistilBertForQuestionAnswering,
    tokcls: DistilBertForTokenClassification,
  } as const;
  for (const [head, cls] of Object.entries(expected)) {
    using model = await AutoModel.load(await ensureSynthModel("tiny", head as keyof typeof expected));
    assert.ok(model instanceof cls, head);
  }
  const dir = await Deno.makeTempDir();
  try {
    const src = await ensureSynthModel("tiny", "mlm");
    const config = JSON.parse(await Deno.readTextFile(`${src}/config.json`));
    await Deno.copyFile(`${src}/model.safetensors`, `${dir}/model.safetensors`);
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, architectures: undefined }));
    using bare = await AutoModel.load(dir);
    assert.ok(bare instanceof DistilBertModel);
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...config, architectures: ["BertForMaskedLM"] }),
    );
    // A BERT class on a DistilBERT checkpoint names both, instead of failing on a missing BERT key.
    await assert.rejects(
      AutoModel.load(dir),
      /model_type is "distilbert", so BertForMaskedLM cannot load it \(use DistilBertForMaskedLM or AutoModel\)/,
    );
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...config, architectures: ["RobertaForMaskedLM"] }),
    );
    await assert.rejects(AutoModel.load(dir), /architecture "RobertaForMaskedLM" is not supported/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sequence classification refuses a masked first token instead of scoring padding", async () => {
  using model = await DistilBertForSequenceClassification.load(await ensureSynthModel("tiny", "seqcls"));
  const inputIds = { data: new Int32Array([0, 0, 5, 6]), dims: [1, 4] };
  const attentionMask = { data: new Int32Array([0, 0, 1, 1]), dims: [1, 4] };
  assert.throws(() => model.forward({ inputIds, attentionMask }), /first token is masked/);
});

Deno.test("a head's forward() refuses options rather than dropping them (hidden states are the encoder's)", async () => {
  // The shapes fixtures hold every head's tensors in one checkpoint, so each head class loads from one folder.
  for (const [shape, family] of [["distilbert-d40-h8", "DistilBert"], ["bert-d40-h5-types3", "Bert"]]) {
    const dir = fixturePath(`models/shapes/${shape}`);
    const inputs = { inputIds: { data: new Int32Array([1, 2, 3]), dims: [1, 3] } };
    for (
      const head of [
        "ForMaskedLM",
        "ForSequenceClassification",
        "ForQuestionAnswering",
        "ForTokenClassification",
      ]
    ) {
      const cls =
        (heads as unknown as Record<string, { load(dir: string): Promise<AnyModel> }>)[family + head];
      using model = await cls.load(dir);
      // Before, `{ outputHiddenStates: true }` returned the logits alone, as if it had not been asked.
      assert.throws(
        () => (model.forward as (...args: unknown[]) => unknown)(inputs, { outputHiddenStates: true }),
        new RegExp(`${family}${head}\\.forward\\(\\) takes no options, .*${family}Model`),
      );
      (model.forward as (...args: unknown[]) => unknown)(inputs, undefined); // an absent argument is fine
    }
  }
});

Deno.test("a head checkpoint missing its head tensors is a clear error", async () => {
  await assert.rejects(
    DistilBertForQuestionAnswering.load(await ensureSynthModel("tiny", "seqcls")),
    /missing tensor "qa_outputs\.weight"/,
  );
});

Deno.test("a classifier whose row count disagrees with config.id2label is a clear error", async () => {
  // As transformers, which takes num_labels from id2label: naming the rows alone gave LABEL_i for classes the
  // config does not name and silently dropped the ones past the classifier.
  const cases: [string, string, Record<string, string>, RegExp][] = [
    [
      "seqcls",
      "more labels",
      { 0: "A", 1: "B", 2: "C" },
      /has 2 rows \(labels\), but config\.json's id2label names 3 \(ids 0, 1, 2\)/,
    ],
    [
      "seqcls",
      "fewer labels",
      { 0: "ONLY" },
      /has 2 rows \(labels\), but config\.json's id2label names 1 \(ids 0\)/,
    ],
    ["seqcls", "ids past the rows", { 0: "A", 5: "B" }, /names 2 \(ids 0, 5\); they must be the ids 0 to 1/],
    [
      "tokcls",
      "fewer labels",
      { 0: "O", 1: "B-PER" },
      /"classifier\.weight" has 9 rows \(labels\), but config\.json's id2label names 2/,
    ],
  ];
  for (const [head, what, id2label, pattern] of cases) {
    const synth = await ensureSynthModel("tiny", head as "seqcls" | "tokcls");
    const dir = await Deno.makeTempDir({ prefix: "denobert-labels-" });
    try {
      const config = JSON.parse(await Deno.readTextFile(`${synth}/config.json`));
      await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, id2label, label2id: {} }));
      await Deno.symlink(`${synth}/model.safetensors`, `${dir}/model.safetensors`);
      await assert.rejects(AutoModel.load(dir, { threads: 1 }), pattern, `${head}: ${what}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  // Without id2label the rows decide, named LABEL_i.
  const synth = await ensureSynthModel("tiny", "seqcls");
  const dir = await Deno.makeTempDir({ prefix: "denobert-labels-" });
  try {
    const { id2label: _, label2id: __, ...config } = JSON.parse(
      await Deno.readTextFile(`${synth}/config.json`),
    );
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    await Deno.symlink(`${synth}/model.safetensors`, `${dir}/model.safetensors`);
    using model = await DistilBertForSequenceClassification.load(dir, { threads: 1 });
    assert.deepEqual(model.labelNames, ["LABEL_0", "LABEL_1"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
