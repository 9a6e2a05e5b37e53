/**
 * Every option of `pipeline()` and of each task's call is checked (type, range, allowed values), an option name a
 * pipeline does not declare is an error listing the valid ones, and every bad input (a non-string, a hole in a
 * sparse array, an object with a missing or unknown key) is an error naming its position. On tiny synth-v1
 * checkpoints with a small made-up vocabulary (the outputs are meaningless; only the checks matter here).
 */

import assert from "node:assert/strict";
import { ensureSynthModel, type SynthHead } from "./helpers/synth_cache.ts";
import {
  aggregateTokens,
  type AnyPipeline,
  pipeline,
  PipelineInputError,
  type PipelineTask,
  type TextClassificationPipeline,
} from "../src/pipelines/mod.ts";

/** A vocabulary that fits the tiny models' 1,124 ids: specials, some words, letters, then unused slots. */
function tinyVocab(): string {
  const words = [
    "the",
    "a",
    "movie",
    "paris",
    "is",
    "capital",
    "of",
    "france",
    "where",
    "it",
    "happened",
    "in",
  ];
  const letters = [..."abcdefghijklmnopqrstuvwxyz0123456789"];
  const tokens = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    ".",
    ",",
    "?",
    "!",
    ...words,
    ...letters,
    ...letters.map((c) => `##${c}`),
  ];
  for (let i = tokens.length; i < 1124; i++) tokens.push(`[unused${i}]`);
  return tokens.join("\n") + "\n";
}

const dirs = new Map<SynthHead, Promise<string>>();
function modelDir(head: SynthHead): Promise<string> {
  if (!dirs.has(head)) {
    dirs.set(
      head,
      (async () => {
        const synth = await ensureSynthModel("tiny", head);
        const dir = await Deno.makeTempDir({ prefix: `pipeline-options-${head}-` });
        await Deno.copyFile(`${synth}/config.json`, `${dir}/config.json`);
        await Deno.symlink(`${synth}/model.safetensors`, `${dir}/model.safetensors`);
        await Deno.writeTextFile(`${dir}/vocab.txt`, tinyVocab());
        await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ do_lower_case: true }));
        return dir;
      })(),
    );
  }
  return dirs.get(head)!;
}

globalThis.addEventListener("unload", () => {
  for (const d of dirs.values()) d.then((dir) => Deno.removeSync(dir, { recursive: true })).catch(() => {});
});

type Call = (input: unknown, options?: unknown) => Promise<unknown>;

/** Each bad call must reject with an error matching its pattern. */
async function rejectsAll(p: AnyPipeline, cases: [string, unknown, unknown, RegExp][]): Promise<void> {
  for (const [label, input, options, pattern] of cases) {
    await assert.rejects((p as unknown as Call)(input, options), pattern, label);
  }
}

/** A bad input must be a PipelineInputError at `index` (undefined for a single input). */
async function rejectsInput(
  p: AnyPipeline,
  input: unknown,
  index: number | undefined,
  pattern: RegExp,
  options?: unknown,
) {
  await assert.rejects((p as unknown as Call)(input, options), (err: unknown) => {
    assert.ok(err instanceof PipelineInputError, `${String(err)}`);
    assert.equal(err.index, index);
    assert.match(err.message, pattern);
    return true;
  });
}

const HOLE = (() => {
  const a: unknown[] = ["fine", "also fine"];
  a[3] = "after the hole";
  return a; // index 2 is a hole
})();

