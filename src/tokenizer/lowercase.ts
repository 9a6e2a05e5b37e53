/**
 * Rust's `char::to_lowercase` for one code point, from the generated tables, so the result does not depend
 * on the Unicode version of the JavaScript engine running us.
 *
 * @module
 */

import { LOWERCASE_EXPANSIONS, LOWERCASE_RUNS } from "./unicode_tables.ts";

const EXPANSIONS: ReadonlyMap<number, string> = (() => {
  const map = new Map<number, string>();
  for (let i = 0; i < LOWERCASE_EXPANSIONS.length;) {
    const count = LOWERCASE_EXPANSIONS[i + 1];
    map.set(
      LOWERCASE_EXPANSIONS[i],
      String.fromCodePoint(...LOWERCASE_EXPANSIONS.slice(i + 2, i + 2 + count)),
    );
    i += 2 + count;
  }
  return map;
})();

/** The code point `cp` lowercases to alone, or `cp` itself; expansions aside (see {@link lowercase}). */
function lowercaseSingle(cp: number): number {
  // Binary search for the last run starting at or before cp (runs are [first, last, stride, delta]).
  let lo = 0;
  let hi = LOWERCASE_RUNS.length / 4 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (LOWERCASE_RUNS[mid * 4] <= cp) lo = mid + 1;
    else hi = mid - 1;
  }
  if (hi < 0) return cp;
  const at = hi * 4;
  const first = LOWERCASE_RUNS[at];
  if (cp > LOWERCASE_RUNS[at + 1] || (cp - first) % LOWERCASE_RUNS[at + 2] !== 0) return cp;
  return cp + LOWERCASE_RUNS[at + 3];
}

/** Rust's `char::to_lowercase(cp)` as a string (one or more code points, no context such as final sigma). */
export function lowercase(cp: number): string {
  return EXPANSIONS.get(cp) ?? String.fromCodePoint(lowercaseSingle(cp));
}
