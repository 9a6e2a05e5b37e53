/**
 * Request bodies of every POST route, checked for shape on the HTTP thread (so a malformed request is
 * answered at once with 422, naming the field) and turned into the Worker's jobs; and the routes each task
 * serves. Field names are text-embeddings-inference's (`inputs`, `normalize`, `truncate`, `raw_scores`...)
 * and, for the tasks TEI lacks, transformers' pipeline argument names in snake_case.
 *
 * @module
 */

import type { PipelineTask } from "../pipelines/common.ts";
import { COMMON_ROUTES, TASKS, taskSpec } from "../pipelines/registry.ts";
import type { TextInput } from "../pipelines/text_classification.ts";
import type { ErrorType, Job } from "./protocol.ts";

/** A request the server refuses before it reaches the model; `status` is the HTTP status. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly errorType: ErrorType, message: string) {
    super(message);
  }
}

const invalid = (message: string) => new HttpError(422, "validation", message);
// TEI answers its own checks by error type: ErrorType::Empty is 400 and ErrorType::Validation (too many
// inputs, an input too long) 413 (router/src/http/server.rs); shape errors are its JSON extractor's 422.
const empty = (message: string) => new HttpError(400, "empty", message);

/** The POST routes a model of `task` serves: its task's (from the task registry) and the common ones. */
export function routesFor(task: PipelineTask): string[] {
  return [...taskSpec(task)!.routes, ...COMMON_ROUTES];
}

/** Every POST route of some task. */
export const POST_ROUTES: ReadonlySet<string> = new Set([
  ...TASKS.flatMap((t) => t.routes),
  ...COMMON_ROUTES,
]);

type Body = Record<string, unknown>;

function allowOnly(body: Body, fields: readonly string[]) {
  for (const k of Object.keys(body)) {
    if (!fields.includes(k)) throw invalid(`unknown field "${k}" (fields: ${fields.join(", ")})`);
  }
}

