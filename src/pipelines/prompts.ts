/**
 * sentence-transformers prompts: which prompt a feature-extraction call uses (its `prompt`, its
 * `promptName`, or the folder's `default_prompt_name`), and how many leading tokens of an input are the
 * prompt's, for a Pooling module with `include_prompt: false`.
 *
 * @module
 */

import type { EncodeOptions, Tokenizer } from "../tokenizer/mod.ts";
import { promptNames, type SentenceTransformersConfig } from "./sentence_transformers.ts";
import { describeValue } from "./validate.ts";

/**
 * The prompt text of a call: `prompt` itself, the folder's prompt named `promptName`, or (neither given) the
 * folder's default prompt. Undefined or `""` means no prompt, as in sentence-transformers, so `prompt: ""`
 * turns a default prompt off. Giving both is an error (sentence-transformers would ignore the name).
 */
export function resolvePrompt(
  prompt: unknown,
  promptName: unknown,
  st: SentenceTransformersConfig | null,
): string | undefined {
  if (prompt !== undefined && typeof prompt !== "string") {
    throw new TypeError(`prompt must be a string, got ${describeValue(prompt)}`);
  }
  if (promptName !== undefined && typeof promptName !== "string") {
    throw new TypeError(`promptName must be a string, got ${describeValue(promptName)}`);
  }
  if (prompt !== undefined && promptName !== undefined) {
    throw new TypeError(
      `give prompt (the text) or promptName (a name in config_sentence_transformers.json), not both`,
    );
  }
  if (prompt !== undefined) return prompt;
  const prompts = st?.prompts ?? {};
  if (promptName !== undefined) {
    if (!Object.hasOwn(prompts, promptName)) {
      throw new RangeError(
        `promptName ${JSON.stringify(promptName)} is not one of this model's prompts (${
          st ? "config_sentence_transformers.json" : "it is not a sentence-transformers folder"
        }; prompts: ${promptNames(prompts)})`,
      );
    }
    return prompts[promptName];
  }
  return st?.defaultPromptName === undefined ? undefined : prompts[st.defaultPromptName];
}

/**
 * How many leading tokens of `prompt + text` belong to the prompt, as sentence-transformers counts them: the
 * prompt tokenized alone (same truncation as the inputs, special tokens added), less its last token when that
 * is a special one (BERT's `[SEP]`). So the `[CLS]` counts as the prompt's.
 */
export function promptTokenCount(tokenizer: Tokenizer, prompt: string, options: EncodeOptions): number {
  const enc = tokenizer.encode(prompt, null, options);
  const n = enc.inputIds.length;
  return n > 0 && enc.specialTokensMask[n - 1] === 1 ? n - 1 : n;
}
