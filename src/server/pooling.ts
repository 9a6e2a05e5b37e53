/**
 * The pooling a model folder asks for: sentence-transformers' `modules.json` + its Pooling module (read by the
 * pipelines' reader, so the server and `pipeline()` agree on a folder), else a bare `1_Pooling/config.json`,
 * else mean pooling.
 *
 * @module
 */

import { FILE_CAPS, readOptionalJson } from "../fs/read.ts";
import {
  POOLING_FLAGS,
  POOLING_MODES,
  type PoolingMode,
  readSentenceTransformersConfig,
} from "../pipelines/sentence_transformers.ts";

/**
 * The folder's pooling modes (several are concatenated, as sentence-transformers does; only a full
 * sentence-transformers folder may ask for several, since only then does the pipeline read them itself).
 */
export async function modelPooling(dir: string): Promise<PoolingMode[]> {
  const st = await readSentenceTransformersConfig(dir);
  if (st) return [...st.pooling];
  const path = `${dir}/1_Pooling/config.json`;
  const config = await readOptionalJson(path, FILE_CAPS.config, "sentence-transformers configs");
  if (config === undefined) return ["mean"];
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error(`${path} is not an object`);
  }
  const c = config as Record<string, unknown>;
  const modes = POOLING_MODES.filter((m) => c[POOLING_FLAGS[m]] === true);
  if (modes.length !== 1) {
    throw new Error(
      `${path} asks for ${modes.length} pooling modes (${
        modes.join(", ") || "none"
      }): without modules.json ` +
        `the server takes exactly one`,
    );
  }
  return modes;
}
