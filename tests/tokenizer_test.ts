import assert from "node:assert/strict";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { checkCase, loadCases } from "./tokenizer/fixture_cases.ts";
import { countMapLookups, elapsedMs, LINEAR_MB_BOUND_MS } from "./helpers/work.ts";

const BERT_DIR = new URL("./fixtures/tokenizer/bert-base-uncased/", import.meta.url);
const SST2_DIR = new URL("../weights/sst2-distilbert-small/", import.meta.url);

const bert = await Tokenizer.fromDir(BERT_DIR);

// ---------------------------------------------------------------------------------------------------
// Reference cases from transformers' fast tokenizer.

const cases = await loadCases();
for (const kind of [...new Set(cases.map((c) => c.kind))]) {
  Deno.test(`reference cases: ${kind}`, () => {
    const ofKind = cases.filter((c) => c.kind === kind);
    const failures = ofKind.map((c) => checkCase(bert, c)).filter((f) => f !== null);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ofKind.length} cases fail`);
  });
}

Deno.test("reference cases: all 758 are present", () => {
  assert.equal(cases.length, 758);
});

Deno.test("vocab.txt loading: every SST-2 dev line gives HF's input_ids", async () => {
  const tok = await Tokenizer.fromDir(SST2_DIR);
  const lines = (await Deno.readTextFile(new URL("dev-reference.jsonl", SST2_DIR))).split("\n").filter(
    Boolean,
  );
  assert.equal(lines.length, 872);
  let mismatches = 0;
  for (const line of lines) {
    const { text, input_ids } = JSON.parse(line);
    const ids = tok.encode(text, null, { truncation: true, maxLength: 128 }).inputIds;
    if (JSON.stringify(ids) !== JSON.stringify(input_ids)) mismatches++;
  }
  assert.equal(mismatches, 0);
  assert.equal(tok.tokenToId("[CLS]"), 2);
  assert.equal(tok.modelMaxLength, 128);
});

// ---------------------------------------------------------------------------------------------------
// Offsets, words, special tokens.

Deno.test("offsets are UTF-16 indices: slicing the input gives each token's source", () => {
  const text = "Ça va? 😀 Naïve\u200bcafé, 中文 İstanbul";
  const enc = bert.encode(text);
  const sources = enc.offsets.map(([s, e]) => text.slice(s, e));
  // The zero-width space is removed, so it belongs to no piece of "naïve\u200bcafé".
  assert.deepEqual(sources, [
    "",
    "Ça",
    "va",
    "?",
    "😀",
    "Naïve",
    "ca",
    "fé",
    ",",
    "中",
    "文",
    "İstanbul",
    "",
  ]);
  assert.deepEqual(enc.tokens.slice(1, 8), ["ca", "va", "?", "[UNK]", "naive", "##ca", "##fe"]);
  assert.deepEqual(enc.wordIds, [null, 0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8, null]);
  assert.deepEqual(enc.specialTokensMask, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
});

Deno.test("special tokens written in the text are recognised, case-sensitively", () => {
  const enc = bert.encode("a [MASK] b[SEP]c [mask]");
  assert.deepEqual(enc.tokens, ["[CLS]", "a", "[MASK]", "b", "[SEP]", "c", "[", "mask", "]", "[SEP]"]);
  assert.equal(enc.inputIds[2], 103);
  assert.deepEqual(enc.offsets[2], [2, 8]);
});

/** A fixture folder's spec.json and expected.json, and bert-base-uncased with the spec's added tokens appended. */
function addedTokensFixture(name: string) {
  const dir = new URL(`./fixtures/tokenizer/${name}/`, import.meta.url);
  const spec = JSON.parse(Deno.readTextFileSync(new URL("spec.json", dir)));
  const expected = JSON.parse(Deno.readTextFileSync(new URL("expected.json", dir)));
  const json = JSON.parse(Deno.readTextFileSync(new URL("tokenizer.json", BERT_DIR)));
  json.added_tokens.push(...spec.added_tokens);
  return { spec, expected, tok: Tokenizer.fromTokenizerJson(json) };
}

Deno.test("added tokens with lstrip / rstrip / single_word: ids, tokens and offsets as the Rust tokenizer", () => {
  // scripts/added_tokens_reference.mjs made expected.json: the tokens of a stripping match hold the whitespace
  // it took (" ab "), and a single_word token after an astral letter (U+22AE9) is no match.
  const { spec, expected, tok } = addedTokensFixture("added_tokens");
  assert.equal(expected.rows.length, spec.texts.length + spec.pairs.length);
  for (const row of expected.rows) {
    const got = tok.encode(row.text, row.pair);
    const label = JSON.stringify([row.text, row.pair]);
    assert.deepEqual(got.inputIds, row.ids, label);
    assert.deepEqual(got.tokens, row.tokens, label);
    assert.deepEqual(got.offsets, row.offsets, label);
  }
  // A truncation window keeps the matched text of the added tokens it holds: their source slice.
  const text = "w x ab y z";
  const first = tok.encode(text, null, { truncation: true, maxLength: 4, returnOverflowing: true });
  const rows = [first, ...first.overflowing!];
  assert.ok(rows.length > 1 && rows.slice(1).some((r) => r.inputIds.includes(11113)));
  for (const r of rows) {
    r.inputIds.forEach((id, k) => {
      if (id === 11113) assert.equal(r.tokens[k], text.slice(...r.offsets[k]));
    });
  }
});

Deno.test("added tokens take the ids tokenizers gives them, not the ids tokenizer.json lists", () => {
  // scripts/added_token_ids_reference.mjs made expected.json: a vocabulary word keeps its vocabulary id, new
  // words take the next ids after the vocabulary in order, an empty token is skipped, a token listed twice
  // keeps its first id (and stays special) with the later options (lstrip).
  const { spec, expected, tok } = addedTokensFixture("added_token_ids");
  for (const [content, id] of Object.entries(expected.ids)) {
    assert.equal(tok.tokenToId(content), id ?? undefined, JSON.stringify(content));
  }
  assert.equal(tok.vocabSize, 30525);
  assert.equal(expected.rows.length, spec.texts.length);
  for (const row of expected.rows) {
    const got = tok.encode(row.text);
    assert.deepEqual(got.inputIds, row.ids, row.text);
    assert.deepEqual(got.tokens, row.tokens, row.text);
    assert.deepEqual(got.offsets, row.offsets, row.text);
    assert.equal(tok.decode(got.inputIds), row.decoded, row.text);
    assert.equal(tok.decode(got.inputIds, { skipSpecialTokens: true }), row.decodedSkippingSpecial, row.text);
  }
});

Deno.test("lone surrogates are treated as U+FFFD (what a UTF-8 binding sees) and removed", () => {
  const enc = bert.encode("a\ud800b \udc00 x\ud83d");
  assert.deepEqual(enc.tokens, ["[CLS]", "ab", "x", "[SEP]"]);
  assert.deepEqual(enc.offsets, [[0, 0], [0, 3], [6, 7], [0, 0]]);
  assert.deepEqual(bert.encode("\udfff").tokens, ["[CLS]", "[SEP]"]);
});

Deno.test("lowercasing is per character (no final sigma), as in Rust", () => {
  assert.deepEqual(bert.encode("ΟΔΟΣ", null, { addSpecialTokens: false }).tokens, ["ο", "##δ", "##ο", "##σ"]);
});

Deno.test("a word over 100 characters is one [UNK] covering it", () => {
  const word = "é".repeat(101);
  const enc = bert.encode(`x ${word} y`);
  assert.deepEqual(enc.tokens, ["[CLS]", "x", "[UNK]", "y", "[SEP]"]);
  assert.deepEqual(enc.offsets[2], [2, 103]);
  // Exactly 100 is still pieced.
  assert.notEqual(bert.encode("a".repeat(100), null, { addSpecialTokens: false }).tokens[0], "[UNK]");
});

// ---------------------------------------------------------------------------------------------------
// Truncation, overflow, padding.

const LONG_TEXT = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");

Deno.test("overflow windows with stride: each window re-covers the last `stride` tokens", () => {
  const full = bert.encode(LONG_TEXT, null, { addSpecialTokens: false }).inputIds;
  const enc = bert.encode(LONG_TEXT, null, {
    truncation: true,
    maxLength: 16,
    stride: 4,
    returnOverflowing: true,
  });
  const rows = [enc, ...enc.overflowing!];
  const body = 14; // 16 minus [CLS] and [SEP]
  const step = body - 4;
  assert.equal(rows.length, Math.ceil((full.length - body) / step) + 1);
  rows.forEach((row, k) => {
    assert.equal(row.inputIds[0], 101);
    assert.equal(row.inputIds.at(-1), 102);
    assert.deepEqual(row.inputIds.slice(1, -1), full.slice(k * step, k * step + body));
  });
  assert.equal(rows.at(-1)!.inputIds.at(-2), full.at(-1));
  // Without returnOverflowing the windows are dropped.
  assert.equal(
    bert.encode(LONG_TEXT, null, { truncation: true, maxLength: 16, stride: 4 }).overflowing,
    undefined,
  );
});

Deno.test("question answering: only_second windows over the context, padded to the longest", () => {
  const question = "Where do words go?";
  const q = bert.encode(question, null, { addSpecialTokens: false }).inputIds;
  const ctx = bert.encode(LONG_TEXT, null, { addSpecialTokens: false }).inputIds;
  const batch = bert.encodeBatch([[question, LONG_TEXT]], {
    truncation: "only_second",
    maxLength: 32,
    stride: 8,
    returnOverflowing: true,
    padding: "longest",
  });
  const budget = 32 - 3 - q.length;
  const step = budget - 8;
  const windows = Math.ceil((ctx.length - budget) / step) + 1;
  assert.equal(batch.encodings.length, windows);
  assert.deepEqual(batch.overflowToSampleMapping, new Array(windows).fill(0));
  assert.deepEqual(batch.inputIds.dims, [windows, 32]);
  batch.encodings.forEach((row, k) => {
    const contextIds = row.inputIds.filter((_, i) => row.sequenceIds[i] === 1);
    assert.deepEqual(contextIds, ctx.slice(k * step, k * step + budget));
    assert.deepEqual(row.inputIds.slice(0, q.length + 2), [101, ...q, 102]);
    const typeOnes = row.tokenTypeIds.filter((t, i) => t === 1 && row.attentionMask[i] === 1).length;
    assert.equal(typeOnes, contextIds.length + 1); // the context and its [SEP]
  });
  // Every context token's offsets point into the context string.
  const row = batch.encodings[1];
  const first = row.sequenceIds.indexOf(1);
  const [s, e] = row.offsets[first];
  assert.equal(LONG_TEXT.slice(s, e).toLowerCase(), row.tokens[first].replace(/^##/, ""));
});

Deno.test("truncation errors are thrown as the fast tokenizer raises them", () => {
  assert.throws(
    () => bert.encode("a b c", null, { truncation: "only_second", maxLength: 3 }),
    /second sequence/,
  );
  assert.throws(
    () => bert.encode("a b c d e", "x", { truncation: "only_second", maxLength: 5 }),
    /too short/,
  );
  assert.throws(() => bert.encode(LONG_TEXT, null, { truncation: true, maxLength: 8, stride: 6 }), /stride/);
});

Deno.test("longest_first pairs split on the full token counts, and their windows cover both sequences", () => {
  const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(" ");
  const split = (a: string, b: string, maxLength: number) => {
    const row = bert.encode(a, b, { truncation: "longest_first", maxLength });
    return [row.sequenceIds.filter((s) => s === 0).length, row.sequenceIds.filter((s) => s === 1).length];
  };
  const count = (t: string) => bert.encode(t, null, { addSpecialTokens: false }).inputIds.length;
  const [long, longer, short] = [words(40, "a"), words(60, "b"), "a short one"];
  assert.ok(count(long) > 48 && count(longer) > count(long) && count(short) < 22);
  // Both exceed the budget of 45 (48 minus [CLS] and 2 [SEP]): the longer one gets the odd token, whichever
  // side it is on; a tie gives it to the second.
  assert.deepEqual(split(longer, long, 48), [23, 22]);
  assert.deepEqual(split(long, longer, 48), [22, 23]);
  assert.deepEqual(split(long, long, 48), [22, 23]);
  // The shorter fits in half the budget: it is kept whole and the longer gets the rest.
  assert.deepEqual(split(long, short, 48), [45 - count(short), count(short)]);
  assert.deepEqual(split(short, long, 48), [count(short), 45 - count(short)]);

  // Overflow rows: every window of the first with every window of the second, so both sequences are covered
  // to their last token.
  const first = bert.encode(long, null, { addSpecialTokens: false }).inputIds;
  const second = bert.encode(longer, null, { addSpecialTokens: false }).inputIds;
  const enc = bert.encode(long, longer, {
    truncation: "longest_first",
    maxLength: 48,
    stride: 5,
    returnOverflowing: true,
  });
  const rows = [enc, ...enc.overflowing!];
  const part = (row: typeof enc, seq: number) => row.inputIds.filter((_, i) => row.sequenceIds[i] === seq);
  const windowsOf = (ids: number[], size: number) => {
    const out: number[][] = [];
    for (let start = 0;; start += size - 5) {
      out.push(ids.slice(start, start + size));
      if (start + size >= ids.length) return out;
    }
  };
  const firstWindows = windowsOf(first, 22);
  const secondWindows = windowsOf(second, 23);
  assert.equal(rows.length, firstWindows.length * secondWindows.length);
  const seen = new Set(rows.map((row) => JSON.stringify([part(row, 0), part(row, 1)])));
  for (const a of firstWindows) {
    for (const b of secondWindows) assert.ok(seen.has(JSON.stringify([a, b])), "a window pair is missing");
  }
  assert.equal(firstWindows.at(-1)!.at(-1), first.at(-1));
  assert.equal(secondWindows.at(-1)!.at(-1), second.at(-1));
});

Deno.test("maxLength alone truncates longest_first; truncation: true uses model_max_length", () => {
  assert.equal(bert.encode(LONG_TEXT, null, { maxLength: 10 }).inputIds.length, 10);
  const long = "word ".repeat(600);
  assert.equal(bert.encode(long, null, { truncation: true }).inputIds.length, 512);
  assert.equal(bert.encode(long).inputIds.length, 602);
});

Deno.test("max_length padding pads with [PAD], mask 0, special mask 1", () => {
  const enc = bert.encode("Hello world", null, { padding: "max_length", maxLength: 8 });
  assert.deepEqual(enc.inputIds, [101, 7592, 2088, 102, 0, 0, 0, 0]);
  assert.deepEqual(enc.attentionMask, [1, 1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(enc.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(enc.specialTokensMask, [1, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(enc.offsets.slice(4), [[0, 0], [0, 0], [0, 0], [0, 0]]);
  assert.deepEqual(enc.tokens.at(-1), "[PAD]");
  const batch = bert.encodeBatch(["a", "b c d"], { padding: "max_length", maxLength: 6 });
  assert.deepEqual(batch.inputIds.dims, [2, 6]);
  assert.deepEqual([...batch.attentionMask.data], [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0]);
  const multiple = bert.encodeBatch(["a", "b c d"], { padToMultipleOf: 8 });
  assert.deepEqual(multiple.inputIds.dims, [2, 8]);
});

Deno.test("encodeBatch: tensors match the rows, pairs get type ids 0/1", () => {
  const batch = bert.encodeBatch(["Hello world", ["A question?", "Some context."]]);
  assert.deepEqual(batch.inputIds.dims, [2, 9]);
  for (let r = 0; r < 2; r++) {
    assert.deepEqual([...batch.inputIds.data.subarray(r * 9, r * 9 + 9)], batch.encodings[r].inputIds);
    assert.deepEqual(
      [...batch.tokenTypeIds.data.subarray(r * 9, r * 9 + 9)],
      batch.encodings[r].tokenTypeIds,
    );
  }
  assert.deepEqual(batch.encodings[1].tokenTypeIds, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
  assert.throws(() => bert.encodeBatch(["a", "b c"], { padding: false }), /different lengths/);
});

// ---------------------------------------------------------------------------------------------------
// Decode.

Deno.test("decode: WordPiece joining and transformers' clean-up", () => {
  const ids = bert.encode("I don't know, do not ask me. It's fine!").inputIds;
  assert.equal(bert.decode(ids), "[CLS] i don't know, do not ask me. it's fine! [SEP]");
  assert.equal(bert.decode(ids, { skipSpecialTokens: true }), "i don't know, do not ask me. it's fine!");
  assert.equal(
    bert.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }),
    "i don ' t know, do not ask me. it ' s fine!",
  );
  assert.equal(
    bert.decode(bert.encode("tokenization").inputIds, { skipSpecialTokens: true }),
    "tokenization",
  );
});

// ---------------------------------------------------------------------------------------------------
// tokenizer.json with non-default options, and what cannot be honoured.

function tinyTokenizerJson(normalizer: Record<string, unknown> | null, extra: Record<string, unknown> = {}) {
  const vocab = [
    "[PAD]",
    "[UNK]",
    "<s>",
    "</s>",
    "Hello",
    "hello",
    "café",
    "cafe",
    "中文",
    "中",
    "文",
    "a\u0001b",
    "##s",
  ];
  return {
    added_tokens: [
      { id: 0, content: "[PAD]", special: true, normalized: false },
      { id: 1, content: "[UNK]", special: true, normalized: false },
      { id: 2, content: "<s>", special: true, normalized: false },
      { id: 3, content: "</s>", special: true, normalized: false },
    ],
    normalizer,
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, {
        SpecialToken: { id: "</s>", type_id: 0 },
      }],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }, {
        Sequence: { id: "B", type_id: 2 },
      }],
      special_tokens: {
        "<s>": { id: "<s>", ids: [2], tokens: ["<s>"] },
        "</s>": { id: "</s>", ids: [3], tokens: ["</s>"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
    ...extra,
  };
}

Deno.test("tokenizer.json: cased, accents kept, no CJK splitting, no cleaning, custom template", () => {
  const tok = Tokenizer.fromTokenizerJson(
    tinyTokenizerJson({
      type: "BertNormalizer",
      clean_text: false,
      handle_chinese_chars: false,
      strip_accents: false,
      lowercase: false,
    }),
  );
  assert.deepEqual(tok.encode("Hello hellos café 中文 a\u0001b").tokens, [
    "<s>",
    "Hello",
    "hello",
    "##s",
    "café",
    "中文",
    "a\u0001b",
    "</s>",
  ]);
  assert.deepEqual(tok.encode("Hello", "hello").tokenTypeIds, [0, 0, 2]);
  assert.deepEqual(tok.encode("Hello", "hello").tokens, ["Hello", "</s>", "hello"]);
});

Deno.test("tokenizer.json: strip_accents unset follows lowercase; CJK split when asked", () => {
  const tok = Tokenizer.fromTokenizerJson(tinyTokenizerJson({ type: "BertNormalizer", lowercase: true }));
  assert.deepEqual(tok.encode("HELLO Café 中文", null, { addSpecialTokens: false }).tokens, [
    "hello",
    "cafe",
    "中",
    "文",
  ]);
  const cased = Tokenizer.fromTokenizerJson(
    tinyTokenizerJson({ type: "BertNormalizer", lowercase: false, handle_chinese_chars: true }),
  );
  assert.deepEqual(cased.encode("café Café", null, { addSpecialTokens: false }).tokens, ["café", "[UNK]"]);
});

Deno.test("tokenizer.json: anything not honoured exactly is an error", () => {
  assert.throws(
    () => Tokenizer.fromTokenizerJson(tinyTokenizerJson({ type: "NFKC" })),
    /unsupported normalizer type "NFKC"/,
  );
  const bpe = tinyTokenizerJson(null);
  (bpe.model as Record<string, unknown>).type = "BPE";
  assert.throws(() => Tokenizer.fromTokenizerJson(bpe), /unsupported model type "BPE"/);
  assert.throws(
    () => Tokenizer.fromTokenizerJson(tinyTokenizerJson(null, { pre_tokenizer: { type: "Metaspace" } })),
    /unsupported pre_tokenizer type "Metaspace"/,
  );
  // No pre-tokenizer (null) or none at all: named as such, not as a type "undefined".
  assert.throws(
    () => Tokenizer.fromTokenizerJson(tinyTokenizerJson(null, { pre_tokenizer: null })),
    /unsupported pre_tokenizer null \(only BertPreTokenizer/,
  );
  const noPre = tinyTokenizerJson(null);
  delete (noPre as Record<string, unknown>).pre_tokenizer;
  assert.throws(() => Tokenizer.fromTokenizerJson(noPre), /unsupported pre_tokenizer nothing \(/);
  assert.throws(
    () => Tokenizer.fromVocab("[PAD]\n[UNK]\n", { tokenizer_class: "RobertaTokenizer" }),
    /not a BERT WordPiece tokenizer/,
  );
});

// ---------------------------------------------------------------------------------------------------
// Scale.

Deno.test("1 MB of text: linear work, no stack overflow", () => {
  const sentence = "The quick brown fox, naïvely, jumps over 13 lazy dogs! 中文 ";
  const repeats = Math.ceil(1_000_000 / sentence.length);
  const text = sentence.repeat(repeats);
  let enc = bert.encode("");
  const oneMb = countMapLookups(() => enc = bert.encode(text));
  const perSentence = bert.encode(sentence, null, { addSpecialTokens: false }).inputIds.length;
  assert.equal(enc.inputIds.length, 2 + perSentence * repeats);
  assert.equal(enc.offsets.at(-2)![1], text.length - 1);
  // Twice the text, twice the lookups (counted, so no busy machine changes it); and a time bound only
  // quadratic work reaches at this size.
  let twoMb = 0;
  const ms = elapsedMs(() => twoMb = countMapLookups(() => bert.encode(text + text)));
  assert.ok(twoMb <= 2 * oneMb + 64, `2 MB made ${twoMb} lookups vs ${oneMb} for 1 MB`);
  assert.ok(ms < LINEAR_MB_BOUND_MS, `2 MB took ${ms} ms`);
  // One 1 MB "word" (plain, then needing normalization) is a single [UNK].
  for (const word of ["x".repeat(1_000_000), "É".repeat(1_000_000)]) {
    const one = bert.encode(word);
    assert.deepEqual(one.tokens, ["[CLS]", "[UNK]", "[SEP]"]);
    assert.deepEqual(one.offsets[1], [0, 1_000_000]);
  }
});
