/**
 * Measures of work for tests that must show an algorithm is linear: counts that a busy machine cannot change, and
 * time bounds far above what linear code takes on any machine yet far below what quadratic code takes at the
 * sizes used. No test compares two timings.
 *
 * @module
 */

/**
 * A bound for a linear pass over about a megabyte of text: the tokenizer takes well under a second for that; the
 * same input processed quadratically takes minutes (10^12 steps), even at a nanosecond a step.
 */
export const LINEAR_MB_BOUND_MS = 20_000;

/** A bound for an operation on a few bytes (microseconds): only a runaway loop or an exponential case reaches it. */
export const SMALL_INPUT_BOUND_MS = 10_000;

/**
 * The `Map` lookups (`get` and `has`) made while `fn` runs: the tokenizer's vocabulary and added-token lookups,
 * a count of its work that does not depend on how busy the machine is.
 */
export function countMapLookups(fn: () => void): number {
  const get = Map.prototype.get, has = Map.prototype.has;
  let n = 0;
  Map.prototype.get = function <K, V>(this: Map<K, V>, key: K) {
    n++;
    return get.call(this, key);
  };
  Map.prototype.has = function <K, V>(this: Map<K, V>, key: K) {
    n++;
    return has.call(this, key);
  };
  try {
    fn();
  } finally {
    Map.prototype.get = get;
    Map.prototype.has = has;
  }
  return n;
}

/** Milliseconds `fn` takes (for bounds and logs, never for comparing two runs). */
export function elapsedMs(fn: () => void): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}
