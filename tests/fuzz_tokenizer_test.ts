// Fuzzing the tokenizer: random Unicode (astral planes, lone surrogates, combining runs, control
// characters, added-token fragments) at random lengths up to 1 MB, with offsets checked against the input
// every time; time linear in length; and mutated tokenizer.json / tokenizer_config.json / vocab.txt files,
// which must load or throw an Error with a clear message.

import assert from "node:assert/strict";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import type { EncodeOptions, Encoding } from "../src/tokenizer/mod.ts";
import { outcome, repoPath, Rng } from "./helpers/fuzz.ts";
import { countMapLookups, elapsedMs, LINEAR_MB_BOUND_MS, SMALL_INPUT_BOUND_MS } from "./helpers/work.ts";

const DIR = repoPath("tests/fixtures/tokenizer/bert-base-uncased");
const TOKENIZER_JSON = JSON.parse(Deno.readTextFileSync(`${DIR}/tokenizer.json`));
const TOKENIZER_CONFIG = JSON.parse(Deno.readTextFileSync(`${DIR}/tokenizer_config.json`));
const VOCAB_TXT = Deno.readTextFileSync(`${DIR}/vocab.txt`);

// ---------------------------------------------------------------------------------------------------
// Random text

const WORDS = [
  "the",
  "Hello",
  "WORLD",
  "naïve",
  "café",
  "don't",
  "unaffable",
  "tokenization",
  "İstanbul",
  "straße",
];
const PIECES: ((r: Rng) => string)[] = [
  (r) => r.pick(WORDS),
  (r) => " ".repeat(r.range(1, 3)),
  (r) => r.pick([".", ",", "!", "?", "'", "-", "$", "(", ")", "#", "##", "…", "«", "»", "¿"]),
  (r) => String.fromCodePoint(r.range(0x1f300, 0x1faff)), // emoji (astral)
  (r) => String.fromCodePoint(r.range(0x20000, 0x2a6df)), // CJK extension B (astral, CJK)
  (r) => String.fromCodePoint(r.range(0x4e00, 0x9fff)), // CJK
  (r) => String.fromCharCode(r.range(0xd800, 0xdfff)), // lone surrogate
  (r) =>
    "e" + Array.from({ length: r.range(1, 40) }, () => String.fromCharCode(r.range(0x300, 0x36f))).join(""),
  (r) =>
    String.fromCharCode(r.pick([0, 1, 7, 8, 9, 10, 11, 12, 13, 27, 0x7f, 0x85, 0x9f, 0xad, 0x200b, 0xfeff])),
  (r) => String.fromCharCode(r.pick([0xa0, 0x2000, 0x2028, 0x2029, 0x3000, 0x1680, 0x202f])), // whitespace
  (r) => r.pick(["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MAS", "MASK]", "[[MASK]]", "a[MASK]b"]),
  (r) => String.fromCodePoint(r.range(0x80, 0x2fff)), // Latin-1 .. CJK symbols: accents, Greek, Cyrillic...
  (r) => String.fromCodePoint(r.range(0xe000, 0xfffd)), // private use, compatibility forms, U+FFFD
  (r) => String.fromCodePoint(r.range(0x10000, 0x10ffff)), // any astral plane
  () => "ǅ" + "ﬁ" + "ẞ" + "Σ" + "ς", // title case, ligature, capital sharp s, sigma
  (r) => "x".repeat(r.range(90, 260)), // around max_input_chars_per_word
];

/** A random string of about `length` UTF-16 units. */
function randomText(r: Rng, length: number): string {
  const parts: string[] = [];
  let n = 0;
  while (n < length) {
    const p = r.pick(PIECES)(r);
    parts.push(p);
    n += p.length;
  }
  return parts.join("");
}

const isHigh = (u: number) => u >= 0xd800 && u <= 0xdbff;
const isLow = (u: number) => u >= 0xdc00 && u <= 0xdfff;

