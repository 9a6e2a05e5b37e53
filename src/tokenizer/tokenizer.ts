/**
 * The BERT WordPiece tokenizer: Hugging Face-exact ids, offsets, pairs, truncation with overflow windows,
 * padding and decode.
 *
 * @module
 */

import { AddedTokenMatcher } from "./added_tokens.ts";
import { cleanUpTokenization, decodeWordPiece } from "./decode.ts";
import { specFromTokenizerJson, specFromVocab } from "./load_config.ts";
import { buildRows, countSpecialTokens, padRow } from "./post_process.ts";
import { SegmentEncoder } from "./segment_encoder.ts";
import type { TemplatePiece, TokenizerSpec } from "./spec.ts";
import { newTokenSink, type TokenSink } from "./token_sink.ts";
import { truncate } from "./truncation.ts";
import { FILE_CAPS, pathLabel, readOptionalJson, readTextCapped } from "../fs/read.ts";
import { boolOption, checkOptionKeys } from "../pipelines/validate.ts";
import type {
  BatchEncoding,
  BatchTensor,
  DecodeOptions,
  EncodeOptions,
  Encoding,
  PaddingStrategy,
  TruncationStrategy,
} from "./types.ts";
import { WordPiece } from "./wordpiece.ts";

const TRUNCATION_VALUES: readonly unknown[] = [
  undefined,
  true,
  false,
  "longest_first",
  "only_first",
  "only_second",
];
const PADDING_VALUES: readonly unknown[] = [undefined, true, false, "longest", "max_length"];
const ENCODE_OPTIONS: readonly (keyof EncodeOptions)[] = [
  "addSpecialTokens",
  "truncation",
  "maxLength",
  "padding",
  "padToMultipleOf",
  "stride",
  "returnOverflowing",
];
const DECODE_OPTIONS: readonly (keyof DecodeOptions)[] = ["skipSpecialTokens", "cleanUpTokenizationSpaces"];

/**
 * Rejects names not in `known` (transformers' `max_length`, a typo: each was ignored and the text went
 * through untruncated) and non-boolean values of the boolean options (`"false"` read as true).
 */
function checkKeys(
  options: object,
  known: readonly string[],
  booleans: readonly string[],
  what: string,
): void {
  checkOptionKeys(options, known, `Tokenizer: ${what} options`);
  for (const key of booleans) boolOption(`Tokenizer: ${key}`, (options as Record<string, unknown>)[key]);
}

/**
 * Rejects option values transformers rejects (or that would make no sense): a NaN, fractional or infinite
 * `maxLength` would loop forever in truncation or padding, a negative `stride` would silently skip tokens.
 */
function checkOptions(options: EncodeOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Tokenizer: options must be an object");
  }
  checkKeys(options, ENCODE_OPTIONS, ["addSpecialTokens", "returnOverflowing"], "encode");
  const count = (name: string, value: unknown) => {
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
      throw new RangeError(`Tokenizer: ${name} must be a non-negative integer, got ${String(value)}`);
    }
  };
  count("maxLength", options.maxLength);
  count("stride", options.stride);
  count("padToMultipleOf", options.padToMultipleOf);
  if (!TRUNCATION_VALUES.includes(options.truncation)) {
    throw new RangeError(
      `Tokenizer: truncation must be a boolean, "longest_first", "only_first" or "only_second", got ${
        String(options.truncation)
      }`,
    );
  }
  if (!PADDING_VALUES.includes(options.padding)) {
    throw new RangeError(
      `Tokenizer: padding must be a boolean, "longest" or "max_length", got ${String(options.padding)}`,
    );
  }
}

/** Truncation and padding after transformers' defaults and argument rules are applied. */
interface ResolvedOptions {
  addSpecialTokens: boolean;
  truncation: TruncationStrategy | null;
  maxLength: number;
  padding: PaddingStrategy | null;
  padToMultipleOf: number;
  stride: number;
  returnOverflowing: boolean;
}

const CONFIGS = "JSON config files";
const TOKENIZERS = "tokenizer files (tokenizer.json, vocab.txt)";

