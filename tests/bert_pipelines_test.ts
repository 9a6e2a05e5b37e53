// Every pipeline on BERT checkpoints (synth-v1 weights of the MiniLM-L6 shape, the bert-base-uncased tokenizer):
// the pipelines pick the BERT classes and pass the tokenizer's token type ids, so a text pair gives what the head
// gives on the pair's ids and types (and not what it gives with all-zero types).

import assert from "node:assert/strict";
import { pipeline } from "../src/pipelines/mod.ts";
import { applyClassificationFunction } from "../src/pipelines/text_classification.ts";
import { BertForSequenceClassification } from "../src/heads.ts";
import { BertModel } from "../src/model.ts";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { ensureSynthFromConfig } from "./helpers/synth_cache.ts";
import { fixturePath } from "./helpers/reference.ts";

const TOKENIZER_DIR = fixturePath("tokenizer/bert-base-uncased/");

async function bertDir(head: string): Promise<string> {
  const synth = await ensureSynthFromConfig(
    fixturePath(`models/bert-minilm/config.${head}.json`),
    `bert-minilm-${head}`,
  );
  const dir = await Deno.makeTempDir({ prefix: `bert-pipeline-${head}-` });
  await Deno.copyFile(`${synth}/config.json`, `${dir}/config.json`);
  await Deno.symlink(`${synth}/model.safetensors`, `${dir}/model.safetensors`);
  for (const f of ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]) {
    await Deno.copyFile(`${TOKENIZER_DIR}${f}`, `${dir}/${f}`);
  }
  return dir;
}

Deno.test("text-classification on BERT: a text pair's scores come from its token type ids", async () => {
  const dir = await bertDir("seqcls");
  try {
    using clf = await pipeline("text-classification", dir);
    assert.ok(clf.model instanceof BertForSequenceClassification);
    const text = "the cat sat on the mat", textPair = "a dog slept under the table";
    const got = await clf({ text, textPair }, { topK: null });
    const tokenizer = await Tokenizer.fromDir(dir);
    const enc = tokenizer.encode(text, textPair);
    assert.ok(enc.tokenTypeIds.includes(1));
    const dims = [1, enc.inputIds.length];
    const logits = (types: number[]) =>
      clf.model.forward({
        inputIds: { data: Int32Array.from(enc.inputIds), dims },
        tokenTypeIds: { data: Int32Array.from(types), dims },
      }).logits.data;
    const want = applyClassificationFunction(logits(enc.tokenTypeIds), "softmax");
    const labels = ["negative", "neutral", "positive"];
    for (const { label, score } of got) assert.equal(score, want[labels.indexOf(label)]);
    const zeros = applyClassificationFunction(logits(enc.tokenTypeIds.map(() => 0)), "softmax");
    assert.notDeepEqual(zeros, want);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("feature-extraction, fill-mask, question-answering and NER run on BERT checkpoints", async () => {
  const dirs = await Promise.all(["model", "mlm", "qa", "tokcls"].map(bertDir));
  try {
    using fe = await pipeline("feature-extraction", dirs[0]);
    assert.ok(fe.model instanceof BertModel);
    const text = "hello world, this is bert";
    const emb = await fe(text);
    const enc = fe.tokenizer.encode(text);
    const direct = fe.model.forward({
      inputIds: { data: Int32Array.from(enc.inputIds), dims: [1, enc.inputIds.length] },
    });
    assert.deepEqual(emb.data, direct.lastHiddenState.data);

    using fill = await pipeline("fill-mask", dirs[1]);
    const filled = await fill("the capital of france is [MASK].");
    assert.equal(filled.length, 5);

    using qa = await pipeline("question-answering", dirs[2]);
    // The question is segment 0 and the context segment 1, as the tokenizer says.
    const seen: number[][] = [];
    const forward = qa.model.forward.bind(qa.model);
    qa.model.forward = (inputs) => {
      seen.push(Array.from(inputs.tokenTypeIds!.data, Number));
      return forward(inputs);
    };
    const context = "the cat sat on the mat in the kitchen";
    const answer = (await qa({ question: "where is the cat?", context })) as {
      answer: string;
      start: number;
      end: number;
    };
    assert.equal(context.slice(answer.start, answer.end), answer.answer);
    const qEnc = qa.tokenizer.encode("where is the cat?", context);
    assert.deepEqual(seen, [qEnc.tokenTypeIds]);
    assert.ok(qEnc.tokenTypeIds.includes(1));

    using ner = await pipeline("token-classification", dirs[3]);
    const entities = await ner("john lives in paris", { ignoreLabels: [] });
    assert.ok(entities.length > 0);
    for (const e of entities as { entity: string }[]) {
      assert.ok(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"].includes(e.entity), e.entity);
    }
  } finally {
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});
