/**
 * An HTTP inference server with dynamic batching, compatible with Hugging Face text-embeddings-inference
 * (TEI): `/embed`, `/predict`, `/rerank`, `/tokenize`, `/decode`, `/v1/embeddings` (OpenAI), plus
 * `/fill-mask`, `/question-answering` and `/token-classification`; `/health`, `/info`, `/metrics`.
 *
 * The model runs in a Worker (src/server/worker.ts), which batches the requests of every connection; this
 * thread parses, validates, answers and keeps serving `/health` while a pass runs.
 *
 * @module
 */

import { loadConfig } from "../config.ts";
import { type Dtype, validateThreads } from "../backend.ts";
import { resolveModelDir } from "../hub/mod.ts";
import type { ResolveModelOptions } from "../hub/mod.ts";
import type { PipelineTask } from "../pipelines/common.ts";
import { canonicalTask, PIPELINE_TASKS, taskOfArchitecture } from "../pipelines/registry.ts";
import { Engine } from "./engine.ts";
import { Metrics } from "./metrics.ts";
import type { ErrorType, JobTiming } from "./protocol.ts";
import { HttpError, parseBody, type Parsed, POST_ROUTES, routesFor } from "./routes.ts";
import { exists } from "../fs/write.ts";

/** The library's version, reported by `/info`. */
export const SERVER_VERSION = "0.1.0";

// Each error kind as TEI writes it in a response (its ErrorType's variant names, router/src/lib.rs); the kinds
// TEI answers from its HTTP layer without a JSON body (401, 404, 413 over the payload limit, 499) named alike.
const WIRE_ERROR_TYPES: Record<ErrorType | "cancelled", string> = {
  validation: "Validation",
  tokenizer: "Tokenizer",
  overloaded: "Overloaded",
  backend: "Backend",
  unhealthy: "Unhealthy",
  empty: "Empty",
  unauthorized: "Unauthorized",
  payload: "PayloadTooLarge",
  not_found: "NotFound",
  cancelled: "Cancelled",
};

/** Options of {@link startServer}; the CLI flags of `deno task serve` in camelCase. */
export interface ServeOptions {
  /** A model folder or Hugging Face hub id. */
  model: string;
  /** Default: from the model's architecture (a bare encoder or sentence-transformers folder: feature-extraction). */
  task?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 3000; 0 picks a free port. */
  port?: number;
  /** Threads of the model's passes. Default: the number of cores. */
  threads?: number;
  /** Precision of the encoder's linear layers: "fp32" (default), "bf16" or "q8" (as `LoadOptions.dtype`). */
  dtype?: Dtype;
  /** Real tokens per forward pass at most (a request larger than this runs alone). Default 16384. */
  maxBatchTokens?: number;
  /** Requests per forward pass at most. Default: no limit but the tokens. */
  maxBatchRequests?: number;
  /** Requests in flight at most; beyond it, 429 at once. Default 512. */
  maxConcurrentRequests?: number;
  /** Inputs per request at most. Default 32. */
  maxClientBatchSize?: number;
  /** Request body bytes at most; beyond it, 413. Default 2,000,000. */
  payloadLimit?: number;
  /** When set, every route but `/health` needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Hub resolution of a model id. */
  hub?: ResolveModelOptions;
  /** Seconds a shutdown waits for requests in flight. Default 30. */
  shutdownTimeout?: number;
}

/** A running server. */
export interface RunningServer {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** The canonical task it serves. */
  readonly task: PipelineTask;
  /** Its POST routes. */
  readonly routes: string[];
  /** Stops accepting, answers the requests in flight, stops the model Worker. Resolves when done. */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped. */
  readonly finished: Promise<void>;
}

/** The task a model folder is for, as TEI decides: sentence-transformers folders embed, else the head. */
export async function defaultTask(dir: string): Promise<PipelineTask> {
  if (await exists(`${dir}/modules.json`)) return "feature-extraction";
  const config = await loadConfig(dir);
  const arch = config.architectures[0] ?? "DistilBertModel";
  const task = taskOfArchitecture(arch);
  if (!task) throw new Error(`${dir}/config.json: architecture ${arch} has no task to serve; pass --task`);
  return task;
}

function limit(name: string, v: number | undefined, dflt: number, min = 1): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return x;
}

function ms(x: number): string {
  return x.toFixed(3);
}

