/**
 * Hugging Face hub support: resolve a model argument (local folder or hub id) through the standard Hugging Face
 * cache, and download checkpoints into it.
 *
 * ```ts
 * import { resolveModelDir } from "./src/hub/mod.ts";
 * const dir = await resolveModelDir("distilbert-base-uncased-finetuned-sst-2-english");
 * // dir = ~/.cache/huggingface/hub/models--distilbert-base-uncased-finetuned-sst-2-english/snapshots/<commit>
 * ```
 *
 * Permissions: `--allow-env` (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME, HF_HUB_OFFLINE, HF_ENDPOINT, HF_TOKEN...),
 * `--allow-read` and `--allow-write` on the cache, and `--allow-net` for the hub (huggingface.co plus the LFS CDN
 * it redirects to) when downloading.
 *
 * @module
 */

export { resolveModelDir } from "./resolve.ts";
export type { ResolveModelOptions } from "./resolve.ts";
export { downloadModel } from "./download.ts";
export type { DownloadOptions, DownloadProgress } from "./download.ts";
export {
  cachedCommit,
  DEFAULT_ENDPOINT,
  DEFAULT_REVISION,
  findCachedModel,
  hubCacheDir,
  isValidRepoId,
  repoCacheDir,
  validateRepoId,
} from "./cache.ts";
export { HubError } from "./errors.ts";
export type { HubErrorCode } from "./errors.ts";
