/**
 * The every-scalar-value sweep of the BERT normalizer and pre-tokenizer: how one code point C behaves
 * inside the word `xCy`, written as a short code, and the run-length file that stores those codes for all
 * 1,112,064 scalar values. Shared by the test (our side) and `scripts/make_unicode_sweep.ts` (the Rust
 * tokenizer's side), so both describe an outcome the same way.
 *
 * A code is computed from the pre-tokens of `xCy` joined with spaces (a pre-token never holds whitespace,
 * so the join is unambiguous); M is that string without its leading `x` and trailing `y`:
 * - `k`: kept inside the word unchanged (M = C); `s`: split out unchanged as a word of its own (M = " C ");
 * - `r`: removed, or normalized to nothing (M = ""); `w`: ends the word like whitespace (M = " ");
 * - `k` or `s` followed by `:hex` (an ASCII result) or by a signed hex delta from C (any other single code
 *   point), e.g. `k+20` for a letter lowercased 0x20 further on, `k:61` for one that became `a`;
 * - `h`: kept as the conjoining jamo of the Hangul syllable C (its arithmetic canonical decomposition, spelled
 *   out in Unicode's chapter 3.12), so the 11,172 syllables need no table;
 * - `=` followed by M's code points in hex, joined by `.`, with `_` for a space, for anything else.
 * ASCII results are written absolutely so that runs of accented letters stripped to one base letter merge.
 *
 * @module
 */

import { SegmentEncoder } from "../../src/tokenizer/segment_encoder.ts";
import type { NormalizerSpec } from "../../src/tokenizer/spec.ts";
import { newTokenSink } from "../../src/tokenizer/token_sink.ts";
import { WordPiece } from "../../src/tokenizer/wordpiece.ts";

/**
 * The configurations swept: bert-base-uncased's normalizer, a cased one (bert-base-cased's), and
 * lowercasing with accents kept (`strip_accents: false`), the only one where a character that decomposes
 * is itself lowercased (uncased lowercases what is left after NFD).
 */
export const SWEEP_SETUPS: Record<string, NormalizerSpec> = {
  uncased: { cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true },
  cased: { cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: false },
  lowercase_accents_kept: { cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: true },
};

/** Number of Unicode scalar values (code points minus the 2,048 surrogates). */
export const SCALAR_VALUE_COUNT = 0x110000 - 0x800;

/** Every Unicode scalar value, in order. */
export function* scalarValues(): Generator<number> {
  for (let cp = 0; cp < 0xd800; cp++) yield cp;
  for (let cp = 0xe000; cp < 0x110000; cp++) yield cp;
}

/** The word each code point is swept in. */
export function sweepWord(cp: number): string {
  return "x" + String.fromCodePoint(cp) + "y";
}

function hex(n: number): string {
  return n.toString(16);
}

function single(middle: string): number | null {
  if (middle.length === 0 || middle.length > 2) return null;
  const q = middle.codePointAt(0)!;
  return String.fromCodePoint(q).length === middle.length && q !== 0x20 ? q : null;
}

// Unicode 3.12, "Conjoining Jamo Behavior": a precomposed syllable's leading consonant, vowel and trailing
// consonant follow from its index.
function hangulJamo(cp: number): string | null {
  const index = cp - 0xac00;
  if (index < 0 || index >= 11172) return null;
  const trailing = index % 28;
  const jamo = [0x1100 + Math.floor(index / 588), 0x1161 + Math.floor((index % 588) / 28)];
  if (trailing > 0) jamo.push(0x11a7 + trailing);
  return String.fromCodePoint(...jamo);
}

/** The code of the outcome `pieces` (pre-tokens of `sweepWord(cp)`). */
export function outcomeCode(cp: number, pieces: readonly string[]): string {
  const joined = pieces.join(" ");
  if (!joined.startsWith("x") || !joined.endsWith("y") || joined.length < 2) {
    throw new Error(`U+${hex(cp)}: pre-tokens ${JSON.stringify(pieces)} do not start with x and end with y`);
  }
  const middle = joined.slice(1, -1);
  if (middle === "") return "r";
  if (middle === " ") return "w";
  const c = String.fromCodePoint(cp);
  const split = middle.length >= 3 && middle.startsWith(" ") && middle.endsWith(" ");
  const core = split ? middle.slice(1, -1) : middle;
  const q = single(core);
  if (q !== null) {
    const kind = split ? "s" : "k";
    if (core === c) return kind;
    if (q < 0x80) return `${kind}:${hex(q)}`;
    return kind + (q > cp ? "+" : "-") + hex(Math.abs(q - cp));
  }
  if (middle === hangulJamo(cp)) return "h";
  return "=" + [...middle].map((ch) => ch === " " ? "_" : hex(ch.codePointAt(0)!)).join(".");
}

