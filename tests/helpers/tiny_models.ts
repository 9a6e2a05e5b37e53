/**
 * Test helper: small model folders for every head, fast to load: the tiny synth-v1 weights (dim 32, 5 layers)
 * with a config edited as a test needs, and a WordPiece vocabulary of the tiny model's size (the first 1124
 * tokens of bert-base-uncased, so ordinary English words still split into known pieces).
 *
 * @module
 */

import { writeSynthModel } from "../../scripts/synth.ts";

const ROOT = new URL("../../", import.meta.url);
const VOCAB = new URL("tests/fixtures/tokenizer/bert-base-uncased/vocab.txt", ROOT).pathname;

/** Heads with a tiny fixture config. */
export type TinyHead = "mlm" | "seqcls" | "qa" | "tokcls";

/** A fresh temporary folder with a tiny checkpoint for `head` and its tokenizer files. */
export async function tinyModelDir(
  head: TinyHead,
  edit?: (config: Record<string, unknown>) => void,
): Promise<string> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL(`tests/fixtures/models/tiny/config.${head}.json`, ROOT)),
  ) as Record<string, unknown>;
  edit?.(config);
  const dir = await Deno.makeTempDir({ prefix: `denobert-tiny-${head}-` });
  await writeSynthModel(config as never, dir);
  const vocab = (await Deno.readTextFile(VOCAB)).split("\n").slice(0, config.vocab_size as number);
  await Deno.writeTextFile(`${dir}/vocab.txt`, vocab.join("\n") + "\n");
  await Deno.writeTextFile(
    `${dir}/tokenizer_config.json`,
    JSON.stringify({ do_lower_case: true, model_max_length: 512 }),
  );
  return dir;
}

/**
 * A tiny masked-LM checkpoint as a sentence-transformers folder whose config has `prompts` (default "query")
 * and whose mean pooling leaves the prompt's tokens out (include_prompt false).
 */
export async function tinyPromptedFolder(prompts: Record<string, string>): Promise<string> {
  const dir = await tinyModelDir("mlm");
  const files: Record<string, unknown> = {
    "modules.json": [
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
    ],
    "1_Pooling/config.json": {
      word_embedding_dimension: 32,
      pooling_mode_mean_tokens: true,
      include_prompt: false,
    },
    "config_sentence_transformers.json": { prompts, default_prompt_name: "query" },
  };
  await Deno.mkdir(`${dir}/1_Pooling`);
  for (const [name, content] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, JSON.stringify(content));
  }
  return dir;
}
