/**
 * What every pipeline shares: options, model resolution, batching by length, tensors and score functions.
 *
 * @module
 */

import { type LoadOptions, validateLoadOptions } from "../model.ts";
import { RESOLVE_OPTION_KEYS, type ResolveModelOptions } from "../hub/resolve.ts";
import type { Encoding } from "../tokenizer/mod.ts";
import type { FloatTensor } from "../tensor.ts";
import { FILE_CAPS, readOptionalJson } from "../fs/read.ts";
import { boolOption, checkOptionKeys, describeValue, functionOption, intOption } from "./validate.ts";

/** A progress report of a pipeline call: `done` of `total` model rows have been computed. */
export interface PipelineProgress {
  /** Rows computed so far (inputs; for question answering, context windows). */
  done: number;
  /** Rows in this call. */
  total: number;
}

/** Options of {@link pipeline}: model loading, hub resolution and call defaults. */
export interface PipelineOptions extends LoadOptions {
  /** How a hub id is resolved (revision, cache folder, offline, token...). Ignored for local folders. */
  hub?: ResolveModelOptions;
  /** Default batch size of calls. Default 32. */
  batchSize?: number;
  /** Default progress callback of calls, called after each batch. */
  onProgress?: (progress: PipelineProgress) => void;
}

/** Options every pipeline call takes. */
export interface BatchOptions {
  /** Inputs run together in one forward pass; inputs are sorted by length first so padding stays small. */
  batchSize?: number;
  /** Called after each batch with the rows done so far. */
  onProgress?: (progress: PipelineProgress) => void;
}

/** What every pipeline has besides being callable. */
export interface PipelineBase {
  /** The canonical task name (`"sentiment-analysis"` gives `"text-classification"`). */
  readonly task: PipelineTask;
  /** The folder the model and tokenizer were loaded from. */
  readonly modelDir: string;
  /** Releases the model's native resources. Repeating it is harmless; later calls throw. */
  dispose(): void;
  /** Same as `dispose()`. */
  close(): void;
  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void;
}

/** Canonical task names. */
export type PipelineTask =
  | "feature-extraction"
  | "fill-mask"
  | "text-classification"
  | "question-answering"
  | "token-classification";

/** Task names `pipeline()` accepts: the canonical ones and their aliases. */
export type PipelineTaskName = PipelineTask | "embeddings" | "sentiment-analysis" | "ner";

export const DEFAULT_BATCH_SIZE = 32;

/** Resolved per-call batching settings. */
export interface BatchSettings {
  batchSize: number;
  onProgress?: (progress: PipelineProgress) => void;
}

/** The options every call takes. */
export const BATCH_OPTION_KEYS = [
  "batchSize",
  "onProgress",
] as const satisfies readonly (keyof BatchOptions)[];

/** The options of `pipeline()`. */
export const PIPELINE_OPTION_KEYS = [
  "threads",
  "dtype",
  "hub",
  "batchSize",
  "onProgress",
] as const satisfies readonly (keyof PipelineOptions)[];

/** The hub options `pipeline()` passes on to `resolveModelDir`. */
export const HUB_OPTION_KEYS = RESOLVE_OPTION_KEYS;

// Compile-time checks that the key lists above name every declared option (a new option must be added there).
type Unlisted<T, K> = Exclude<keyof T, K>;
const _batchKeysComplete: Unlisted<BatchOptions, typeof BATCH_OPTION_KEYS[number]> extends never ? true
  : never = true;
const _pipelineKeysComplete: Unlisted<PipelineOptions, typeof PIPELINE_OPTION_KEYS[number]> extends never
  ? true
  : never = true;
const _hubKeysComplete: Unlisted<ResolveModelOptions, typeof HUB_OPTION_KEYS[number]> extends never ? true
  : never = true;
void [_batchKeysComplete, _pipelineKeysComplete, _hubKeysComplete];

