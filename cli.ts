/**
 * Command-line pipelines: texts from the arguments, or JSONL / plain lines from stdin, in; one JSON result per
 * line out. Run `deno run -A cli.ts --help`.
 *
 * @example
 * ```sh
 * deno run --allow-ffi --allow-read --allow-write --allow-env cli.ts sentiment-analysis "a gorgeous, witty movie"
 * # {"label":"POSITIVE","score":0.99...}
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type AnyPipeline,
  canonicalTask,
  pipeline,
  PIPELINE_TASKS,
  PipelineInputError,
  type PipelineOptions,
  type PipelineProgress,
  type PipelineTask,
  TASKS,
  taskSpec,
} from "./src/pipelines/mod.ts";
import { DTYPES, MAX_THREADS } from "./src/backend.ts";
import type { InputShape } from "./src/pipelines/registry.ts";
import { serveMain } from "./serve.ts";
import { POOLINGS } from "./src/pipelines/feature_extraction.ts";
import { DEFAULT_MAX_LINE_BYTES, type Line, LineTooLongError, readLines } from "./src/cli/read_lines.ts";

// Input bytes buffered before a forward pass at the latest.
const CHUNK_BYTES = 4 << 20;

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const HELP =
  `Usage: deno run --allow-ffi --allow-read --allow-write --allow-env [--allow-net] cli.ts <task> [options] [text ...]

Runs a DistilBERT pipeline on each text given as an argument or, when there is none, on each line of stdin, and
writes one JSON result per line to stdout, in input order.

Tasks:
${TASKS.map((t) => `  ${t.names.join(", ")}\n        ${t.output}.`).join("\n")}
  serve
        the HTTP inference server: \`cli.ts serve --help\` (the same as \`deno task serve\`).

Input (stdin, one item per line; blank lines are skipped):
  plain text                       a text (question-answering: needs --question; the line is the context)
  "a JSON string"                  a text
  {"text": "...", "text_pair": "..."}                 text-classification / feature-extraction (pair optional)
  {"text": "..."}                  fill-mask, token-classification
  {"question": "...", "context": "..."}               question-answering

Options:
  -m, --model <dir|hub-id>         model folder or Hugging Face hub id (default: the embedded sentiment model,
                                   text-classification only)
      --offline                    never use the network: hub ids must be in the Hugging Face cache
                                   (as HF_HUB_OFFLINE=1)
      --revision <rev>             hub branch, tag or commit (default main)
  -b, --batch-size <n>             inputs per forward pass (default 32); inputs are sorted by length per chunk
      --threads <n>                threads of each forward pass (default: all cores; OpenBLAS, which runs
                                   the task heads, always runs on one)
      --dtype <fp32|bf16|q8>       precision of the encoder's linear layers (default fp32; bf16 and q8 need
                                   AVX2, and use AVX-512 BF16 / VNNI where the CPU has them)
      --input-format <f>           auto (default: JSON when a line parses as a JSON string or object, else
                                   text), jsonl (every line is JSON), text (every line is plain text);
                                   arguments are plain texts unless this is given
      --top-k <n|all>              text-classification: labels per text (all: every label), best first;
                                   fill-mask: candidates per mask (default 5); question-answering: answers
      --function-to-apply <f>      text-classification: softmax | sigmoid | none (default from the config)
      --pooling <p>                feature-extraction: none or
                                   ${POOLINGS.slice(1).join(" | ")}
                                   (default: a sentence-transformers folder's pooling, else none)
      --normalize                  feature-extraction: L2-normalize the vectors (default: a
                                   sentence-transformers folder's Normalize module, else off)
      --no-normalize               feature-extraction: do not, whatever the folder says
      --prompt <text>              feature-extraction: text prepended to every input (e.g. "query: "); "" turns
                                   a sentence-transformers folder's default prompt off
      --prompt-name <name>         feature-extraction: one of a sentence-transformers folder's prompts (its
                                   config_sentence_transformers.json), instead of its default prompt
      --aggregation-strategy <s>   token-classification: none (default) | simple | first | average | max
      --ignore-labels <a,b>        token-classification: labels left out (default O)
      --question <q>               question-answering: the question for plain-text contexts
      --doc-stride <n>             question-answering: tokens shared by windows of a long context (default 128)
      --max-answer-len <n>         question-answering: longest answer in tokens (default 15)
      --max-seq-len <n>            question-answering: tokens per window (default 384, capped by the model)
      --handle-impossible-answer   question-answering: allow the empty answer
      --align-to-words <b>         question-answering: widen answers to whole words (true, the default) or not
      --max-line-bytes <n>         longest stdin line accepted, in bytes (default 1048576 = 1 MiB); a longer
                                   line is an error naming it, raised before the rest of it is read
      --no-progress                no progress bar (shown on stderr when stdin is a file and stderr a terminal)
  -h, --help                       this help

Exit codes:
  0  every input was processed
  1  runtime error: the model could not be loaded or run, or an input line is invalid (stderr says which line;
     results of the lines before it have been written)
  2  usage error: unknown task or option, bad option value, missing --model

Examples:
  deno run -A cli.ts sentiment-analysis "a gorgeous, witty, seductive movie." "a dull, lifeless mess."
  cut -f1 reviews.tsv | deno run -A cli.ts sentiment-analysis --batch-size 64 > labels.jsonl
  deno run -A cli.ts fill-mask -m distilbert-base-uncased "Paris is the [MASK] of France."
  deno run -A cli.ts question-answering -m ./squad-model --question "Who wrote it?" < contexts.txt
  echo '{"question": "Where?", "context": "In Paris."}' | deno run -A cli.ts question-answering -m ./squad-model
`;

class UsageError extends Error {}
class InputLineError extends Error {}

const OPTIONS = {
  model: { type: "string", short: "m" },
  offline: { type: "boolean" },
  revision: { type: "string" },
  "batch-size": { type: "string", short: "b" },
  threads: { type: "string" },
  dtype: { type: "string" },
  "input-format": { type: "string" },
  "top-k": { type: "string" },
  "function-to-apply": { type: "string" },
  pooling: { type: "string" },
  normalize: { type: "boolean" },
  "no-normalize": { type: "boolean" },
  prompt: { type: "string" },
  "prompt-name": { type: "string" },
  "aggregation-strategy": { type: "string" },
  "ignore-labels": { type: "string" },
  question: { type: "string" },
  "doc-stride": { type: "string" },
  "max-answer-len": { type: "string" },
  "max-seq-len": { type: "string" },
  "handle-impossible-answer": { type: "boolean" },
  "align-to-words": { type: "string" },
  "max-line-bytes": { type: "string" },
  "no-progress": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "string" ? string : boolean;
};

function intOption(values: Values, name: keyof Values, min: number, max?: number): number | undefined {
  const raw = values[name] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be an integer ${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function oneOf<T extends string>(values: Values, name: keyof Values, allowed: readonly T[]): T | undefined {
  const raw = values[name] as string | undefined;
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** Flags that set a call option, by the option's name: a flag applies to the tasks whose pipeline takes it. */
const FLAG_OPTIONS: Partial<Record<keyof Values, string>> = {
  "top-k": "topK",
  "function-to-apply": "functionToApply",
  pooling: "pooling",
  normalize: "normalize",
  "no-normalize": "normalize",
  prompt: "prompt",
  "prompt-name": "promptName",
  "aggregation-strategy": "aggregationStrategy",
  "ignore-labels": "ignoreLabels",
  "doc-stride": "docStride",
  "max-answer-len": "maxAnswerLen",
  "max-seq-len": "maxSeqLen",
  "handle-impossible-answer": "handleImpossibleAnswer",
  "align-to-words": "alignToWords",
};

