/**
 * Accent stripping and lowercasing of a single code point, cached. The Rust normalizer works char by
 * char (`char::to_lowercase`), so doing the same here is exact, and it avoids the final-sigma rule that
 * `String.prototype.toLowerCase` applies to whole strings.
 *
 * @module
 */

import { charFlags, NONSPACING_MARK } from "./char_classes.ts";

// Distinct code points are few in practice; the cap only bounds memory on adversarial input.
const MAX_CACHE_ENTRIES = 1 << 16;

/** Maps a code point to its normalized text (NFD minus Mn, then lowercase), as configured. */
export class CharNormalizer {
  private readonly stripAccents: boolean;
  private readonly lowercase: boolean;
  private readonly cache = new Map<number, string>();

  constructor(stripAccents: boolean, lowercase: boolean) {
    this.stripAccents = stripAccents;
    this.lowercase = lowercase;
  }

  /** The normalized form of `cp` (may be empty, or several code points, e.g. U+0130 -> "i\u0307"). */
  normalize(cp: number): string {
    const cached = this.cache.get(cp);
    if (cached !== undefined) return cached;
    const value = this.compute(cp);
    if (this.cache.size < MAX_CACHE_ENTRIES) this.cache.set(cp, value);
    return value;
  }

  private compute(cp: number): string {
    let text = String.fromCodePoint(cp);
    if (this.stripAccents) {
      let kept = "";
      for (const ch of text.normalize("NFD")) {
        if (!(charFlags(ch.codePointAt(0)!) & NONSPACING_MARK)) kept += ch;
      }
      text = kept;
    }
    if (this.lowercase) {
      let lowered = "";
      // Per code point: a lone character never meets the context of the final-sigma rule.
      for (const ch of text) lowered += ch.toLowerCase();
      text = lowered;
    }
    return text;
  }
}
