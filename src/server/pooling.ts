/**
 * The pooling a model folder asks for: sentence-transformers' `modules.json` + `1_Pooling/config.json` (read
 * by the pipelines' reader, so the server and `pipeline()` agree on a folder), else a bare
 * `1_Pooling/config.json`, else mean pooling.
 *
 * @module
 */

import { FILE_CAPS, readOptionalJson } from "../fs/read.ts";
import { readSentenceTransformersConfig } from "../pipelines/sentence_transformers.ts";

function readJson(path: string): Promise<unknown> {
  return readOptionalJson(path, FILE_CAPS.config, "sentence-transformers configs");
}

function single(modes: string[], source: string): "mean" | "cls" {
  if (modes.length === 1 && (modes[0] === "cls" || modes[0] === "mean")) return modes[0];
  throw new Error(
    `${source} asks for pooling ${modes.join(" + ") || "(none)"}: the server supports cls or mean pooling`,
  );
}

/** `"cls"` or `"mean"`; throws for a pooling mode the server does not implement, naming it. */
export async function modelPooling(dir: string): Promise<"mean" | "cls"> {
  const st = await readSentenceTransformersConfig(dir);
  if (st) return single(st.pooling, `${dir}/modules.json's Pooling module`);
  const poolingDir = `${dir}/1_Pooling`;
  const config = await readJson(`${poolingDir}/config.json`);
  if (config === undefined) return "mean";
  if (typeof config !== "object" || config === null) {
    throw new Error(`${poolingDir}/config.json is not an object`);
  }
  const c = config as Record<string, unknown>;
  const on = Object.keys(c).filter((k) => k.startsWith("pooling_mode_") && c[k] === true);
  const names: Record<string, string> = { pooling_mode_cls_token: "cls", pooling_mode_mean_tokens: "mean" };
  return single(on.map((k) => names[k] ?? k), `${poolingDir}/config.json`);
}
