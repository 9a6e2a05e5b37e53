/**
 * Test helper: the model folders of the pipeline references (scripts/hf_reference/models.ts), assembled under
 * `.cache/pipeline-references/<name>/` from cached synth-v1 weights.
 *
 * @module
 */

import { assembleModelFolder, REFERENCE_MODELS, referencePath } from "../../scripts/hf_reference/models.ts";
import { ensureSynthFromConfig } from "./synth_cache.ts";

const ROOT = new URL("../../", import.meta.url);
const built = new Map<string, Promise<string>>();

async function build(name: string): Promise<string> {
  const model = REFERENCE_MODELS[name];
  if (!model) throw new Error(`unknown reference model ${name}`);
  if (model.folder) return referencePath(model.folder);
  const configPath = referencePath(model.synthConfig!);
  // The base configs are the fixture ones, so their weights are shared with the other tests' cache.
  const base = /models\/base\/config\.(\w+)\.json$/.exec(model.synthConfig!);
  const weights = await ensureSynthFromConfig(configPath, base ? `base-${base[1]}` : `pipelines-${name}`);
  const dir = decodeURIComponent(new URL(`.cache/pipeline-references/${name}`, ROOT).pathname);
  await assembleModelFolder(name, weights, dir);
  return dir;
}

/** The folder of reference model `name` (built on first use in this process). */
export function referenceModelDir(name: string): Promise<string> {
  if (!built.has(name)) built.set(name, build(name));
  return built.get(name)!;
}
