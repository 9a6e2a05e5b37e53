/**
 * Test/benchmark helper: a synth-v1 checkpoint on disk, generated once under `.cache/synth-v1/<size>-<head>/`
 * (git-ignored) and reused by later runs.
 *
 * @module
 */

import { checkpointLayout, type SynthConfig, writeSynthModel } from "../../scripts/synth.ts";

/** Model sizes with fixture configs. */
export type SynthSize = "tiny" | "base";
/** Heads with fixture configs. */
export type SynthHead = "mlm" | "seqcls" | "qa" | "tokcls";

const ROOT = new URL("../../", import.meta.url);

function fixtureConfigPath(size: SynthSize, head: SynthHead): string {
  return new URL(`tests/fixtures/models/${size}/config.${head}.json`, ROOT).pathname;
}

/** Whether `dir` holds a complete checkpoint for `configBytes` (same config, all tensors, full length). */
async function isComplete(dir: string, configBytes: Uint8Array): Promise<boolean> {
  try {
    const cached = await Deno.readFile(`${dir}/config.json`);
    if (cached.length !== configBytes.length || !cached.every((b, i) => b === configBytes[i])) return false;
    const file = await Deno.open(`${dir}/model.safetensors`, { read: true });
    try {
      const size = (await file.stat()).size;
      const head = new Uint8Array(8);
      if (await file.read(head) !== 8) return false;
      const n = Number(new DataView(head.buffer).getBigUint64(0, true));
      if (n > 100_000_000 || 8 + n > size) return false;
      const json = new Uint8Array(n);
      for (let got = 0; got < n;) {
        const r = await file.read(json.subarray(got));
        if (r === null) return false;
        got += r;
      }
      const header = JSON.parse(new TextDecoder().decode(json)) as Record<
        string,
        { data_offsets?: number[] }
      >;
      let end = 0;
      for (const [k, v] of Object.entries(header)) {
        if (k !== "__metadata__") end = Math.max(end, v.data_offsets![1]);
      }
      if (8 + n + end !== size) return false;
      const config = JSON.parse(new TextDecoder().decode(configBytes)) as SynthConfig;
      const keys = new Set(checkpointLayout(config).map((s) => s.key));
      const present = Object.keys(header).filter((k) => k !== "__metadata__");
      return present.length === keys.size && present.every((k) => keys.has(k));
    } finally {
      file.close();
    }
  } catch {
    return false;
  }
}

/**
 * Returns a directory holding `config.json` (a copy of the fixture config) and the synth-v1
 * `model.safetensors` for that size and head, generating it on first use. Files are written atomically, so
 * concurrent test processes may race to generate but never read a partial file.
 *
 * @param size `tiny` or `base` (the `distilbert-base-uncased` shape, 265 MB)
 * @param head which fixture config: masked LM, sequence classification, question answering, token
 * classification
 * @returns absolute directory path
 */
export function ensureSynthModel(size: SynthSize, head: SynthHead): Promise<string> {
  return ensureSynthFromConfig(fixtureConfigPath(size, head), `${size}-${head}`);
}

/**
 * Like {@link ensureSynthModel} for any synth config file: the checkpoint is cached under
 * `.cache/synth-v1/<name>/` and regenerated when the config changes.
 *
 * @param configPath absolute path of the config.json to generate from
 * @param name the cache folder's name
 * @returns absolute directory path
 */
export async function ensureSynthFromConfig(configPath: string, name: string): Promise<string> {
  const dir = new URL(`.cache/synth-v1/${name}`, ROOT).pathname;
  const configBytes = await Deno.readFile(configPath);
  if (!(await isComplete(dir, configBytes))) await writeSynthModel(configPath, dir);
  return dir;
}
