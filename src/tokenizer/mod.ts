/**
 * Hugging Face-exact BERT WordPiece (uncased or cased) tokenizer.
 *
 * @module
 */

export { Tokenizer } from "./tokenizer.ts";
export type {
  BatchEncoding,
  BatchTensor,
  DecodeOptions,
  EncodeOptions,
  Encoding,
  PaddingStrategy,
  TruncationStrategy,
} from "./types.ts";
