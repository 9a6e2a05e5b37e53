/**
 * The WordPiece model: greedy longest-match-first over a word, `##` marking word-internal pieces, and
 * the whole word as one unknown token when any piece is missing or the word is too long.
 *
 * @module
 */

import type { TokenSink } from "./token_sink.ts";

/** How a word's UTF-16 units map back to the source text. */
export const OffsetMode = {
  /** Unit k of the word is unit `base + k` of the source. */
  Contiguous: 0,
  /** Unit k maps to `[starts[k], ends[k])`. */
  Mapped: 1,
  /** Every unit maps to `[base, baseEnd)` (a word produced by one source character). */
  SingleSource: 2,
} as const;

/** One of the {@link OffsetMode} values. */
export type OffsetMode = typeof OffsetMode[keyof typeof OffsetMode];

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

function codePointCount(word: string, limit: number): number {
  let count = 0;
  for (let i = 0; i < word.length && count <= limit; i++) {
    count++;
    if (isHighSurrogate(word.charCodeAt(i)) && isLowSurrogate(word.charCodeAt(i + 1))) i++;
  }
  return count;
}

/** Greedy longest-match WordPiece over a vocabulary, matching Hugging Face `tokenizers`. */
export class WordPiece {
  /** Token string to id. */
  readonly vocab: Map<string, number>;
  // Pieces that may follow inside a word, keyed without their `##` so lookups need no concatenation.
  private readonly continuation: Map<string, number>;
  // Longest keys, so the greedy search starts at a length that can match instead of at the word's end.
  private readonly maxStartLength: number;
  private readonly maxContinuationLength: number;
  private readonly unkId: number;
  private readonly unkToken: string;
  /** Words longer than this many code points become one unknown token. */
  readonly maxInputChars: number;
  // Scratch space for the pieces of the word in progress (a word that fails becomes one [UNK]).
  private pieceIds: number[] = [];
  private pieceEnds: number[] = [];

  constructor(vocab: Map<string, number>, unkToken: string, prefix: string, maxInputCharsPerWord: number) {
    this.vocab = vocab;
    this.continuation = new Map();
    let maxStart = 0;
    let maxCont = 0;
    for (const [token, id] of vocab) {
      maxStart = Math.max(maxStart, token.length);
      if (token.startsWith(prefix)) {
        const rest = token.slice(prefix.length);
        this.continuation.set(rest, id);
        maxCont = Math.max(maxCont, rest.length);
      }
    }
    this.maxStartLength = maxStart;
    this.maxContinuationLength = maxCont;
    this.unkId = vocab.get(unkToken) ?? -1;
    this.unkToken = unkToken;
    this.maxInputChars = maxInputCharsPerWord;
  }

  /**
   * Appends the pieces of `word` (already normalized, non-empty) to `sink`. `mode`, `base`, `baseEnd`,
   * `starts` and `ends` describe where its units came from (see {@link OffsetMode}).
   */
  tokenize(
    word: string,
    wordId: number,
    sink: TokenSink,
    mode: OffsetMode,
    base: number,
    baseEnd: number,
    starts: Int32Array | null,
    ends: Int32Array | null,
  ): void {
    const length = word.length;
    if (length > this.maxInputChars) {
      // Over twice the limit in UTF-16 units is over the limit in code points, whatever the text.
      if (length > 2 * this.maxInputChars || codePointCount(word, this.maxInputChars) > this.maxInputChars) {
        this.tokenizeUnknown(length, wordId, sink, mode, base, baseEnd, starts, ends);
        return;
      }
    }
    // Fast path: most words are whole vocabulary entries.
    const whole = this.vocab.get(word);
    if (whole !== undefined) {
      this.push(sink, whole, 0, length, wordId, mode, base, baseEnd, starts, ends);
      return;
    }
    const pieceIds = this.pieceIds;
    const pieceEnds = this.pieceEnds;
    let count = 0;
    let start = 0;
    while (start < length) {
      const table = start === 0 ? this.vocab : this.continuation;
      let end = Math.min(length, start + (start === 0 ? this.maxStartLength : this.maxContinuationLength));
      // Never start the search between the halves of a surrogate pair.
      if (end < length && isLowSurrogate(word.charCodeAt(end)) && isHighSurrogate(word.charCodeAt(end - 1))) {
        end--;
      }
      let found = -1;
      while (end > start) {
        const id = table.get(word.slice(start, end));
        if (id !== undefined) {
          found = id;
          break;
        }
        // Shrink by one code point, as the Rust implementation does.
        end -= end - 2 >= start && isLowSurrogate(word.charCodeAt(end - 1)) &&
            isHighSurrogate(word.charCodeAt(end - 2))
          ? 2
          : 1;
      }
      if (found < 0) {
        this.tokenizeUnknown(length, wordId, sink, mode, base, baseEnd, starts, ends);
        return;
      }
      pieceIds[count] = found;
      pieceEnds[count] = end;
      count++;
      start = end;
    }
    let pieceStart = 0;
    for (let k = 0; k < count; k++) {
      this.push(sink, pieceIds[k], pieceStart, pieceEnds[k], wordId, mode, base, baseEnd, starts, ends);
      pieceStart = pieceEnds[k];
    }
  }

  /** Appends one unknown token covering a whole word of `length` units. */
  tokenizeUnknown(
    length: number,
    wordId: number,
    sink: TokenSink,
    mode: OffsetMode,
    base: number,
    baseEnd: number,
    starts: Int32Array | null,
    ends: Int32Array | null,
  ): void {
    if (this.unkId < 0) {
      throw new Error(`Tokenizer: unknown token "${this.unkToken}" is not in the vocabulary`);
    }
    this.push(sink, this.unkId, 0, length, wordId, mode, base, baseEnd, starts, ends);
  }

  private push(
    sink: TokenSink,
    id: number,
    from: number,
    to: number,
    wordId: number,
    mode: OffsetMode,
    base: number,
    baseEnd: number,
    starts: Int32Array | null,
    ends: Int32Array | null,
  ): void {
    sink.ids.push(id);
    sink.words.push(wordId);
    if (mode === OffsetMode.Contiguous) {
      sink.starts.push(base + from);
      sink.ends.push(base + to);
    } else if (mode === OffsetMode.Mapped) {
      sink.starts.push(starts![from]);
      sink.ends.push(ends![to - 1]);
    } else {
      sink.starts.push(base);
      sink.ends.push(baseEnd);
    }
  }
}
