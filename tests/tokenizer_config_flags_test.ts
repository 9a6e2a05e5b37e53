// A tokenizer.json beside a tokenizer_config.json whose do_lower_case / strip_accents / tokenize_chinese_chars
// disagree with its normalizer (tests/fixtures/tokenizer/config_flags/spec.json), against transformers 4.31's
// AutoTokenizer (scripts/tokenizer_config_reference.py wrote expected.json).

import assert from "node:assert/strict";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { fixturePath } from "./helpers/reference.ts";

const spec = JSON.parse(await Deno.readTextFile(fixturePath("tokenizer/config_flags/spec.json"))) as {
  extra_vocab: string[];
  cases: Record<string, [Record<string, unknown>, Record<string, unknown>]>;
};
const expected = JSON.parse(await Deno.readTextFile(fixturePath("tokenizer/config_flags/expected.json"))) as {
  cases: Record<string, { rows: { text: string; ids: number[]; tokens: string[] }[] }>;
};
const base = JSON.parse(await Deno.readTextFile(fixturePath("tokenizer/bert-base-uncased/tokenizer.json")));

for (const [name, [normalizer, config]] of Object.entries(spec.cases)) {
  Deno.test(`tokenizer.json + tokenizer_config.json ${name}: as transformers' AutoTokenizer`, async () => {
    const doc = structuredClone(base);
    doc.normalizer = { ...doc.normalizer, ...normalizer };
    let id = Object.keys(doc.model.vocab).length;
    for (const token of spec.extra_vocab) doc.model.vocab[token] = id++;
    const dir = await Deno.makeTempDir({ prefix: "config-flags-" });
    try {
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(doc));
      await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(config));
      const tokenizer = await Tokenizer.fromDir(dir);
      const rows = expected.cases[name].rows;
      assert.equal(rows.length, 4);
      for (const row of rows) {
        const enc = tokenizer.encode(row.text);
        assert.deepEqual(enc.tokens, row.tokens, JSON.stringify(row.text));
        assert.deepEqual(enc.inputIds, row.ids, JSON.stringify(row.text));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
