// Expected encodings of added tokens with lstrip / rstrip / single_word (tests/fixtures/tokenizer/added_tokens/
// spec.json), from Hugging Face's Rust tokenizer (the npm `tokenizers` binding): bert-base-uncased's
// tokenizer.json with the spec's added tokens appended, each at the id tokenizers itself gives it.
//
// Usage: node scripts/added_tokens_reference.mjs <folder of the npm "tokenizers" package>
// Writes tests/fixtures/tokenizer/added_tokens/expected.json. Offsets are converted from the binding's code
// points to UTF-16 indices, which is what our tokenizer reports.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const pkg = process.argv[2];
if (!pkg) {
  process.stderr.write("usage: node scripts/added_tokens_reference.mjs <tokenizers package folder>\n");
  process.exit(2);
}
const tk = createRequire(import.meta.url)(pkg);
const root = new URL("../", import.meta.url);
const dir = new URL("tests/fixtures/tokenizer/added_tokens/", root);
const spec = JSON.parse(readFileSync(new URL("spec.json", dir), "utf8"));
const doc = JSON.parse(
  readFileSync(new URL("tests/fixtures/tokenizer/bert-base-uncased/tokenizer.json", root), "utf8"),
);
doc.added_tokens.push(...spec.added_tokens);
const t = tk.Tokenizer.fromString(JSON.stringify(doc));
for (const added of spec.added_tokens) {
  // tokenizers gives an added token the vocabulary's id, or the next free one: the spec must say the same.
  if (t.tokenToId(added.content) !== added.id) {
    throw new Error(`${added.content}: id ${t.tokenToId(added.content)}`);
  }
}

/** UTF-16 index of each code point index of `text`. */
function utf16Of(text) {
  const at = [];
  let u = 0;
  for (const ch of text) at.push(u), u += ch.length;
  at.push(u);
  return at;
}

const rows = [];
for (const [text, pair] of [...spec.texts.map((text) => [text, null]), ...spec.pairs]) {
  const e = await t.encode(text, pair);
  const seqs = e.getSequenceIds();
  const maps = [utf16Of(text), pair === null ? null : utf16Of(pair)];
  const offsets = e.getOffsets().map(([s, end], i) =>
    seqs[i] === null ? [s, end] : [maps[seqs[i]][s], maps[seqs[i]][end]]
  );
  rows.push({ text, pair, ids: e.getIds(), tokens: e.getTokens(), offsets });
}
const version =
  JSON.parse(readFileSync(new URL("package.json", `file://${pkg.replace(/\/?$/, "/")}`), "utf8")).version;
const out = new URL("expected.json", dir);
writeFileSync(
  new URL("expected.json.tmp", dir),
  JSON.stringify({ tokenizers: version, rows }, null, 1) + "\n",
);
renameSync(new URL("expected.json.tmp", dir), out);
console.log(`wrote ${out.pathname}`);