/** Offsets, ids and the parallel arrays of one row must be consistent with the input texts. */
function checkRow(
  label: string,
  tok: Tokenizer,
  row: Encoding,
  text: string,
  pair: string | null,
  strict = true,
): void {
  const n = row.inputIds.length;
  for (
    const key of ["attentionMask", "tokenTypeIds", "tokens", "offsets", "wordIds", "sequenceIds"] as const
  ) {
    assert.equal(row[key].length, n, `${label}: ${key} length`);
  }
  let prevStart = [0, 0];
  for (let k = 0; k < n; k++) {
    const id = row.inputIds[k];
    assert.ok(Number.isInteger(id) && id >= 0 && id < tok.vocabSize, `${label}: id ${id} at ${k}`);
    if (strict) assert.equal(row.tokens[k], tok.idToToken(id), `${label}: token ${k} does not match its id`);
    const seq = row.sequenceIds[k];
    const [start, end] = row.offsets[k];
    if (seq === null) {
      assert.deepEqual([start, end], [0, 0], `${label}: special token ${k} offsets`);
      continue;
    }
    const src = seq === 0 ? text : pair!;
    assert.ok(
      Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= src.length,
      `${label}: token ${k} ${
        JSON.stringify(row.tokens[k])
      } offsets [${start}, ${end}) outside [0, ${src.length}]`,
    );
    assert.ok(
      !(isLow(src.charCodeAt(start)) && isHigh(src.charCodeAt(start - 1))),
      `${label}: ${k} starts mid-pair`,
    );
    assert.ok(
      !(isLow(src.charCodeAt(end)) && isHigh(src.charCodeAt(end - 1))),
      `${label}: ${k} ends mid-pair`,
    );
    assert.ok(start >= prevStart[seq], `${label}: token ${k} starts before the previous one`);
    prevStart[seq] = start;
    // A plain ASCII alphanumeric source slice must be exactly the (lowercased) token.
    const slice = src.slice(start, end);
    if (strict && /^[A-Za-z0-9]+$/.test(slice) && row.tokens[k] !== "[UNK]") {
      assert.equal(
        row.tokens[k].replace(/^##/, ""),
        slice.toLowerCase(),
        `${label}: token ${k} vs its source`,
      );
    }
  }
  prevStart = [0, 0];
}

const TOKENIZER = Tokenizer.fromTokenizerJson(TOKENIZER_JSON, TOKENIZER_CONFIG);
const FROM_VOCAB = Tokenizer.fromVocab(VOCAB_TXT, TOKENIZER_CONFIG);
const SPECIAL_IDS = new Set<number>(
  (TOKENIZER_JSON.added_tokens as { id: number; special: boolean }[]).filter((t) => t.special).map((t) =>
    t.id
  ),
);

/**
 * decode() against properties it must have on a whole (untruncated) row: without transformers' clean-up, encoding
 * the decoded text gives back the same ids (special tokens dropped with `skipSpecialTokens`: their text is an
 * added token again otherwise); the clean-up only removes spaces. (The clean-up itself does not round-trip: its
 * " n't" rule joins a lone "n" to the word before it.)
 */
function checkDecode(label: string, ids: readonly number[], skipSpecialTokens: boolean): void {
  const expected = skipSpecialTokens ? ids.filter((id) => !SPECIAL_IDS.has(id)) : ids;
  const plain = TOKENIZER.decode(ids, { skipSpecialTokens, cleanUpTokenizationSpaces: false });
  assert.deepEqual(
    TOKENIZER.encode(plain, null, { addSpecialTokens: false }).inputIds,
    expected,
    `${label}: decode() does not round-trip: ${JSON.stringify(plain.slice(0, 200))}`,
  );
  const cleaned = TOKENIZER.decode(ids, { skipSpecialTokens });
  assert.equal(
    cleaned.replaceAll(" ", ""),
    plain.replaceAll(" ", ""),
    `${label}: the clean-up changed more than spaces`,
  );
}

Deno.test("tokenizer fuzz: random Unicode texts and pairs keep every offset inside the input", () => {
  const r = new Rng(11);
  const started = performance.now();
  let tokens = 0;
  for (let i = 0; i < 600; i++) {
    const text = randomText(r, r.pick([0, 1, 5, 30, 200, 2000]));
    const pair = r.chance(0.3) ? randomText(r, r.range(0, 300)) : null;
    const options: EncodeOptions = r.pick<EncodeOptions>([
      {},
      { addSpecialTokens: false },
      { truncation: true, maxLength: r.range(3, 64), stride: r.range(0, 2), returnOverflowing: true },
      { padding: "max_length", maxLength: 512, truncation: true },
      { padding: true, padToMultipleOf: 8 },
    ]);
    const label = `case ${i}`;
    let row: Encoding | undefined;
    const o = outcome(label, () => row = TOKENIZER.encode(text, pair, options));
    if (!o.ok) {
      // The only documented failures: a stride too long for the window, or a pair that cannot be cut.
      assert.match(o.error.message, /stride|truncation error|leaves no room/, `${label}: ${o.error.message}`);
      continue;
    }
    tokens += row!.inputIds.length;
    checkRow(label, TOKENIZER, row!, text, pair);
    for (const [w, over] of (row!.overflowing ?? []).entries()) {
      checkRow(`${label} window ${w + 1}`, TOKENIZER, over, text, pair);
    }
    if (options.maxLength && options.truncation) {
      // With no room left beside the special tokens, tokenizers moves the whole sequence into one overflow
      // row (Encoding::truncate(0)), longer than maxLength; otherwise every row fits.
      const roomy = options.maxLength > (pair === null ? 2 : 3);
      for (const x of roomy ? [row!, ...(row!.overflowing ?? [])] : [row!]) {
        assert.ok(x.attentionMask.reduce((a, b) => a + b, 0) <= options.maxLength, `${label}: row too long`);
      }
    }
    // vocab.txt and tokenizer.json give the same tokenizer.
    if (i % 4 === 0) {
      assert.deepEqual(
        FROM_VOCAB.encode(text, pair, options).inputIds,
        row!.inputIds,
        `${label}: vocab.txt differs`,
      );
    }
    // Drawn every tenth case only, so the random sequence (and every case after this one) stays as it was.
    const skipSpecialTokens = i % 10 === 0 ? r.chance(0.5) : i % 2 === 0;
    if (!options.truncation) checkDecode(label, row!.inputIds, skipSpecialTokens);
  }
  console.log(`  600 random texts, ${tokens} tokens, ${(performance.now() - started).toFixed(0)} ms`);
});

Deno.test("tokenizer fuzz: encodeBatch rows equal encode rows", () => {
  const r = new Rng(12);
  const texts = Array.from({ length: 40 }, () => randomText(r, r.range(0, 120)));
  const batch = TOKENIZER.encodeBatch(texts);
  const [rows, length] = batch.inputIds.dims;
  assert.equal(rows, texts.length);
  for (let i = 0; i < texts.length; i++) {
    const single = TOKENIZER.encode(texts[i], null, { padding: "max_length", maxLength: length });
    assert.deepEqual(Array.from(batch.inputIds.data.subarray(i * length, (i + 1) * length)), single.inputIds);
    assert.deepEqual(
      Array.from(batch.attentionMask.data.subarray(i * length, (i + 1) * length)),
      single.attentionMask,
    );
    checkRow(`batch row ${i}`, TOKENIZER, batch.encodings[i], texts[i], null);
  }
});

Deno.test("tokenizer fuzz: bad arguments throw clear errors, never hang", () => {
  const bad: [string, () => unknown][] = [
    ["maxLength NaN", () => TOKENIZER.encode("a b c d e f", null, { truncation: true, maxLength: NaN })],
    [
      "maxLength Infinity + max_length padding",
      () => TOKENIZER.encode("a", null, { padding: "max_length", maxLength: Infinity }),
    ],
    ["maxLength 2.5", () => TOKENIZER.encode("a b c d e f", null, { truncation: true, maxLength: 2.5 })],
    ["maxLength -1", () => TOKENIZER.encode("a b c", null, { truncation: true, maxLength: -1 })],
    [
      "stride -1",
      () =>
        TOKENIZER.encode("a b c d e f", null, {
          truncation: true,
          maxLength: 4,
          stride: -1,
          returnOverflowing: true,
        }),
    ],
    [
      "stride NaN",
      () => TOKENIZER.encode("a b c d e f", null, { truncation: true, maxLength: 4, stride: NaN }),
    ],
    [
      "stride too long",
      () => TOKENIZER.encode("a b c d e f", null, { truncation: true, maxLength: 4, stride: 2 }),
    ],
    ["padToMultipleOf 0.5", () => TOKENIZER.encode("a", null, { padding: true, padToMultipleOf: 0.5 })],
    // deno-lint-ignore no-explicit-any
    ["truncation bogus", () => TOKENIZER.encode("a", null, { truncation: "bogus" as any, maxLength: 3 })],
    // deno-lint-ignore no-explicit-any
    ["padding bogus", () => TOKENIZER.encode("a", null, { padding: "bogus" as any })],
    [
      "only_second without pair",
      () => TOKENIZER.encode("a b c d", null, { truncation: "only_second", maxLength: 3 }),
    ],
    [
      "only_first too short",
      () => TOKENIZER.encode("a", "b c d e f g", { truncation: "only_first", maxLength: 5 }),
    ],
    ["maxLength below specials", () => TOKENIZER.encode("a", "b", { truncation: true, maxLength: 2 })],
    // Unknown names and non-boolean flags were ignored or read as truthy: the text went through whole.
    ["option max_length", () => TOKENIZER.encode("a b c d e f", null, { max_length: 3 } as EncodeOptions)],
    ["option typo", () => TOKENIZER.encode("a", null, { maxLenght: 3 } as EncodeOptions)],
    [
      "returnOverflowing string",
      () => TOKENIZER.encode("a b c", null, { maxLength: 3, returnOverflowing: "no" } as never),
    ],
    ["addSpecialTokens string", () => TOKENIZER.encodeBatch(["a"], { addSpecialTokens: "false" } as never)],
    ["decode option snake_case", () => TOKENIZER.decode([101, 102], { skip_special_tokens: true } as never)],
    ["decode flag string", () => TOKENIZER.decode([101, 102], { skipSpecialTokens: "yes" } as never)],
    ["decode options null", () => TOKENIZER.decode([101, 102], null as never)],
    // deno-lint-ignore no-explicit-any
    ["text null", () => TOKENIZER.encode(null as any)],
    // deno-lint-ignore no-explicit-any
    ["text number", () => TOKENIZER.encode(5 as any)],
    // deno-lint-ignore no-explicit-any
    ["pair number", () => TOKENIZER.encode("a", 5 as any)],
    // deno-lint-ignore no-explicit-any
    ["batch not array", () => TOKENIZER.encodeBatch("abc" as any)],
    // deno-lint-ignore no-explicit-any
    ["batch item null", () => TOKENIZER.encodeBatch(["a", null as any])],
    // deno-lint-ignore no-explicit-any
    ["batch pair of three", () => TOKENIZER.encodeBatch([["a", "b", "c"] as any])],
  ];
  for (const [label, fn] of bad) {
    let o: ReturnType<typeof outcome> | undefined;
    const ms = elapsedMs(() => o = outcome(label, fn));
    assert.equal(o!.ok, false, `${label}: expected an error`);
    assert.match(o!.error!.message, /^Tokenizer: /, `${label}: ${o!.error!.message}`);
    assert.ok(ms < SMALL_INPUT_BOUND_MS, `${label} took ${ms} ms`);
  }
  // Decoding ids that do not exist drops them, as tokenizers does; nothing throws.
  assert.equal(TOKENIZER.decode([-1, 1.5, NaN, 1e12, 101, 7592, 102]), "[CLS] hello [SEP]");
  assert.equal(TOKENIZER.decode([101, -1, 7592, 30522, 1012, 102], { skipSpecialTokens: true }), "hello.");
});

Deno.test("tokenizer fuzz: work is linear in length and pathological inputs finish within a bound", () => {
  const r = new Rng(13);
  const encode = (text: string) => {
    const row = TOKENIZER.encode(text);
    const last = row.offsets[row.offsets.length - 2];
    if (last && row.sequenceIds[row.offsets.length - 2] !== null) assert.ok(last[1] <= text.length);
  };
  // Work is counted (vocabulary and added-token lookups), so a busy machine cannot change it: four times the
  // input is about four times the lookups when linear, sixteen when quadratic. The time bound catches quadratic
  // work the counts do not see (the added-token regex, string building) at sizes where it would take minutes.
  const check = (label: string, text: string) => {
    const quarter = countMapLookups(() => encode(text.slice(0, text.length / 4)));
    const full = countMapLookups(() => encode(text));
    const ms = elapsedMs(() => encode(text));
    console.log(
      `  ${label}: ${(text.length / 1024).toFixed(0)} K units ${
        ms.toFixed(0)
      } ms, lookups ${full} (a quarter: ${quarter})`,
    );
    assert.ok(
      full <= 4.5 * quarter + 64,
      `${label}: ${full} lookups vs ${quarter} for a quarter of the text`,
    );
    assert.ok(ms < LINEAR_MB_BOUND_MS, `${label}: took ${ms} ms`);
  };
  check("random text", randomText(r, 1 << 20));
  const MB = 1 << 20;
  const pathological: [string, string][] = [
    ["one word", "a".repeat(MB)],
    ["one accented word", "é".repeat(MB)],
    ["combining run", "e" + "\u0301".repeat(MB - 1)],
    ["lone surrogates", "\ud800".repeat(MB)],
    ["emoji", "😀".repeat(MB / 2)],
    ["CJK", "中".repeat(MB)],
    ["punctuation", "!".repeat(MB)],
    ["whitespace", " \t\n\u3000".repeat(MB / 4)],
    ["control characters", "\u0001\u200b".repeat(MB / 2)],
    ["added tokens", "[MASK]".repeat(Math.floor(MB / 6))],
    ["near-miss added tokens", "[MAS".repeat(MB / 4)],
    ["continuation prefixes", "##".repeat(MB / 2)],
    ["words at the length limit", ("x".repeat(100) + " ").repeat(Math.floor(MB / 101))],
    ["unknown pieces", ("qzxv" + "ǆ").repeat(Math.floor(MB / 5))],
  ];
  for (const [label, text] of pathological) check(label, text);
});

// ---------------------------------------------------------------------------------------------------
// Config files

/** A random JSON value, occasionally huge or of a surprising type. */
function randomValue(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => null,
    () => r.chance(0.5),
    () => r.pick([0, 1, -1, 1.5, 2 ** 31, 2 ** 53, 1e300, -0]),
    () => r.pick(["", "x", "[UNK]", "##", "WordPiece", "BertNormalizer", "1", "true"]),
    () => [],
    () => [r.int(5), "x"],
    () => ({}),
    () => ({ type: "WordPiece", vocab: {} }),
  ])();
}