/** A positive integer batch size, or undefined. */
function batchSizeOption(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${describeValue(v)}`);
  }
  return v;
}

/**
 * Checks `pipeline()`'s options before anything is loaded: known keys only, and each value's type and range.
 * `threads`' upper bound is the backend's to check.
 */
export function checkPipelineOptions(options: PipelineOptions | undefined): PipelineOptions {
  const o = checkOptionKeys(options, PIPELINE_OPTION_KEYS, "pipeline options");
  intOption("threads", o.threads, 1);
  if (o.dtype !== undefined) validateLoadOptions({ dtype: o.dtype });
  batchSizeOption("batchSize", o.batchSize);
  functionOption("onProgress", o.onProgress);
  if (o.hub !== undefined) {
    const hub = checkOptionKeys(o.hub, HUB_OPTION_KEYS, "hub options");
    for (const key of ["revision", "cacheDir", "endpoint", "token"] as const) {
      if (hub[key] !== undefined && typeof hub[key] !== "string") {
        throw new TypeError(`hub.${key} must be a string, got ${describeValue(hub[key])}`);
      }
    }
    boolOption("hub.offline", hub.offline);
    boolOption("hub.download", hub.download);
    functionOption("hub.onProgress", hub.onProgress);
  }
  return o;
}

/**
 * Checks a call's options (known keys only: `keys` plus `batchSize` and `onProgress`) and resolves its batching.
 *
 * @param call the call's options
 * @param defaults `pipeline()`'s options, already checked
 * @param keys the task's own option names
 * @param task the task, for messages
 */
export function callSettings<T extends BatchOptions>(
  call: T | undefined,
  defaults: PipelineOptions,
  keys: readonly string[],
  task: string,
): { options: T; settings: BatchSettings } {
  const options = checkOptionKeys(call, [...keys, ...BATCH_OPTION_KEYS], `${task} options`);
  const batchSize = batchSizeOption("batchSize", options.batchSize) ?? defaults.batchSize ??
    DEFAULT_BATCH_SIZE;
  const onProgress = functionOption<BatchSettings["onProgress"]>("onProgress", options.onProgress) ??
    defaults.onProgress;
  return { options, settings: { batchSize, onProgress } };
}

/** One padded batch of rows, ready for `forward`. */
export interface Batch {
  /** Row indices (into the caller's row list) in batch order. */
  rows: number[];
  /** Padded length. */
  seqLen: number;
  /** `[rows, seqLen]` ids. */
  inputIds: { data: Int32Array; dims: number[] };
  /** `[rows, seqLen]` mask. */
  attentionMask: { data: Int32Array; dims: number[] };
  /** `[rows, seqLen]` token type ids (0 on padding), only for model families that have them (BERT). */
  tokenTypeIds?: { data: Int32Array; dims: number[] };
}

/**
 * Runs `encodings` through `run` in batches of `batchSize`, longest rows first, each batch padded to its longest
 * row. `run` gets the batch and must consume its results before returning (forward passes are synchronous).
 * With `tokenTypes` (a model whose config has `type_vocab_size > 0`), the batch carries the encodings' token
 * type ids too.
 */
export async function runBatched(
  encodings: readonly Encoding[],
  settings: BatchSettings,
  padId: number,
  run: (batch: Batch) => void,
  tokenTypes = false,
): Promise<void> {
  const total = encodings.length;
  const order = Array.from({ length: total }, (_, i) => i);
  // Stable: equal lengths keep input order.
  order.sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length || a - b);
  let done = 0;
  for (let from = 0; from < total; from += settings.batchSize) {
    const rows = order.slice(from, from + settings.batchSize);
    let seqLen = 0;
    for (const r of rows) seqLen = Math.max(seqLen, encodings[r].inputIds.length);
    const ids = new Int32Array(rows.length * seqLen).fill(padId);
    const mask = new Int32Array(rows.length * seqLen);
    const types = tokenTypes ? new Int32Array(rows.length * seqLen) : undefined;
    rows.forEach((r, b) => {
      const enc = encodings[r];
      for (let s = 0; s < enc.inputIds.length; s++) {
        ids[b * seqLen + s] = enc.inputIds[s];
        mask[b * seqLen + s] = enc.attentionMask[s];
        if (types) types[b * seqLen + s] = enc.tokenTypeIds[s];
      }
    });
    const batch: Batch = {
      rows,
      seqLen,
      inputIds: { data: ids, dims: [rows.length, seqLen] },
      attentionMask: { data: mask, dims: [rows.length, seqLen] },
    };
    if (types) batch.tokenTypeIds = { data: types, dims: [rows.length, seqLen] };
    run(batch);
    done += rows.length;
    if (settings.onProgress) {
      settings.onProgress({ done, total });
      // Let timers and I/O (a progress bar, a signal handler) run between batches.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
}

/** Row `b` of a `[B, ...rest]` tensor as a view. */
export function rowOf(t: FloatTensor, b: number): Float32Array {
  let size = 1;
  for (let i = 1; i < t.dims.length; i++) size *= t.dims[i];
  return t.data.subarray(b * size, (b + 1) * size);
}

/** Softmax of `x[from, from + n)` in float64, as a new array. */
export function softmax(x: ArrayLike<number>, from = 0, n: number = x.length - from): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[from + i]);
  const out = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp(x[from + i] - max);
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

/** Logistic sigmoid. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Index of the largest value (the first on ties, as NumPy's argmax). */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Special token names of a model folder (tokenizer_config.json / special_tokens_map.json, BERT's defaults). */
export async function specialTokenNames(dir: string): Promise<{ mask: string; unk: string }> {
  const names = { mask: "[MASK]", unk: "[UNK]" };
  for (const file of ["special_tokens_map.json", "tokenizer_config.json"]) {
    // A missing file means BERT's defaults; a broken one is an error (Tokenizer.fromDir reads them too).
    const raw = await readOptionalJson(`${dir}/${file}`, FILE_CAPS.config, "JSON config files");
    if (typeof raw !== "object" || raw === null) continue;
    const r = raw as Record<string, unknown>;
    const pick = (v: unknown): string | undefined =>
      typeof v === "string" ? v : typeof v === "object" && v !== null &&
          typeof (v as { content?: unknown }).content === "string"
        ? (v as { content: string }).content
        : undefined;
    names.mask = pick(r.mask_token) ?? names.mask;
    names.unk = pick(r.unk_token) ?? names.unk;
  }
  return names;
}

/** An input a pipeline cannot process (wrong shape, no mask token, question too long...). */
export class PipelineInputError extends TypeError {
  /** Position of the input in the call's array; undefined for a single input. */
  readonly index: number | undefined;
  /** The problem, without the input's position. */
  readonly reason: string;

  /**
   * Creates the error; the message is `input <index>: <reason>` (`the input: <reason>` for a single input).
   *
   * @param index the input's position in the call's array (undefined for a single input)
   * @param reason what is wrong with the input
   */
  constructor(index: number | undefined, reason: string) {
    super(`${index === undefined ? "the input" : `input ${index}`}: ${reason}`);
    this.name = "PipelineInputError";
    this.index = index;
    this.reason = reason;
  }
}

/**
 * Checks a call's input: one item or an array of items. `problem` says what is wrong with an item (undefined when
 * it is fine); the error names the item's position. A hole in a sparse array is an error too.
 *
 * @returns the items and whether it was one
 */
export function asList<T>(input: T | readonly T[], problem: (x: unknown) => string | undefined): {
  items: T[];
  single: boolean;
} {
  if (Array.isArray(input)) {
    const items: T[] = new Array(input.length);
    for (let i = 0; i < input.length; i++) {
      if (!(i in input)) throw new PipelineInputError(i, "missing (a hole in a sparse array)");
      const p = problem(input[i]);
      if (p !== undefined) throw new PipelineInputError(i, p);
      items[i] = input[i];
    }
    return { items, single: false };
  }
  const p = problem(input);
  if (p !== undefined) throw new PipelineInputError(undefined, p);
  return { items: [input as T], single: true };
}

/** {@link asList}'s check for tasks that take strings. */
export function stringProblem(x: unknown): string | undefined {
  return typeof x === "string" ? undefined : `expected a string, got ${describeValue(x)}`;
}

/**
 * Builds a callable pipeline: `fn` with the given properties and `dispose` / `close` / `[Symbol.dispose]`.
 * Once disposed, `fn` and every function among `props` (`classify`) reject before doing anything: the model's
 * own check comes only at its first forward pass, so an empty batch would still answer `[]`, and a bad input
 * or option would be reported instead of the closed pipeline.
 */
export function makeCallable<T>(
  fn: (...args: never[]) => Promise<unknown>,
  props: Record<string, unknown>,
  dispose: () => void,
): T {
  let disposed = false;
  const guard = <A extends never[], R>(f: (...args: A) => Promise<R>) => (...args: A): Promise<R> =>
    disposed
      ? Promise.reject(
        new Error("the pipeline was closed (dispose()): create it again with pipeline() to use it"),
      )
      : f(...args);
  const callable = guard(fn);
  for (const [k, v] of Object.entries(props)) {
    const value = typeof v === "function" ? guard(v as (...args: never[]) => Promise<unknown>) : v;
    Object.defineProperty(callable, k, { value, enumerable: true });
  }
  const close = () => {
    disposed = true;
    dispose();
  };
  Object.defineProperty(callable, "dispose", { value: close });
  Object.defineProperty(callable, "close", { value: close });
  Object.defineProperty(callable, Symbol.dispose, { value: close });
  return callable as T;
}
