/**
 * Turns Hugging Face tokenizer files into a validated {@link TokenizerSpec}: either the fast format
 * (`tokenizer.json`) or the slow one (`vocab.txt` + `tokenizer_config.json`, converted the way
 * transformers' `BertConverter` does). Anything that cannot be honoured exactly throws.
 *
 * @module
 */

import type { AddedTokenSpec, NormalizerSpec, TemplatePiece, TokenizerSpec } from "./spec.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Tokenizer classes whose slow tokenizer is exactly BERT's BasicTokenizer + WordPiece + [CLS]/[SEP]. */
const BERT_LIKE_CLASSES = /^(Bert|DistilBert|Electra|MobileBert|SqueezeBert)Tokenizer(Fast)?$/;

function fail(message: string): never {
  throw new Error(`Tokenizer: ${message}`);
}

function isObject(value: Json): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Token ids end up in Int32Array tensors: a non-negative integer below 2^31. */
function isTokenId(value: Json): value is number {
  return Number.isInteger(value) && value >= 0 && value <= 0x7fffffff;
}

function checkId(value: Json, what: string): number {
  if (!isTokenId(value)) {
    fail(`${what} must be a token id (an integer from 0 to 2^31-1), got ${brief(value)}`);
  }
  return value;
}

function checkString(value: Json, what: string): string {
  if (typeof value !== "string") fail(`${what} must be a string, got ${brief(value)}`);
  return value;
}

/** `undefined`/`null` -> `fallback`; otherwise it must be a boolean. */
function optionalBool(value: Json, fallback: boolean, what: string): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") fail(`${what} must be true or false, got ${brief(value)}`);
  return value;
}

function brief(value: Json): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? text.slice(0, 60) + "..." : text;
}

/** A tokenizer.json component for an error: its type, or what stands where it should be. */
function component(value: Json): string {
  return isObject(value) && typeof value.type === "string" ? `type "${value.type}"` : brief(value);
}

/** Every vocabulary entry must map to a token id (`tokenizers` rejects anything else). */
function checkVocab(vocab: Map<string, number>): void {
  // The label is built only for a bad entry: formatting 30k of them took a tenth of the load time.
  for (const [token, id] of vocab) if (!isTokenId(id)) checkId(id, `model.vocab[${JSON.stringify(token)}]`);
}

/** A special token in tokenizer_config.json is a string or a serialized AddedToken object. */
function tokenContent(value: Json): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof value.content === "string") return value.content;
  return undefined;
}

function configDefaults(config: Json): Pick<TokenizerSpec, "modelMaxLength" | "cleanUpTokenizationSpaces"> {
  const max = config?.model_max_length;
  if (typeof max === "number" && !(max >= 0 && (Number.isInteger(max) || max >= 1e15))) {
    fail(`model_max_length must be a non-negative integer, got ${brief(max)}`);
  }
  return {
    // transformers stores int(1e30) when unknown; anything that large means "no limit".
    modelMaxLength: typeof max === "number" && max < 1e15 ? max : Infinity,
    cleanUpTokenizationSpaces: optionalBool(
      config?.clean_up_tokenization_spaces,
      true,
      "clean_up_tokenization_spaces",
    ),
  };
}

function resolvePad(
  config: Json,
  vocab: Map<string, number>,
  added: AddedTokenSpec[],
): TokenizerSpec["padToken"] {
  const token = tokenContent(config?.pad_token) ?? "[PAD]";
  const id = added.find((t) => t.content === token)?.id ?? vocab.get(token);
  return id === undefined ? null : { token, id };
}

function parseNormalizer(json: Json): NormalizerSpec | null {
  if (json === null || json === undefined) return null;
  if (json.type !== "BertNormalizer") {
    fail(`unsupported normalizer type "${json.type}" (only BertNormalizer is implemented)`);
  }
  const lowercase = optionalBool(json.lowercase, true, "normalizer.lowercase");
  return {
    cleanText: optionalBool(json.clean_text, true, "normalizer.clean_text"),
    handleChineseChars: optionalBool(json.handle_chinese_chars, true, "normalizer.handle_chinese_chars"),
    // tokenizers: strip_accents unset means "strip when lowercasing".
    stripAccents: optionalBool(json.strip_accents, lowercase, "normalizer.strip_accents"),
    lowercase,
  };
}

/**
 * transformers' BertTokenizerFast (and DistilBERT's, ELECTRA's, ... copies of it) rebuilds tokenizer.json's
 * BertNormalizer from tokenizer_config.json as soon as one of `lowercase`, `strip_accents`,
 * `handle_chinese_chars` differs from the config's `do_lower_case`, `strip_accents`, `tokenize_chinese_chars`,
 * whose defaults (true, null, true) then count too: a config saying nothing lowercases a cased tokenizer.json.
 * A config naming another class (PreTrainedTokenizerFast) leaves the normalizer as it is.
 */