/** Replaces, deletes or adds one value somewhere in a JSON tree (biased towards shallow paths). */
function mutateJson(r: Rng, root: Record<string, unknown>): void {
  let node: Record<string, unknown> = root;
  for (;;) {
    const keys = Object.keys(node);
    if (keys.length === 0) {
      node[r.pick(["type", "id", "content", "vocab", "x"])] = randomValue(r);
      return;
    }
    const key = r.pick(keys);
    const child = node[key];
    if (child !== null && typeof child === "object" && r.chance(0.6) && Object.keys(child).length < 40) {
      node = child as Record<string, unknown>;
      continue;
    }
    if (r.chance(0.2)) {
      // Parsed JSON has no holes: remove array items by splicing.
      if (Array.isArray(node)) node.splice(Number(key), 1);
      else delete node[key];
    } else node[key] = randomValue(r);
    return;
  }
}

/** Loads, then encodes, decodes and batches a few texts; any failure must be an Error with a clear message. */
function exerciseTokenizer(label: string, load: () => Tokenizer, r: Rng): void {
  let tok: Tokenizer | undefined;
  if (!outcome(`${label} (load)`, () => tok = load()).ok) return;
  for (const text of ["Hello, world! [MASK] naïve 中文 😀", randomText(r, 40)]) {
    let row: Encoding | undefined;
    const o = outcome(
      `${label} (encode)`,
      () => row = tok!.encode(text, "a pair", { truncation: true, maxLength: 24 }),
    );
    // Mutated files may give two tokens one id, or name a special token differently from its vocabulary entry.
    if (o.ok) checkRow(label, tok!, row!, text, "a pair", false);
    outcome(
      `${label} (batch)`,
      () => tok!.encodeBatch([text, "x"], { padding: "max_length", maxLength: 32, truncation: true }),
    );
    if (o.ok) outcome(`${label} (decode)`, () => tok!.decode(row!.inputIds, { skipSpecialTokens: true }));
  }
}

