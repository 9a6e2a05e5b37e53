/**
 * The model's Worker: loads the task's pipeline, then tokenizes every request as it arrives, queues it, and
 * runs queued requests in batches of up to `maxBatchTokens` real tokens and `maxBatchRequests` requests, one
 * forward pass at a time. Requests of one batch share a route and the options that change the computation.
 * Runs off the HTTP thread, so the server keeps answering while a pass runs.
 *
 * @module
 */
/// <reference lib="deno.worker" />

import { pipeline } from "../pipelines/mod.ts";
import type { AnyPipeline } from "../pipelines/mod.ts";
import { PipelineInputError } from "../pipelines/common.ts";
import type { FeatureExtractionPipeline } from "../pipelines/feature_extraction.ts";
import type { FillMaskPipeline } from "../pipelines/fill_mask.ts";
import type { QuestionAnsweringPipeline } from "../pipelines/question_answering.ts";
import type { TextClassificationPipeline } from "../pipelines/text_classification.ts";
import type { TokenClassificationPipeline } from "../pipelines/token_classification.ts";
import type { Tokenizer } from "../tokenizer/mod.ts";
import { promptNames } from "../pipelines/sentence_transformers.ts";
import { modelPooling } from "./pooling.ts";
import type { ErrorType, FromWorker, Job, JobTiming, ModelInfo, ToWorker, WorkerInit } from "./protocol.ts";
import { codePointOffsets } from "./offsets.ts";

interface Queued {
  id: number;
  job: Job;
  /** Batching group: route plus the options that change the computation. */
  group: string;
  tokens: number;
  tokenizationMs: number;
  enqueued: number;
}

class RequestError extends Error {
  constructor(readonly errorType: ErrorType, message: string, readonly status?: number) {
    super(message);
  }
}

let init: WorkerInit;
let pipe: AnyPipeline;
let tokenizer: Tokenizer;
let info: ModelInfo;
const queue: Queued[] = [];
let running = false;

function post(msg: FromWorker) {
  self.postMessage(msg);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === "init") void start(msg.init);
  else if (msg.type === "cancel") {
    const i = queue.findIndex((q) => q.id === msg.id);
    if (i >= 0) queue.splice(i, 1); // not started: dropped; the HTTP side already answered nobody
  } else if (msg.type === "job") accept(msg.id, msg.job);
};

async function start(settings: WorkerInit) {
  try {
    init = settings;
    pipe = await pipeline(settings.task, settings.modelDir, {
      threads: settings.threads,
      dtype: settings.dtype,
    });
    tokenizer = pipe.tokenizer;
    const config = pipe.model.config;
    const fe = settings.task === "feature-extraction" ? pipe as FeatureExtractionPipeline : undefined;
    info = {
      task: settings.task,
      modelType: config.model_type,
      architecture: config.architectures[0] ?? "DistilBertModel",
      maxInputLength: Math.min(tokenizer.modelMaxLength, config.max_position_embeddings),
      labels: "labelNames" in pipe.model ? [...(pipe.model as { labelNames: string[] }).labelNames] : null,
      pooling: fe ? await modelPooling(settings.modelDir) : null,
      prompts: fe ? { ...fe.prompts } : null,
      defaultPromptName: fe?.defaultPromptName ?? null,
      hiddenSize: config.dim,
    };
    await warmUp();
    post({ type: "ready", info });
  } catch (err) {
    post({ type: "init-error", message: (err as Error).message });
  }
}

/** One pass before the server says it is healthy, so the first request does not pay for first-use costs. */
async function warmUp() {
  const job: Job = warmUpJob(info.task);
  await runBatch(
    [{ id: -1, job, group: "", tokens: 0, tokenizationMs: 0, enqueued: performance.now() }],
    false,
  );
}

function warmUpJob(task: ModelInfo["task"]): Job {
  switch (task) {
    case "feature-extraction":
      return { route: "embed", texts: ["warm up"], normalize: true, truncate: true, field: "inputs" };
    case "text-classification":
      return { route: "predict", inputs: ["warm up"], rawScores: false, truncate: true };
    case "fill-mask":
      return {
        route: "fill-mask",
        texts: [`warm ${(pipe as FillMaskPipeline).maskToken}`],
        topK: 1,
        truncate: true,
      };
    case "question-answering":
      return { route: "question-answering", items: [{ question: "warm?", context: "up" }], options: {} };
    case "token-classification":
      return { route: "token-classification", texts: ["warm up"], options: {}, truncate: true };
  }
}