function normalizerWithConfig(json: Json, config: Json): Json {
  if (!isObject(json) || json.type !== "BertNormalizer" || !isObject(config)) return json;
  const cls = config.tokenizer_class;
  if (cls !== undefined && !BERT_LIKE_CLASSES.test(cls)) return json;
  const stripAccents = config.strip_accents ?? null;
  if (stripAccents !== null && typeof stripAccents !== "boolean") {
    fail(`strip_accents must be true, false or null, got ${brief(stripAccents)}`);
  }
  const wanted: Json = {
    lowercase: optionalBool(config.do_lower_case, true, "do_lower_case"),
    strip_accents: stripAccents,
    handle_chinese_chars: optionalBool(config.tokenize_chinese_chars, true, "tokenize_chinese_chars"),
  };
  // As transformers' `normalizer_state.get(key, value) != value`: a key the file lacks agrees.
  const differs = Object.keys(wanted).some((key) => json[key] !== undefined && json[key] !== wanted[key]);
  return differs ? { ...json, ...wanted } : json;
}

function parseTemplate(
  items: Json,
  specials: Json,
  vocab: Map<string, number>,
  what: string,
): TemplatePiece[] {
  if (!Array.isArray(items)) fail(`post_processor.${what} must be an array, got ${brief(items)}`);
  if (specials !== undefined && specials !== null && !isObject(specials)) {
    fail(`post_processor.special_tokens must be an object, got ${brief(specials)}`);
  }
  const typeId = (piece: Json) =>
    piece.type_id === undefined ? 0 : checkId(piece.type_id, "template type_id");
  return items.map((item): TemplatePiece => {
    if (isObject(item) && isObject(item.Sequence)) {
      const which = item.Sequence.id === "A"
        ? 0
        : item.Sequence.id === "B"
        ? 1
        : fail("bad template sequence");
      return { kind: "sequence", which, typeId: typeId(item.Sequence) };
    }
    if (isObject(item) && isObject(item.SpecialToken)) {
      const name = checkString(item.SpecialToken.id, "template special token id");
      const special = specials && Object.hasOwn(specials, name) ? specials[name] : undefined;
      if (special === undefined) {
        const id = vocab.get(name) ?? fail(`template token "${name}" is unknown`);
        return { kind: "special", ids: [id], tokens: [name], typeId: typeId(item.SpecialToken) };
      }
      const where = `post_processor.special_tokens[${JSON.stringify(name)}]`;
      if (!isObject(special) || !Array.isArray(special.ids) || !Array.isArray(special.tokens)) {
        fail(`${where} must be { ids: [...], tokens: [...] }`);
      }
      if (special.ids.length !== special.tokens.length) {
        fail(`${where} has ${special.ids.length} ids but ${special.tokens.length} tokens`);
      }
      const ids = special.ids.map((id: Json) => checkId(id, `${where}.ids`));
      const tokens = special.tokens.map((t: Json) => checkString(t, `${where}.tokens`));
      return { kind: "special", ids, tokens, typeId: typeId(item.SpecialToken) };
    }
    return fail(`unsupported template item ${brief(item)}`);
  });
}

/** BertProcessing's `cls` / `sep`: a `[token, id]` pair. */
function tokenPair(value: Json, what: string): [string, number] {
  if (!Array.isArray(value) || value.length !== 2) {
    fail(`post_processor.${what} must be a [token, id] pair, got ${brief(value)}`);
  }
  return [checkString(value[0], `post_processor.${what}[0]`), checkId(value[1], `post_processor.${what}[1]`)];
}

function bertTemplates(cls: [string, number], sep: [string, number]): Pick<
  TokenizerSpec,
  "singleTemplate" | "pairTemplate" | "templateWithoutSpecialTokens"
> {
  const special = (t: [string, number], typeId: number): TemplatePiece => ({
    kind: "special",
    ids: [t[1]],
    tokens: [t[0]],
    typeId,
  });
  return {
    singleTemplate: [special(cls, 0), { kind: "sequence", which: 0, typeId: 0 }, special(sep, 0)],
    pairTemplate: [
      special(cls, 0),
      { kind: "sequence", which: 0, typeId: 0 },
      special(sep, 0),
      { kind: "sequence", which: 1, typeId: 1 },
      special(sep, 1),
    ],
    templateWithoutSpecialTokens: false,
  };
}

function parsePostProcessor(json: Json, vocab: Map<string, number>): Pick<
  TokenizerSpec,
  "singleTemplate" | "pairTemplate" | "templateWithoutSpecialTokens"
