/**
 * BertNormalizer + BertPreTokenizer + WordPiece fused into one pass over the source text.
 *
 * Running the three stages separately would build a normalized copy of the text and an alignment array
 * per character. Instead, each word is kept as a plain `slice` of the source while every character in it
 * normalizes to itself (the usual case: ASCII, lowercase letters of any script), and only a word that
 * contains a changed or removed character is copied into a buffer that remembers, for each normalized
 * UTF-16 unit, the source character it came from. Offsets are therefore exact without costing anything
 * on plain text.
 *
 * @module
 */

import { charFlags, CJK, OTHER, PUNCTUATION, WHITESPACE } from "./char_classes.ts";
import { CharNormalizer } from "./char_normalizer.ts";
import type { NormalizerSpec } from "./spec.ts";
import type { TokenSink } from "./token_sink.ts";
import { OffsetMode, type WordPiece } from "./wordpiece.ts";

// What an ASCII character does, precomputed per normalizer configuration.
const A_WORD = 0; // part of a word, unchanged
const A_UPPER = 1; // part of a word, lowercased
const A_SPACE = 2; // ends a word
const A_PUNCT = 3; // a word of its own
const A_REMOVED = 4; // dropped by clean_text

function asciiActions(normalizer: NormalizerSpec | null): Uint8Array {
  const actions = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const flags = charFlags(c);
    if (normalizer?.cleanText && c !== 9 && c !== 10 && c !== 13 && (flags & OTHER)) actions[c] = A_REMOVED;
    else if (flags & WHITESPACE) actions[c] = A_SPACE;
    else if (flags & PUNCTUATION) actions[c] = A_PUNCT;
    else if (normalizer?.lowercase && c >= 65 && c <= 90) actions[c] = A_UPPER;
    else actions[c] = A_WORD;
  }
  return actions;
}

/** Encodes stretches of text (between added tokens) into WordPiece tokens with source offsets. */
export class SegmentEncoder {
  private readonly model: WordPiece;
  private readonly ascii: Uint8Array;
  private readonly cleanText: boolean;
  private readonly handleChinese: boolean;
  private readonly chars: CharNormalizer | null;

  // Per-call state (the encoder is synchronous, so one set of fields is enough).
  private text = "";
  private sink!: TokenSink;
  private wordId = 0;
  /** Start of the current word while it is still a verbatim slice of the text; -1 otherwise. */
  private sliceStart = -1;
  private sliceHasUpper = false;
  /** True while the current word lives in the buffer below. */
  private buffered = false;
  private bufUnits = new Uint16Array(256);
  private bufStarts = new Int32Array(256);
  private bufEnds = new Int32Array(256);
  private bufLength = 0;

  constructor(model: WordPiece, normalizer: NormalizerSpec | null) {
    this.model = model;
    this.ascii = asciiActions(normalizer);
    this.cleanText = normalizer?.cleanText ?? false;
    this.handleChinese = normalizer?.handleChineseChars ?? false;
    this.chars = normalizer && (normalizer.stripAccents || normalizer.lowercase)
      ? new CharNormalizer(normalizer.stripAccents, normalizer.lowercase)
      : null;
  }

