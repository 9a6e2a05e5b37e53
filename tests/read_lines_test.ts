/**
 * The CLI's stdin line reader: lines across chunk boundaries (UTF-8 sequences cut in two included), line numbers,
 * linear work on a long line (bytes searched and decoded are counted, not timed), and the line cap, which stops
 * reading an endless line soon after the cap.
 */

import assert from "node:assert/strict";
import { type Line, LineTooLongError, readLines } from "../src/cli/read_lines.ts";

/** A stream of `bytes` cut into chunks of `size` bytes. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>, max?: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const line of readLines(stream, max)) out.push(line);
  return out;
}

const encode = (s: string) => new TextEncoder().encode(s);

Deno.test("readLines: lines across chunk boundaries, UTF-8 cut mid-character, CRLF, last line", async () => {
  const text = "héllo wörld\r\n\n中文 😀 x\nlast line without newline";
  const bytes = encode(text);
  const expected = ["héllo wörld", "", "中文 😀 x", "last line without newline"];
  for (const size of [1, 2, 3, 5, 7, 64, bytes.length]) {
    const lines = await collect(chunked(bytes, size));
    assert.deepEqual(lines.map((l) => l.text), expected, `chunks of ${size}`);
    assert.deepEqual(lines.map((l) => l.number), [1, 2, 3, 4]);
    assert.equal(lines.reduce((a, l) => a + l.bytes, 0), bytes.length, "bytes add up to the stream's length");
  }
  assert.deepEqual(await collect(chunked(new Uint8Array(0), 4)), []);
  assert.deepEqual((await collect(chunked(encode("a\n"), 1))).map((l) => l.text), ["a"]);
  // Invalid UTF-8 becomes U+FFFD, within its line only.
  const bad = new Uint8Array([0x61, 0xe4, 0xb8, 0x0a, 0x62, 0x0a]);
  assert.deepEqual((await collect(chunked(bad, 2))).map((l) => l.text), ["a\ufffd", "b"]);
});

Deno.test("readLines: a long line costs linear work (bytes searched and decoded are counted)", async () => {
  // An 8 MiB line in 1 KiB chunks, then 10,000 short lines: a reader that re-joins or re-scans what it has
  // buffered at each chunk touches ~32 GB here; a linear one each byte about twice (search, decode).
  const long = 8 << 20;
  const bytes = new Uint8Array(long + 1 + 10_000 * 4);
  bytes.fill(0x61, 0, long);
  bytes[long] = 0x0a;
  for (let i = 0; i < 10_000; i++) bytes.set(encode("abc\n"), long + 1 + i * 4);

  let searched = 0, decoded = 0;
  const indexOf = Uint8Array.prototype.indexOf;
  const decode = TextDecoder.prototype.decode;
  Uint8Array.prototype.indexOf = function (this: Uint8Array, value: number, from = 0) {
    const found = indexOf.call(this, value, from);
    searched += (found === -1 ? this.length : found + 1) - from;
    return found;
  };
  TextDecoder.prototype.decode = function (
    this: TextDecoder,
    input?: BufferSource,
    options?: TextDecodeOptions,
  ) {
    decoded += input === undefined ? 0 : input.byteLength;
    return decode.call(this, input, options);
  };
  let lines: Line[];
  try {
    lines = await collect(chunked(bytes, 1024), 16 << 20);
  } finally {
    Uint8Array.prototype.indexOf = indexOf;
    TextDecoder.prototype.decode = decode;
  }
  assert.equal(lines.length, 10_001);
  assert.equal(lines[0].text.length, long);
  assert.equal(lines[10_000].text, "abc");
  assert.ok(searched <= bytes.length, `searched ${searched} bytes of ${bytes.length}`);
  assert.ok(decoded <= bytes.length, `decoded ${decoded} bytes of ${bytes.length}`);
  assert.ok(searched > 0 && decoded > 0, "the counters saw the work");
});

Deno.test("readLines: a line over the cap is an error naming it; an endless line is not read to its end", async () => {
  const lines = encode("short\nalso short\n" + "x".repeat(101) + "\nnever reached\n");
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const line of readLines(chunked(lines, 7), 100)) seen.push(line.text);
    })(),
    (err: unknown) => {
      assert.ok(err instanceof LineTooLongError);
      assert.equal(err.line, 3);
      assert.equal(err.maxBytes, 100);
      assert.match(err.message, /line 3 is longer than 100 bytes/);
      return true;
    },
  );
  assert.deepEqual(seen, ["short", "also short"]);
  // Exactly at the cap is fine.
  assert.equal((await collect(chunked(encode("y".repeat(100) + "\n"), 7), 100))[0].text.length, 100);

  // /dev/zero-like: an endless line. Reading stops within a chunk of the cap.
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(64 * 1024).fill(0x7a));
    },
  });
  const cap = 1 << 20;
  await assert.rejects(collect(endless, cap), /line 1 is longer than 1048576 bytes \(1 MiB\)/);
  // 16 chunks make the cap; the stream may have been asked for a couple more ahead of the reader.
  assert.ok(pulled <= 16 + 3, `${pulled} chunks of 64 KiB were read for a 1 MiB cap`);
});
