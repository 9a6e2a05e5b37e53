/**
 * Every pipeline against transformers 4.31's own `pipeline()` (tests/fixtures/pipelines/references.json, made by
 * scripts/hf_reference/generate.py): the same inputs and options must give the same labels, words, answers, tokens,
 * offsets and order exactly, and the same scores and hidden states to float32 rounding.
 */

import assert from "node:assert/strict";
import { type AnyPipeline, pipeline, type PipelineTask } from "../src/pipelines/mod.ts";
import type { FloatTensor } from "../src/tensor.ts";
import { referenceModelDir } from "./helpers/pipeline_models.ts";

interface ReferenceCase {
  pipeline: PipelineTask;
  model: string;
  input: unknown;
  options: Record<string, unknown>;
  output: unknown;
}

const REFERENCES = JSON.parse(
  await Deno.readTextFile(new URL("fixtures/pipelines/references.json", import.meta.url)),
) as { transformers: string; cases: ReferenceCase[] };

/** Scores are float32 computations on both sides: equal to a few float32 roundings of the logits. */
const SCORE_RTOL = 1e-5;
const SCORE_ATOL = 1e-7;
/** Hidden states, as the model tests compare them: 1e-5 for small models, 5e-5 for the base model. */
const hiddenTolerance = (model: string) => model.startsWith("base-") ? 5e-5 : 1e-5;

/** Compares `actual` with the reference at `path`; returns the worst score error relative to its tolerance. */
function compare(actual: unknown, expected: unknown, path: string, hiddenTol: number, key = ""): number {
  if (typeof expected === "number") {
    assert.equal(typeof actual, "number", `${path}: expected a number, got ${JSON.stringify(actual)}`);
    const a = actual as number;
    if (key === "score") {
      const tol = SCORE_ATOL + SCORE_RTOL * Math.abs(expected);
      assert.ok(Math.abs(a - expected) <= tol, `${path}: ${a} vs ${expected} (tolerance ${tol})`);
      return Math.abs(a - expected) / tol;
    }
    if (key === "") {
      assert.ok(Math.abs(a - expected) <= hiddenTol, `${path}: ${a} vs ${expected} (tolerance ${hiddenTol})`);
      return Math.abs(a - expected) / hiddenTol;
    }
    assert.equal(a, expected, `${path}: ${a} vs ${expected}`);
    return 0;
  }
  if (typeof expected === "string" || typeof expected === "boolean" || expected === null) {
    assert.equal(actual, expected, `${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
    return 0;
  }
  if (Array.isArray(expected)) {
    assert.ok(
      Array.isArray(actual),
      `${path}: expected a list, got ${JSON.stringify(actual)?.slice(0, 200)}`,
    );
    assert.equal(actual.length, expected.length, `${path}: ${actual.length} items vs ${expected.length}`);
    return Math.max(0, ...expected.map((e, i) => compare(actual[i], e, `${path}[${i}]`, hiddenTol)));
  }
  const e = expected as Record<string, unknown>;
  assert.ok(
    typeof actual === "object" && actual !== null && !Array.isArray(actual),
    `${path}: expected an object, got ${JSON.stringify(actual)?.slice(0, 200)}`,
  );
  const a = actual as Record<string, unknown>;
  assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${path}: keys`);
  return Math.max(0, ...Object.keys(e).map((k) => compare(a[k], e[k], `${path}.${k}`, hiddenTol, k)));
}

/** A `[1, S, D]` tensor as the nested lists transformers' feature-extraction pipeline gives. */
function nested(t: FloatTensor): number[][][] {
  const [one, s, d] = t.dims;
  assert.equal(one, 1);
  return [Array.from({ length: s }, (_, i) => Array.from(t.data.subarray(i * d, (i + 1) * d)))];
}

const tasks = [...new Set(REFERENCES.cases.map((c) => c.pipeline))];
for (const task of tasks) {
  const cases = REFERENCES.cases.map((c, i) => ({ c, i })).filter(({ c }) => c.pipeline === task);
  Deno.test(`pipeline references: ${task}, ${cases.length} cases against transformers ${REFERENCES.transformers}`, async () => {
    const loaded = new Map<string, AnyPipeline>();
    let worst = 0;
    try {
      for (const { c, i } of cases) {
        if (!loaded.has(c.model)) loaded.set(c.model, await pipeline(task, await referenceModelDir(c.model)));
        const run = loaded.get(c.model) as unknown as (input: unknown, options: unknown) => Promise<unknown>;
        let out = await run(c.input, c.options);
        if (task === "feature-extraction") {
          out = Array.isArray(out) ? out.map((t) => nested(t as FloatTensor)) : nested(out as FloatTensor);
        }
        const where = `case ${i} (${c.model}, ${JSON.stringify(c.options)})`;
        worst = Math.max(worst, compare(out, c.output, where, hiddenTolerance(c.model)));
      }
    } finally {
      for (const p of loaded.values()) p.dispose();
    }
    console.log(`  worst difference: ${(worst * 100).toFixed(1)}% of its tolerance`);
  });
}

Deno.test("pipeline references: every pipeline and option is covered", () => {
  assert.deepEqual(tasks.sort(), [
    "feature-extraction",
    "fill-mask",
    "question-answering",
    "text-classification",
    "token-classification",
  ]);
  const used = (task: string) =>
    new Set(REFERENCES.cases.filter((c) => c.pipeline === task).flatMap((c) => Object.keys(c.options)));
  for (
    const option of [
      "topK",
      "docStride",
      "maxSeqLen",
      "maxAnswerLen",
      "handleImpossibleAnswer",
      "alignToWords",
    ]
  ) {
    assert.ok(used("question-answering").has(option), option);
  }
  const strategies = new Set(REFERENCES.cases.map((c) => c.options.aggregationStrategy).filter(Boolean));
  assert.deepEqual([...strategies].sort(), ["average", "first", "max", "none", "simple"]);
});