/** The tasks a flag applies to, from the task registry. */
function flagTasks(flag: keyof Values): PipelineTask[] {
  if (flag === "question") return TASKS.filter((t) => t.input === "question-context").map((t) => t.task);
  const option = FLAG_OPTIONS[flag];
  return option === undefined ? [] : TASKS.filter((t) => t.callOptions.includes(option)).map((t) => t.task);
}

/** Builds the per-call options of a task from the flags. */
function callOptions(task: PipelineTask, values: Values): Record<string, unknown> {
  for (const name of [...Object.keys(FLAG_OPTIONS), "question"] as (keyof Values)[]) {
    const tasks = flagTasks(name);
    if (values[name] !== undefined && !tasks.includes(task)) {
      throw new UsageError(`--${name} does not apply to ${task} (it is for ${tasks.join(", ")})`);
    }
  }
  const opts: Record<string, unknown> = {};
  const topK = values["top-k"];
  if (topK !== undefined) {
    if (topK === "all") {
      if (task !== "text-classification") throw new UsageError(`--top-k all is only for text-classification`);
      opts.topK = null;
    } else {
      opts.topK = intOption(values, "top-k", 1);
    }
  }
  opts.functionToApply = oneOf(values, "function-to-apply", ["softmax", "sigmoid", "none"]);
  opts.pooling = oneOf(values, "pooling", POOLINGS);
  if (values.normalize && values["no-normalize"]) {
    throw new UsageError(`give --normalize or --no-normalize, not both`);
  }
  if (values.normalize) opts.normalize = true;
  if (values["no-normalize"]) opts.normalize = false;
  if (values.prompt !== undefined && values["prompt-name"] !== undefined) {
    throw new UsageError(`give --prompt (the text) or --prompt-name (one of the model's prompts), not both`);
  }
  opts.prompt = values.prompt;
  opts.promptName = values["prompt-name"];
  opts.aggregationStrategy = oneOf(values, "aggregation-strategy", [
    "none",
    "simple",
    "first",
    "average",
    "max",
  ]);
  if (values["ignore-labels"] !== undefined) {
    opts.ignoreLabels = values["ignore-labels"].split(",").map((s) => s.trim()).filter((s) => s !== "");
  }
  opts.docStride = intOption(values, "doc-stride", 0);
  opts.maxAnswerLen = intOption(values, "max-answer-len", 1);
  opts.maxSeqLen = intOption(values, "max-seq-len", 1);
  if (values["handle-impossible-answer"]) opts.handleImpossibleAnswer = true;
  if (values["align-to-words"] !== undefined) {
    opts.alignToWords = oneOf(values, "align-to-words", ["true", "false"]) === "true";
  }
  for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
  return opts;
}