Deno.test("pipeline(): options are checked before anything is loaded", async () => {
  // The folder does not exist: each error below comes from the options, not from loading.
  const bad: [unknown, RegExp][] = [
    [5, /pipeline options must be an object, got number 5/],
    [null, /pipeline options must be an object, got null/],
    [
      { thread: 2 },
      /pipeline options: unknown option "thread" \(valid options: threads, dtype, hub, batchSize, onProgress\)/,
    ],
    [{ dtype: "float16" }, /unknown dtype "float16" \(dtypes: fp32, bf16, q8\)/],
    [{ threads: 1.5 }, /threads must be an integer >= 1, got number 1.5/],
    [{ threads: "2" }, /threads must be an integer >= 1, got string "2"/],
    [{ batchSize: 0 }, /batchSize must be a positive integer, got number 0/],
    [{ batchSize: "8" }, /batchSize must be a positive integer, got string "8"/],
    [{ onProgress: "log" }, /onProgress must be a function, got string "log"/],
    [{ hub: "main" }, /hub options must be an object, got string "main"/],
    [{ hub: { revison: "v1" } }, /hub options: unknown option "revison" \(valid options: revision, /],
    [{ hub: { revision: 1 } }, /hub\.revision must be a string, got number 1/],
    [{ hub: { offline: "yes" } }, /hub\.offline must be true or false, got string "yes"/],
    [{ hub: { download: 0 } }, /hub\.download must be true or false, got number 0/],
    [{ hub: { onProgress: {} } }, /hub\.onProgress must be a function, got an object/],
  ];
  for (const [options, pattern] of bad) {
    await assert.rejects(
      pipeline("text-classification", "./no/such/folder", options as never),
      pattern,
      JSON.stringify(options),
    );
  }
  // Declared options with undefined values are fine (the CLI passes them so).
  await assert.rejects(
    pipeline("text-classification", "./no/such/folder", { threads: undefined, hub: { revision: undefined } }),
    /does not exist/,
  );
});

Deno.test("text-classification: every call option and input is checked", async () => {
  using p = await pipeline("text-classification", await modelDir("seqcls"), { threads: 1 });
  assert.equal((await p("a movie", { topK: 2, functionToApply: "none", truncation: false })).length, 2);
  assert.equal((await p(["a", "b"], { topK: undefined, batchSize: 1 })).length, 2);
  const valid = "topK, functionToApply, truncation, batchSize, onProgress";
  await rejectsAll(p, [
    [
      "misspelt",
      "x",
      { top_k: 2 },
      new RegExp(`text-classification options: unknown option "top_k" \\(valid options: ${valid}\\)`),
    ],
    ["topK 0", "x", { topK: 0 }, /topK must be a positive integer or null, got number 0/],
    ["topK 1.5", "x", { topK: 1.5 }, /topK must be a positive integer or null, got number 1.5/],
    ["topK string", "x", { topK: "2" }, /topK must be a positive integer or null, got string "2"/],
    [
      "function",
      "x",
      { functionToApply: "relu" },
      /functionToApply must be one of "softmax", "sigmoid", "none", got string "relu"/,
    ],
    ["truncation", "x", { truncation: "yes" }, /truncation must be true or false, got string "yes"/],
    ["batchSize", "x", { batchSize: 2.5 }, /batchSize must be a positive integer, got number 2.5/],
    ["onProgress", "x", { onProgress: true }, /onProgress must be a function, got boolean true/],
    ["options number", "x", 5, /text-classification options must be an object, got number 5/],
    ["options array", "x", [], /text-classification options must be an object, got an array/],
    ["options null", "x", null, /text-classification options must be an object, got null/],
  ]);
  await rejectsInput(p, HOLE, 2, /input 2: missing \(a hole in a sparse array\)/);
  await rejectsInput(p, ["a", 5], 1, /input 1: expected a string or \{ text, textPair \}, got number 5/);
  await rejectsInput(p, 42, undefined, /the input: expected a string or \{ text, textPair \}, got number 42/);
  await rejectsInput(
    p,
    { text: "a", text_pair: "b" },
    undefined,
    /the input: expected \{ text, textPair \}: unknown key "text_pair"; the pair's key is textPair/,
  );
  await rejectsInput(
    p,
    ["a", { textPair: "b" }],
    1,
    /input 1: expected \{ text, textPair \}: "text" is missing/,
  );
  await rejectsInput(p, [{ text: "a", textPair: 5 }], 0, /"textPair" must be a string, got number 5/);

  const classify = (p as TextClassificationPipeline).classify as (
    i: unknown,
    o?: unknown,
  ) => Promise<unknown>;
  await assert.rejects(classify(["a"], { topK: 1 }), /classify\(\) options: unknown option "topK"/);
  await assert.rejects(classify("a"), /classify\(\) takes an array of inputs, got string "a"/);
  assert.equal((await p.classify(["a"], { functionToApply: "sigmoid" }))[0].scores.length, 2);
});

Deno.test("fill-mask: every call option and input is checked", async () => {
  using p = await pipeline("fill-mask", await modelDir("mlm"), { threads: 1 });
  assert.equal((await p("paris is the [MASK].", { topK: 3 }) as unknown[]).length, 3);
  await rejectsAll(p, [
    [
      "targets",
      "[MASK]",
      { targets: ["a"] },
      /fill-mask options: unknown option "targets" \(valid options: topK, batchSize, onProgress\)/,
    ],
    ["topK 0", "[MASK]", { topK: 0 }, /topK must be an integer >= 1, got number 0/],
    ["topK null", "[MASK]", { topK: null }, /topK must be an integer >= 1, got null/],
    ["batchSize", "[MASK]", { batchSize: -1 }, /batchSize must be a positive integer, got number -1/],
  ]);
  await rejectsInput(p, HOLE, 2, /input 2: missing \(a hole in a sparse array\)/);
  await rejectsInput(p, ["[MASK]", null], 1, /input 1: expected a string, got null/);
  await rejectsInput(p, { text: "[MASK]" }, undefined, /the input: expected a string, got an object/);
});

Deno.test("feature-extraction: every call option and input is checked", async () => {
  using p = await pipeline("feature-extraction", await modelDir("mlm"), { threads: 1 });
  assert.deepEqual((await p("a movie", { pooling: "mean", normalize: true, truncation: true })).dims, [
    1,
    32,
  ]);
  await rejectsAll(p, [
    [
      "misspelt",
      "x",
      { pool: "mean" },
      /feature-extraction options: unknown option "pool" \(valid options: pooling, normalize, truncation, prompt, promptName, batchSize, onProgress\)/,
    ],
    [
      "pooling",
      "x",
      { pooling: "median" },
      /pooling must be one of "none", "cls", "max", "mean", "mean_sqrt_len", "weightedmean", "lasttoken", got string "median"/,
    ],
    ["normalize", "x", { normalize: 1 }, /normalize must be true or false, got number 1/],
    ["truncation", "x", { truncation: "no" }, /truncation must be true or false, got string "no"/],
    ["prompt", "x", { prompt: 1 }, /prompt must be a string, got number 1/],
    ["promptName", "x", { promptName: "query" }, /promptName "query" is not one of this model's prompts/],
  ]);
  await rejectsInput(p, HOLE, 2, /input 2: missing/);
  await rejectsInput(
    p,
    ["a", ["b", "c"]],
    1,
    /input 1: expected a string or \{ text, textPair \}, got an array/,
  );
});

Deno.test("question-answering: every call option and input is checked", async () => {
  using p = await pipeline("question-answering", await modelDir("qa"), { threads: 1 });
  const input = { question: "where?", context: "it happened in paris." };
  const ok = await p(input, {
    topK: 2,
    docStride: 8,
    maxAnswerLen: 3,
    maxSeqLen: 64,
    handleImpossibleAnswer: true,
  });
  assert.equal((ok as unknown[]).length, 2);
  await rejectsAll(p, [
    [
      "misspelt",
      input,
      { max_answer_len: 3 },
      /question-answering options: unknown option "max_answer_len" \(valid options: topK, docStride, maxAnswerLen, maxSeqLen, handleImpossibleAnswer, alignToWords, batchSize, onProgress\)/,
    ],
    ["topK", input, { topK: 0 }, /topK must be an integer >= 1, got number 0/],
    ["docStride negative", input, { docStride: -1 }, /docStride must be an integer >= 0, got number -1/],
    ["docStride fraction", input, { docStride: 1.5 }, /docStride must be an integer >= 0, got number 1.5/],
    [
      "docStride too long",
      input,
      { docStride: 200, maxSeqLen: 100 },
      /docStride \(200\) must be smaller than maxSeqLen \(100\)/,
    ],
    ["maxAnswerLen", input, { maxAnswerLen: 0 }, /maxAnswerLen must be an integer >= 1, got number 0/],
    ["maxSeqLen string", input, { maxSeqLen: "384" }, /maxSeqLen must be an integer >= 1, got string "384"/],
    ["maxSeqLen too long", input, { maxSeqLen: 10_000 }, /maxSeqLen 10000 exceeds the model's maximum 512/],
    // Windows of [CLS] [SEP] [SEP] alone used to come out untruncated: longer than maxSeqLen.
    [
      "maxSeqLen only special tokens",
      input,
      { maxSeqLen: 3, docStride: 0 },
      /maxSeqLen 3 leaves no room for the question and context beside the 3 special tokens of a window/,
    ],
    [
      "impossible",
      input,
      { handleImpossibleAnswer: "true" },
      /handleImpossibleAnswer must be true or false, got string "true"/,
    ],
  ]);
  await rejectsInput(p, [input, , input], 1, /input 1: missing \(a hole in a sparse array\)/);
  await rejectsInput(
    p,
    { question: "q" },
    undefined,
    /expected \{ question, context \}: "context" is missing/,
  );
  await rejectsInput(
    p,
    [input, { ...input, extra: 1 }],
    1,
    /input 1: expected \{ question, context \}: unknown key "extra"/,
  );
  await rejectsInput(p, [{ question: 1, context: "c" }], 0, /"question" must be a string, got number 1/);
  // Nothing to ask, or nothing to answer from: an error (as transformers), not a made-up "" with score 0.
  await rejectsInput(p, { question: "", context: "it happened in paris." }, undefined, /"question" is empty/);
  await rejectsInput(p, [input, { question: "where?", context: "" }], 1, /input 1: "context" is empty/);
  await rejectsInput(
    p,
    [input, { question: "where?", context: " \t\n " }],
    1,
    /input 1: "context" has no tokens \(string " \\t\\n "\): there is no text to take an answer from/,
  );
  await rejectsInput(
    p,
    "a context",
    undefined,
    /the input: expected \{ question, context \}, got string "a context"/,
  );
  // The tokenizer's own messages ("sequence to truncate too short", "the truncated length") do not say that
  // the question, or docStride against the room the question leaves, is what does not fit.
  const long = { question: "where did it happen?", context: "it happened in paris. ".repeat(4) };
  const q = p.tokenizer.encode(long.question, "").inputIds.length - 3;
  await rejectsInput(
    p,
    [input, long],
    1,
    new RegExp(
      `input 1: the question is ${q} tokens: with the 3 special tokens of a window it leaves no room for the ` +
        `context in maxSeqLen ${q + 3}$`,
    ),
    { maxSeqLen: q + 3 },
  );
  await rejectsInput(
    p,
    long,
    undefined,
    new RegExp(
      `^the input: docStride \\(4\\) must be smaller than the 4 context tokens a window holds \\(maxSeqLen ` +
        `${q + 7} less the question's ${q} tokens and 3 special tokens\\)$`,
    ),
    { maxSeqLen: q + 7, docStride: 4 },
  );
});

Deno.test("token-classification: every call option and input is checked, ignoreLabels included", async () => {
  using p = await pipeline("token-classification", await modelDir("tokcls"), { threads: 1 });
  assert.ok(
    Array.isArray(await p("paris is the capital", { aggregationStrategy: "simple", ignoreLabels: [] })),
  );
  await rejectsAll(p, [
    [
      "misspelt",
      "x",
      { aggregation_strategy: "simple" },
      /token-classification options: unknown option "aggregation_strategy" \(valid options: aggregationStrategy, ignoreLabels, batchSize, onProgress\)/,
    ],
    [
      "strategy",
      "x",
      { aggregationStrategy: "bogus" },
      /aggregationStrategy must be one of "none", "simple", "first", "average", "max", got string "bogus"/,
    ],
    [
      "ignoreLabels number",
      "x",
      { ignoreLabels: 5 },
      /ignoreLabels must be an array of strings, got number 5/,
    ],
    [
      "ignoreLabels string",
      "x",
      { ignoreLabels: "B-PER" },
      /ignoreLabels must be an array of strings, got string "B-PER"/,
    ],
    [
      "ignoreLabels item",
      "x",
      { ignoreLabels: ["O", 5] },
      /ignoreLabels\[1\] must be a string, got number 5/,
    ],
    [
      "ignoreLabels hole",
      "x",
      { ignoreLabels: ["O", , "X"] },
      /ignoreLabels\[1\] must be a string, got a hole \(sparse array\)/,
    ],
  ]);
  await rejectsInput(p, HOLE, 2, /input 2: missing/);
  await rejectsInput(p, ["a", 7], 1, /input 1: expected a string, got number 7/);
  // The exported helper checks the same.
  assert.throws(
    () => aggregateTokens([], ["O"], "none", 5 as unknown as string[]),
    /ignoreLabels must be an array/,
  );
  assert.throws(() => aggregateTokens([], ["O"], "bogus" as "none"), /aggregationStrategy must be one of/);
});

Deno.test("pipelines: misspelt transformers option names are refused by every task, single and batched", async () => {
  // A misspelt name of a real transformers option is refused by every task, for single and batched calls.
  const cases: [PipelineTask, SynthHead, unknown][] = [
    ["text-classification", "seqcls", "x"],
    ["fill-mask", "mlm", "[MASK]"],
    ["feature-extraction", "mlm", "x"],
    ["question-answering", "qa", { question: "q", context: "c" }],
    ["token-classification", "tokcls", "x"],
  ];
  for (const [task, head, input] of cases) {
    using p = await pipeline(task, await modelDir(head), { threads: 1 });
    for (const key of ["batch_size", "top_k", "function_to_apply", "stride", "device"]) {
      await assert.rejects(
        (p as unknown as Call)(input, { [key]: 1 }),
        new RegExp(`unknown option "${key}"`),
        task,
      );
      await assert.rejects(
        (p as unknown as Call)([input], { [key]: 1 }),
        new RegExp(`unknown option "${key}"`),
        task,
      );
    }
  }
});