> {
  if (json === null || json === undefined) {
    // No post-processor: sequences are concatenated as they are; tokenizers still types B as 1.
    return {
      singleTemplate: [{ kind: "sequence", which: 0, typeId: 0 }],
      pairTemplate: [{ kind: "sequence", which: 0, typeId: 0 }, { kind: "sequence", which: 1, typeId: 1 }],
      templateWithoutSpecialTokens: false,
    };
  }
  if (json.type === "BertProcessing") {
    return bertTemplates(tokenPair(json.cls, "cls"), tokenPair(json.sep, "sep"));
  }
  if (json.type === "TemplateProcessing") {
    return {
      singleTemplate: parseTemplate(json.single, json.special_tokens, vocab, "single"),
      pairTemplate: parseTemplate(json.pair, json.special_tokens, vocab, "pair"),
      // tokenizers' TemplateProcessing applies its template with add_special_tokens=false too, skipping only the
      // special tokens: `$B:2 $A:4` still gives B first and those type ids.
      templateWithoutSpecialTokens: true,
    };
  }
  return fail(`unsupported post_processor type "${json.type}"`);
}

/**
 * The added tokens with the ids tokenizers gives them when it reads `tokenizer.json`: it does not keep the
 * listed ids (it only warns when they differ) but adds the tokens in order, each taking the id its content
 * already has (in the vocabulary, or as an earlier added token) or else the next one after the vocabulary and
 * every id added so far. Files tokenizers wrote agree with the ids listed; a hand-edited one may not, and the
 * ids tokenizers gave are the ones a model was trained with. An empty token is skipped, as tokenizers does;
 * a token listed twice keeps its first id and takes the later options, and stays special once special.
 */
function addedTokenIds(listed: AddedTokenSpec[], vocab: Map<string, number>): AddedTokenSpec[] {
  const tokens: AddedTokenSpec[] = [];
  const index = new Map<string, number>();
  let maxId = -1;
  for (const t of listed) {
    if (t.content === "") continue;
    const i = index.get(t.content);
    if (i !== undefined) {
      tokens[i] = { ...t, id: tokens[i].id, special: tokens[i].special || t.special };
      continue;
    }
    const id = vocab.get(t.content) ?? (maxId >= vocab.size ? maxId + 1 : vocab.size);
    if (id > maxId) maxId = id;
    index.set(t.content, tokens.length);
    tokens.push({ ...t, id });
  }
  return tokens;
}

/**
 * Builds a spec from a parsed `tokenizer.json` (and, optionally, the `tokenizer_config.json` beside it,
 * which supplies `model_max_length`, decode defaults and, as in transformers, the casing options).
 */
export function specFromTokenizerJson(tokenizerJson: Json, config?: Json): TokenizerSpec {
  const model = tokenizerJson?.model;
  if (!model || model.type !== "WordPiece") {
    fail(`unsupported model ${component(model)} (only WordPiece is implemented)`);
  }
  const pre = tokenizerJson.pre_tokenizer;
  if (!pre || pre.type !== "BertPreTokenizer") {
    // null is no pre-tokenization at all: the whole text one word, which WordPiece would mostly make [UNK].
    fail(`unsupported pre_tokenizer ${component(pre)} (only BertPreTokenizer is implemented)`);
  }
  const decoder = tokenizerJson.decoder;
  if (decoder && decoder.type !== "WordPiece") {
    fail(`unsupported decoder type "${decoder.type}" (only WordPiece is implemented)`);
  }
  if (!isObject(model.vocab)) {
    fail(`model.vocab must be an object mapping tokens to ids, got ${brief(model.vocab)}`);
  }
  // for-in avoids Object.entries' 30k temporary pairs: loading time matters (target < 50 ms).
  const vocab = new Map<string, number>();
  const rawVocab = model.vocab as Record<string, number>;
  for (const token in rawVocab) vocab.set(token, rawVocab[token]);
  checkVocab(vocab);
  const normalizer = parseNormalizer(normalizerWithConfig(tokenizerJson.normalizer, config));
  config ??= {};
  const added = tokenizerJson.added_tokens ?? [];
  if (!Array.isArray(added)) fail(`added_tokens must be an array, got ${brief(added)}`);
  const listed: AddedTokenSpec[] = added.map((t: Json, i: number): AddedTokenSpec => {
    if (!isObject(t)) fail(`added_tokens[${i}] must be an object, got ${brief(t)}`);
    checkString(t.content, `added_tokens[${i}].content`);
    checkId(t.id, `added_tokens[${i}].id`);
    if (t.normalized && normalizer) {
      // tokenizers matches these against the normalized text; that path is not implemented.
      fail(`added token "${t.content}" has normalized: true, which is not supported`);
    }
    return {
      id: t.id,
      content: t.content,
      special: !!t.special,
      lstrip: !!t.lstrip,
      rstrip: !!t.rstrip,
      singleWord: !!t.single_word,
    };
  });
  const addedTokens = addedTokenIds(listed, vocab);
  return {
    vocab,
    unkToken: checkString(model.unk_token ?? "[UNK]", "model.unk_token"),
    continuingSubwordPrefix: checkString(
      model.continuing_subword_prefix ?? "##",
      "model.continuing_subword_prefix",
    ),
    maxInputCharsPerWord: checkId(model.max_input_chars_per_word ?? 100, "model.max_input_chars_per_word"),
    normalizer,
    addedTokens,
    ...parsePostProcessor(tokenizerJson.post_processor, vocab),
    decoder: decoder
      ? {
        prefix: checkString(decoder.prefix ?? "##", "decoder.prefix"),
        cleanup: optionalBool(decoder.cleanup, true, "decoder.cleanup"),
      }
      : null,
    padToken: resolvePad(config, vocab, addedTokens),
    ...configDefaults(config),
  };
}