  /**
   * Tokenizes `text[from, to)` into `sink`, numbering words from `firstWordId`.
   * Returns the next free word id.
   */
  encode(text: string, from: number, to: number, sink: TokenSink, firstWordId: number): number {
    this.text = text;
    this.sink = sink;
    this.wordId = firstWordId;
    this.sliceStart = -1;
    this.sliceHasUpper = false;
    this.buffered = false;
    this.bufLength = 0;
    const ascii = this.ascii;
    let i = from;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c < 128) {
        switch (ascii[c]) {
          case A_WORD:
            if (this.buffered) this.pushUnit(c, i, i + 1);
            else if (this.sliceStart < 0) this.sliceStart = i;
            break;
          case A_UPPER:
            if (this.buffered) this.pushUnit(c + 32, i, i + 1);
            else {
              if (this.sliceStart < 0) this.sliceStart = i;
              this.sliceHasUpper = true;
            }
            break;
          case A_SPACE:
            this.endWord(i);
            break;
          case A_PUNCT:
            this.endWord(i);
            this.model.tokenize(text[i], this.wordId++, sink, OffsetMode.Contiguous, i, i + 1, null, null);
            break;
          default: // A_REMOVED: the word continues, but is no longer a verbatim slice.
            if (this.sliceStart >= 0) this.sliceToBuffer(i);
        }
        i++;
        continue;
      }
      i = this.nonAscii(c, i, to);
    }
    this.endWord(to);
    return this.wordId;
  }

  /** Handles the non-ASCII character at `i`; returns the index after it. */
  private nonAscii(c: number, i: number, to: number): number {
    let cp = c;
    let next = i + 1;
    if (c >= 0xd800 && c <= 0xdfff) {
      const low = next < to ? this.text.charCodeAt(next) : 0;
      if (c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        cp = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
        next++;
      } else {
        // A lone surrogate cannot reach the Rust tokenizer: bindings convert text to UTF-8, which turns
        // it into U+FFFD. Do the same (clean_text then removes it).
        cp = 0xfffd;
      }
    }
    const flags = charFlags(cp);
    if (this.cleanText) {
      if ((flags & OTHER) || cp === 0xfffd) {
        if (this.sliceStart >= 0) this.sliceToBuffer(i);
        return next;
      }
      if (flags & WHITESPACE) {
        this.endWord(i);
        return next;
      }
    }
    if (this.handleChinese && (flags & CJK)) {
      // The normalizer pads these with spaces: each is a word on its own.
      this.endWord(i);
      this.normalizedChar(cp, flags, i, next);
      this.endWord(next);
      return next;
    }
    this.normalizedChar(cp, flags, i, next);
    return next;
  }

  /** Feeds the normalized form of the source character `cp` at `[start, end)` to the pre-tokenizer. */
  private normalizedChar(cp: number, flags: number, start: number, end: number): void {
    const normalized = this.chars ? this.chars.normalize(cp) : null;
    const unchanged = normalized === null ||
      (normalized.length === end - start && normalized.codePointAt(0) === cp);
    if (unchanged) {
      if (flags & WHITESPACE) this.endWord(start);
      else if (flags & PUNCTUATION) {
        this.endWord(start);
        this.model.tokenize(
          this.text.slice(start, end),
          this.wordId++,
          this.sink,
          OffsetMode.Contiguous,
          start,
          end,
          null,
          null,
        );
      } else if (this.buffered) {
        for (let k = start; k < end; k++) this.pushUnit(this.text.charCodeAt(k), start, end);
      } else if (this.sliceStart < 0) this.sliceStart = start;
      return;
    }
    // The character changes: the current word (if any) continues in the buffer.
    if (this.sliceStart >= 0) this.sliceToBuffer(start);
    for (const ch of normalized) {
      const q = ch.codePointAt(0)!;
      const qFlags = charFlags(q);
      if (qFlags & WHITESPACE) this.endWord(start);
      else if (qFlags & PUNCTUATION) {
        this.endWord(start);
        this.model.tokenize(ch, this.wordId++, this.sink, OffsetMode.SingleSource, start, end, null, null);
      } else {
        this.buffered = true;
        for (let k = 0; k < ch.length; k++) this.pushUnit(ch.charCodeAt(k), start, end);
      }
    }
  }

  private pushUnit(unit: number, start: number, end: number): void {
    const n = this.bufLength;
    if (n === this.bufUnits.length) this.growBuffer();
    this.bufUnits[n] = unit;
    this.bufStarts[n] = start;
    this.bufEnds[n] = end;
    this.bufLength = n + 1;
  }

  private growBuffer(): void {
    const size = this.bufUnits.length * 2;
    const units = new Uint16Array(size);
    units.set(this.bufUnits);
    const starts = new Int32Array(size);
    starts.set(this.bufStarts);
    const ends = new Int32Array(size);
    ends.set(this.bufEnds);
    this.bufUnits = units;
    this.bufStarts = starts;
    this.bufEnds = ends;
  }

  /** Moves the verbatim word `[sliceStart, end)` into the buffer so it can continue with changes. */
  private sliceToBuffer(end: number): void {
    const text = this.text;
    const lower = this.sliceHasUpper;
    for (let k = this.sliceStart; k < end; k++) {
      const unit = text.charCodeAt(k);
      this.pushUnit(lower && unit >= 65 && unit <= 90 ? unit + 32 : unit, k, k + 1);
    }
    this.sliceStart = -1;
    this.sliceHasUpper = false;
    this.buffered = true;
  }

  /** Emits the word in progress, if any; `end` is where it stops in the source. */
  private endWord(end: number): void {
    const model = this.model;
    const limit = 2 * model.maxInputChars;
    if (this.sliceStart >= 0) {
      const start = this.sliceStart;
      this.sliceStart = -1;
      if (end - start > limit) {
        model.tokenizeUnknown(
          end - start,
          this.wordId++,
          this.sink,
          OffsetMode.Contiguous,
          start,
          end,
          null,
          null,
        );
      } else {
        let word = this.text.slice(start, end);
        // Safe on the whole slice: only ASCII letters can be uppercase in a verbatim word.
        if (this.sliceHasUpper) word = word.toLowerCase();
        model.tokenize(word, this.wordId++, this.sink, OffsetMode.Contiguous, start, end, null, null);
      }
      this.sliceHasUpper = false;
    } else if (this.buffered) {
      this.buffered = false;
      const n = this.bufLength;
      this.bufLength = 0;
      if (n === 0) return;
      const id = this.wordId++;
      if (n > limit) {
        model.tokenizeUnknown(n, id, this.sink, OffsetMode.Mapped, 0, 0, this.bufStarts, this.bufEnds);
      } else {
        const word = bufferToString(this.bufUnits, n);
        model.tokenize(word, id, this.sink, OffsetMode.Mapped, 0, 0, this.bufStarts, this.bufEnds);
      }
    }
  }
}

function bufferToString(units: Uint16Array, n: number): string {
  // n is at most ~200 here, far below the argument-count limit of apply.
  return String.fromCharCode.apply(null, units.subarray(0, n) as unknown as number[]);
}
