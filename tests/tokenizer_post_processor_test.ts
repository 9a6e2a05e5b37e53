// Post-processors other than BertProcessing (tests/fixtures/tokenizer/post_processors/spec.json: TemplateProcessing
// with unusual type ids and order, none at all), with and without special tokens, against Hugging Face's Rust
// tokenizer (scripts/post_processor_reference.mjs wrote expected.json).

import assert from "node:assert/strict";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { fixturePath } from "./helpers/reference.ts";

interface Row {
  text: string;
  pair: string | null;
  add_special_tokens: boolean;
  ids: number[];
  type_ids: number[];
  tokens: string[];
  offsets: [number, number][];
  word_ids: (number | null)[];
  sequence_ids: (number | null)[];
  special_tokens_mask: number[];
}

const spec = JSON.parse(await Deno.readTextFile(fixturePath("tokenizer/post_processors/spec.json"))) as {
  variants: Record<string, unknown>;
};
const expected = JSON.parse(
  await Deno.readTextFile(fixturePath("tokenizer/post_processors/expected.json")),
) as {
  variants: Record<string, Row[]>;
};
const base = JSON.parse(await Deno.readTextFile(fixturePath("tokenizer/bert-base-uncased/tokenizer.json")));

for (const [name, postProcessor] of Object.entries(spec.variants)) {
  Deno.test(`post-processor ${name}: matches the Rust tokenizer with and without special tokens`, () => {
    const tokenizer = Tokenizer.fromTokenizerJson({ ...base, post_processor: postProcessor });
    const rows = expected.variants[name];
    assert.ok(rows.length >= 14);
    for (const row of rows) {
      const enc = tokenizer.encode(row.text, row.pair, { addSpecialTokens: row.add_special_tokens });
      const what = `${JSON.stringify(row.text)} + ${
        JSON.stringify(row.pair)
      }, special tokens ${row.add_special_tokens}`;
      assert.deepEqual(enc.tokens, row.tokens, what);
      assert.deepEqual(enc.inputIds, row.ids, what);
      assert.deepEqual(enc.tokenTypeIds, row.type_ids, what);
      assert.deepEqual(enc.offsets, row.offsets, what);
      assert.deepEqual(enc.wordIds, row.word_ids, what);
      assert.deepEqual(enc.sequenceIds, row.sequence_ids, what);
      assert.deepEqual(enc.specialTokensMask, row.special_tokens_mask, what);
    }
  });
}
