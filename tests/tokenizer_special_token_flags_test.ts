// vocab.txt + a tokenizer_config.json whose special tokens are serialized AddedTokens with lstrip / rstrip /
// single_word (tests/fixtures/tokenizer/special_token_flags/spec.json), against transformers 4.31's AutoTokenizer
// (scripts/special_token_flags_reference.py wrote expected.json).

import assert from "node:assert/strict";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { fixturePath } from "./helpers/reference.ts";

const spec = JSON.parse(await Deno.readTextFile(fixturePath("tokenizer/special_token_flags/spec.json"))) as {
  configs: Record<string, Record<string, unknown>>;
};
const expected = JSON.parse(
  await Deno.readTextFile(fixturePath("tokenizer/special_token_flags/expected.json")),
) as {
  configs: Record<
    string,
    { text: string; ids: number[]; tokens: string[]; offsets: [number, number][]; decoded: string }[]
  >;
};
const vocab = await Deno.readTextFile(fixturePath("tokenizer/bert-base-uncased/vocab.txt"));

for (const [name, config] of Object.entries(spec.configs)) {
  Deno.test(`special token flags ${name}: vocab.txt + tokenizer_config.json as transformers' AutoTokenizer`, () => {
    const tokenizer = Tokenizer.fromVocab(vocab, config);
    const rows = expected.configs[name];
    assert.equal(rows.length, 5);
    for (const row of rows) {
      const enc = tokenizer.encode(row.text);
      const what = JSON.stringify(row.text);
      assert.deepEqual(enc.tokens, row.tokens, what);
      assert.deepEqual(enc.inputIds, row.ids, what);
      assert.deepEqual(enc.offsets, row.offsets, what);
      assert.equal(tokenizer.decode(enc.inputIds), row.decoded, what);
    }
  });
}

Deno.test("special token flags: a special token that asks to be matched after normalization is an error", () => {
  assert.throws(
    () =>
      Tokenizer.fromVocab(vocab, {
        mask_token: { __type: "AddedToken", content: "[MASK]", normalized: true },
      }),
    /special token "\[MASK\]" has normalized: true, which is not supported/,
  );
});
