/**
 * Pipeline mechanics on synth-v1 base checkpoints (random weights, so the outputs are meaningless) with the real
 * bert-base-uncased tokenizer: every pipeline is checked against a direct computation from its head's logits,
 * batching and length sorting against one-by-one runs, and the error cases.
 */

import assert from "node:assert/strict";
import { ensureSynthModel, type SynthHead } from "./helpers/synth_cache.ts";
import {
  aggregateTokens,
  answerOffsets,
  bestSpans,
  canonicalTask,
  pipeline,
  type PipelineProgress,
  type TokenPrediction,
} from "../src/pipelines/mod.ts";
import {
  applyClassificationFunction,
  defaultClassificationFunction,
} from "../src/pipelines/text_classification.ts";
import { topKIndices } from "../src/pipelines/fill_mask.ts";
import { wordPieceTokensToString } from "../src/pipelines/token_classification.ts";
import {
  DistilBertForMaskedLM,
  DistilBertForQuestionAnswering,
  DistilBertForSequenceClassification,
  DistilBertForTokenClassification,
} from "../src/heads.ts";
import { DistilBertModel } from "../src/model.ts";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import type { Encoding } from "../src/tokenizer/mod.ts";

const ROOT = new URL("../", import.meta.url);
const TOKENIZER_DIR = new URL("tests/fixtures/tokenizer/bert-base-uncased/", ROOT).pathname;

/** A model folder: the synth checkpoint (symlinked) + its config (optionally edited) + the real tokenizer. */
async function modelDir(head: SynthHead, editConfig?: (c: Record<string, unknown>) => void): Promise<string> {
  const synth = await ensureSynthModel("base", head);
  const dir = await Deno.makeTempDir({ prefix: `pipeline-${head}-` });
  const config = JSON.parse(await Deno.readTextFile(`${synth}/config.json`));
  editConfig?.(config);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
  await Deno.symlink(`${synth}/model.safetensors`, `${dir}/model.safetensors`);
  for (const f of ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]) {
    await Deno.copyFile(`${TOKENIZER_DIR}${f}`, `${dir}/${f}`);
  }
  return dir;
}

const dirs = new Map<string, Promise<string>>();
function shared(head: SynthHead): Promise<string> {
  if (!dirs.has(head)) dirs.set(head, modelDir(head));
  return dirs.get(head)!;
}

function batchOf(encodings: Encoding[]) {
  const len = Math.max(...encodings.map((e) => e.inputIds.length));
  const ids = new Int32Array(encodings.length * len), mask = new Int32Array(encodings.length * len);
  encodings.forEach((e, b) => {
    ids.set(e.inputIds, b * len);
    mask.set(e.attentionMask, b * len);
  });
  return {
    inputIds: { data: ids, dims: [encodings.length, len] },
    attentionMask: { data: mask, dims: [encodings.length, len] },
  };
}