// ---- admission: tokenize, check lengths, queue -------------------------------------------------------

function accept(id: number, job: Job) {
  const t0 = performance.now();
  let tokens: number;
  try {
    if (job.route === "tokenize" || job.route === "decode") {
      const result = job.route === "tokenize" ? tokenizeJob(job) : decodeJob(job);
      const ms = performance.now() - t0;
      post({
        type: "result",
        id,
        result,
        timing: { tokenizationMs: ms, queueMs: 0, inferenceMs: 0, computeTokens: 0 },
      });
      return;
    }
    tokens = countTokens(job);
  } catch (err) {
    post(errorMessage(id, err));
    return;
  }
  queue.push({
    id,
    job,
    group: groupOf(job),
    tokens,
    tokenizationMs: performance.now() - t0,
    enqueued: performance.now(),
  });
  schedule();
}

function lengthOf(text: string, pair: string | null = null): number {
  // An empty pair is no pair, as the pipelines encode it (encodeTexts).
  return tokenizer.encode(text, pair || null).inputIds.length;
}

function tooLong(what: string, n: number): RequestError {
  // 413, as TEI answers its "`inputs` must have less than N tokens" (a Validation error).
  return new RequestError(
    "validation",
    `${what} has ${n} tokens, more than the model's ${info.maxInputLength}: shorten it or send "truncate": true`,
    413,
  );
}

/** Real tokens the request will compute, after truncation; throws for inputs too long without truncation. */
function countTokens(job: Job): number {
  const max = info.maxInputLength;
  const check = (n: number, what: string, truncate: boolean) => {
    if (n > max && !truncate) throw tooLong(what, n);
    return Math.min(n, max);
  };
  switch (job.route) {
    case "embed": {
      const prompt = embedPrompt(job);
      const what = (i: number) => prompt ? `${job.field}[${i}] with its prompt` : `${job.field}[${i}]`;
      return job.texts.reduce((s, t, i) => s + check(lengthOf(prompt + t), what(i), job.truncate), 0);
    }
    case "fill-mask":
      return job.texts.reduce((s, t, i) => s + check(lengthOf(t), `inputs[${i}]`, job.truncate), 0);
    case "token-classification":
      return job.texts.reduce((s, t, i) => s + check(lengthOf(t), `inputs[${i}]`, job.truncate), 0);
    case "predict":
      return job.inputs.reduce((s, x, i) => {
        const n = typeof x === "string" ? lengthOf(x) : lengthOf(x.text, x.textPair ?? null);
        return s + check(n, `inputs[${i}]`, job.truncate);
      }, 0);
    case "rerank":
      return job.texts.reduce(
        (s, t, i) => s + check(lengthOf(job.query, t), `(query, texts[${i}])`, job.truncate),
        0,
      );
    case "question-answering":
      // Long contexts are split into windows of at most max tokens; each window is one row.
      return job.items.reduce((s, x) => s + lengthOf(x.question, x.context), 0);
    default:
      return 0;
  }
}

/** The prompt text an embed request gets; a `prompt_name` the model does not have is the client's error. */
function embedPrompt(job: Extract<Job, { route: "embed" }>): string {
  const prompts = info.prompts ?? {};
  const name = job.promptName ?? info.defaultPromptName;
  if (name === null) return "";
  if (!Object.hasOwn(prompts, name)) {
    throw new RequestError(
      "validation",
      `"prompt_name" ${
        JSON.stringify(name)
      } is not one of the model's prompts (config_sentence_transformers.json; prompts: ${
        promptNames(prompts)
      })`,
    );
  }
  return prompts[name];
}

function groupOf(job: Job): string {
  switch (job.route) {
    case "embed":
      return `embed/${job.normalize}/${job.truncate}/${JSON.stringify(job.promptName ?? null)}`;
    case "predict":
      return `predict/${job.rawScores}/${job.truncate}`;
    case "rerank":
      return `rerank/${job.rawScores}/${job.truncate}`;
    case "fill-mask":
      return `fill-mask/${job.topK}/${job.truncate}`;
    case "question-answering":
      return `qa/${JSON.stringify(Object.entries(job.options).sort())}`;
    case "token-classification":
      return `ner/${JSON.stringify(Object.entries(job.options).sort())}/${job.truncate}`;
    default:
      return job.route;
  }
}

