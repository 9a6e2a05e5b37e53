/**
 * Test helpers for the hardening tests: a small seeded PRNG (deterministic runs in CI), an outcome checker
 * that accepts a result or an `Error` and rejects anything else, and the tiny checkpoint in a temp folder.
 *
 * @module
 */

import assert from "node:assert/strict";

/** A seeded PRNG (sfc32 seeded through splitmix32): the same seed always gives the same sequence. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** What a fuzzed call did: returned, or threw an `Error` (whose message is kept). */
export type Outcome = { ok: true } | { ok: false; error: Error };

/**
 * Runs `fn` and checks it either returns or throws an `Error` of an allowed class (every `Error` by default)
 * with a non-empty message. Anything else (a string, `undefined`, a stack overflow, a `TypeError` from
 * reading a property of `undefined`) fails the test with `label` and the offending value.
 */
export function outcome(
  label: string,
  fn: () => unknown,
  allowed: readonly (new (...args: never[]) => Error)[] = [Error],
): Outcome {
  try {
    fn();
    return { ok: true };
  } catch (e) {
    return checkError(label, e, allowed);
  }
}

/** The async form of {@linkcode outcome}. */
export async function outcomeAsync(
  label: string,
  fn: () => Promise<unknown>,
  allowed: readonly (new (...args: never[]) => Error)[] = [Error],
): Promise<Outcome> {
  try {
    await fn();
    return { ok: true };
  } catch (e) {
    return checkError(label, e, allowed);
  }
}

/** Messages that mean a JavaScript engine error escaped rather than a validation error being thrown. */
const ENGINE_ERROR =
  /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Cannot convert|Maximum call stack|Invalid array length|Invalid typed array length|Array buffer allocation failed|out of memory/i;

function checkError(
  label: string,
  e: unknown,
  allowed: readonly (new (...args: never[]) => Error)[],
): Outcome {
  if (!(e instanceof Error)) assert.fail(`${label}: threw a non-Error: ${String(e)}`);
  if (!allowed.some((cls) => e instanceof cls)) {
    assert.fail(
      `${label}: threw ${e.name} (allowed: ${allowed.map((c) => c.name).join(", ")}): ${e.message}`,
    );
  }
  if (!e.message) assert.fail(`${label}: threw ${e.name} with an empty message`);
  if (ENGINE_ERROR.test(e.message)) {
    assert.fail(`${label}: an engine error escaped instead of a clear message: ${e.stack}`);
  }
  return { ok: false, error: e };
}

const ROOT = new URL("../../", import.meta.url);

/** Absolute path of a file in the repository. */
export function repoPath(rel: string): string {
  return new URL(rel, ROOT).pathname;
}

/** A temp folder holding the tiny MaskedLM checkpoint (config.mlm.json as config.json + model.safetensors). */
export async function tinyModelDir(prefix = "denobert-fuzz-"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.copyFile(repoPath("tests/fixtures/models/tiny/config.mlm.json"), `${dir}/config.json`);
  await Deno.copyFile(repoPath("tests/fixtures/models/tiny/model.safetensors"), `${dir}/model.safetensors`);
  return dir;
}

/** Resident set size in bytes. */
export function rss(): number {
  return Deno.memoryUsage().rss;
}

/** Runs the garbage collector when the runtime exposes it (`--v8-flags=--expose-gc`); otherwise does nothing. */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
