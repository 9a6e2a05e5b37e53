/**
 * The model folders the pipeline references are computed on: the embedded SST-2 model, and synth-v1 checkpoints
 * (random weights, deterministic) for every head with either tokenizer this repository ships: bert-base-uncased
 * (`tokenizer.json`) and the SST-2 model's own vocabulary (`vocab.txt` only, the other loading path).
 *
 * The reference generator (`generate.py`) runs this file to write the folders; the tests build the same folders
 * through `tests/helpers/pipeline_models.ts`, caching the weights.
 *
 * CLI: `deno run --allow-read --allow-write scripts/hf_reference/models.ts <out_dir>` writes `<out_dir>/<name>/`
 * for every model.
 *
 * @module
 */

import { writeSynthModel } from "../synth.ts";

const ROOT = new URL("../../", import.meta.url);
const repoPath = (rel: string) => decodeURIComponent(new URL(rel, ROOT).pathname);

/** Where a reference model's weights and tokenizer come from. */
export interface ReferenceModel {
  /** A folder used as it is (config, weights and tokenizer), relative to the repository. */
  folder?: string;
  /** A synth-v1 config, relative to the repository: the weights are generated from it. */
  synthConfig?: string;
  /** The tokenizer folder whose files are copied beside the weights, relative to the repository. */
  tokenizer?: string;
}

const BERT = "tests/fixtures/tokenizer/bert-base-uncased";
const SST2 = "weights/sst2-distilbert-small";
const small = (name: string, tokenizer: string): ReferenceModel => ({
  synthConfig: `tests/fixtures/pipelines/config.${name}.json`,
  tokenizer,
});
const base = (head: string): ReferenceModel => ({
  synthConfig: `tests/fixtures/models/base/config.${head}.json`,
  tokenizer: BERT,
});

/** Every model the references use, by name. */
export const REFERENCE_MODELS: Readonly<Record<string, ReferenceModel>> = {
  "sst2": { folder: SST2 },
  "small-multilabel": small("small-multilabel", BERT),
  "small-onelabel": small("small-onelabel", BERT),
  "small-qa": small("small-qa", BERT),
  "small-tokcls": small("small-tokcls", BERT),
  // The same weights with labels of several dashes and without a B- / I- prefix.
  "small-tokcls-tags": small("small-tokcls-tags", BERT),
  "small-mlm": small("small-mlm", BERT),
  "sst2vocab-qa": small("sst2vocab-qa", SST2),
  "sst2vocab-tokcls": small("sst2vocab-tokcls", SST2),
  "sst2vocab-mlm": small("sst2vocab-mlm", SST2),
  "base-qa": base("qa"),
  "base-tokcls": base("tokcls"),
  "base-mlm": base("mlm"),
};

const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"];

/** Absolute path of a repository file. */
export function referencePath(rel: string): string {
  return repoPath(rel);
}

/**
 * Makes `dir` a complete model folder for `name` given a folder holding its weights (`config.json` and
 * `model.safetensors`, e.g. a synth-v1 output): links the weights, copies the config and the tokenizer files.
 */
export async function assembleModelFolder(name: string, weightsDir: string, dir: string): Promise<void> {
  const model = REFERENCE_MODELS[name];
  if (!model?.tokenizer) throw new Error(`reference model ${name} is not assembled from synth weights`);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(`${weightsDir}/config.json`, `${dir}/config.json`);
  const target = `${dir}/model.safetensors`;
  await Deno.remove(target).catch(() => {});
  await Deno.symlink(`${weightsDir}/model.safetensors`, target);
  for (const f of TOKENIZER_FILES) {
    try {
      await Deno.copyFile(repoPath(`${model.tokenizer}/${f}`), `${dir}/${f}`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/** Writes every reference model under `outDir/<name>/` (synth weights generated in place). */
export async function writeReferenceModels(outDir: string): Promise<void> {
  for (const [name, model] of Object.entries(REFERENCE_MODELS)) {
    const dir = `${outDir}/${name}`;
    if (model.folder) {
      await Deno.mkdir(outDir, { recursive: true });
      await Deno.remove(dir).catch(() => {});
      await Deno.symlink(repoPath(model.folder), dir);
      continue;
    }
    const weights = `${outDir}/.weights-${name}`;
    await writeSynthModel(repoPath(model.synthConfig!), weights);
    await assembleModelFolder(name, weights, dir);
  }
}

if (import.meta.main) {
  if (Deno.args.length !== 1) {
    console.error("usage: deno run --allow-read --allow-write scripts/hf_reference/models.ts <out_dir>");
    Deno.exit(2);
  }
  await writeReferenceModels(Deno.args[0]);
}
