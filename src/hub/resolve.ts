/**
 * Turning a model argument — a local folder or a hub id — into a folder to load from.
 *
 * @module
 */

import { DEFAULT_REVISION, findCachedModel, hubCacheDir, isValidRepoId, offlineFromEnv } from "./cache.ts";
import {
  DOWNLOAD_OPTION_KEYS,
  downloadModel,
  type DownloadOptions,
  notCachedError,
  validateDownloadOptions,
} from "./download.ts";
import { HubError } from "./errors.ts";

/** Options of {@link resolveModelDir}: those of `downloadModel`, plus whether a cache miss may download. */
export interface ResolveModelOptions extends DownloadOptions {
  /** Download on a cache miss. Default true (unless offline). With false, a cache miss is an error. */
  download?: boolean;
}

/** The names {@link ResolveModelOptions} declares. */
export const RESOLVE_OPTION_KEYS = [...DOWNLOAD_OPTION_KEYS, "download"] as const satisfies readonly (
  keyof ResolveModelOptions
)[];

// Explicitly a path: ./x, ../x, /x, ~/x, and on Windows C:\x, C:/x, \x, .\x.
const PATH_LIKE = /^(?:\.{1,2}(?:[\\/]|$)|[\\/~]|[A-Za-z]:[\\/])/;

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return undefined;
    throw err;
  }
}

/**
 * Resolves a model argument to a folder holding `config.json`, `model.safetensors` and the tokenizer files.
 *
 * - An existing directory, or anything written as a path (`./x`, `../x`, `/x`), is returned unchanged.
 * - Otherwise it is a hub id (`org/name`, or a legacy `name` like `distilbert-base-uncased-finetuned-sst-2-english`):
 *   the snapshot in the Hugging Face cache is used when complete — also one downloaded earlier by Python
 *   transformers — with no network access; else, unless offline (`offline` or `HF_HUB_OFFLINE=1`) or
 *   `download: false`, it is downloaded with `downloadModel`.
 *
 * A branch revision ("main") is taken from the cache as recorded in `refs/`; call `downloadModel` to check the hub
 * for a newer commit.
 *
 * @param modelOrId local folder or hub id
 * @param options revision, cache dir, endpoint, token, offline, download switch, progress callback
 * @returns the folder to load the model from
 * @throws {HubError} `invalid_repo_id` for a string that is neither; `not_cached` offline on a cache miss; and the
 *   download errors
 * @throws {TypeError} for an option it does not take
 */
export async function resolveModelDir(modelOrId: string, options: ResolveModelOptions = {}): Promise<string> {
  const info = await statOrUndefined(modelOrId);
  if (info?.isDirectory || (info === undefined && PATH_LIKE.test(modelOrId))) return modelOrId;
  if (info !== undefined) {
    throw new HubError("invalid_repo_id", `${modelOrId} is a file; expected a model folder or a hub id`);
  }
  if (!isValidRepoId(modelOrId)) {
    throw new HubError(
      "invalid_repo_id",
      `${JSON.stringify(modelOrId)} is neither an existing folder nor a valid Hugging Face repo id ` +
        `("name" or "org/name" of letters, digits, "-", "_", "."; write local paths as ./path)`,
    );
  }
  validateDownloadOptions(options, RESOLVE_OPTION_KEYS, "resolveModelDir");
  const revision = options.revision ?? DEFAULT_REVISION;
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const cached = await findCachedModel(modelOrId, { revision, cacheDir });
  if (cached !== undefined) return cached;
  if (options.offline ?? offlineFromEnv()) {
    throw notCachedError(modelOrId, revision, cacheDir, "offline mode is on (HF_HUB_OFFLINE)");
  }
  if (options.download === false) {
    throw notCachedError(modelOrId, revision, cacheDir, "downloads are disabled");
  }
  const { download: _, ...forDownload } = options;
  return await downloadModel(modelOrId, { ...forDownload, revision, cacheDir, offline: false });
}