/** One setup's codes, as runs of equal codes over the scalar values in order. */
export type Runs = Array<[count: number, code: string]>;

/** Run-length encodes the codes of every scalar value, in order. */
export function toRuns(codes: Iterable<string>): Runs {
  const runs: Runs = [];
  for (const code of codes) {
    const last = runs.at(-1);
    if (last && last[1] === code) last[0]++;
    else runs.push([1, code]);
  }
  return runs;
}

/** Writes the fixture: comment lines, then per setup a `[name] options` line and `count code` lines. */
export function formatSweep(comments: string[], setups: Record<string, Runs>): string {
  const lines = comments.map((c) => `# ${c}`);
  for (const [name, runs] of Object.entries(setups)) {
    lines.push(`[${name}] ${JSON.stringify(SWEEP_SETUPS[name])}`);
    for (const [count, code] of runs) lines.push(count === 1 ? code : `${count} ${code}`);
  }
  return lines.join("\n") + "\n";
}

/** Reads the fixture back; checks each setup covers every scalar value and was made with our options. */
export function parseSweep(text: string): Record<string, Runs> {
  const setups: Record<string, Runs> = {};
  let current: Runs | null = null;
  for (const [index, line] of text.split("\n").entries()) {
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\] (.*)$/.exec(line);
    if (header) {
      const [, name, options] = header;
      if (JSON.stringify(SWEEP_SETUPS[name]) !== options) {
        throw new Error(`unicode sweep line ${index + 1}: setup ${name} has options ${options}`);
      }
      current = setups[name] = [];
      continue;
    }
    const run = /^(?:(\d+) )?(\S+)$/.exec(line);
    if (!current || !run) {
      throw new Error(`unicode sweep line ${index + 1}: cannot read ${JSON.stringify(line)}`);
    }
    current.push([run[1] === undefined ? 1 : Number(run[1]), run[2]]);
  }
  for (const [name, runs] of Object.entries(setups)) {
    const total = runs.reduce((sum, [count]) => sum + count, 0);
    if (total !== SCALAR_VALUE_COUNT) throw new Error(`unicode sweep: ${name} covers ${total} code points`);
  }
  return setups;
}

interface Difference {
  first: number;
  last: number;
  want: string;
  got: string;
}

function describe(d: Difference): string {
  const name = (cp: number) => "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
  const span = d.first === d.last ? name(d.first) : `${name(d.first)}..${name(d.last)}`;
  return `${span} want ${d.want} got ${d.got}`;
}

/**
 * Compares `codeOf` for every scalar value with the fixture's runs. Returns how many code points differ
 * and the differences as "U+XXXX..U+YYYY want CODE got CODE" lines (consecutive equal ones merged).
 */
export function compareSweep(want: Runs, codeOf: (cp: number) => string): { count: number; lines: string[] } {
  const found: Difference[] = [];
  const values = scalarValues();
  let count = 0;
  for (const [length, code] of want) {
    for (let k = 0; k < length; k++) {
      const cp = values.next().value as number;
      const got = codeOf(cp);
      if (got === code) continue;
      count++;
      const last = found.at(-1);
      if (last && last.last === cp - 1 && last.want === code && last.got === got) last.last = cp;
      else found.push({ first: cp, last: cp, want: code, got });
    }
  }
  return { count, lines: found.map(describe) };
}

/** A WordPiece that records the words the encoder hands it instead of looking them up. */
class RecordingWordPiece extends WordPiece {
  words: string[] = [];

  constructor() {
    super(new Map(), "[UNK]", "##", 100);
  }

  override tokenize(word: string): void {
    this.words.push(word);
  }

  override tokenizeUnknown(): void {
    throw new Error("unicode sweep: a swept word cannot be over 100 characters");
  }
}

/** Our normalizer + pre-tokenizer (the encoder's fused pass) as a code point -> code function. */
export function ourOutcome(spec: NormalizerSpec): (cp: number) => string {
  const recorder = new RecordingWordPiece();
  const encoder = new SegmentEncoder(recorder, spec);
  const sink = newTokenSink();
  return (cp) => {
    const word = sweepWord(cp);
    recorder.words = [];
    encoder.encode(word, 0, word.length, sink, 0);
    return outcomeCode(cp, recorder.words);
  };
}
