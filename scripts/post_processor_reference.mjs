// Expected encodings of bert-base-uncased's tokenizer with the post-processors of
// tests/fixtures/tokenizer/post_processors/spec.json, from Hugging Face's Rust tokenizer (the npm `tokenizers`
// binding), with and without special tokens. transformers' fast tokenizer hands add_special_tokens to the same
// Rust call, so this is also what `tokenizer(text, add_special_tokens=...)` gives.
//
// Usage: node scripts/post_processor_reference.mjs <folder of the npm "tokenizers" package>
// Writes tests/fixtures/tokenizer/post_processors/expected.json. Offsets are converted from the binding's code
// points to UTF-16 indices, as the JavaScript API reports them.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const pkg = process.argv[2];
if (!pkg) {
  process.stderr.write("usage: node scripts/post_processor_reference.mjs <tokenizers package folder>\n");
  process.exit(2);
}
const tk = createRequire(import.meta.url)(pkg);
const root = new URL("../", import.meta.url);
const dir = new URL("tests/fixtures/tokenizer/post_processors/", root);
const spec = JSON.parse(readFileSync(new URL("spec.json", dir), "utf8"));
const base = JSON.parse(
  readFileSync(new URL("tests/fixtures/tokenizer/bert-base-uncased/tokenizer.json", root), "utf8"),
);

/** Code point index -> UTF-16 index in `text`. */
function utf16(text, cp) {
  return [...text].slice(0, cp).join("").length;
}

const variants = {};
for (const [name, postProcessor] of Object.entries(spec.variants)) {
  const t = tk.Tokenizer.fromString(JSON.stringify({ ...base, post_processor: postProcessor }));
  const rows = [];
  for (const [text, pair] of spec.inputs) {
    for (const addSpecialTokens of [true, false]) {
      const e = await t.encode(text, pair, { addSpecialTokens });
      const sequenceIds = e.getSequenceIds().map((s) => s ?? null);
      rows.push({
        text,
        pair,
        add_special_tokens: addSpecialTokens,
        ids: e.getIds(),
        type_ids: e.getTypeIds(),
        tokens: e.getTokens(),
        offsets: e.getOffsets().map(([start, end], k) => {
          const source = sequenceIds[k] === 1 ? pair : text;
          return sequenceIds[k] === null ? [start, end] : [utf16(source, start), utf16(source, end)];
        }),
        word_ids: e.getWordIds().map((w) => w ?? null),
        sequence_ids: sequenceIds,
        special_tokens_mask: e.getSpecialTokensMask(),
      });
    }
  }
  variants[name] = rows;
}
const version =
  JSON.parse(readFileSync(new URL("package.json", `file://${pkg.replace(/\/?$/, "/")}`), "utf8")).version;
const out = new URL("expected.json", dir);
writeFileSync(
  new URL("expected.json.tmp", dir),
  JSON.stringify({ tokenizers: version, variants }, null, 1) + "\n",
);
renameSync(new URL("expected.json.tmp", dir), out);
console.log(`wrote ${out.pathname}`);
