// Cased and multilingual BERT vocabularies: each variant of tests/fixtures/tokenizer/cased/spec.json (lowercase,
// strip_accents, tokenize_chinese_chars) through tokenizer.json and through vocab.txt + tokenizer_config.json,
// against Hugging Face's Rust tokenizer (scripts/cased_tokenizer_reference.mjs wrote expected.json), for
// single texts and pairs (token type ids 0/1).

import assert from "node:assert/strict";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { fixturePath } from "./helpers/reference.ts";

interface Options {
  lowercase: boolean;
  strip_accents: boolean | null;
  handle_chinese_chars: boolean;
}
interface Row {
  text: string;
  pair: string | null;
  ids: number[];
  type_ids: number[];
  tokens: string[];
}

const spec = JSON.parse(await Deno.readTextFile(fixturePath("tokenizer/cased/spec.json"))) as {
  extra_vocab: string[];
  variants: Record<string, Options>;
};
const expected = JSON.parse(await Deno.readTextFile(fixturePath("tokenizer/cased/expected.json"))) as {
  variants: Record<string, Row[]>;
};
const BASE = fixturePath("tokenizer/bert-base-uncased/");

// The same derivation as scripts/cased_tokenizer_reference.mjs: bert-base-uncased with the variant's normalizer
// and the extra vocabulary appended.
async function tokenizerJsonFolder(options: Options): Promise<string> {
  const doc = JSON.parse(await Deno.readTextFile(`${BASE}tokenizer.json`));
  doc.normalizer = { ...doc.normalizer, ...options };
  let id = Object.keys(doc.model.vocab).length;
  for (const token of spec.extra_vocab) doc.model.vocab[token] = id++;
  const dir = await Deno.makeTempDir({ prefix: "cased-json-" });
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(doc));
  return dir;
}

// transformers' names for the same options, for the vocab.txt path.
async function vocabFolder(options: Options): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "cased-vocab-" });
  const vocab = (await Deno.readTextFile(`${BASE}vocab.txt`)).replace(/\n?$/, "\n") +
    spec.extra_vocab.join("\n") +
    "\n";
  await Deno.writeTextFile(`${dir}/vocab.txt`, vocab);
  const config = JSON.parse(await Deno.readTextFile(`${BASE}tokenizer_config.json`));
  config.do_lower_case = options.lowercase;
  config.strip_accents = options.strip_accents;
  config.tokenize_chinese_chars = options.handle_chinese_chars;
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(config));
  return dir;
}

for (const [name, options] of Object.entries(spec.variants)) {
  Deno.test(`cased tokenizer variant ${name}: tokenizer.json and vocab.txt match the Rust tokenizer`, async () => {
    const rows = expected.variants[name];
    assert.ok(rows.length >= 10);
    for (const make of [tokenizerJsonFolder, vocabFolder]) {
      const dir = await make(options);
      try {
        const tokenizer = await Tokenizer.fromDir(dir);
        for (const row of rows) {
          const enc = tokenizer.encode(row.text, row.pair);
          const what = `${make.name} ${JSON.stringify(row.text)}${
            row.pair ? ` + ${JSON.stringify(row.pair)}` : ""
          }`;
          assert.deepEqual(enc.tokens, row.tokens, what);
          assert.deepEqual(enc.inputIds, row.ids, what);
          assert.deepEqual(enc.tokenTypeIds, row.type_ids, what);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  });
}

Deno.test("cased variants differ where their options do (the references are not all alike)", () => {
  const tokens = (v: string, i: number) => expected.variants[v][i].tokens.join(" ");
  assert.notEqual(tokens("cased", 2), tokens("cased-strip-accents", 2));
  assert.notEqual(tokens("cased", 2), tokens("uncased-keep-accents", 2));
  assert.notEqual(tokens("cased", 4), tokens("cased-no-chinese-chars", 4));
  assert.ok(expected.variants.cased.some((r) => r.type_ids.includes(1)));
});
