/**
 * Runs the reference cases of `tests/fixtures/tokenizer/cases.jsonl` (produced by transformers' fast
 * tokenizer) and reports every mismatch. Shared by the test file and ad-hoc debugging.
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import type { Tokenizer } from "../../src/tokenizer/mod.ts";

/** One line of cases.jsonl. */
export interface FixtureCase {
  id: string;
  kind: string;
  text?: string;
  texts?: string[];
  pair?: [string, string];
  input_ids?: number[];
  // deno-lint-ignore no-explicit-any
  options: Record<string, any>;
  // deno-lint-ignore no-explicit-any
  expected: Record<string, any>;
}

/** Reads all cases. */
export async function loadCases(): Promise<FixtureCase[]> {
  const text = await Deno.readTextFile(new URL("../fixtures/tokenizer/cases.jsonl", import.meta.url));
  return text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
}

/** The fixture's offsets count code points; ours count UTF-16 units. */
export function codePointToUtf16(text: string): number[] {
  const map: number[] = [];
  let unit = 0;
  for (const ch of text) {
    map.push(unit);
    unit += ch.length;
  }
  map.push(unit);
  return map;
}

/** Returns a description of the mismatch, or null when the case passes. */
export function checkCase(tok: Tokenizer, c: FixtureCase): string | null {
  const diff = (what: string, got: unknown, want: unknown) =>
    isDeepStrictEqual(got, want)
      ? null
      : `${c.id} ${what}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`;
  try {
    switch (c.kind) {
      case "single": {
        const enc = tok.encode(c.text!);
        const map = codePointToUtf16(c.text!);
        const offsets = c.expected.offsets.map(([s, e]: [number, number]) => [map[s], map[e]]);
        return diff("input_ids", enc.inputIds, c.expected.input_ids) ??
          diff("tokens", enc.tokens, c.expected.tokens) ??
          diff("offsets", enc.offsets, offsets);
      }
      case "no_special":
        return diff(
          "input_ids",
          tok.encode(c.text!, null, { addSpecialTokens: false }).inputIds,
          c.expected.input_ids,
        );
      case "truncate16":
        return diff(
          "input_ids",
          tok.encode(c.text!, null, { truncation: true, maxLength: 16 }).inputIds,
          c.expected.input_ids,
        );
      case "batch8": {
        const batch = tok.encodeBatch(c.texts!, { padding: "longest", truncation: true, maxLength: 128 });
        return diff("input_ids", batch.encodings.map((e) => e.inputIds), c.expected.input_ids) ??
          diff("attention_mask", batch.encodings.map((e) => e.attentionMask), c.expected.attention_mask);
      }
      case "pair_only_second64":
      case "pair_longest_first48": {
        const options = { truncation: c.options.truncation, maxLength: c.options.max_length };
        let enc;
        try {
          enc = tok.encode(c.pair![0], c.pair![1], options);
        } catch (error) {
          return c.expected.error ? null : `${c.id} threw ${error}`;
        }
        if (c.expected.error) return `${c.id} should have thrown`;
        return diff("input_ids", enc.inputIds, c.expected.input_ids) ??
          diff("token_type_ids", enc.tokenTypeIds, c.expected.token_type_ids);
      }
      case "decode":
        return diff(
          "text",
          tok.decode(c.input_ids!, { skipSpecialTokens: c.options.skip_special_tokens }),
          c.expected.text,
        );
      default:
        return `${c.id}: unknown kind ${c.kind}`;
    }
  } catch (error) {
    return `${c.id} threw ${(error as Error).stack}`;
  }
}
