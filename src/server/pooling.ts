/**
 * The pooling a model folder asks for: sentence-transformers' `modules.json` + `1_Pooling/config.json`, else
 * mean pooling.
 *
 * @module
 */

import { FILE_CAPS, readOptionalJson } from "../fs/read.ts";

function readJson(path: string): Promise<unknown> {
  return readOptionalJson(path, FILE_CAPS.config, "sentence-transformers configs");
}

/** `"cls"` or `"mean"`; throws for a pooling mode this library does not implement, naming it. */
export async function modelPooling(dir: string): Promise<"mean" | "cls"> {
  const modules = await readJson(`${dir}/modules.json`);
  let poolingDir = `${dir}/1_Pooling`;
  if (Array.isArray(modules)) {
    const p = modules.find((m) => typeof m?.type === "string" && m.type.endsWith("Pooling"));
    if (p && typeof p.path === "string") poolingDir = `${dir}/${p.path}`;
  }
  const config = await readJson(`${poolingDir}/config.json`);
  if (config === undefined) return "mean";
  if (typeof config !== "object" || config === null) {
    throw new Error(`${poolingDir}/config.json is not an object`);
  }
  const c = config as Record<string, unknown>;
  const on = Object.keys(c).filter((k) => k.startsWith("pooling_mode_") && c[k] === true);
  if (on.length === 1 && on[0] === "pooling_mode_cls_token") return "cls";
  if (on.length === 1 && on[0] === "pooling_mode_mean_tokens") return "mean";
  throw new Error(
    `${poolingDir}/config.json asks for pooling ${
      on.join(" + ") || "(none)"
    }: only cls or mean pooling is supported`,
  );
}