// ---- the batcher ----------------------------------------------------------------------------------

function schedule() {
  if (running) return;
  running = true;
  // A macrotask first, so requests that arrived during the last pass are all queued before a batch forms.
  void nextMacrotask().then(drain);
}

async function drain() {
  try {
    while (queue.length > 0) {
      const batch = takeBatch();
      await runBatch(batch, true);
      await nextMacrotask(); // let arrivals and cancellations in
    }
  } finally {
    running = false;
  }
}

// A message to ourselves rather than setTimeout(0): nested timers are clamped to 4 ms, which a busy queue
// would pay after every pass.
const tick = new MessageChannel();
const ticks: (() => void)[] = [];
tick.port1.onmessage = () => ticks.shift()?.();

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => {
    ticks.push(resolve);
    tick.port2.postMessage(0);
  });
}

/** The oldest request and, in arrival order, every later one of its group that still fits. */
function takeBatch(): Queued[] {
  const first = queue[0];
  const batch: Queued[] = [first];
  let tokens = first.tokens;
  for (let i = 1; i < queue.length && batch.length < init.maxBatchRequests; i++) {
    const q = queue[i];
    if (q.group !== first.group || tokens + q.tokens > init.maxBatchTokens) continue;
    batch.push(q);
    tokens += q.tokens;
  }
  const taken = new Set(batch);
  for (let i = queue.length - 1; i >= 0; i--) if (taken.has(queue[i])) queue.splice(i, 1);
  return batch;
}

async function runBatch(batch: Queued[], report: boolean) {
  const t0 = performance.now();
  let results: unknown[] | undefined;
  try {
    results = await runJobs(batch.map((q) => q.job));
  } catch {
    results = undefined;
  }
  const ms = performance.now() - t0;
  const tokens = batch.reduce((s, q) => s + q.tokens, 0);
  if (report) post({ type: "batch", size: batch.length, tokens, ms, queued: queue.length });
  if (results) {
    for (let i = 0; i < batch.length; i++) {
      if (batch[i].id >= 0) {
        post({ type: "result", id: batch[i].id, result: results[i], timing: timingOf(batch[i], t0, ms) });
      }
    }
    return;
  }
  if (batch[0].id === -1) throw new Error("the warm-up pass failed");
  // One request of the batch failed: run each alone, so only the bad one gets the error.
  for (const q of batch) {
    const t1 = performance.now();
    try {
      const [result] = await runJobs([q.job]);
      post({ type: "result", id: q.id, result, timing: timingOf(q, t0, performance.now() - t1) });
    } catch (err) {
      post(errorMessage(q.id, err, timingOf(q, t0, performance.now() - t1)));
    }
  }
}

function timingOf(q: Queued, started: number, inferenceMs: number): JobTiming {
  return {
    tokenizationMs: q.tokenizationMs,
    queueMs: started - q.enqueued,
    inferenceMs,
    computeTokens: q.tokens,
  };
}

function errorMessage(id: number, err: unknown, timing?: JobTiming): FromWorker {
  if (err instanceof RequestError) {
    return { type: "error", id, errorType: err.errorType, message: err.message, timing, status: err.status };
  }
  const message = (err as Error)?.message ?? String(err);
  // Errors the pipelines raise for an input they cannot process are the client's.
  const client = err instanceof PipelineInputError || err instanceof RangeError || err instanceof TypeError;
  return { type: "error", id, errorType: client ? "validation" : "backend", message, timing };
}

// ---- running one group's jobs as one call of the pipeline -----------------------------------------