/**
 * Parses `vocab.txt` the way transformers' `load_vocab` does: one token per line (universal newlines),
 * id = line number, a later duplicate wins.
 */
export function parseVocabTxt(text: string): Map<string, number> {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const vocab = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) vocab.set(lines[i], i);
  return vocab;
}

/**
 * Builds a spec from `vocab.txt` and `tokenizer_config.json` exactly as transformers converts a slow
 * BertTokenizer into the fast one `AutoTokenizer` returns.
 */
export function specFromVocab(vocabText: string, config: Json = {}): TokenizerSpec {
  if (typeof vocabText !== "string") fail(`vocab.txt text must be a string, got ${brief(vocabText)}`);
  config ??= {};
  if (!isObject(config)) fail(`tokenizer_config.json must be an object, got ${brief(config)}`);
  const cls = config.tokenizer_class;
  if (cls !== undefined && !BERT_LIKE_CLASSES.test(cls)) {
    fail(`tokenizer_class "${cls}" is not a BERT WordPiece tokenizer`);
  }
  const vocab = parseVocabTxt(vocabText);
  const lowercase = optionalBool(config.do_lower_case, true, "do_lower_case");
  const extraSpecials = config.additional_special_tokens ?? [];
  if (!Array.isArray(extraSpecials)) {
    fail(`additional_special_tokens must be an array, got ${brief(extraSpecials)}`);
  }
  const name = (key: string, fallback: string) => tokenContent(config[key]) ?? fallback;
  // The config's values (a string or a serialized AddedToken), so their lstrip / rstrip / single_word count.
  const value = (key: string, fallback: string) =>
    tokenContent(config[key]) === undefined ? fallback : config[key];
  const specialValues: Json[] = [
    value("unk_token", "[UNK]"),
    value("sep_token", "[SEP]"),
    value("pad_token", "[PAD]"),
    value("cls_token", "[CLS]"),
    value("mask_token", "[MASK]"),
    ...extraSpecials.map((t: Json) =>
      tokenContent(t) === undefined ? fail(`bad additional_special_tokens entry ${brief(t)}`) : t
    ),
  ];
  // transformers gives special tokens missing from the vocabulary the next free ids.
  let nextId = 0;
  for (const id of vocab.values()) if (id >= nextId) nextId = id + 1;
  const addedTokens: AddedTokenSpec[] = [];
  for (const special of specialValues) {
    const content = tokenContent(special)!;
    if (addedTokens.some((t) => t.content === content)) continue;
    // An AddedToken's flags reach tokenizers as they are (normalized defaults to false for special tokens).
    const flag = (key: string) => isObject(special) && !!special[key];
    if (flag("normalized")) {
      fail(`special token "${content}" has normalized: true, which is not supported`);
    }
    let id = vocab.get(content);
    if (id === undefined) id = nextId++;
    addedTokens.push({
      id,
      content,
      special: true,
      lstrip: flag("lstrip"),
      rstrip: flag("rstrip"),
      singleWord: flag("single_word"),
    });
  }
  const idOf = (content: string) => addedTokens.find((t) => t.content === content)!.id;
  const clsName = name("cls_token", "[CLS]");
  const sepName = name("sep_token", "[SEP]");
  return {
    vocab,
    unkToken: name("unk_token", "[UNK]"),
    continuingSubwordPrefix: "##",
    maxInputCharsPerWord: 100,
    normalizer: {
      cleanText: true,
      handleChineseChars: optionalBool(config.tokenize_chinese_chars, true, "tokenize_chinese_chars"),
      stripAccents: optionalBool(config.strip_accents, lowercase, "strip_accents"),
      lowercase,
    },
    addedTokens,
    ...bertTemplates([clsName, idOf(clsName)], [sepName, idOf(sepName)]),
    decoder: { prefix: "##", cleanup: true },
    padToken: resolvePad(config, vocab, addedTokens),
    ...configDefaults(config),
  };
}