function joinPath(dir: string | URL, name: string): string | URL {
  if (dir instanceof URL) return new URL(name, dir.href.endsWith("/") ? dir : `${dir.href}/`);
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * A Hugging Face BERT WordPiece tokenizer giving what `AutoTokenizer.from_pretrained(...)` gives in Python
 * (the Rust fast tokenizer): same ids, tokens and offsets (as UTF-16 indices), same truncation, padding
 * and decode behaviour.
 *
 * ```ts
 * const tok = await Tokenizer.fromDir("weights/my-model");
 * const { inputIds, offsets } = tok.encode("Hello, world!");
 * const batch = tok.encodeBatch(["one", "two words"], { truncation: true, maxLength: 128 });
 * ```
 */
export class Tokenizer {
  /** transformers' `model_max_length` (Infinity when the config does not say). */
  readonly modelMaxLength: number;
  private readonly spec: TokenizerSpec;
  private readonly model: WordPiece;
  private readonly segments: SegmentEncoder;
  private readonly matcher: AddedTokenMatcher;
  private readonly idToTokenTable: string[];
  private readonly specialIds: Set<number>;
  private readonly addedIds: Map<string, number>;
  private readonly specialsSingle: number;
  private readonly specialsPair: number;
  /** What the templates become without special tokens; null: A then B, typed 0 and 1. */
  private readonly plainSingleTemplate: TemplatePiece[] | null;
  private readonly plainPairTemplate: TemplatePiece[] | null;

  // Private: the spec is internal (not exported) and trusted as validated; users build a tokenizer with
  // fromDir, fromTokenizerJson or fromVocab, which resolve and check it.
  private constructor(spec: TokenizerSpec) {
    this.spec = spec;
    this.modelMaxLength = spec.modelMaxLength;
    this.model = new WordPiece(
      spec.vocab,
      spec.unkToken,
      spec.continuingSubwordPrefix,
      spec.maxInputCharsPerWord,
    );
    this.segments = new SegmentEncoder(this.model, spec.normalizer);
    this.matcher = new AddedTokenMatcher(spec.addedTokens);
    const table: string[] = [];
    for (const [token, id] of spec.vocab) table[id] = token;
    for (const added of spec.addedTokens) table[added.id] = added.content;
    this.idToTokenTable = table;
    this.specialIds = new Set(spec.addedTokens.filter((t) => t.special).map((t) => t.id));
    this.addedIds = new Map(spec.addedTokens.map((t) => [t.content, t.id]));
    this.specialsSingle = countSpecialTokens(spec.singleTemplate);
    this.specialsPair = countSpecialTokens(spec.pairTemplate);
    const sequencesOnly = (template: TemplatePiece[]) =>
      template.filter((piece) => piece.kind === "sequence");
    this.plainSingleTemplate = spec.templateWithoutSpecialTokens ? sequencesOnly(spec.singleTemplate) : null;
    this.plainPairTemplate = spec.templateWithoutSpecialTokens ? sequencesOnly(spec.pairTemplate) : null;
  }

  /**
   * Loads a tokenizer from a model directory: `tokenizer.json` when present, else `vocab.txt`; the
   * `tokenizer_config.json` beside them supplies `model_max_length`, special tokens and casing options.
   */
  static async fromDir(dir: string | URL): Promise<Tokenizer> {
    // Undefined when absent: only a tokenizer_config.json overrides tokenizer.json's casing options.
    const config = await readOptionalJson(joinPath(dir, "tokenizer_config.json"), FILE_CAPS.config, CONFIGS);
    const tokenizerJson = await readOptionalJson(
      joinPath(dir, "tokenizer.json"),
      FILE_CAPS.tokenizer,
      TOKENIZERS,
    );
    if (tokenizerJson !== undefined) return Tokenizer.fromTokenizerJson(tokenizerJson, config);
    let vocab: string;
    try {
      vocab = await readTextCapped(joinPath(dir, "vocab.txt"), FILE_CAPS.tokenizer, TOKENIZERS);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(`Tokenizer: neither tokenizer.json nor vocab.txt found in ${pathLabel(dir)}`);
      }
      throw error;
    }
    const specialMap =
      await readOptionalJson(joinPath(dir, "special_tokens_map.json"), FILE_CAPS.config, CONFIGS) ??
        {};
    return Tokenizer.fromVocab(vocab, { ...specialMap as object, ...config as object });
  }

  /**
   * From the parsed (or raw) contents of `tokenizer.json` and, optionally, `tokenizer_config.json`. As in
   * transformers, the config's `do_lower_case`, `strip_accents` and `tokenize_chinese_chars` (defaults true,
   * null, true) replace the normalizer's when one of them differs, unless it names a non-BERT `tokenizer_class`.
   */
  static fromTokenizerJson(tokenizerJson: unknown, config?: unknown): Tokenizer {
    const json = typeof tokenizerJson === "string" ? JSON.parse(tokenizerJson) : tokenizerJson;
    return new Tokenizer(specFromTokenizerJson(json, config));
  }

  /** From the text of `vocab.txt` and the parsed `tokenizer_config.json`. */
  static fromVocab(vocabText: string, config: unknown = {}): Tokenizer {
    return new Tokenizer(specFromVocab(vocabText, config));
  }

  /** Number of ids (vocabulary plus added tokens). */
  get vocabSize(): number {
    return this.idToTokenTable.length;
  }

  /** The id of a token string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.addedIds.get(token) ?? this.spec.vocab.get(token);
  }

  /** The token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  /** Tokenizes a text (or a pair of texts, e.g. question and context) into one row. */
  encode(text: string, pair?: string | null, options: EncodeOptions = {}): Encoding {
    const resolved = this.resolve(options, false);
    const rows = this.encodeRows(text, pair ?? null, resolved);
    const main = rows[0];
    if (resolved.padding) {
      const length = this.padLength(rows, resolved);
      for (const row of rows) this.pad(row, length);
    }
    if (resolved.returnOverflowing) main.overflowing = rows.slice(1);
    return main;
  }

  /**
   * Tokenizes many texts or pairs into rows of equal length (padding defaults to `"longest"`) with the
   * ids, attention mask and type ids also as `[rows, length]` int32 tensors for `model.forward`.
   */
  encodeBatch(
    inputs: readonly (string | readonly [string, string])[],
    options: EncodeOptions = {},
  ): BatchEncoding {
    const resolved = this.resolve(options, true);
    if (!Array.isArray(inputs)) {
      throw new TypeError("Tokenizer: encodeBatch takes an array of texts or [text, pair] pairs");
    }
    const encodings: Encoding[] = [];
    const mapping: number[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      if (typeof input !== "string" && !(Array.isArray(input) && input.length === 2)) {
        throw new TypeError(`Tokenizer: encodeBatch input ${i} is neither a string nor a [text, pair] pair`);
      }
      const rows = typeof input === "string"
        ? this.encodeRows(input, null, resolved)
        : this.encodeRows(input[0], input[1], resolved);
      const kept = resolved.returnOverflowing ? rows : rows.slice(0, 1);
      for (const row of kept) {
        encodings.push(row);
        mapping.push(i);
      }
    }
    let length = 0;
    if (resolved.padding) {
      length = this.padLength(encodings, resolved);
      for (const row of encodings) this.pad(row, length);
    }
    for (const row of encodings) length = Math.max(length, row.inputIds.length);
    for (const row of encodings) {
      if (row.inputIds.length !== length) {
        throw new Error("Tokenizer: rows have different lengths; pass padding to encodeBatch");
      }
    }
    const tensor = (pick: (row: Encoding) => number[]): BatchTensor => {
      const data = new Int32Array(encodings.length * length);
      for (let r = 0; r < encodings.length; r++) data.set(pick(encodings[r]), r * length);
      return { data, dims: [encodings.length, length] };
    };
    return {
      encodings,
      inputIds: tensor((row) => row.inputIds),
      attentionMask: tensor((row) => row.attentionMask),
      tokenTypeIds: tensor((row) => row.tokenTypeIds),
      overflowToSampleMapping: mapping,
    };
  }

  /** Ids back to text, as transformers' `decode` does. */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    checkKeys(options, DECODE_OPTIONS, DECODE_OPTIONS, "decode");
    const skip = options.skipSpecialTokens ?? false;
    const tokens: string[] = [];
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      const token = this.idToTokenTable[id];
      // Unknown ids are dropped silently, as in tokenizers.
      if (token === undefined || (skip && this.specialIds.has(id))) continue;
      tokens.push(token);
    }
    const text = this.convertTokensToString(tokens);
    const cleanUp = options.cleanUpTokenizationSpaces ?? this.spec.cleanUpTokenizationSpaces;
    return cleanUp ? cleanUpTokenization(text) : text;
  }

  /**
   * Token strings back to text through the tokenizer's decoder alone (`##` pieces glued, the WordPiece decoder's
   * own clean-up: "budget ." gives "budget."), as transformers' fast `convert_tokens_to_string`: without
   * `decode`'s `clean_up_tokenization` pass.
   */
  convertTokensToString(tokens: readonly string[]): string {
    const decoder = this.spec.decoder;
    return decoder ? decodeWordPiece(tokens, decoder.prefix, decoder.cleanup) : tokens.join(" ");
  }

  /** Tokens of one text without special tokens: added tokens split out, the rest through WordPiece. */
  private tokenizeSequence(text: string): TokenSink {
    const sink = newTokenSink();
    let wordId = 0;
    this.matcher.split(
      text,
      (from, to) => {
        wordId = this.segments.encode(text, from, to, sink, wordId);
      },
      (token, start, end) => {
        // tokenizers' token is the text matched, which lstrip / rstrip widen over whitespace.
        if (end - start !== token.content.length) {
          (sink.matched ??= new Map()).set(sink.ids.length, text.slice(start, end));
        }
        sink.ids.push(token.id);
        sink.starts.push(start);
        sink.ends.push(end);
        sink.words.push(wordId++);
      },
    );
    return sink;
  }

  /** One text (or pair) to its rows: tokenized, truncated into windows, special tokens added. */
  private encodeRows(text: string, pair: string | null, options: ResolvedOptions): Encoding[] {
    if (typeof text !== "string") {
      throw new TypeError(`Tokenizer: the text must be a string, got ${typeof text}`);
    }
    if (pair !== null && typeof pair !== "string") {
      throw new TypeError(`Tokenizer: the pair text must be a string, got ${typeof pair}`);
    }
    const first = this.tokenizeSequence(text);
    const second = pair === null ? null : this.tokenizeSequence(pair);
    const template = options.addSpecialTokens
      ? (second ? this.spec.pairTemplate : this.spec.singleTemplate)
      : (second ? this.plainPairTemplate : this.plainSingleTemplate);
    let firstWindows = [first];
    let secondWindows = second ? [second] : null;
    if (options.truncation) {
      const specials = !options.addSpecialTokens ? 0 : second ? this.specialsPair : this.specialsSingle;
      const budget = options.maxLength - specials;
      if (budget < 0) {
        throw new Error(
          `Tokenizer: maxLength ${options.maxLength} leaves no room for ${specials} special tokens`,
        );
      }
      [firstWindows, secondWindows] = truncate(first, second, budget, options.truncation, options.stride);
    }
    return buildRows(firstWindows, secondWindows, template, (id) => this.idToTokenTable[id]);
  }

  /** Applies transformers' `_get_padding_truncation_strategies` rules. */
  private resolve(options: EncodeOptions, batch: boolean): ResolvedOptions {
    checkOptions(options);
    const paddingOption = options.padding ?? (batch ? "longest" : false);
    let padding: PaddingStrategy | null = paddingOption === true ? "longest" : paddingOption || null;
    let truncation: TruncationStrategy | null = options.truncation === true
      ? "longest_first"
      : options.truncation || null;
    // transformers: a max_length without truncation or padding means longest_first truncation.
    if (options.truncation === undefined && options.maxLength !== undefined && !padding) {
      truncation = "longest_first";
    }
    let maxLength = options.maxLength ?? this.modelMaxLength;
    if (options.maxLength === undefined && !Number.isFinite(maxLength)) {
      // transformers warns and drops both when model_max_length is unknown.
      if (padding === "max_length") padding = null;
      truncation = null;
      maxLength = 0;
    }
    if (padding && !this.spec.padToken) {
      throw new Error("Tokenizer: padding requested but there is no pad token");
    }
    const padToMultipleOf = options.padToMultipleOf ?? 0;
    if (truncation && padding === "max_length" && padToMultipleOf > 0 && maxLength % padToMultipleOf !== 0) {
      throw new Error(
        `Tokenizer: truncation and padding to max_length need maxLength (${maxLength}) to be a multiple of padToMultipleOf (${padToMultipleOf})`,
      );
    }
    return {
      addSpecialTokens: options.addSpecialTokens ?? true,
      truncation,
      maxLength,
      padding,
      padToMultipleOf,
      stride: options.stride ?? 0,
      returnOverflowing: options.returnOverflowing ?? false,
    };
  }

  /** The length every row is padded to: `maxLength`, or the longest row, rounded up to `padToMultipleOf`. */
  private padLength(rows: readonly Encoding[], options: ResolvedOptions): number {
    let length = 0;
    if (options.padding === "max_length") length = options.maxLength;
    else for (const row of rows) length = Math.max(length, row.inputIds.length);
    const multiple = options.padToMultipleOf;
    if (multiple > 0 && length % multiple > 0) length += multiple - (length % multiple);
    return length;
  }

  /** Pads one row in place to `length` with the pad token. */
  private pad(row: Encoding, length: number): void {
    const pad = this.spec.padToken!;
    padRow(row, length, pad.id, pad.token);
  }
}
