/**
 * Test helper: a temporary sentence-transformers folder on the MiniLM-shape synth-v1 checkpoint (BertModel,
 * linked from `.cache/synth-v1/bert-minilm-model/`) with the bert-base-uncased tokenizer, plus the given
 * sentence-transformers files.
 *
 * @module
 */

import { ensureSynthFromConfig } from "./synth_cache.ts";
import { fixturePath } from "./reference.ts";

/** The MiniLM-shape checkpoint's folder (generated once). */
export const minilmDir = (): Promise<string> =>
  ensureSynthFromConfig(fixturePath("models/bert-minilm/config.model.json"), "bert-minilm-model");

/** Transformer -> Pooling -> Normalize, as sentence-transformers writes `modules.json`. */
export const ST_MODULES = [
  { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
  { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
  { idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" },
];

/**
 * A fresh temporary folder: the checkpoint, the tokenizer, and `files` (path in the folder -> JSON content).
 * The caller removes it.
 */
export async function stFolder(files: Record<string, unknown>): Promise<string> {
  const synth = await minilmDir();
  const dir = await Deno.makeTempDir({ prefix: "st-folder-" });
  await Deno.copyFile(`${synth}/config.json`, `${dir}/config.json`);
  await Deno.symlink(`${synth}/model.safetensors`, `${dir}/model.safetensors`);
  const tok = fixturePath("tokenizer/bert-base-uncased/");
  for (const f of ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]) {
    await Deno.copyFile(`${tok}${f}`, `${dir}/${f}`);
  }
  for (const [name, content] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(content));
  }
  return dir;
}