/** Starts the server; resolves once the model is loaded, has run one pass, and the port is open. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const maxBatchTokens = limit("maxBatchTokens", options.maxBatchTokens, 16384);
  const maxBatchRequests = limit("maxBatchRequests", options.maxBatchRequests, Number.MAX_SAFE_INTEGER);
  const maxConcurrent = limit("maxConcurrentRequests", options.maxConcurrentRequests, 512);
  const maxClientBatch = limit("maxClientBatchSize", options.maxClientBatchSize, 32);
  const payloadLimit = limit("payloadLimit", options.payloadLimit, 2_000_000);
  const port = limit("port", options.port, 3000, 0);
  const shutdownMs = limit("shutdownTimeout", options.shutdownTimeout, 30, 0) * 1000;
  if (port > 65535) throw new RangeError(`port must be at most 65535, got ${port}`);
  // Before the Worker loads the model, so a bad count is a RangeError (serve: exit 2), not a failed load.
  if (options.threads !== undefined) validateThreads(options.threads);
  if (options.apiKey !== undefined && (typeof options.apiKey !== "string" || options.apiKey === "")) {
    throw new TypeError("apiKey must be a non-empty string");
  }
  if (typeof options.model !== "string" || options.model === "") {
    throw new TypeError("model must be a folder or hub id");
  }
  const modelDir = await resolveModelDir(options.model, options.hub ?? {});
  let task: PipelineTask;
  if (options.task !== undefined) {
    const t = canonicalTask(options.task);
    if (!t) {
      throw new RangeError(
        `unknown task ${JSON.stringify(options.task)} (tasks: ${PIPELINE_TASKS.join(", ")})`,
      );
    }
    task = t;
  } else {
    task = await defaultTask(modelDir);
  }
  const engine = await Engine.start({
    modelDir,
    task,
    threads: options.threads,
    dtype: options.dtype,
    maxBatchTokens,
    maxBatchRequests,
  });
  const metrics = new Metrics();
  engine.onBatch = (b) => {
    metrics.observe("te_batch_next_size", b.size);
    metrics.observe("te_batch_next_tokens", b.tokens);
    metrics.observe("te_batch_inference_duration", b.ms / 1000);
    metrics.set("te_queue_size", engine.inFlight);
  };
  const routes = routesFor(task);
  let draining = false;
  let active = 0; // requests being handled
  const info = {
    model_id: options.model,
    model_dir: modelDir,
    // TEI says "float32" / "float16"; ours names the encoder's linear layers' precision.
    model_dtype: { fp32: "float32", bf16: "bfloat16", q8: "int8" }[options.dtype ?? "fp32"],
    task,
    // TEI's ClassifierModel has both maps; a client that deserializes /info needs label2id too.
    model_type: engine.info.labels
      ? {
        classifier: {
          id2label: Object.fromEntries(engine.info.labels.map((l, i) => [String(i), l])),
          label2id: Object.fromEntries(engine.info.labels.map((l, i) => [l, i])),
        },
      }
      : engine.info.pooling
      ? { embedding: { pooling: engine.info.pooling.join("+") } }
      : { [task]: {} },
    architecture: engine.info.architecture,
    routes,
    max_concurrent_requests: maxConcurrent,
    max_input_length: engine.info.maxInputLength,
    ...(engine.info.prompts
      ? { prompts: engine.info.prompts, default_prompt_name: engine.info.defaultPromptName }
      : {}),
    max_batch_tokens: maxBatchTokens,
    max_batch_requests: maxBatchRequests === Number.MAX_SAFE_INTEGER ? null : maxBatchRequests,
    max_client_batch_size: maxClientBatch,
    // A required field of TEI's Info: inputs longer than the model are truncated only on "truncate": true.
    auto_truncate: false,
    payload_limit: payloadLimit,
    tokenization_workers: 1,
    version: SERVER_VERSION,
  };

  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  // TEI's error bodies: {"error", "error_type"}, and on its OpenAI-compatible route {"message", "code", "type"},
  // the type as TEI serializes its ErrorType (the variant's name, as "Validation").
  const error = (
    status: number,
    errorType: ErrorType | "cancelled",
    message: string,
    headers: Record<string, string> = {},
    path = "",
  ) =>
    path === "/v1/embeddings"
      ? json(status, { message, code: status, type: WIRE_ERROR_TYPES[errorType] }, headers)
      : json(status, { error: message, error_type: WIRE_ERROR_TYPES[errorType] }, headers);

  async function readBody(req: Request): Promise<unknown> {
    const declared = Number(req.headers.get("content-length") ?? NaN);
    if (declared > payloadLimit) {
      throw new HttpError(
        413,
        "payload",
        `the body has ${declared} bytes, more than the limit ${payloadLimit}`,
      );
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (req.body) {
      for await (const chunk of req.body) {
        size += chunk.length;
        if (size > payloadLimit) {
          throw new HttpError(413, "payload", `the body is larger than the limit ${payloadLimit} bytes`);
        }
        chunks.push(chunk);
      }
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) bytes.set(c, at), at += c.length;
    try {
      return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (err) {
      throw new HttpError(422, "validation", `the body is not valid JSON: ${(err as Error).message}`);
    }
  }

  async function handle(req: Request): Promise<Response> {
    const t0 = performance.now();
    const path = new URL(req.url).pathname;
    const method = path.replace(/^\//, "") || "root";
    if (options.apiKey !== undefined && path !== "/health") {
      if (req.headers.get("authorization") !== `Bearer ${options.apiKey}`) {
        return error(
          401,
          "unauthorized",
          "missing or wrong API key: send Authorization: Bearer <key>",
          {},
          path,
        );
      }
    }
    // HEAD as GET (the runtime sends no body), as TEI's router answers it: load balancers probe with it.
    if (req.method === "GET" || req.method === "HEAD") {
      if (path === "/health") {
        return draining || engine.failure
          ? error(503, "unhealthy", engine.failure ?? "the server is shutting down")
          : new Response(null, { status: 200 });
      }
      if (path === "/info") return json(200, info);
      if (path === "/metrics") {
        metrics.set("te_queue_size", engine.inFlight);
        return new Response(metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4" } });
      }
    }
    if (!POST_ROUTES.has(path) || req.method !== "POST") {
      // Only this model's routes can answer 405 (another task's route is 404 by POST too, below), and a 405
      // must say in Allow which methods the route does take (RFC 9110; TEI's router sends it).
      const allow = routes.includes(path) ? "POST" : GET_ROUTES.includes(path) ? "GET, HEAD" : undefined;
      return allow !== undefined
        ? error(405, "validation", `${req.method} is not allowed on ${path} (only ${allow})`, { allow }, path)
        : error(404, "not_found", `no route ${req.method} ${path}`);
    }
    metrics.inc("te_request_count", { method });
    const fail = (status: number, errorType: ErrorType, message: string) => {
      metrics.inc("te_request_failure", { method, err: errorType });
      return error(status, errorType, message, {}, path);
    };
    if (draining) return fail(503, "unhealthy", "the server is shutting down");
    if (!routes.includes(path)) {
      return fail(
        404,
        "not_found",
        `this server runs a ${task} model, which does not serve ${path} (routes: ${routes.join(", ")})`,
      );
    }
    if (engine.inFlight >= maxConcurrent) {
      return fail(
        429,
        "overloaded",
        `the model is overloaded: ${maxConcurrent} requests in flight (--max-concurrent-requests)`,
      );
    }
    let parsed: Parsed;
    try {
      parsed = parseBody(path, await readBody(req), maxClientBatch);
      if (path === "/rerank" && engine.info.labels?.length !== 1) {
        throw new HttpError(
          422,
          "validation",
          `/rerank needs a model with one label (a cross-encoder); this one has ${engine.info.labels?.length}: use /predict`,
        );
      }
    } catch (err) {
      if (err instanceof HttpError) return fail(err.status, err.errorType, err.message);
      return fail(400, "validation", `could not read the request: ${(err as Error).message}`);
    }
    if (engine.inFlight >= maxConcurrent) {
      return fail(
        429,
        "overloaded",
        `the model is overloaded: ${maxConcurrent} requests in flight (--max-concurrent-requests)`,
      );
    }
    const outcome = await engine.submit(parsed.job, req.signal);
    metrics.set("te_queue_size", engine.inFlight);
    if ("aborted" in outcome) {
      metrics.inc("te_request_failure", { method, err: "cancelled" });
      return error(499, "cancelled", "the client went away", {}, path);
    }
    if (!outcome.ok) {
      const status = outcome.status ?? (
        outcome.errorType === "validation" || outcome.errorType === "tokenizer" ||
          outcome.errorType === "empty"
          ? 422
          : outcome.errorType === "unhealthy"
          ? 503
          : 424
      );
      return fail(status, outcome.errorType, outcome.message);
    }
    const body = shape(path, parsed, outcome.result, outcome.timing);
    const total = performance.now() - t0;
    const t = outcome.timing;
    metrics.inc("te_request_success", { method });
    metrics.observe("te_request_duration", total / 1000, { method });
    metrics.observe("te_request_tokenization_duration", t.tokenizationMs / 1000, { method });
    metrics.observe("te_request_queue_duration", t.queueMs / 1000, { method });
    metrics.observe("te_request_inference_duration", t.inferenceMs / 1000, { method });
    return json(200, body, timingHeaders(total, t));
  }

  function timingHeaders(total: number, t: JobTiming): Record<string, string> {
    return {
      "x-total-time": ms(total),
      "x-tokenization-time": ms(t.tokenizationMs),
      "x-queue-time": ms(t.queueMs),
      "x-inference-time": ms(t.inferenceMs),
      "x-compute-tokens": String(t.computeTokens),
    };
  }

  function shape(path: string, parsed: Parsed, result: unknown, timing: JobTiming): unknown {
    const rows = result as unknown[];
    switch (path) {
      case "/embed":
        return (rows as Float32Array[]).map((v) => Array.from(v));
      case "/v1/embeddings": {
        const format = parsed.extra?.format;
        const tokens = timing.computeTokens;
        return {
          object: "list",
          data: (rows as Float32Array[]).map((v, index) => ({
            object: "embedding",
            embedding: format === "base64" ? base64(v) : Array.from(v),
            index,
          })),
          model: (parsed.extra?.model as string | undefined) ?? options.model,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        };
      }
      case "/rerank": {
        const texts = (parsed.job as { texts: string[] }).texts;
        const ranked = (rows as number[]).map((score, index) =>
          parsed.extra?.returnText ? { index, score, text: texts[index] } : { index, score }
        );
        return ranked.sort((a, b) => b.score - a.score || a.index - b.index);
      }
      case "/tokenize":
      case "/decode":
        return rows;
      default:
        return parsed.single ? rows[0] : rows;
    }
  }

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.host ?? "127.0.0.1",
      port,
      onListen: () => {},
      onError: (err) => error(500, "backend", `internal error: ${(err as Error).message}`),
    }, async (req) => {
      active++;
      try {
        return await handle(req);
      } finally {
        active--;
      }
    });
  } catch (err) {
    // A port in use or a bad host: the model's Worker would otherwise keep the process alive with nothing
    // served (`cli.ts serve` then hung after printing the error).
    engine.close();
    throw err;
  }

  // Draining: /health says 503 and new requests are refused while the ones in flight finish; the port stays
  // open meanwhile, so a load balancer sees the 503 instead of a refused connection. Then the server closes.
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      draining = true;
      const deadline = performance.now() + shutdownMs;
      while (active > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const late = active;
      // The Worker first: it answers what is still queued at once (503), so the handlers return and
      // server.shutdown(), which waits for every handler, keeps to the timeout instead of every queued pass.
      engine.close();
      // server.shutdown() also waits for every connection to end, and one whose client stopped sending in the
      // middle of its body never does: wait for it only as long as the timeout, or the grace the answers
      // above need to go out. (The port itself closes at once.)
      const closed = await settlesWithin(
        server.shutdown(),
        Math.max(deadline - performance.now(), CLOSE_GRACE_MS),
      );
      const after = `after ${shutdownMs / 1000} s: stopped anyway`;
      if (late > 0) throw new Error(`${late} requests still in flight ${after}`);
      if (!closed) throw new Error(`a client's connection was still open (its request half sent) ${after}`);
    })();

  return {
    addr: server.addr as Deno.NetAddr,
    task,
    routes,
    shutdown,
    finished: server.finished,
  };
}

/** The routes answered by GET (and HEAD). */
const GET_ROUTES = ["/health", "/info", "/metrics"];

/** How long a shutdown that timed out still waits for its last answers to be written. */
const CLOSE_GRACE_MS = 1000;

/** Whether `p` settles within `ms` milliseconds (its rejection counts as settling). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function base64(v: Float32Array): string {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
