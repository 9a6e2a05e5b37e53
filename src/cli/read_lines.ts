/**
 * Lines of a byte stream in linear time and bounded memory: each chunk is searched for newlines once and decoded
 * once (a line spanning chunks is decoded piece by piece and joined once at its end), and a line longer than the
 * cap is an error as soon as its first `cap + 1` bytes have arrived, so one huge line cannot exhaust memory.
 *
 * @module
 */

import { formatBytes } from "../fs/read.ts";

/**
 * The default cap on one line, 1 MiB: far more than a classifier or fill-mask can use (they keep 512 tokens) and
 * a long document for question answering; the tokenizer's memory for a line is about 50 times its size.
 */
export const DEFAULT_MAX_LINE_BYTES: number = 1 << 20;

/** A line longer than the cap. */
export class LineTooLongError extends Error {
  /** The line's number (1-based). */
  readonly line: number;
  /** The cap in bytes. */
  readonly maxBytes: number;

  /**
   * Creates the error.
   *
   * @param line the line's number (1-based)
   * @param maxBytes the cap in bytes
   */
  constructor(line: number, maxBytes: number) {
    super(`line ${line} is longer than ${maxBytes} bytes (${formatBytes(maxBytes)})`);
    this.name = "LineTooLongError";
    this.line = line;
    this.maxBytes = maxBytes;
  }
}

/** One line: its text (without the newline and a trailing `\r`), its number, and the bytes it took. */
export interface Line {
  /** The text. */
  text: string;
  /** 1-based line number. */
  number: number;
  /** Bytes of the stream it took, newline included (for progress). */
  bytes: number;
}

const NEWLINE = 10;

function withoutCr(text: string): string {
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}

/**
 * The lines of `stream`, decoded as UTF-8 (invalid bytes become U+FFFD). A last line without a newline is
 * yielded too.
 *
 * @param stream the bytes
 * @param maxLineBytes the longest line accepted, in bytes (newline excluded)
 * @throws {LineTooLongError} when a line is longer than `maxLineBytes`
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
): AsyncGenerator<Line> {
  // A newline byte never occurs inside a multi-byte UTF-8 sequence, so lines can be cut on bytes; the decoder
  // streams across chunk boundaries within a line and is flushed at each line's end.
  const decoder = new TextDecoder();
  let parts: string[] = [];
  let lineBytes = 0;
  let number = 0;
  for await (const chunk of stream) {
    let from = 0;
    while (from <= chunk.length) {
      const newline = chunk.indexOf(NEWLINE, from);
      const end = newline === -1 ? chunk.length : newline;
      lineBytes += end - from;
      if (lineBytes > maxLineBytes) throw new LineTooLongError(number + 1, maxLineBytes);
      if (newline === -1) {
        if (end > from) parts.push(decoder.decode(chunk.subarray(from, end), { stream: true }));
        break;
      }
      parts.push(decoder.decode(chunk.subarray(from, end)));
      number++;
      yield { text: withoutCr(parts.length === 1 ? parts[0] : parts.join("")), number, bytes: lineBytes + 1 };
      parts = [];
      lineBytes = 0;
      from = newline + 1;
    }
  }
  if (lineBytes > 0) {
    parts.push(decoder.decode());
    yield { text: withoutCr(parts.join("")), number: number + 1, bytes: lineBytes };
  }
}
