/**
 * Truncation with overflow windows, exactly as `tokenizers` does it (`truncate_encodings` and
 * `Encoding::truncate`), including the errors the fast tokenizer raises.
 *
 * @module
 */

import { newTokenSink, type TokenSink } from "./token_sink.ts";
import type { TruncationStrategy } from "./types.ts";

function slice(seq: TokenSink, from: number, to: number): TokenSink {
  const out: TokenSink = {
    ids: seq.ids.slice(from, to),
    starts: seq.starts.slice(from, to),
    ends: seq.ends.slice(from, to),
    words: seq.words.slice(from, to),
  };
  if (seq.matched) {
    for (const [k, token] of seq.matched) {
      if (k >= from && k < to) (out.matched ??= new Map()).set(k - from, token);
    }
  }
  return out;
}

/** Cuts `seq` to `maxLength` tokens; the first window is the kept part, the others overflow. */
export function windows(seq: TokenSink, maxLength: number, stride: number): TokenSink[] {
  const length = seq.ids.length;
  if (maxLength >= length) return [seq];
  if (maxLength === 0) return [newTokenSink(), seq];
  if (stride >= maxLength) {
    throw new Error(
      `Tokenizer: stride (${stride}) must be strictly less than the truncated length (${maxLength}, which excludes special tokens)`,
    );
  }
  const step = maxLength - stride;
  const out: TokenSink[] = [];
  for (let start = 0;; start += step) {
    const stop = Math.min(start + maxLength, length);
    out.push(slice(seq, start, stop));
    if (stop === length) return out;
  }
}

/**
 * Truncates one sequence or a pair so the total is at most `maxLength` (special tokens already
 * subtracted). Returns the windows of each sequence; window 0 is the kept part.
 */
export function truncate(
  first: TokenSink,
  second: TokenSink | null,
  maxLength: number,
  strategy: TruncationStrategy,
  stride: number,
): [TokenSink[], TokenSink[] | null] {
  const n1 = first.ids.length;
  const n2 = second ? second.ids.length : 0;
  if (maxLength === 0) {
    return [windows(first, 0, stride), second ? windows(second, 0, stride) : null];
  }
  if (strategy === "only_second" && !second) {
    throw new Error("Tokenizer: truncation error: second sequence not provided");
  }
  const total = n1 + n2;
  if (total <= maxLength) return [[first], second ? [second] : null];
  const toRemove = total - maxLength;
  if (strategy === "longest_first") {
    if (!second) return [windows(first, n1 - toRemove, stride), null];
    // On the full token counts: if the shorter sequence fits in half the budget it keeps all of itself and
    // the longer gets the rest; otherwise the shorter gets the floor half and the longer the ceil half (on a
    // tie the second counts as the longer). Where the words fall does not matter, unlike tokenizers 0.23.1+,
    // which stops tokenizing at max_length and so splits on partial counts.
    const half = Math.floor(maxLength / 2);
    const firstIsLonger = n1 > n2;
    const short = firstIsLonger ? n2 : n1;
    let len1: number;
    let len2: number;
    if (short > half) {
      [len1, len2] = firstIsLonger ? [half + (maxLength % 2), half] : [half, half + (maxLength % 2)];
    } else {
      [len1, len2] = firstIsLonger ? [maxLength - n2, n2] : [n1, maxLength - n1];
    }
    return [windows(first, len1, stride), windows(second, len2, stride)];
  }
  const targetIsFirst = strategy === "only_first";
  const targetLength = targetIsFirst ? n1 : n2;
  if (targetLength <= toRemove) {
    throw new Error(
      "Tokenizer: truncation error: sequence to truncate too short to respect the provided max_length",
    );
  }
  return targetIsFirst
    ? [windows(first, n1 - toRemove, stride), second ? [second] : null]
    : [[first], windows(second!, n2 - toRemove, stride)];
}