/** tokenizer.json trimmed to ~1,300 tokens so a thousand loads stay fast. */
function smallTokenizerJson(): Record<string, unknown> {
  const json = structuredClone(TOKENIZER_JSON);
  const vocab: Record<string, number> = {};
  for (const [token, id] of Object.entries(json.model.vocab as Record<string, number>)) {
    if (id < 1300 || ["hello", "world", "pair", "##s", "na", "##ive"].includes(token)) vocab[token] = id;
  }
  json.model.vocab = vocab;
  return json;
}

Deno.test("tokenizer fuzz: mutated tokenizer.json and tokenizer_config.json load or throw clear errors", () => {
  const r = new Rng(14);
  const base = smallTokenizerJson();
  let loaded = 0;
  const N = 800;
  for (let i = 0; i < N; i++) {
    const json = structuredClone(base);
    const config = structuredClone(TOKENIZER_CONFIG);
    for (let k = r.range(1, 3); k > 0; k--) mutateJson(r, r.chance(0.75) ? json : config);
    let ok = false;
    exerciseTokenizer(`tokenizer.json mutation #${i}`, () => {
      const t = Tokenizer.fromTokenizerJson(json, config);
      ok = true;
      return t;
    }, r);
    if (ok) loaded++;
  }
  console.log(`  ${N} tokenizer.json/config mutations: ${loaded} loaded`);
  // Whole-file oddities.
  for (
    const json of [null, 5, "{", "[]", [], {}, { model: null }, { model: { type: "WordPiece", vocab: [] } }]
  ) {
    exerciseTokenizer(`tokenizer.json ${JSON.stringify(json)}`, () => Tokenizer.fromTokenizerJson(json), r);
  }
});