function softmaxRef(x: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(x));
  const e = Array.from(x, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function close(a: number, b: number, tol: number, what = "") {
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tolerance ${tol})`);
}

const TEXTS = [
  "The quick brown fox jumps over the lazy dog.",
  "Hi!",
  "Paris is the capital of France, and Berlin is the capital of Germany.",
  "short one",
  "An unbelievably long-winded sentence, with commas, semicolons; and quite a few more words than the others have.",
  "Zürich's café served crème brûlée.",
  "ok",
];

// ---------------------------------------------------------------------------------------------------------------
// Task names and pure helpers

Deno.test("pipelines: task names, aliases and unknown tasks", async () => {
  assert.equal(canonicalTask("sentiment-analysis"), "text-classification");
  assert.equal(canonicalTask("ner"), "token-classification");
  assert.equal(canonicalTask("embeddings"), "feature-extraction");
  assert.equal(canonicalTask("toString"), undefined);
  // deno-lint-ignore no-explicit-any
  await assert.rejects(pipeline("summarization" as any), /unknown task "summarization"/);
  await assert.rejects(pipeline("fill-mask", null as unknown as string), /has no default model/);
  await assert.rejects(
    pipeline("text-classification", "./no/such/folder"),
    /model folder .\/no\/such\/folder does not exist/,
  );
});

Deno.test("pipelines: transformers' function_to_apply rules", () => {
  assert.equal(defaultClassificationFunction("multi_label_classification", 5), "sigmoid");
  assert.equal(defaultClassificationFunction(undefined, 1), "sigmoid");
  assert.equal(defaultClassificationFunction("regression", 1), "sigmoid");
  assert.equal(defaultClassificationFunction("single_label_classification", 2), "softmax");
  assert.equal(defaultClassificationFunction(undefined, 3), "softmax");
  const s = applyClassificationFunction([1, 2, 3], "softmax");
  close(s.reduce((a, b) => a + b), 1, 1e-12);
  assert.deepEqual(applyClassificationFunction([0], "sigmoid"), [0.5]);
  assert.deepEqual(applyClassificationFunction([-1.5, 2], "none"), [-1.5, 2]);
});

Deno.test("pipelines: topKIndices is a stable descending top-k", () => {
  assert.deepEqual(topKIndices([0.1, 0.5, 0.2, 0.5, 0.05], 3), [1, 3, 2]);
  assert.deepEqual(topKIndices([3, 1, 2], 10), [0, 2, 1]);
  const x = Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
  const ref = x.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 7).map((p) => p[1]);
  assert.deepEqual(topKIndices(x, 7), ref);
});

// ---------------------------------------------------------------------------------------------------------------
// text-classification

Deno.test("text-classification: scores are the softmax of the head's logits; batching and order", async () => {
  const dir = await shared("seqcls");
  const tok = await Tokenizer.fromDir(dir);
  using model = await DistilBertForSequenceClassification.load(dir, { threads: 1 });
  using p = await pipeline("text-classification", dir, { threads: 1 });
  const encodings = TEXTS.map((t) => tok.encode(t));
  const { logits } = model.forward(batchOf(encodings));
  const details = await p.classify(TEXTS, { batchSize: 3 });
  for (let i = 0; i < TEXTS.length; i++) {
    assert.deepEqual(details[i].inputIds, encodings[i].inputIds);
    const ref = Array.from(logits.data.subarray(2 * i, 2 * i + 2));
    details[i].logits.forEach((v, k) => close(v, ref[k], 1e-5, `input ${i} logit ${k}`));
    const probs = softmaxRef(ref);
    details[i].scores.forEach((v, k) => close(v, probs[k], 1e-5));
    assert.equal(details[i].label, ["NEGATIVE", "POSITIVE"][probs[1] > probs[0] ? 1 : 0]);
  }
  const progress: PipelineProgress[] = [];
  const batched = await p(TEXTS, { batchSize: 2, onProgress: (x) => progress.push(x) });
  assert.deepEqual(progress.map((x) => x.done), [2, 4, 6, 7]);
  assert.ok(progress.every((x) => x.total === 7));
  for (let i = 0; i < TEXTS.length; i++) {
    // One string gives a one-element list, as transformers does.
    const [one, ...rest] = await p(TEXTS[i]);
    assert.deepEqual(rest, []);
    assert.equal(one.label, batched[i].label);
    close(one.score, batched[i].score, 1e-5);
  }
  const ranked = await p(TEXTS.slice(0, 2), { topK: null });
  assert.equal(ranked.length, 2);
  for (const r of ranked) assert.ok(r.length === 2 && r[0].score >= r[1].score);
  const top1 = await p(TEXTS[0], { topK: 1 });
  assert.equal(top1.length, 1);
  assert.deepEqual(await p([]), []);
  const pair = await p.classify([{ text: "a question?", textPair: "an answer." }]);
  assert.deepEqual(pair[0].inputIds, tok.encode("a question?", "an answer.").inputIds);
  // One pair gives the bare object, as transformers does.
  const onePair = await p({ text: "a question?", textPair: "an answer." });
  assert.deepEqual(onePair, { label: pair[0].label, score: pair[0].score });
  await assert.rejects(p(42 as unknown as string), /expected a string or \{ text, textPair \}/);
  await assert.rejects(p(TEXTS, { batchSize: 0 }), /batchSize must be a positive integer/);
});

Deno.test("text-classification: sigmoid for multi-label configs; long inputs are truncated", async () => {
  const dir = await modelDir("seqcls", (c) => (c.problem_type = "multi_label_classification"));
  try {
    using p = await pipeline("text-classification", dir, { threads: 1 });
    assert.equal(p.defaultFunction, "sigmoid");
    const [d] = await p.classify(["fine"]);
    d.scores.forEach((s, k) => close(s, 1 / (1 + Math.exp(-d.logits[k])), 1e-12));
    const [soft] = await p.classify(["fine"], { functionToApply: "softmax" });
    close(soft.scores[0] + soft.scores[1], 1, 1e-9);
    const long = "word ".repeat(2000);
    const [t] = await p.classify([long]);
    assert.equal(t.inputIds.length, 512);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// fill-mask

Deno.test("fill-mask: softmax over the vocabulary at the mask, sorted; multiple masks; errors", async () => {
  const dir = await shared("mlm");
  const tok = await Tokenizer.fromDir(dir);
  using model = await DistilBertForMaskedLM.load(dir, { threads: 1 });
  using p = await pipeline("fill-mask", dir, { threads: 1 });
  const text = "The capital of France is [MASK].";
  const enc = tok.encode(text);
  const at = enc.inputIds.indexOf(103);
  const { logits } = model.forward(batchOf([enc]));
  const V = 30522;
  const probs = softmaxRef(logits.data.subarray(at * V, (at + 1) * V));
  const order = probs.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const res = await p(text, { topK: 4 }) as {
    score: number;
    token: number;
    token_str: string;
    sequence: string;
  }[];
  assert.equal(res.length, 4);
  res.forEach((r, k) => {
    assert.equal(r.token, order[k][1]);
    close(r.score, order[k][0], 1e-6);
    assert.equal(r.token_str, tok.decode([r.token]));
    const filled = enc.inputIds.slice();
    filled[at] = r.token;
    assert.equal(r.sequence, tok.decode(filled, { skipSpecialTokens: true }));
  });
  assert.equal((await p(text) as unknown[]).length, 5);

  const two = await p("[MASK] is the capital of [MASK].", { topK: 2 }) as unknown[][];
  assert.equal(two.length, 2);
  assert.equal(two[0].length, 2);
  assert.match(
    (two[0][0] as { sequence: string }).sequence,
    /^\[CLS\] .* is the capital of \[MASK\]\. \[SEP\]$/,
  );

  // Batched in a different order: same as one by one.
  const inputs = [text, "I [MASK] you.", "A much longer sentence about the [MASK] of things in general."];
  // The head runs at the masks only: the pipeline never builds the [B, S, V] logits of the whole batch.
  const forward = p.model.forward;
  p.model.forward = () => {
    throw new Error("the fill-mask pipeline computed the head at every position");
  };
  const batched = await p(inputs, { batchSize: 2, topK: 3 }).finally(() => p.model.forward = forward);
  for (let i = 0; i < inputs.length; i++) {
    const one = await p(inputs[i], { topK: 3 }) as { token: number; score: number }[];
    const b = batched[i] as { token: number; score: number }[];
    assert.deepEqual(b.map((r) => r.token), one.map((r) => r.token));
    b.forEach((r, k) => close(r.score, one[k].score, 1e-5));
  }
  await assert.rejects(p("no mask here"), /the input: no \[MASK\] token/);
  await assert.rejects(p([text, "none"]), /input 1: no \[MASK\] token/);
  assert.deepEqual(await p([]), []);
});

// ---------------------------------------------------------------------------------------------------------------
// feature-extraction

Deno.test("feature-extraction: none / mean / cls pooling, normalize; batching ignores padding", async () => {
  const dir = await shared("mlm");
  const tok = await Tokenizer.fromDir(dir);
  using model = await DistilBertModel.load(dir, { threads: 1 });
  using p = await pipeline("embeddings", dir, { threads: 1 });
  assert.equal(p.task, "feature-extraction");
  const D = 768;
  const texts = TEXTS.slice(0, 4);
  const refs = texts.map((t) => {
    const enc = tok.encode(t);
    return { n: enc.inputIds.length, h: model.forward(batchOf([enc])).lastHiddenState.data };
  });
  const none = await p(texts, { batchSize: 3 });
  const mean = await p(texts, { pooling: "mean", batchSize: 3 });
  const cls = await p(texts, { pooling: "cls", normalize: true, batchSize: 3 });
  for (let i = 0; i < texts.length; i++) {
    const { n, h } = refs[i];
    assert.deepEqual(none[i].dims, [1, n, D]);
    for (let k = 0; k < n * D; k += 97) close(none[i].data[k], h[k], 1e-4);
    assert.deepEqual(mean[i].dims, [1, D]);
    for (let d = 0; d < D; d += 13) {
      let s = 0;
      for (let t = 0; t < n; t++) s += h[t * D + d];
      close(mean[i].data[d], s / n, 1e-4, `mean ${i}/${d}`);
    }
    let norm = 0;
    for (let d = 0; d < D; d++) norm += h[d] * h[d];
    norm = Math.sqrt(norm);
    for (let d = 0; d < D; d += 13) close(cls[i].data[d], h[d] / norm, 1e-5);
  }
  const single = await p(texts[1], { pooling: "mean", normalize: true });
  assert.deepEqual(single.dims, [1, D]);
  close(Math.hypot(...single.data), 1, 1e-5);
  await assert.rejects(p("x", { pooling: "median" as "mean" }), /pooling must be/);
});

// ---------------------------------------------------------------------------------------------------------------
// question-answering

/** Brute force over the windows of one input, from the model's logits, with transformers' masking. */
function bruteForceQa(
  tok: Tokenizer,
  model: DistilBertForQuestionAnswering,
  question: string,
  context: string,
  opts: { maxSeqLen: number; docStride: number; maxAnswerLen: number },
) {
  const first = tok.encode(question, context, {
    truncation: "only_second",
    maxLength: opts.maxSeqLen,
    stride: opts.docStride,
    returnOverflowing: true,
  });
  const windows = [first, ...(first.overflowing ?? [])];
  let best = { score: -1, start: 0, end: 0 };
  for (const w of windows) {
    const { startLogits, endLogits } = model.forward(batchOf([w]));
    const masked = (l: Float32Array) =>
      Array.from(l, (v, s) => (w.sequenceIds[s] === 1 || s === 0) ? v : -10000);
    const ps = softmaxRef(masked(startLogits.data)), pe = softmaxRef(masked(endLogits.data));
    for (let s = 0; s < w.inputIds.length; s++) {
      for (let e = s; e < w.inputIds.length; e++) {
        if (w.sequenceIds[s] !== 1 || w.sequenceIds[e] !== 1 || e - s + 1 > opts.maxAnswerLen) continue;
        const score = ps[s] * pe[e];
        if (score > best.score) best = { score, start: w.offsets[s][0], end: w.offsets[e][1] };
      }
    }
  }
  return { windows: windows.length, ...best };
}

Deno.test("question-answering: best span over all windows equals a brute force; topK; order", async () => {
  const dir = await shared("qa");
  const tok = await Tokenizer.fromDir(dir);
  using model = await DistilBertForQuestionAnswering.load(dir, { threads: 1 });
  using p = await pipeline("question-answering", dir, { threads: 1 });
  const context =
    "Marie Curie was a physicist and chemist who conducted pioneering research on radioactivity. " +
    "She was the first woman to win a Nobel Prize, the first person to win a Nobel Prize twice, and the only " +
    "person to win a Nobel Prize in two scientific fields. Her husband, Pierre Curie, was a co-winner of her " +
    "first Nobel Prize. She was born in Warsaw, in what was then the Kingdom of Poland.";
  const inputs = [
    { question: "Where was Marie Curie born?", context },
    { question: "Who?", context: "Nobody knows." },
    { question: "What did she research?", context: context.slice(0, 120) },
  ];
  // The brute force reads the tokens' own offsets.
  const opts = { maxSeqLen: 48, docStride: 16, maxAnswerLen: 15, alignToWords: false };
  const results = await p(inputs, { ...opts, batchSize: 2 });
  for (let i = 0; i < inputs.length; i++) {
    const ref = bruteForceQa(tok, model, inputs[i].question, inputs[i].context, opts);
    if (i === 0) assert.ok(ref.windows > 3, `expected several windows, got ${ref.windows}`);
    const r = results[i] as { answer: string; score: number; start: number; end: number };
    assert.equal(r.start, ref.start, `input ${i}`);
    assert.equal(r.end, ref.end);
    close(r.score, ref.score, 1e-6);
    assert.equal(r.answer, inputs[i].context.slice(r.start, r.end));
  }
  const top = await p(inputs[0], { ...opts, topK: 5, maxAnswerLen: 4 }) as {
    score: number;
    start: number;
    end: number;
  }[];
  assert.equal(top.length, 5);
  for (let k = 1; k < top.length; k++) assert.ok(top[k - 1].score >= top[k].score);
  for (const t of top) assert.ok(t.start < t.end);
  const one = await p(inputs[1], opts) as { answer: string };
  assert.equal(one.answer, (results[1] as { answer: string }).answer);
  const impossible = await p(inputs[1], { ...opts, handleImpossibleAnswer: true, topK: 20 }) as {
    answer: string;
  }[];
  assert.ok(impossible.some((a) => a.answer === ""));
  await assert.rejects(
    p({ question: "q" } as unknown as { question: string; context: string }),
    /question, context/,
  );
  assert.deepEqual(await p([]), []);
});

Deno.test("question-answering: answerOffsets widens a span to the words of its first and last tokens", async () => {
  // The SST-2 vocabulary splits "rome" into "rom" + "##e".
  const tok = await Tokenizer.fromDir(new URL("weights/sst2-distilbert-small/", ROOT).pathname);
  const context = "Rome is lovely";
  const w = tok.encode("which city?", context);
  const at = (t: string) => w.tokens.indexOf(t);
  assert.deepEqual([at("rom"), at("##e")], [at("[SEP]") + 1, at("[SEP]") + 2]);
  assert.deepEqual(answerOffsets(w, at("##e"), at("##e"), true), [0, 4]);
  assert.deepEqual(answerOffsets(w, at("##e"), at("##e"), false), [3, 4]);
  assert.deepEqual(answerOffsets(w, at("rom"), at("is"), false), [0, 7]);
  assert.deepEqual(answerOffsets(w, at("##e"), at("lovely"), true), [0, context.length]);
  await assert.rejects(
    (async () => {
      using p = await pipeline("question-answering", await shared("qa"), { threads: 1 });
      await p({ question: "q", context }, { alignToWords: "yes" as unknown as boolean });
    })(),
    /alignToWords must be true or false, got string "yes"/,
  );
});

Deno.test("question-answering: bestSpans respects start <= end, maxAnswerLen and the context mask", () => {
  const start = [5, 0, 1, 9, 0, 0], end = [5, 0, 0, 0, 2, 8];
  const ctx = [false, false, true, true, true, false];
  const { spans, nullScore } = bestSpans(start, end, ctx, 0, 2, 10);
  for (const s of spans) {
    assert.ok(s.start <= s.end && s.end - s.start < 2 && ctx[s.start] && ctx[s.end]);
  }
  assert.deepEqual(spans.map((s) => [s.start, s.end]).slice(0, 1), [[3, 4]]);
  assert.equal(spans.length, 5); // (2,2) (2,3) (3,3) (3,4) (4,4)
  assert.ok(nullScore > 0);
});

// ---------------------------------------------------------------------------------------------------------------
// token-classification

const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];

function pred(
  word: string,
  label: number,
  score: number,
  index: number,
  start: number,
  isSubword = false,
): TokenPrediction {
  const scores = new Array(LABELS.length).fill((1 - score) / (LABELS.length - 1));
  scores[label] = score;
  const len = word.replace(/^##/, "").length;
  return { word, scores, index, start, end: start + len, isSubword };
}

Deno.test("token-classification: aggregation strategies on hand-built predictions", () => {
  // "Jean Dupont visited Wikipedia ."
  const tokens = [
    pred("jean", 1, 0.9, 1, 0),
    pred("du", 2, 0.8, 2, 5),
    pred("##pont", 6, 0.6, 3, 7, true), // subword with another label
    pred("visited", 0, 0.99, 4, 12),
    pred("wiki", 3, 0.7, 5, 20),
    pred("##pedia", 4, 0.5, 6, 24, true),
    pred(".", 0, 0.9, 7, 29),
  ];
  const none = aggregateTokens(tokens, LABELS, "none");
  assert.deepEqual(none.map((e) => "entity" in e ? e.entity : ""), [
    "B-PER",
    "I-PER",
    "I-LOC",
    "B-ORG",
    "I-ORG",
  ]);
  assert.deepEqual(none.map((e) => (e as { index: number }).index), [1, 2, 3, 5, 6]);

  const simple = aggregateTokens(tokens, LABELS, "simple");
  assert.deepEqual(
    simple.map((g) => [(g as { entity_group: string }).entity_group, g.word, g.start, g.end]),
    [
      ["PER", "jean du", 0, 7],
      ["LOC", "##pont", 7, 11], // transformers' convert_tokens_to_string keeps a leading ##
      ["ORG", "wikipedia", 20, 29],
    ],
  );
  close(simple[0].score, (0.9 + 0.8) / 2, 1e-12);

  const first = aggregateTokens(tokens, LABELS, "first");
  assert.deepEqual(first.map((g) => [(g as { entity_group: string }).entity_group, g.word, g.start, g.end]), [
    ["PER", "jean dupont", 0, 11],
    ["ORG", "wikipedia", 20, 29],
  ]);
  close(first[0].score, (0.9 + 0.8) / 2, 1e-12);
  close(first[1].score, 0.7, 1e-12);

  const max = aggregateTokens(tokens, LABELS, "max");
  assert.deepEqual(max.map((g) => g.word), ["jean dupont", "wikipedia"]);
  close(max[1].score, 0.7, 1e-12);

  // average: "du ##pont": I-PER (0.8 + 0.05) / 2 = 0.425 beats I-LOC (0.025 + 0.6) / 2 = 0.3125.
  const avg = aggregateTokens(tokens, LABELS, "average");
  assert.deepEqual(avg.map((g) => [(g as { entity_group: string }).entity_group, g.word]), [
    ["PER", "jean dupont"],
    ["ORG", "wikipedia"],
  ]);
  close(avg[0].score, (0.9 + (0.8 + 0.05) / 2) / 2, 1e-9);

  // B- starts a new group even with the same type; O separates groups; ignoreLabels can be changed.
  const bb = [
    pred("a", 1, 0.9, 1, 0),
    pred("b", 1, 0.9, 2, 2),
    pred("c", 0, 0.9, 3, 4),
    pred("d", 2, 0.9, 4, 6),
  ];
  assert.deepEqual(aggregateTokens(bb, LABELS, "simple").map((g) => g.word), ["a", "b", "d"]);
  assert.deepEqual(aggregateTokens(bb, LABELS, "simple", []).map((g) => g.word), ["a", "b", "c", "d"]);
  // Words and groups are joined by the WordPiece decoder with its clean-up, as transformers' fast tokenizers do.
  assert.equal(wordPieceTokensToString(["new", "york", "##er", "'", "s"]), "new yorker ' s");
  assert.equal(wordPieceTokensToString(["the", "budget", "."]), "the budget.");
  const dot = [pred("acme", 3, 0.9, 1, 0), pred("inc", 4, 0.9, 2, 5), pred(".", 4, 0.9, 3, 8)];
  assert.deepEqual(aggregateTokens(dot, LABELS, "simple").map((g) => g.word), ["acme inc."]);
  const upper = aggregateTokens(dot, LABELS, "simple", ["O"], (t) => t.join("|").toUpperCase());
  assert.deepEqual(upper.map((g) => g.word), ["ACME|INC|."]);
  assert.throws(() => aggregateTokens(bb, LABELS, "bogus" as "none"), /aggregationStrategy must be one of/);
});

Deno.test("token-classification: pipeline labels follow the head's logits; offsets point into the text", async () => {
  const dir = await shared("tokcls");
  const tok = await Tokenizer.fromDir(dir);
  using model = await DistilBertForTokenClassification.load(dir, { threads: 1 });
  using p = await pipeline("ner", dir, { threads: 1 });
  const texts = ["Angela Merkel met Emmanuel Macron in Strasbourg.", "Hi", "Unaffordable housing in Zürich"];
  const all = await p(texts, { ignoreLabels: [], batchSize: 2 });
  for (let i = 0; i < texts.length; i++) {
    const enc = tok.encode(texts[i]);
    const { logits } = model.forward(batchOf([enc]));
    const got = all[i] as {
      entity: string;
      score: number;
      index: number;
      word: string;
      start: number;
      end: number;
    }[];
    assert.equal(got.length, enc.inputIds.length - 2);
    for (const e of got) {
      const row = logits.data.subarray(e.index * 9, e.index * 9 + 9);
      const probs = softmaxRef(row);
      const k = probs.indexOf(Math.max(...probs));
      assert.equal(e.entity, LABELS[k]);
      close(e.score, probs[k], 1e-5);
      assert.deepEqual([e.start, e.end], enc.offsets[e.index]);
      assert.equal(e.word, enc.tokens[e.index]);
    }
  }
  const filtered = await p(texts[0]);
  assert.ok(filtered.every((e) => (e as { entity: string }).entity !== "O"));
  for (const strategy of ["simple", "first", "average", "max"] as const) {
    const groups = await p(texts[0], { aggregationStrategy: strategy, ignoreLabels: [] });
    for (const g of groups) {
      assert.ok("entity_group" in g);
      assert.ok(g.start < g.end && g.end <= texts[0].length);
    }
    // Without ignored labels, the groups cover the text's tokens from first to last.
    assert.equal(groups[0].start, 0);
    assert.equal(groups[groups.length - 1].end, texts[0].length);
  }
});

Deno.test("pipelines: dispose releases the model; later calls throw", async () => {
  const dir = await shared("seqcls");
  const p = await pipeline("text-classification", dir, { threads: 1 });
  assert.equal((await p(["x"])).length, 1);
  p.dispose();
  p.close(); // harmless
  await assert.rejects(p("x"), /closed/);
});

globalThis.addEventListener("unload", () => {
  for (const d of dirs.values()) d.then((dir) => Deno.removeSync(dir, { recursive: true })).catch(() => {});
});
