/**
 * Development tool: writes `tests/fixtures/tokenizer/unicode_sweep.txt`, what the Rust `tokenizers` crate's
 * BertNormalizer + BertPreTokenizer make of every Unicode scalar value, through its npm binding. Never a
 * runtime or test dependency: the test only reads the committed file.
 *
 * Set up once, outside the repository (the binding is a native addon, ~64 MB):
 *   npm install --prefix /some/dir tokenizers@0.23.2
 * Run:
 *   TOKENIZERS_NODE_MODULES=/some/dir/node_modules deno run --allow-read --allow-write --allow-env \
 *     --allow-ffi scripts/make_unicode_sweep.ts
 *
 * Version 0.23.2 is required: its normalizer and pre-tokenizer are those of every release since 0.13
 * (the crates `unicode_categories` 0.1 and `unicode-normalization-alignments` 0.1, and Rust's std).
 * Only those two components run here, with truncation never involved, so 0.23's truncation regression
 * (tokenizers issue #2091) cannot reach the fixture.
 *
 * @module
 */

import { createRequire } from "node:module";
import {
  formatSweep,
  outcomeCode,
  type Runs,
  scalarValues,
  SWEEP_SETUPS,
  sweepWord,
  toRuns,
} from "../tests/tokenizer/unicode_sweep.ts";

const REQUIRED_VERSION = "0.23.2";

interface Binding {
  bertNormalizer(options: Record<string, boolean>): { normalizeString(text: string): string };
  bertPreTokenizer(): { preTokenizeString(text: string): [string, [number, number]][] };
}

function loadBinding(): Binding {
  const dir = Deno.env.get("TOKENIZERS_NODE_MODULES");
  if (!dir) {
    throw new Error(
      "set TOKENIZERS_NODE_MODULES to the node_modules folder of `npm install --prefix DIR tokenizers@0.23.2`",
    );
  }
  const require = createRequire(dir.replace(/\/?$/, "/"));
  const version = require("tokenizers/package.json").version;
  if (version !== REQUIRED_VERSION) {
    throw new Error(`${dir}: tokenizers ${version} found, ${REQUIRED_VERSION} required`);
  }
  return require("tokenizers");
}

// 64 words per call, as the binding's per-call cost dominates otherwise.
const WORDS_PER_TEXT = 64;

/**
 * Splits the pre-tokens of `words.join(" ")` back into one list per word: a word ends at the first
 * pre-token ending in `y`. Nothing a code point normalizes to ends a pre-token in `y` before its word does
 * (one call per code point gives the same file); a text that does not split into its words is redone word
 * by word, and `outcomeCode` checks each word's shape.
 */
function splitWords(pieces: string[], wordCount: number): string[][] | null {
  const words: string[][] = [];
  let current: string[] = [];
  for (const piece of pieces) {
    current.push(piece);
    if (piece.endsWith("y")) {
      words.push(current);
      current = [];
    }
  }
  return current.length === 0 && words.length === wordCount && words.every((w) => w[0].startsWith("x"))
    ? words
    : null;
}

function sweep(binding: Binding, options: Record<string, boolean>): Runs {
  const normalizer = binding.bertNormalizer(options);
  const preTokenizer = binding.bertPreTokenizer();
  const piecesOf = (text: string) =>
    preTokenizer.preTokenizeString(normalizer.normalizeString(text)).map((p) => p[0]);
  const codes: string[] = [];
  const all = [...scalarValues()];
  let alone = 0;
  for (let i = 0; i < all.length; i += WORDS_PER_TEXT) {
    const cps = all.slice(i, i + WORDS_PER_TEXT);
    const words = splitWords(piecesOf(cps.map(sweepWord).join(" ")), cps.length);
    cps.forEach((cp, k) => {
      // Words that do not split back cleanly (none are expected) are redone one by one.
      const pieces = words ? words[k] : piecesOf(sweepWord(cp));
      if (!words) alone++;
      codes.push(outcomeCode(cp, pieces));
    });
  }
  if (alone > 0) console.log(`  ${alone} code points tokenized one by one`);
  return toRuns(codes);
}

const binding = loadBinding();
const setups: Record<string, Runs> = {};
for (const [name, spec] of Object.entries(SWEEP_SETUPS)) {
  const options = {
    cleanText: spec.cleanText,
    handleChineseChars: spec.handleChineseChars,
    stripAccents: spec.stripAccents,
    lowercase: spec.lowercase,
  };
  setups[name] = sweep(binding, options);
  console.log(`${name}: ${setups[name].length} runs`);
}
const out = new URL("../tests/fixtures/tokenizer/unicode_sweep.txt", import.meta.url);
await Deno.writeTextFile(
  out,
  formatSweep([
    `BertNormalizer + BertPreTokenizer of tokenizers ${REQUIRED_VERSION} (npm binding) on "x<C>y", for every`,
    "Unicode scalar value C in order. Made by scripts/make_unicode_sweep.ts; codes: tests/tokenizer/unicode_sweep.ts.",
    "Each line: [count] code (count 1 when absent).",
  ], setups),
);
console.log("wrote", out.pathname);
