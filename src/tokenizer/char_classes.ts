/**
 * Character classes of the BERT normalizer and pre-tokenizer, with the exact definitions of the Rust
 * `tokenizers` crate (which is what `AutoTokenizer` runs), answered in O(1) for the BMP.
 *
 * @module
 */

import {
  DECOMPOSING_RANGES,
  NONSPACING_MARK_RANGES,
  OTHER_RANGES,
  PUNCTUATION_RANGES,
  WHITESPACE_RANGES,
} from "./unicode_tables.ts";

/** Cc, Cf or Co: dropped by clean_text (tab, LF and CR excepted, they are whitespace). */
export const OTHER = 1;
/**
 * Rust's `char::is_whitespace` (the Unicode White_Space property): U+0085 and U+2028/9 are in it,
 * U+001C..U+001F (Python's isspace) are not.
 */
export const WHITESPACE = 2;
/** BERT punctuation: Unicode P plus the ASCII symbol ranges. Each one becomes its own word. */
export const PUNCTUATION = 4;
/** Mn: removed after NFD when accents are stripped. */
export const NONSPACING_MARK = 8;
/** The CJK ideograph ranges the normalizer pads with spaces. */
export const CJK = 16;
/** Has a canonical decomposition in the normalization crate's Unicode version: NFD changes it. */
export const DECOMPOSES = 32;

// The Rust normalizer's ranges. 0x2B920 (not Python's 0x2B820) is deliberate: it is what Rust checks.
const CJK_RANGES = [
  0x4e00,
  0x9fff,
  0x3400,
  0x4dbf,
  0x20000,
  0x2a6df,
  0x2a700,
  0x2b73f,
  0x2b740,
  0x2b81f,
  0x2b920,
  0x2ceaf,
  0xf900,
  0xfaff,
  0x2f800,
  0x2fa1f,
];

function isAsciiPunctuation(cp: number): boolean {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126);
}

function inRanges(cp: number, ranges: readonly number[]): boolean {
  // Binary search over flat sorted [first, last] pairs.
  let lo = 0;
  let hi = (ranges.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ranges[mid * 2]) hi = mid - 1;
    else if (cp > ranges[mid * 2 + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

function isCjk(cp: number): boolean {
  for (let i = 0; i < CJK_RANGES.length; i += 2) {
    if (cp >= CJK_RANGES[i] && cp <= CJK_RANGES[i + 1]) return true;
  }
  return false;
}

function fillRanges(table: Uint8Array, ranges: readonly number[], flag: number): void {
  for (let i = 0; i < ranges.length; i += 2) {
    const last = Math.min(ranges[i + 1], 0xffff);
    for (let cp = ranges[i]; cp <= last; cp++) table[cp] |= flag;
  }
}

// One byte of flags per BMP code point: built once from the range tables (~64 KB, well under a millisecond).
const BMP_FLAGS: Uint8Array = (() => {
  const table = new Uint8Array(0x10000);
  fillRanges(table, OTHER_RANGES, OTHER);
  fillRanges(table, PUNCTUATION_RANGES, PUNCTUATION);
  fillRanges(table, NONSPACING_MARK_RANGES, NONSPACING_MARK);
  fillRanges(table, CJK_RANGES, CJK);
  fillRanges(table, WHITESPACE_RANGES, WHITESPACE);
  fillRanges(table, DECOMPOSING_RANGES, DECOMPOSES);
  for (let cp = 0; cp < 128; cp++) if (isAsciiPunctuation(cp)) table[cp] |= PUNCTUATION;
  return table;
})();

/** The class flags (OTHER | WHITESPACE | PUNCTUATION | NONSPACING_MARK | CJK | DECOMPOSES) of one code point. */
export function charFlags(cp: number): number {
  if (cp < 0x10000) return BMP_FLAGS[cp];
  let flags = 0;
  if (inRanges(cp, OTHER_RANGES)) flags |= OTHER;
  if (inRanges(cp, WHITESPACE_RANGES)) flags |= WHITESPACE;
  if (inRanges(cp, DECOMPOSING_RANGES)) flags |= DECOMPOSES;
  if (inRanges(cp, PUNCTUATION_RANGES)) flags |= PUNCTUATION;
  if (inRanges(cp, NONSPACING_MARK_RANGES)) flags |= NONSPACING_MARK;
  if (isCjk(cp)) flags |= CJK;
  return flags;
}