Deno.test("tokenizer fuzz: mutated vocab.txt (empty, duplicates, huge, odd lines) loads or throws", () => {
  const r = new Rng(15);
  const lines = VOCAB_TXT.split("\n").slice(0, 2000);
  const cases: [string, string, unknown][] = [
    ["empty", "", {}],
    ["only newline", "\n", {}],
    ["only specials", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", {}],
    ["no [UNK]", lines.filter((l) => l !== "[UNK]").join("\n"), {}],
    ["all duplicates", "a\n".repeat(1000), {}],
    ["duplicated specials", "[UNK]\n[UNK]\n[CLS]\n[CLS]\n[SEP]\n", {}],
    ["CRLF", lines.join("\r\n"), {}],
    ["CR", lines.join("\r"), {}],
    ["NUL and spaces", lines.join("\n") + "\n\0\n \n\t\n", {}],
    ["one 1 MB line", "x".repeat(1 << 20), {}],
    ["200k lines", Array.from({ length: 200_000 }, (_, i) => `t${i}`).join("\n"), {}],
    ["lone surrogate token", lines.join("\n") + "\n\ud800\n", {}],
    ["config null", lines.join("\n"), null],
    ["config string", lines.join("\n"), "x"],
    ["config array", lines.join("\n"), []],
    ["do_lower_case string", lines.join("\n"), { do_lower_case: "false" }],
    ["additional specials string", lines.join("\n"), { additional_special_tokens: "[X]" }],
    ["additional specials objects", lines.join("\n"), { additional_special_tokens: [{ content: "[X]" }, 5] }],
    ["tokenizer_class other", lines.join("\n"), { tokenizer_class: "GPT2Tokenizer" }],
    ["tokenizer_class number", lines.join("\n"), { tokenizer_class: 5 }],
    ["model_max_length huge", lines.join("\n"), { model_max_length: 1e30 }],
    ["model_max_length negative", lines.join("\n"), { model_max_length: -1 }],
    ["pad_token object", lines.join("\n"), { pad_token: { content: "[PAD]" } }],
    ["pad_token missing", lines.join("\n"), { pad_token: "[NOPE]" }],
    ["unk_token empty", lines.join("\n"), { unk_token: "" }],
  ];
  for (let i = 0; i < 150; i++) {
    const mutated = lines.slice();
    for (let k = r.range(1, 20); k > 0; k--) {
      const at = r.int(mutated.length);
      const op = r.int(3);
      if (op === 0) mutated.splice(at, 1);
      else if (op === 1) mutated.splice(at, 0, mutated[r.int(mutated.length)]);
      else mutated[at] = randomText(r, r.range(0, 8));
    }
    cases.push([`random vocab #${i}`, mutated.join("\n"), r.chance(0.5) ? TOKENIZER_CONFIG : {}]);
  }
  for (const [label, text, config] of cases) {
    // A vocab.txt is a few hundred KB: the bound for a linear pass over a megabyte.
    const ms = elapsedMs(() =>
      exerciseTokenizer(`vocab.txt ${label}`, () => Tokenizer.fromVocab(text, config), r)
    );
    assert.ok(ms < LINEAR_MB_BOUND_MS, `vocab.txt ${label} took ${ms} ms`);
  }
});

Deno.test("tokenizer fuzz: fromDir on folders with broken files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denobert-fuzz-tok-" });
  try {
    const files: [string, string][][] = [
      [],
      [["tokenizer.json", "{"]],
      [["tokenizer.json", "null"]],
      [["tokenizer.json", "[]"]],
      [["vocab.txt", ""]],
      [["vocab.txt", "[UNK]\nhello\n"], ["tokenizer_config.json", "{"]],
      [["vocab.txt", "[UNK]\nhello\n"], ["tokenizer_config.json", "null"]],
      [["vocab.txt", "[UNK]\nhello\n"], ["tokenizer_config.json", "[1, 2]"]],
      [["vocab.txt", "[UNK]\nhello\n"], ["special_tokens_map.json", '"x"']],
    ];
    for (const [i, set] of files.entries()) {
      const sub = `${dir}/${i}`;
      await Deno.mkdir(sub);
      for (const [name, text] of set) await Deno.writeTextFile(`${sub}/${name}`, text);
      let tok: Tokenizer | undefined;
      try {
        tok = await Tokenizer.fromDir(sub);
      } catch (e) {
        assert.ok(e instanceof Error && e.message.length > 0, `folder ${i}: ${String(e)}`);
        continue;
      }
      outcome(`folder ${i} encode`, () => tok!.encode("hello there"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
