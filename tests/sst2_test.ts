/**
 * The embedded default model against transformers on all 872 SST-2 dev sentences: text -> pipeline gives the
 * same token ids, logits within 1e-4 and the same label; accuracy against the gold labels is reported.
 */

import assert from "node:assert/strict";
import { pipeline } from "../src/pipelines/mod.ts";

interface Reference {
  text: string;
  label: number;
  input_ids: number[];
  logits: number[];
}

const REF_PATH = new URL("../weights/sst2-distilbert-small/dev-reference.jsonl", import.meta.url);

async function loadReferences(): Promise<Reference[]> {
  const text = await Deno.readTextFile(REF_PATH);
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Reference);
}

Deno.test("sst2: default sentiment pipeline matches transformers on all 872 dev sentences", async () => {
  const refs = await loadReferences();
  assert.equal(refs.length, 872);
  using classifier = await pipeline("sentiment-analysis");
  assert.equal(classifier.task, "text-classification");
  assert.deepEqual(classifier.model.labelNames, ["NEGATIVE", "POSITIVE"]);

  const t0 = performance.now();
  const details = await classifier.classify(refs.map((r) => r.text));
  const ms = performance.now() - t0;

  let idsExact = 0, labelsAgree = 0, correct = 0, maxDiff = 0;
  const idMismatches: number[] = [];
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i], got = details[i];
    if (
      got.inputIds.length === ref.input_ids.length && got.inputIds.every((id, k) => id === ref.input_ids[k])
    ) {
      idsExact++;
    } else {
      idMismatches.push(i);
    }
    assert.equal(got.logits.length, ref.logits.length);
    for (let k = 0; k < ref.logits.length; k++) {
      maxDiff = Math.max(maxDiff, Math.abs(got.logits[k] - ref.logits[k]));
    }
    const refLabel = ref.logits[1] > ref.logits[0] ? 1 : 0;
    const ourLabel = got.label === "POSITIVE" ? 1 : 0;
    if (refLabel === ourLabel) labelsAgree++;
    if (ourLabel === ref.label) correct++;
  }
  console.log(
    `SST-2 dev: ids exact ${idsExact}/${refs.length}, max |logit diff| ${maxDiff.toExponential(2)}, ` +
      `labels agree ${labelsAgree}/${refs.length}, accuracy vs gold ${
        (100 * correct / refs.length).toFixed(2)
      }% ` +
      `(${correct}/${refs.length}), ${ms.toFixed(0)} ms for ${refs.length} sentences`,
  );
  assert.deepEqual(idMismatches, [], "token ids differ from transformers");
  assert.ok(maxDiff < 1e-4, `max logit difference ${maxDiff}`);
  assert.equal(labelsAgree, refs.length);
  // The model card reports 81.0% (transformers, float32 from the F16 weights).
  assert.ok(Math.abs(correct / refs.length - 0.810) < 0.006, `accuracy ${correct / refs.length}`);
});

Deno.test("sst2: the high-level call returns the top label with softmax scores, in input order", async () => {
  const refs = (await loadReferences()).slice(0, 40);
  using classifier = await pipeline("sentiment-analysis", undefined, { batchSize: 7 });
  const results = await classifier(refs.map((r) => r.text));
  assert.equal(results.length, refs.length);
  for (let i = 0; i < refs.length; i++) {
    const [a, b] = refs[i].logits;
    const pPos = 1 / (1 + Math.exp(a - b));
    const want = b > a ? { label: "POSITIVE", score: pPos } : { label: "NEGATIVE", score: 1 - pPos };
    assert.equal(results[i].label, want.label);
    assert.ok(Math.abs(results[i].score - want.score) < 1e-4);
  }
  const [one] = await classifier(refs[0].text);
  // One row alone vs inside a padded batch: the same up to float rounding.
  assert.equal(one.label, results[0].label);
  assert.ok(Math.abs(one.score - results[0].score) < 1e-5);
  const all = await classifier(refs[0].text, { topK: null });
  assert.equal(all.length, 2);
  assert.ok(all[0].score >= all[1].score);
  assert.ok(Math.abs(all[0].score + all[1].score - 1) < 1e-9);
  assert.equal(all[0].label, one.label);
});