type InputFormat = "auto" | "jsonl" | "text";

/** The fields of a JSON input object, by the task's input shape. */
const INPUT_FIELDS: Record<InputShape, readonly string[]> = {
  "text": ["text"],
  "text-or-pair": ["text", "text_pair", "textPair"],
  "question-context": ["question", "context"],
};

/** One input line -> the pipeline's input for the task. */
function parseInput(
  task: PipelineTask,
  line: string,
  format: InputFormat,
  question: string | undefined,
): unknown {
  let value: unknown = line;
  if (format !== "text") {
    const trimmed = line.trim();
    const looksJson = trimmed.startsWith("{") || trimmed.startsWith('"');
    if (format === "jsonl" || looksJson) {
      try {
        value = JSON.parse(trimmed);
      } catch (err) {
        if (format === "jsonl" || trimmed.startsWith("{")) {
          throw new InputLineError(`not valid JSON: ${(err as Error).message}`);
        }
        value = line; // a plain text that happens to start with a quote
      }
    }
  }
  const shape = taskSpec(task)!.input;
  if (typeof value === "string") {
    if (shape === "question-context") {
      if (question === undefined) {
        throw new InputLineError(`question-answering needs {"question", "context"} objects, or --question`);
      }
      return { question, context: value };
    }
    return value;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputLineError(
      `expected a JSON string or object, got ${Array.isArray(value) ? "an array" : typeof value}`,
    );
  }
  const o = value as Record<string, unknown>;
  // A misspelt field ({"text": ..., "pair": ...}) would otherwise be dropped and the text run without it.
  const fields = INPUT_FIELDS[shape];
  for (const k of Object.keys(o)) {
    if (!fields.includes(k)) {
      throw new InputLineError(
        `unknown field "${k}" (${task} takes ${fields.map((f) => `"${f}"`).join(", ")})`,
      );
    }
  }
  const str = (k: string): string | undefined => {
    if (o[k] === undefined) return undefined;
    if (typeof o[k] !== "string") throw new InputLineError(`"${k}" must be a string`);
    return o[k] as string;
  };
  if (shape === "question-context") {
    const q = str("question") ?? question, context = str("context");
    if (q === undefined || context === undefined) {
      throw new InputLineError(`expected {"question": ..., "context": ...}`);
    }
    return { question: q, context };
  }
  const text = str("text");
  if (text === undefined) throw new InputLineError(`expected {"text": ...}`);
  const pair = str("text_pair") ?? str("textPair");
  if (pair !== undefined) {
    if (shape !== "text-or-pair") throw new InputLineError(`${task} takes no text pair`);
    return { text, textPair: pair };
  }
  return text;
}

