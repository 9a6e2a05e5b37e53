/**
 * UTF-16 offsets (JavaScript string indices) to character (code point) offsets.
 *
 * @module
 */

/**
 * A map from UTF-16 offsets of `text` to code point offsets, built in one pass so a text's every token offset
 * converts in constant time: the number of code points that start before the offset.
 */
export function codePointOffsets(text: string): (utf16: number) => number {
  const table = new Int32Array(text.length + 1);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    table[i] = n;
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point: the low half does not count.
    const low = c >= 0xdc00 && c <= 0xdfff && i > 0 && text.charCodeAt(i - 1) >= 0xd800 &&
      text.charCodeAt(i - 1) <= 0xdbff;
    if (!low) n++;
  }
  table[text.length] = n;
  return (utf16) => table[Math.max(0, Math.min(text.length, utf16))];
}
