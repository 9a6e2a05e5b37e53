/**
 * UTF-16 offsets (JavaScript string indices) to character (code point) offsets.
 *
 * @module
 */

/** The number of code points in `text.slice(0, utf16)`. */
export function utf16ToCodePoints(text: string, utf16: number): number {
  let n = 0;
  for (let i = 0; i < utf16 && i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point: count it at the high half.
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = text.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) continue;
    }
    n++;
  }
  return n;
}
