/**
 * Growable parallel arrays that collect the tokens of one sequence before post-processing. Plain arrays
 * of numbers keep the hot loop allocation-free apart from amortised growth.
 *
 * @module
 */

/** Tokens of one sequence, no special tokens yet. Offsets are UTF-16 indices of the input text. */
export interface TokenSink {
  /** Token ids. */
  ids: number[];
  /** Start offset of each token in the source text. */
  starts: number[];
  /** End offset (exclusive) of each token in the source text. */
  ends: number[];
  /** Index of the pre-tokenized word each token came from. */
  words: number[];
  /**
   * Token strings that are not the vocabulary's string of their id, by index: an added token with lstrip /
   * rstrip is, in `tokenizers`, the text it matched, whitespace included (`" [MASK]"`). Absent when none.
   */
  matched?: Map<number, string>;
}

/** An empty sink. */
export function newTokenSink(): TokenSink {
  return { ids: [], starts: [], ends: [], words: [] };
}