/** Makes a result JSON-friendly: tensors become nested arrays without the batch dimension of 1. */
function toJson(task: PipelineTask, result: unknown): unknown {
  if (task !== "feature-extraction") return result;
  const { data, dims } = result as { data: Float32Array; dims: number[] };
  if (dims.length === 2) return Array.from(data);
  const [, n, d] = dims;
  return Array.from({ length: n }, (_, t) => Array.from(data.subarray(t * d, (t + 1) * d)));
}

/** A one-line progress bar on stderr. */
class ProgressBar {
  #total: number;
  #start = performance.now();
  #last = 0;
  #encoder = new TextEncoder();

  constructor(totalBytes: number) {
    this.#total = Math.max(totalBytes, 1);
  }

  update(bytes: number, items: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const frac = Math.min(bytes / this.#total, 1);
    const width = 30, filled = Math.round(frac * width);
    const secs = (now - this.#start) / 1000;
    const rate = secs > 0 ? items / secs : 0;
    const eta = frac > 0 && frac < 1 ? ` eta ${Math.ceil(secs / frac - secs)}s` : "";
    const line = `\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(frac * 100).toFixed(1)}% ` +
      `${items} inputs, ${rate.toFixed(1)}/s${eta}\x1b[K`;
    Deno.stderr.writeSync(this.#encoder.encode(line));
  }

  finish(items: number, bytes: number): void {
    this.update(bytes, items, true);
    Deno.stderr.writeSync(this.#encoder.encode("\n"));
  }
}

/** Writes lines to stdout; a closed pipe (`| head`) ends the run quietly. */
class Output {
  #writer = Deno.stdout.writable.getWriter();
  #encoder = new TextEncoder();

  async write(lines: string[]): Promise<void> {
    if (lines.length > 0) await this.#writer.write(this.#encoder.encode(lines.join("\n") + "\n"));
  }

  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }
}

function isBrokenPipe(err: unknown): boolean {
  return err instanceof Deno.errors.BrokenPipe || (err as { code?: string })?.code === "EPIPE";
}

/** Runs the CLI with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args[0] === "serve") return await serveMain(args.slice(1));
  let values: Values, positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (err) {
    console.error(`error: ${(err as Error).message}\nRun with --help for usage.`);
    return EXIT.usage;
  }
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  let task: PipelineTask, texts: string[], opts: Record<string, unknown>, format: InputFormat;
  let maxLineBytes: number;
  const pipelineOptions: PipelineOptions = {};
  try {
    if (positionals.length === 0) {
      throw new UsageError(`missing the task (one of ${PIPELINE_TASKS.join(", ")})`);
    }
    const t = canonicalTask(positionals[0]);
    if (t === undefined) {
      throw new UsageError(
        `unknown task ${JSON.stringify(positionals[0])} (tasks: ${PIPELINE_TASKS.join(", ")})`,
      );
    }
    task = t;
    texts = positionals.slice(1);
    opts = callOptions(task, values);
    format = oneOf(values, "input-format", ["auto", "jsonl", "text"]) ?? "auto";
    maxLineBytes = intOption(values, "max-line-bytes", 1) ?? DEFAULT_MAX_LINE_BYTES;
    // An empty value (`-m "$MODEL"` with MODEL unset) would otherwise mean the embedded sentiment model.
    if (values.model === "") throw new UsageError(`--model is empty: give a model folder or hub id`);
    if (values.model === undefined && task !== "text-classification") {
      throw new UsageError(`${positionals[0]} needs --model (a model folder or hub id)`);
    }
    pipelineOptions.batchSize = intOption(values, "batch-size", 1);
    // Bounded here too, so too many is a usage error (exit 2) rather than a model that failed to load.
    pipelineOptions.threads = intOption(values, "threads", 1, MAX_THREADS);
    pipelineOptions.dtype = oneOf(values, "dtype", DTYPES);
    pipelineOptions.hub = { offline: values.offline || undefined, revision: values.revision };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`error: ${err.message}\nRun with --help for usage.`);
    return EXIT.usage;
  }

  let p: AnyPipeline;
  try {
    p = await pipeline(task, values.model ?? null, pipelineOptions);
  } catch (err) {
    console.error(
      `error: could not load the ${task} model${values.model ? ` ${values.model}` : ""}: ${message(err)}`,
    );
    return EXIT.failure;
  }
  const out = new Output();
  try {
    const run = (inputs: unknown[], onProgress?: (x: PipelineProgress) => void) =>
      (p as (i: unknown[], o: unknown) => Promise<unknown[]>)(inputs, { ...opts, onProgress });

    if (texts.length > 0) {
      // Plain texts by default (an argument that happens to look like JSON stays a text), but a format the
      // user asked for applies: `--input-format jsonl '{"text": ...}'` classified the JSON itself.
      const argFormat = values["input-format"] === undefined ? "text" : format;
      const inputs = texts.map((text, i) => {
        try {
          return parseInput(task, text, argFormat, values.question);
        } catch (err) {
          throw new InputLineError(`argument ${i + 1}: ${(err as Error).message}`);
        }
      });
      const results = await run(inputs);
      await out.write(results.map((r) => JSON.stringify(toJson(task, r))));
      return EXIT.ok;
    }

    // stdin: chunks of lines, so output streams and long inputs need not fit in memory.
    const stat = await stdinStat();
    const interactive = Deno.stdin.isTerminal();
    const bar = stat?.isFile && Deno.stderr.isTerminal() && !values["no-progress"]
      ? new ProgressBar(stat.size)
      : undefined;
    const chunkSize = interactive ? 1 : Math.max((pipelineOptions.batchSize ?? 32) * 8, 256);
    let done = 0, bytesDone = 0;
    let chunk: { input: unknown; line: number }[] = [], chunkBytes = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const startBytes = bytesDone;
      let results: unknown[];
      try {
        results = await run(
          chunk.map((c) => c.input),
          bar && ((x) => bar.update(startBytes + chunkBytes * x.done / x.total, done + x.done)),
        );
      } catch (err) {
        if (err instanceof PipelineInputError && err.index !== undefined) {
          // Results of the lines before the bad one, then the error.
          const good = chunk.slice(0, err.index).map((c) => c.input);
          if (good.length > 0) {
            await out.write((await run(good)).map((r) => JSON.stringify(toJson(task, r))));
          }
          throw new InputLineError(`line ${chunk[err.index].line}: ${err.reason}`);
        }
        throw err;
      }
      await out.write(results.map((r) => JSON.stringify(toJson(task, r))));
      done += chunk.length;
      bytesDone += chunkBytes;
      bar?.update(bytesDone, done);
      chunk = [];
      chunkBytes = 0;
    };
    const lines = readLines(Deno.stdin.readable, maxLineBytes);
    for (;;) {
      let next: IteratorResult<Line>;
      try {
        next = await lines.next();
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        await flush();
        throw new InputLineError(
          `line ${err.line}: longer than the ${err.maxBytes}-byte limit (raise it with --max-line-bytes)`,
        );
      }
      if (next.done) break;
      const { text: line, number: lineNo, bytes } = next.value;
      chunkBytes += bytes;
      if (line.trim() === "") continue;
      try {
        chunk.push({ input: parseInput(task, line, format, values.question), line: lineNo });
      } catch (err) {
        await flush();
        throw new InputLineError(`line ${lineNo}: ${(err as Error).message}`);
      }
      // Bounded by bytes too, so a chunk of long lines holds a few MB, not chunkSize times the line cap.
      if (chunk.length >= chunkSize || chunkBytes >= CHUNK_BYTES) await flush();
    }
    await flush();
    bar?.finish(done, bytesDone);
    return EXIT.ok;
  } catch (err) {
    if (isBrokenPipe(err)) return EXIT.ok;
    console.error(`error: ${message(err)}`);
    return EXIT.failure;
  } finally {
    p.dispose();
    await out.close();
  }
}

/** What stdin is: a regular file has a size (for the progress bar). Deno has no fstat, so go through /dev/stdin. */
async function stdinStat(): Promise<Deno.FileInfo | undefined> {
  if (Deno.build.os === "windows") return undefined;
  try {
    return await Deno.stat("/dev/stdin");
  } catch {
    return undefined;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // A stopped server may still hold a connection Deno cannot close (a client that stopped half-way through
  // its body, see startServer's shutdown), which would keep the process alive: exit as serve.ts does.
  if (Deno.args[0] === "serve") Deno.exit(code);
  Deno.exitCode = code;
}
