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

/** A special token in tokenizer_config.json is a string or a serialized AddedToken object. */
function tokenContent(value: Json): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof value.content === "string") return value.content;
  return undefined;
}

function configDefaults(config: Json): Pick<TokenizerSpec, "modelMaxLength" | "cleanUpTokenizationSpaces"> {
  const max = config?.model_max_length;
  return {
    // transformers stores int(1e30) when unknown; anything that large means "no limit".
    modelMaxLength: typeof max === "number" && max < 1e15 ? max : Infinity,
    cleanUpTokenizationSpaces: config?.clean_up_tokenization_spaces ?? true,
  };
}

function resolvePad(config: Json, vocab: Map<string, number>, added: AddedTokenSpec[]): TokenizerSpec["padToken"] {
  const token = tokenContent(config?.pad_token) ?? "[PAD]";
  const id = added.find((t) => t.content === token)?.id ?? vocab.get(token);
  return id === undefined ? null : { token, id };
}

function parseNormalizer(json: Json): NormalizerSpec | null {
  if (json === null || json === undefined) return null;
  if (json.type !== "BertNormalizer") {
    fail(`unsupported normalizer type "${json.type}" (only BertNormalizer is implemented)`);
  }
  const lowercase = json.lowercase ?? true;
  return {
    cleanText: json.clean_text ?? true,
    handleChineseChars: json.handle_chinese_chars ?? true,
    // tokenizers: strip_accents unset means "strip when lowercasing".
    stripAccents: json.strip_accents ?? lowercase,
    lowercase,
  };
}

function parseTemplate(items: Json[], specials: Json, vocab: Map<string, number>): TemplatePiece[] {
  return items.map((item): TemplatePiece => {
    if (item.Sequence) {
      const which = item.Sequence.id === "A" ? 0 : item.Sequence.id === "B" ? 1 : fail("bad template sequence");
      return { kind: "sequence", which, typeId: item.Sequence.type_id ?? 0 };
    }
    if (item.SpecialToken) {
      const name = item.SpecialToken.id;
      const special = specials?.[name];
      const ids: number[] = special?.ids ?? [vocab.get(name) ?? fail(`template token "${name}" is unknown`)];
      const tokens: string[] = special?.tokens ?? [name];
      return { kind: "special", ids, tokens, typeId: item.SpecialToken.type_id ?? 0 };
    }
    return fail(`unsupported template item ${JSON.stringify(item)}`);
  });
}

function bertTemplates(cls: [string, number], sep: [string, number]): Pick<
  TokenizerSpec,
  "singleTemplate" | "pairTemplate"
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
  };
}

function parsePostProcessor(json: Json, vocab: Map<string, number>): Pick<
  TokenizerSpec,
  "singleTemplate" | "pairTemplate"
> {
  if (json === null || json === undefined) {
    // No post-processor: sequences are concatenated as they are; tokenizers still types B as 1.
    return {
      singleTemplate: [{ kind: "sequence", which: 0, typeId: 0 }],
      pairTemplate: [{ kind: "sequence", which: 0, typeId: 0 }, { kind: "sequence", which: 1, typeId: 1 }],
    };
  }
  if (json.type === "BertProcessing") return bertTemplates(json.cls, json.sep);
  if (json.type === "TemplateProcessing") {
    return {
      singleTemplate: parseTemplate(json.single, json.special_tokens, vocab),
      pairTemplate: parseTemplate(json.pair, json.special_tokens, vocab),
    };
  }
  return fail(`unsupported post_processor type "${json.type}"`);
}

/**
 * Builds a spec from a parsed `tokenizer.json` (and, optionally, the `tokenizer_config.json` beside it,
 * which supplies `model_max_length` and decode defaults).
 */
export function specFromTokenizerJson(tokenizerJson: Json, config: Json = {}): TokenizerSpec {
  const model = tokenizerJson?.model;
  if (!model || model.type !== "WordPiece") {
    fail(`unsupported model type "${model?.type}" (only WordPiece is implemented)`);
  }
  const pre = tokenizerJson.pre_tokenizer;
  if (!pre || pre.type !== "BertPreTokenizer") {
    fail(`unsupported pre_tokenizer type "${pre?.type}" (only BertPreTokenizer is implemented)`);
  }
  const decoder = tokenizerJson.decoder;
  if (decoder && decoder.type !== "WordPiece") {
    fail(`unsupported decoder type "${decoder.type}" (only WordPiece is implemented)`);
  }
  const vocab = new Map<string, number>(Object.entries(model.vocab as Record<string, number>));
  const normalizer = parseNormalizer(tokenizerJson.normalizer);
  const addedTokens: AddedTokenSpec[] = (tokenizerJson.added_tokens ?? []).map((t: Json): AddedTokenSpec => {
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
  return {
    vocab,
    unkToken: model.unk_token ?? "[UNK]",
    continuingSubwordPrefix: model.continuing_subword_prefix ?? "##",
    maxInputCharsPerWord: model.max_input_chars_per_word ?? 100,
    normalizer,
    addedTokens,
    ...parsePostProcessor(tokenizerJson.post_processor, vocab),
    decoder: decoder ? { prefix: decoder.prefix ?? "##", cleanup: decoder.cleanup ?? true } : null,
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
  const cls = config.tokenizer_class;
  if (cls !== undefined && !BERT_LIKE_CLASSES.test(cls)) {
    fail(`tokenizer_class "${cls}" is not a BERT WordPiece tokenizer`);
  }
  const vocab = parseVocabTxt(vocabText);
  const lowercase = config.do_lower_case ?? true;
  const name = (key: string, fallback: string) => tokenContent(config[key]) ?? fallback;
  const specialNames = [
    name("unk_token", "[UNK]"),
    name("sep_token", "[SEP]"),
    name("pad_token", "[PAD]"),
    name("cls_token", "[CLS]"),
    name("mask_token", "[MASK]"),
    ...((config.additional_special_tokens ?? []) as Json[]).map((t) => tokenContent(t) ?? fail("bad token")),
  ];
  // transformers gives special tokens missing from the vocabulary the next free ids.
  let nextId = Math.max(-1, ...vocab.values()) + 1;
  const addedTokens: AddedTokenSpec[] = [];
  for (const content of specialNames) {
    if (addedTokens.some((t) => t.content === content)) continue;
    let id = vocab.get(content);
    if (id === undefined) id = nextId++;
    addedTokens.push({ id, content, special: true, lstrip: false, rstrip: false, singleWord: false });
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
      handleChineseChars: config.tokenize_chinese_chars ?? true,
      stripAccents: config.strip_accents ?? lowercase,
      lowercase,
    },
    addedTokens,
    ...bertTemplates([clsName, idOf(clsName)], [sepName, idOf(sepName)]),
    decoder: { prefix: "##", cleanup: true },
    padToken: resolvePad(config, vocab, addedTokens),
    ...configDefaults(config),
  };
}