function bool(body: Body, field: string, dflt: boolean): boolean {
  const v = body[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") throw invalid(`"${field}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** TEI's `prompt_name`: a name in the model's config_sentence_transformers.json (the Worker checks which). */
function promptName(body: Body): string | undefined {
  const v = body.prompt_name;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalid(`"prompt_name" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function posInt(body: Body, field: string, dflt: number | undefined, max = 1e9, min = 1): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`"${field}" must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A string or a list of strings, as `field`; at most `maxBatch` of them and none empty-listed. */
function texts(body: Body, field: string, maxBatch: number): { list: string[]; single: boolean } {
  const v = body[field];
  if (typeof v === "string") return { list: [v], single: true };
  if (!Array.isArray(v)) throw invalid(`"${field}" must be a string or a list of strings`);
  if (v.length === 0) throw empty(`"${field}" is an empty list`);
  checkBatch(field, v.length, maxBatch);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== "string") throw invalid(`"${field}"[${i}] must be a string, got ${kind(v[i])}`);
  }
  return { list: v as string[], single: false };
}

function checkBatch(field: string, n: number, maxBatch: number) {
  if (n > maxBatch) {
    throw new HttpError(
      413,
      "validation",
      `"${field}" has ${n} items, more than --max-client-batch-size ${maxBatch}: send smaller batches`,
    );
  }
}

function kind(x: unknown): string {
  return x === null ? "null" : Array.isArray(x) ? "a list" : typeof x;
}

/** A validated request: the job for the Worker and how to shape its result. */
export interface Parsed {
  job: Job;
  /** The client sent one input, not a list. */
  single: boolean;
  /** Extra fields a route's response needs (rerank's texts, the OpenAI format). */
  extra?: Record<string, unknown>;
}

/** Checks a POST body and builds its job; throws {@link HttpError} 422 naming the field. */
export function parseBody(route: string, raw: unknown, maxBatch: number): Parsed {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalid("the body must be a JSON object");
  }
  const body = raw as Body;
  switch (route) {
    case "/embed": {
      allowOnly(body, ["inputs", "normalize", "truncate", "prompt_name"]);
      const { list, single } = texts(body, "inputs", maxBatch);
      return {
        job: {
          route: "embed",
          texts: list,
          normalize: bool(body, "normalize", true),
          truncate: bool(body, "truncate", false),
          promptName: promptName(body),
          field: "inputs",
        },
        single,
      };
    }
    case "/v1/embeddings": {
      allowOnly(body, ["input", "model", "encoding_format", "user", "dimensions", "prompt_name"]);
      const { list, single } = texts(body, "input", maxBatch);
      const format = body.encoding_format ?? "float";
      if (format !== "float" && format !== "base64") {
        throw invalid(`"encoding_format" must be "float" or "base64", got ${JSON.stringify(format)}`);
      }
      if (body.dimensions !== undefined) {
        throw invalid(`"dimensions" is not supported: the model's size is fixed`);
      }
      if (body.model !== undefined && typeof body.model !== "string") {
        throw invalid(`"model" must be a string`);
      }
      return {
        job: {
          route: "embed",
          texts: list,
          normalize: true,
          truncate: false,
          promptName: promptName(body),
          field: "input",
        },
        single,
        extra: { format, model: body.model },
      };
    }
    case "/predict": {
      allowOnly(body, ["inputs", "raw_scores", "truncate"]);
      const { list, single } = predictInputs(body.inputs, maxBatch);
      return {
        job: {
          route: "predict",
          inputs: list,
          rawScores: bool(body, "raw_scores", false),
          truncate: bool(body, "truncate", false),
        },
        single,
      };
    }
    case "/rerank": {
      allowOnly(body, ["query", "texts", "raw_scores", "return_text", "truncate"]);
      if (typeof body.query !== "string") throw invalid(`"query" must be a string`);
      const { list } = texts(body, "texts", maxBatch);
      if (!Array.isArray(body.texts)) throw invalid(`"texts" must be a list of strings`);
      return {
        job: {
          route: "rerank",
          query: body.query,
          texts: list,
          rawScores: bool(body, "raw_scores", false),
          truncate: bool(body, "truncate", false),
        },
        single: false,
        extra: { returnText: bool(body, "return_text", false) },
      };
    }
    case "/tokenize": {
      allowOnly(body, ["inputs", "add_special_tokens"]);
      const { list, single } = texts(body, "inputs", maxBatch);
      return {
        job: { route: "tokenize", texts: list, addSpecialTokens: bool(body, "add_special_tokens", true) },
        single,
      };
    }
    case "/decode": {
      allowOnly(body, ["ids", "skip_special_tokens"]);
      const ids = body.ids;
      const isIds = (x: unknown): x is number[] =>
        Array.isArray(x) && x.every((v) => typeof v === "number" && Number.isInteger(v) && v >= 0);
      let rows: number[][], single: boolean;
      if (isIds(ids)) [rows, single] = [[ids], true];
      else if (Array.isArray(ids) && ids.length > 0 && ids.every(isIds)) {
        [rows, single] = [ids as number[][], false];
      } else throw invalid(`"ids" must be a list of non-negative integer token ids, or a list of such lists`);
      checkBatch("ids", rows.length, maxBatch);
      return {
        job: { route: "decode", ids: rows, skipSpecialTokens: bool(body, "skip_special_tokens", true) },
        single,
      };
    }
    case "/fill-mask": {
      allowOnly(body, ["inputs", "top_k", "truncate"]);
      const { list, single } = texts(body, "inputs", maxBatch);
      return {
        job: {
          route: "fill-mask",
          texts: list,
          topK: posInt(body, "top_k", 5, 1000)!,
          truncate: bool(body, "truncate", false),
        },
        single,
      };
    }
    case "/question-answering": {
      allowOnly(body, [
        "inputs",
        "top_k",
        "doc_stride",
        "max_answer_len",
        "max_seq_len",
        "handle_impossible_answer",
        "align_to_words",
      ]);
      const items = qaInputs(body.inputs, maxBatch);
      const options: Record<string, number | boolean> = {};
      const map: [string, string][] = [
        ["top_k", "topK"],
        ["doc_stride", "docStride"],
        ["max_answer_len", "maxAnswerLen"],
        ["max_seq_len", "maxSeqLen"],
      ];
      for (const [field, opt] of map) {
        // Windows may share no token: doc_stride 0 is valid, as in transformers and the CLI.
        const v = posInt(body, field, undefined, 100000, field === "doc_stride" ? 0 : 1);
        if (v !== undefined) options[opt] = v;
      }
      if (body.handle_impossible_answer !== undefined) {
        options.handleImpossibleAnswer = bool(body, "handle_impossible_answer", false);
      }
      if (body.align_to_words !== undefined) options.alignToWords = bool(body, "align_to_words", true);
      return { job: { route: "question-answering", items: items.list, options }, single: items.single };
    }
    case "/token-classification": {
      allowOnly(body, ["inputs", "aggregation_strategy", "ignore_labels", "truncate"]);
      const { list, single } = texts(body, "inputs", maxBatch);
      const options: Record<string, unknown> = {};
      const strategy = body.aggregation_strategy;
      if (strategy !== undefined && strategy !== null) {
        const ok = ["none", "simple", "first", "average", "max"];
        if (typeof strategy !== "string" || !ok.includes(strategy)) {
          throw invalid(
            `"aggregation_strategy" must be one of ${ok.join(", ")}, got ${JSON.stringify(strategy)}`,
          );
        }
        options.aggregationStrategy = strategy;
      }
      const ignore = body.ignore_labels;
      if (ignore !== undefined && ignore !== null) {
        if (!Array.isArray(ignore) || !ignore.every((x) => typeof x === "string")) {
          throw invalid(`"ignore_labels" must be a list of label strings`);
        }
        options.ignoreLabels = ignore;
      }
      return {
        job: { route: "token-classification", texts: list, options, truncate: bool(body, "truncate", false) },
        single,
      };
    }
  }
  throw new HttpError(404, "not_found", `no route ${route}`);
}

function isPair(x: unknown): x is [string, string] {
  return Array.isArray(x) && x.length === 2 && typeof x[0] === "string" && typeof x[1] === "string";
}

/** `/predict`'s inputs: a string, a [text, pair] pair, or a list of those. */
function predictInputs(v: unknown, maxBatch: number): { list: TextInput[]; single: boolean } {
  const one = (x: unknown): TextInput | undefined =>
    typeof x === "string" ? x : isPair(x) ? { text: x[0], textPair: x[1] } : undefined;
  // A list of exactly two strings is a pair and a list of one string is that text, both one input answered
  // unnested, as TEI reads them (its PredictInput); send [[a], [b]] or ["a", "b", "c", ...] for a batch.
  const single = one(v) ??
    (Array.isArray(v) && v.length === 1 && typeof v[0] === "string" ? v[0] : undefined);
  if (single !== undefined) return { list: [single], single: true };
  if (!Array.isArray(v)) throw invalid(`"inputs" must be a string, a [text, text] pair, or a list of those`);
  if (v.length === 0) throw empty(`"inputs" is an empty list`);
  checkBatch("inputs", v.length, maxBatch);
  const list = v.map((x, i) => {
    const item = one(x) ??
      (Array.isArray(x) && x.length === 1 && typeof x[0] === "string" ? x[0] : undefined);
    if (item === undefined) {
      throw invalid(`"inputs"[${i}] must be a string or a [text, text] pair, got ${kind(x)}`);
    }
    return item;
  });
  return { list, single: false };
}

function qaInputs(
  v: unknown,
  maxBatch: number,
): { list: { question: string; context: string }[]; single: boolean } {
  const one = (x: unknown, where: string) => {
    if (typeof x !== "object" || x === null || Array.isArray(x)) {
      throw invalid(`${where} must be { question, context }`);
    }
    const o = x as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== "question" && k !== "context") throw invalid(`${where}: unknown field "${k}"`);
    }
    if (typeof o.question !== "string" || typeof o.context !== "string") {
      throw invalid(`${where} must have string "question" and "context"`);
    }
    return { question: o.question, context: o.context };
  };
  if (!Array.isArray(v)) return { list: [one(v, `"inputs"`)], single: true };
  if (v.length === 0) throw empty(`"inputs" is an empty list`);
  checkBatch("inputs", v.length, maxBatch);
  return { list: v.map((x, i) => one(x, `"inputs"[${i}]`)), single: false };
}
