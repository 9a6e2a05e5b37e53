/**
 * Finds added tokens (`[CLS]`, `[MASK]`, ...) in the raw text before normalization, the way `tokenizers`'
 * AddedVocabulary does: leftmost-longest, non-overlapping, case-sensitive matches of the literal content.
 *
 * @module
 */

import { charFlags, WHITESPACE } from "./char_classes.ts";
import type { AddedTokenSpec } from "./spec.ts";

const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200c\u200d]/u;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** The code point that ends just before UTF-16 index `index` (a surrogate pair read whole). */
function codePointBefore(text: string, index: number): number {
  const low = text.charCodeAt(index - 1);
  if (low >= 0xdc00 && low <= 0xdfff && index >= 2) {
    const high = text.charCodeAt(index - 2);
    if (high >= 0xd800 && high <= 0xdbff) return (high - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
  }
  return low;
}

function isWhitespaceAt(text: string, index: number): boolean {
  return (charFlags(text.charCodeAt(index)) & WHITESPACE) !== 0;
}

/** Splits text into plain stretches and added tokens. */
export class AddedTokenMatcher {
  private readonly pattern: RegExp | null;
  private readonly byContent: Map<string, AddedTokenSpec>;

  constructor(tokens: readonly AddedTokenSpec[]) {
    this.byContent = new Map(tokens.filter((t) => t.content.length > 0).map((t) => [t.content, t]));
    const contents = [...this.byContent.keys()].sort((a, b) => b.length - a.length);
    // Longest first: the alternation then picks the longest token starting at the leftmost position.
    this.pattern = contents.length > 0 ? new RegExp(contents.map(escapeRegExp).join("|"), "g") : null;
  }

  /**
   * Calls `onText(from, to)` for each stretch of ordinary text and `onToken(token, start, end)` for each
   * added token, in order. Empty stretches are skipped.
   */
  split(
    text: string,
    onText: (from: number, to: number) => void,
    onToken: (token: AddedTokenSpec, start: number, end: number) => void,
  ): void {
    const pattern = this.pattern;
    if (pattern === null) {
      if (text.length > 0) onText(0, text.length);
      return;
    }
    let done = 0;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      const token = this.byContent.get(match[0])!;
      let start = match.index;
      let end = start + match[0].length;
      if (token.singleWord) {
        // The character before may be astral (CJK Extension B, many scripts' letters): read it whole, or its
        // low surrogate alone would never be a word character.
        const before = start > 0 && WORD_CHAR.test(String.fromCodePoint(codePointBefore(text, start)));
        const after = end < text.length && WORD_CHAR.test(String.fromCodePoint(text.codePointAt(end)!));
        if (before || after) continue;
      }
      if (token.lstrip) { while (start > done && isWhitespaceAt(text, start - 1)) start--; }
      if (token.rstrip) { while (end < text.length && isWhitespaceAt(text, end)) end++; }
      if (start > done) onText(done, start);
      onToken(token, start, end);
      done = end;
      pattern.lastIndex = end;
    }
    if (done < text.length) onText(done, text.length);
  }
}
