/**
 * Ids back to text, as transformers' fast `decode` does: the WordPiece decoder of `tokenizers` (which
 * cleans up each token on its own), then transformers' `clean_up_tokenization` on the whole string.
 *
 * @module
 */

/** `tokenizers`' WordPiece decoder clean-up. It runs per token, so only the single-token rules can fire. */
function cleanupToken(token: string): string {
  return token
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" do not", " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** transformers' `PreTrainedTokenizerBase.clean_up_tokenization`. */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** Joins WordPiece tokens: `##` pieces glue to the previous token, others get a space. */
export function decodeWordPiece(tokens: readonly string[], prefix: string, cleanup: boolean): string {
  let out = "";
  for (let i = 0; i < tokens.length; i++) {
    let token = tokens[i];
    if (i !== 0) token = token.startsWith(prefix) ? token.slice(prefix.length) : " " + token;
    out += cleanup ? cleanupToken(token) : token;
  }
  return out;
}
