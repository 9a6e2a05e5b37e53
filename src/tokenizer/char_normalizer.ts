/**
 * Accent stripping and lowercasing of a single code point, cached. The Rust normalizer works char by
 * char (`char::to_lowercase`), so doing the same here is exact, and it avoids the final-sigma rule that
 * `String.prototype.toLowerCase` applies to whole strings. Which characters decompose, which are marks
 * and how they lowercase come from the generated tables, in the Unicode versions the Rust crates use.
 *
 * @module
 */

import { charFlags, DECOMPOSES, NONSPACING_MARK } from "./char_classes.ts";
import { lowercase } from "./lowercase.ts";

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
      // A character that decomposes in the crate's (older) Unicode has the same decomposition in any newer
      // one (Unicode's normalization stability policy), so the engine's NFD is exact for it.
      const decomposed = charFlags(cp) & DECOMPOSES ? text.normalize("NFD") : text;
      let kept = "";
      for (const ch of decomposed) {
        if (!(charFlags(ch.codePointAt(0)!) & NONSPACING_MARK)) kept += ch;
      }
      text = kept;
    }
    if (this.lowercase) {
      let lowered = "";
      for (const ch of text) lowered += lowercase(ch.codePointAt(0)!);
      text = lowered;
    }
    return text;
  }
}
