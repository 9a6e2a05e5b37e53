// The ids Hugging Face's Rust tokenizer (the npm `tokenizers` binding) gives added tokens whose ids in
// tokenizer.json are not consistent (tests/fixtures/tokenizer/added_token_ids/spec.json, appended to
// bert-base-uncased's tokenizer.json), and its encodings and decodings of the spec's texts.
//
// Usage: node scripts/added_token_ids_reference.mjs <folder of the npm "tokenizers" package>
// Writes tests/fixtures/tokenizer/added_token_ids/expected.json. The spec's texts are ASCII, so the binding's
// code point offsets are also UTF-16 offsets.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const pkg = process.argv[2];
if (!pkg) {
  process.stderr.write("usage: node scripts/added_token_ids_reference.mjs <tokenizers package folder>\n");
  process.exit(2);
}
const tk = createRequire(import.meta.url)(pkg);
const root = new URL("../", import.meta.url);
const dir = new URL("tests/fixtures/tokenizer/added_token_ids/", root);
const spec = JSON.parse(readFileSync(new URL("spec.json", dir), "utf8"));
if (spec.texts.some((t) => [...t].some((c) => c.codePointAt(0) > 0x7f))) {
  throw new Error("the spec's texts must be ASCII");
}
const doc = JSON.parse(
  readFileSync(new URL("tests/fixtures/tokenizer/bert-base-uncased/tokenizer.json", root), "utf8"),
);
doc.added_tokens.push(...spec.added_tokens);
const t = tk.Tokenizer.fromString(JSON.stringify(doc));

const ids = Object.fromEntries(spec.contents.map((c) => [c, t.tokenToId(c) ?? null]));
const rows = [];
for (const text of spec.texts) {
  const e = await t.encode(text, null);
  rows.push({
    text,
    ids: e.getIds(),
    tokens: e.getTokens(),
    offsets: e.getOffsets(),
    decoded: await t.decode(e.getIds(), false),
    decodedSkippingSpecial: await t.decode(e.getIds(), true),
  });
}
const version =
  JSON.parse(readFileSync(new URL("package.json", `file://${pkg.replace(/\/?$/, "/")}`), "utf8")).version;
const out = new URL("expected.json", dir);
writeFileSync(
  new URL("expected.json.tmp", dir),
  JSON.stringify({ tokenizers: version, ids, rows }, null, 1) + "\n",
);
renameSync(new URL("expected.json.tmp", dir), out);
console.log(`wrote ${out.pathname}`);
