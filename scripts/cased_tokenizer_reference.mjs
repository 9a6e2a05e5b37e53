// Expected encodings of the cased / multilingual BERT tokenizer variants in
// tests/fixtures/tokenizer/cased/spec.json, from Hugging Face's Rust tokenizer (the npm `tokenizers` binding).
// Each variant is bert-base-uncased's tokenizer.json with the variant's normalizer options and the spec's extra
// vocabulary, built the same way tests/helpers/cased_tokenizers.ts builds it.
//
// Usage: node scripts/cased_tokenizer_reference.mjs <folder of the npm "tokenizers" package>
// Writes tests/fixtures/tokenizer/cased/expected.json.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const pkg = process.argv[2];
if (!pkg) {
  process.stderr.write("usage: node scripts/cased_tokenizer_reference.mjs <tokenizers package folder>\n");
  process.exit(2);
}
const tk = createRequire(import.meta.url)(pkg);
const root = new URL("../", import.meta.url);
const dir = new URL("tests/fixtures/tokenizer/cased/", root);
const spec = JSON.parse(readFileSync(new URL("spec.json", dir), "utf8"));
const base = JSON.parse(
  readFileSync(new URL("tests/fixtures/tokenizer/bert-base-uncased/tokenizer.json", root), "utf8"),
);

function variantJson(options) {
  const doc = structuredClone(base);
  doc.normalizer = { ...doc.normalizer, ...options };
  let id = Object.keys(doc.model.vocab).length;
  for (const token of spec.extra_vocab) {
    if (token in doc.model.vocab) throw new Error(`extra token ${token} is already in the vocabulary`);
    doc.model.vocab[token] = id++;
  }
  return JSON.stringify(doc);
}

const expected = { tokenizers: tk.Tokenizer ? "npm tokenizers" : "?", variants: {} };
for (const [name, options] of Object.entries(spec.variants)) {
  const t = tk.Tokenizer.fromString(variantJson(options));
  const rows = [];
  const inputs = [...spec.texts.map((text) => [text, null]), ...spec.pairs];
  for (const [text, pair] of inputs) {
    const e = await t.encode(text, pair);
    rows.push({ text, pair, ids: e.getIds(), type_ids: e.getTypeIds(), tokens: e.getTokens() });
  }
  expected.variants[name] = rows;
}
expected.tokenizers =
  JSON.parse(readFileSync(new URL("package.json", `file://${pkg.replace(/\/?$/, "/")}`), "utf8")).version;
const out = new URL("expected.json", dir);
writeFileSync(new URL("expected.json.tmp", dir), JSON.stringify(expected, null, 1) + "\n");
renameSync(new URL("expected.json.tmp", dir), out);
console.log(`wrote ${out.pathname}`);