/** Runs jobs of one group in one pipeline call; one result per job. */
async function runJobs(jobs: Job[]): Promise<unknown[]> {
  const job = jobs[0];
  switch (job.route) {
    case "embed": {
      const all = jobs.flatMap((j) => (j as typeof job).texts);
      const fe = pipe as FeatureExtractionPipeline;
      const out = await fe(all, {
        // Several modes come only from a sentence-transformers folder, which the pipeline reads itself.
        pooling: info.pooling && info.pooling.length === 1 ? info.pooling[0] : undefined,
        normalize: job.normalize,
        truncation: job.truncate,
        promptName: job.promptName,
        batchSize: all.length,
      });
      return split(jobs.map((j) => (j as typeof job).texts.length), out.map((t) => t.data));
    }
    case "predict": {
      const all = jobs.flatMap((j) => (j as typeof job).inputs);
      const tc = pipe as TextClassificationPipeline;
      const out = await tc(all, {
        topK: null,
        functionToApply: job.rawScores ? "none" : tc.defaultFunction,
        truncation: job.truncate,
        batchSize: all.length,
      });
      return split(jobs.map((j) => (j as typeof job).inputs.length), out);
    }
    case "rerank": {
      const tc = pipe as TextClassificationPipeline;
      const all = jobs.flatMap((j) =>
        (j as typeof job).texts.map((t) => ({ text: (j as typeof job).query, textPair: t }))
      );
      const details = await tc.classify(all, {
        functionToApply: job.rawScores ? "none" : "sigmoid",
        truncation: job.truncate,
        batchSize: all.length,
      });
      return split(jobs.map((j) => (j as typeof job).texts.length), details.map((d) => d.scores[0]));
    }
    case "fill-mask": {
      const all = jobs.flatMap((j) => (j as typeof job).texts);
      const out = await (pipe as FillMaskPipeline)(all, { topK: job.topK, batchSize: all.length });
      return split(jobs.map((j) => (j as typeof job).texts.length), out);
    }
    case "question-answering": {
      const all = jobs.flatMap((j) => (j as typeof job).items);
      const qa = pipe as QuestionAnsweringPipeline;
      const out = await qa(all, { ...job.options, batchSize: all.length });
      const fixed = out.map((r, i) => answerOffsets(r, all[i].context));
      return split(jobs.map((j) => (j as typeof job).items.length), fixed);
    }
    case "token-classification": {
      const all = jobs.flatMap((j) => (j as typeof job).texts);
      const ner = pipe as TokenClassificationPipeline;
      const out = await ner(all, { ...job.options, batchSize: all.length });
      const fixed = out.map((entities, i) => {
        const cp = codePointOffsets(all[i]);
        return entities.map((e) => withCodePoints(e, cp));
      });
      return split(jobs.map((j) => (j as typeof job).texts.length), fixed);
    }
    default:
      throw new Error(`route ${job.route} is not batched`);
  }
}

/** Splits one flat result list back into each job's part. */
function split<T>(counts: number[], flat: readonly T[]): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (const n of counts) out.push(flat.slice(at, at += n));
  return out;
}

// The pipelines report UTF-16 offsets (JavaScript string indices); over HTTP, as in transformers and TEI's
// Python clients, offsets count characters (code points).
function withCodePoints<T extends { start: number; end: number }>(x: T, cp: (utf16: number) => number): T {
  return { ...x, start: cp(x.start), end: cp(x.end) };
}

function answerOffsets(r: unknown, context: string): unknown {
  const cp = codePointOffsets(context);
  if (Array.isArray(r)) return r.map((a) => withCodePoints(a, cp));
  return withCodePoints(r as { start: number; end: number }, cp);
}

// ---- tokenize and decode (no model pass) -----------------------------------------------------------

function tokenizeJob(job: Extract<Job, { route: "tokenize" }>) {
  return job.texts.map((text) => {
    const enc = tokenizer.encode(text, null, { addSpecialTokens: job.addSpecialTokens });
    const cp = codePointOffsets(text);
    return enc.inputIds.map((id, k) => {
      const special = enc.specialTokensMask[k] === 1;
      const [s, e] = enc.offsets[k];
      return {
        id,
        text: special ? enc.tokens[k] : text.slice(s, e),
        special,
        start: special ? null : cp(s),
        stop: special ? null : cp(e),
      };
    });
  });
}

function decodeJob(job: Extract<Job, { route: "decode" }>) {
  const vocab = tokenizer.vocabSize;
  job.ids.forEach((row, r) =>
    row.forEach((id, k) => {
      if (id >= vocab) {
        throw new RequestError(
          "validation",
          `ids[${r}][${k}] = ${id} is not below the vocabulary size ${vocab}`,
        );
      }
    })
  );
  return job.ids.map((row) => tokenizer.decode(row, { skipSpecialTokens: job.skipSpecialTokens }));
}
