/**
 * Public option and result types of the tokenizer. Names follow transformers' arguments in camelCase.
 *
 * @module
 */

/** How to shorten inputs that exceed `maxLength` (transformers' `truncation`). */
export type TruncationStrategy = "longest_first" | "only_first" | "only_second";

/** How to pad (transformers' `padding`): to the longest row of the batch, or to `maxLength`. */
export type PaddingStrategy = "longest" | "max_length";

/** Options of {@link Tokenizer.encode} and {@link Tokenizer.encodeBatch}. */
export interface EncodeOptions {
  /** Add `[CLS]`/`[SEP]` (the post-processor template). Default true. */
  addSpecialTokens?: boolean;
  /**
   * `true` means `"longest_first"`. Default: no truncation, unless `maxLength` is given without padding,
   * in which case transformers (and this tokenizer) truncate `"longest_first"`.
   */
  truncation?: boolean | TruncationStrategy;
  /** Length limit for truncation and `"max_length"` padding, special tokens included. Default `model_max_length`. */
  maxLength?: number;
  /** `true` means `"longest"`. Default false for `encode`, `"longest"` for `encodeBatch`. */
  padding?: boolean | PaddingStrategy;
  /** Round the padded length up to a multiple of this. */
  padToMultipleOf?: number;
  /** Tokens shared by consecutive overflow windows (question answering). Default 0. */
  stride?: number;
  /** Keep the windows that truncation cut off, as extra rows. Default false. */
  returnOverflowing?: boolean;
}

/** One encoded row: what transformers' `BatchEncoding` holds for one sequence (or pair), as plain arrays. */
export interface Encoding {
  /** Token ids. */
  inputIds: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[];
  /** 0 for the first sequence (and its special tokens), 1 for the second. */
  tokenTypeIds: number[];
  /** Token strings (`"[CLS]"`, `"hello"`, `"##s"`, ...). */
  tokens: string[];
  /**
   * `[start, end)` of each token in its input string, in UTF-16 code units, so `text.slice(start, end)` is
   * the token's source text. `[0, 0]` for special and padding tokens.
   */
  offsets: [number, number][];
  /** Index of the word each token belongs to, within its sequence; null for special and padding tokens. */
  wordIds: (number | null)[];
  /** 0 or 1 for tokens of the first or second sequence; null for special and padding tokens. */
  sequenceIds: (number | null)[];
  /** 1 for special (and padding) tokens, 0 otherwise. */
  specialTokensMask: number[];
  /** With `returnOverflowing`: the further windows of this input, each a complete row. */
  overflowing?: Encoding[];
}

/** A `[batch, sequence]` int32 tensor in the `{ data, dims }` shape `model.forward` takes. */
export interface BatchTensor {
  /** Row-major values. */
  data: Int32Array;
  /** `[batch, sequence]`. */
  dims: [number, number];
}

/** Result of {@link Tokenizer.encodeBatch}. */
export interface BatchEncoding {
  /** One row per input, or, with `returnOverflowing`, every window of every input in order. */
  encodings: Encoding[];
  /** Token ids, `[rows, length]`. */
  inputIds: BatchTensor;
  /** Attention mask, `[rows, length]`. */
  attentionMask: BatchTensor;
  /** Token type ids, `[rows, length]`. */
  tokenTypeIds: BatchTensor;
  /** For each row, the index of the input it came from (transformers' `overflow_to_sample_mapping`). */
  overflowToSampleMapping: number[];
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`, ...). Default false. */
  skipSpecialTokens?: boolean;
  /** Apply transformers' `clean_up_tokenization` (" ." -> ".", " n't" -> "n't", ...). Default from the config (true). */
  cleanUpTokenizationSpaces?: boolean;
}
