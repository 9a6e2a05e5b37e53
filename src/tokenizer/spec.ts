/**
 * The resolved description of a BERT WordPiece tokenizer, whichever files it came from. Everything the
 * encoder needs is here in one validated shape, so the hot path never looks at raw JSON.
 *
 * @module
 */

/** BertNormalizer switches, as `tokenizers` resolves them (strip_accents unset already replaced). */
export interface NormalizerSpec {
  /** Drop control/format characters, NUL and U+FFFD; turn whitespace into a space. */
  cleanText: boolean;
  /** Surround CJK ideographs with spaces so each becomes a word. */
  handleChineseChars: boolean;
  /** NFD, then drop nonspacing marks. */
  stripAccents: boolean;
  /** Per-character lowercasing. */
  lowercase: boolean;
}

/** A token matched in the raw text before normalization (e.g. `[MASK]`). */
export interface AddedTokenSpec {
  /** Token id. */
  id: number;
  /** Literal text. */
  content: string;
  /** Special tokens are skipped by `decode(..., { skipSpecialTokens: true })`. */
  special: boolean;
  /** Swallow whitespace on the left of a match. */
  lstrip: boolean;
  /** Swallow whitespace on the right of a match. */
  rstrip: boolean;
  /** Only match when not inside a word. */
  singleWord: boolean;
}

/** One item of a post-processing template: fixed special tokens, or the A/B sequence. */
export type TemplatePiece =
  | { kind: "special"; ids: number[]; tokens: string[]; typeId: number }
  | { kind: "sequence"; which: 0 | 1; typeId: number };

/** Everything the tokenizer needs, validated. */
export interface TokenizerSpec {
  /** WordPiece vocabulary (token string to id). */
  vocab: Map<string, number>;
  /** Token used for words that cannot be pieced together. */
  unkToken: string;
  /** Prefix of word-internal pieces, `##`. */
  continuingSubwordPrefix: string;
  /** Longer words (in code points) become one unknown token. */
  maxInputCharsPerWord: number;
  /** Null when the tokenizer has no normalizer. */
  normalizer: NormalizerSpec | null;
  /** Tokens split out of the raw text first, in the order they were declared. */
  addedTokens: AddedTokenSpec[];
  /** Template for one sequence, e.g. `[CLS] $A [SEP]`. */
  singleTemplate: TemplatePiece[];
  /** Template for a pair, e.g. `[CLS] $A [SEP] $B [SEP]`. */
  pairTemplate: TemplatePiece[];
  /**
   * Without special tokens, whether the templates' sequences still apply: TemplateProcessing keeps their order
   * and type ids (and leaves out a sequence its template leaves out); BertProcessing and no post-processor give
   * A then B, typed 0 and 1.
   */
  templateWithoutSpecialTokens: boolean;
  /** WordPiece decoder settings; null means tokens are joined with spaces. */
  decoder: { prefix: string; cleanup: boolean } | null;
  /** Default `maxLength` (transformers' `model_max_length`); Infinity when unknown. */
  modelMaxLength: number;
  /** Padding token and its id (null when the tokenizer defines none). */
  padToken: { token: string; id: number } | null;
  /** transformers' `clean_up_tokenization_spaces` default for decode. */
  cleanUpTokenizationSpaces: boolean;
}
