/**
 * `deno task serve`: the HTTP inference server (src/server/mod.ts) from the command line. Also `cli.ts serve`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Dtype, DTYPES, MAX_THREADS } from "./src/backend.ts";
import { type ServeOptions, startServer } from "./src/server/mod.ts";

const HELP = `Usage: deno task serve --model <dir|hub-id> [options]

Serves a DistilBERT model over HTTP with dynamic batching; request and response shapes as Hugging Face
text-embeddings-inference (TEI), so its clients work.

Routes (by the model's task): POST /embed, /v1/embeddings (feature-extraction); /predict, /rerank
(text-classification); /fill-mask; /question-answering; /token-classification; and for every model POST
/tokenize, /decode, GET /health, /info, /metrics.

Options:
  -m, --model <dir|hub-id>          model folder or Hugging Face hub id (required)
      --task <task>                 default: from the model (architecture; sentence-transformers folder: embeddings)
      --host <addr>                 default 127.0.0.1
      --port <n>                    default 3000 (0: any free port)
      --threads <n>                 threads of each forward pass (default: all cores)
      --dtype <fp32|bf16|q8>        precision of the encoder's linear layers (default fp32; bf16 and q8 need
                                    AVX2, and use AVX-512 BF16 / VNNI where the CPU has them)
      --max-batch-tokens <n>        real tokens per forward pass at most (default 16384)
      --max-batch-requests <n>      requests per forward pass at most (default: no limit but the tokens)
      --max-concurrent-requests <n> requests in flight at most; more get 429 at once (default 512)
      --max-client-batch-size <n>   inputs per request at most (default 32)
      --payload-limit <bytes>       request body size at most; larger gets 413 (default 2000000)
      --api-key <key>               require Authorization: Bearer <key> on every route but /health
      --shutdown-timeout <s>        on SIGTERM/SIGINT, how long requests in flight may take (default 30)
      --offline                     hub ids only from the Hugging Face cache
      --revision <rev>              hub branch, tag or commit (default main)
  -h, --help                        this help

Exit codes: 0 stopped by SIGTERM/SIGINT after answering every request in flight; 1 the model could not be loaded
or the shutdown timed out; 2 bad options.
`;

const FLAGS = {
  model: { type: "string", short: "m" },
  task: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  threads: { type: "string" },
  dtype: { type: "string" },
  "max-batch-tokens": { type: "string" },
  "max-batch-requests": { type: "string" },
  "max-concurrent-requests": { type: "string" },
  "max-client-batch-size": { type: "string" },
  "payload-limit": { type: "string" },
  "api-key": { type: "string" },
  "shutdown-timeout": { type: "string" },
  offline: { type: "boolean" },
  revision: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

function dtypeFlag(raw: unknown): Dtype | undefined {
  if (raw === undefined) return undefined;
  if (!(DTYPES as readonly unknown[]).includes(raw)) {
    throw new UsageError(`--dtype must be one of ${DTYPES.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw as Dtype;
}

function int(values: Record<string, unknown>, name: string, min: number, max?: number): number | undefined {
  const raw = values[name] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be an integer ${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Parses `serve` flags into server options; throws a usage error naming the flag. */
export function parseServeArgs(args: string[]): ServeOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({ args, options: FLAGS, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values as Record<string, unknown>;
  if (v.help) return "help";
  if (typeof v.model !== "string" || v.model === "") throw new UsageError("--model is required");
  const port = int(v, "port", 0);
  if (port !== undefined && port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  return {
    model: v.model,
    task: v.task as string | undefined,
    host: v.host as string | undefined,
    port,
    threads: int(v, "threads", 1, MAX_THREADS),
    dtype: dtypeFlag(v.dtype),
    maxBatchTokens: int(v, "max-batch-tokens", 1),
    maxBatchRequests: int(v, "max-batch-requests", 1),
    maxConcurrentRequests: int(v, "max-concurrent-requests", 1),
    maxClientBatchSize: int(v, "max-client-batch-size", 1),
    payloadLimit: int(v, "payload-limit", 1),
    apiKey: v["api-key"] as string | undefined,
    shutdownTimeout: int(v, "shutdown-timeout", 0),
    hub: { offline: v.offline === true ? true : undefined, revision: v.revision as string | undefined },
  };
}

/** Runs the server until SIGTERM or SIGINT; returns the exit code. */
export async function serveMain(args: string[]): Promise<number> {
  let options: ServeOptions | "help";
  try {
    options = parseServeArgs(args);
  } catch (err) {
    console.error(`serve: ${(err as Error).message}\nRun with --help for usage.`);
    return 2;
  }
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  let server;
  try {
    server = await startServer(options);
  } catch (err) {
    console.error(`serve: ${(err as Error).message}`);
    return err instanceof RangeError || err instanceof TypeError ? 2 : 1;
  }
  const host = server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname;
  console.log(
    `serve: ${server.task} model ${options.model} on http://${host}:${server.addr.port} ` +
      `(POST ${server.routes.join(" ")}; GET /health /info /metrics)`,
  );
  const stopped = new Promise<number>((resolve) => {
    const stop = () => {
      console.error("serve: stopping: answering the requests in flight");
      server.shutdown().then(() => resolve(0), (err) => {
        console.error(`serve: ${(err as Error).message}`);
        resolve(1);
      });
    };
    for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, stop);
  });
  const code = await stopped;
  console.error("serve: stopped");
  return code;
}

if (import.meta.main) Deno.exit(await serveMain(Deno.args));
