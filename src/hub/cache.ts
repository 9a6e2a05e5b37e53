/**
 * The Hugging Face cache as `huggingface_hub` (Python) and `@huggingface/hub` (JS) lay it out, read without
 * touching the network:
 *
 * ```text
 * $HF_HUB_CACHE (else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub)
 * └── models--{org}--{name}/          (models--{name} for legacy ids without an org)
 *     ├── blobs/<etag>                 (sha256 for LFS files, git blob sha1 otherwise)
 *     ├── refs/<revision>              (text file holding the commit sha the branch/tag pointed to)
 *     ├── snapshots/<commit>/<file>    (relative symlinks into ../../blobs/)
 *     └── .no_exist/<commit>/<file>    (empty markers for files known to be absent at that commit)
 * ```
 *
 * The cache root and the repo folder name come from `@huggingface/hub` (`getHFHubCachePath`,
 * `getRepoFolderName`), so we agree with the official client on every environment variable it honours.
 *
 * @module
 */

import { getHFHubCachePath, getRepoFolderName, REGEX_COMMIT_HASH } from "@huggingface/hub";
import { join } from "node:path";
import { CacheFs } from "./cache_fs.ts";
import { HubError } from "./errors.ts";
import { FILE_CAPS, readTextCapped } from "../fs/read.ts";

/** Default hub endpoint, overridden by `HF_ENDPOINT` or the `endpoint` option. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** Default revision (branch) when none is given. */
export const DEFAULT_REVISION = "main";

/** Files a model folder must contain for us to use it. */
export const REQUIRED_FILES: readonly string[] = ["config.json", "model.safetensors"];

/** Tokenizer files we fetch when present; at least one of {@link TOKENIZER_VOCAB_FILES} must exist. */
export const TOKENIZER_FILES: readonly string[] = [
  "tokenizer.json",
  "vocab.txt",
  "tokenizer_config.json",
  "special_tokens_map.json",
];

/** Either of these is enough to build the tokenizer. */
export const TOKENIZER_VOCAB_FILES: readonly string[] = ["tokenizer.json", "vocab.txt"];

// huggingface_hub's validate_repo_id: optional "namespace/", then a name of 1..96 chars from [\w.-] that starts
// and ends with a word character; "--" and ".." are rejected separately, as is a ".git" suffix. The hub itself
// only allows ASCII, so \w is spelled out as ASCII here.
const REPO_ID_RE =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\/)?[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;

/** Whether `id` is a syntactically valid hub model id (`name` or `org/name`). */
export function isValidRepoId(id: string): boolean {
  return REPO_ID_RE.test(id) && !id.includes("--") && !id.includes("..") && !id.endsWith(".git");
}

/**
 * Throws a `HubError` (`invalid_repo_id`) unless `id` is a valid hub model id.
 *
 * @param id the repo id to check, e.g. `distilbert/distilbert-base-uncased`
 */
export function validateRepoId(id: string): void {
  if (!isValidRepoId(id)) {
    throw new HubError(
      "invalid_repo_id",
      `invalid Hugging Face repo id ${
        JSON.stringify(id)
      }: expected "name" or "org/name" made of letters, digits, ` +
        `"-", "_" and "." (at most 96 characters for the name, starting and ending with a letter or digit, ` +
        `no "--" or "..")`,
    );
  }
}

/** Whether `revision` is a full 40-hex commit sha (used directly as the snapshot folder name). */
export function isCommitHash(revision: string): boolean {
  return REGEX_COMMIT_HASH.test(revision);
}

// Characters git forbids in ref names (check-ref-format): controls, space, ~ ^ : ? * [ and backslash.
const BAD_REVISION_CHAR = /[\p{Cc} ~^:?*[\\]/u;

/**
 * Throws a `HubError` (`invalid_revision`) for revisions that cannot safely name a file under `refs/`. Branch and
 * tag names may contain "/" (e.g. `refs/pr/1`); like git, we refuse "..", empty segments, segments starting with
 * "." or ending with ".lock", "@{", a trailing ".", and control characters, spaces, `~^:?*[` and backslashes.
 *
 * @param revision a branch, tag or commit sha
 */
export function validateRevision(revision: string): void {
  const parts = revision.split("/");
  if (
    revision.length === 0 || revision.length > 255 || BAD_REVISION_CHAR.test(revision) ||
    revision.includes("..") || revision.includes("@{") || revision.endsWith(".") ||
    parts.some((p) => p === "" || p.startsWith(".") || p.endsWith(".lock"))
  ) {
    throw new HubError(
      "invalid_revision",
      `invalid revision ${
        JSON.stringify(revision)
      }: expected a branch, tag or commit sha (segments separated ` +
        `by "/", none empty or starting with ".", no "..", spaces, control characters or any of ~^:?*[\\)`,
    );
  }
}

/** The home directory from the environment; `os.homedir()` would need `--allow-sys` in Deno. */
function homeDir(): string | undefined {
  return Deno.env.get("HOME") || Deno.env.get("USERPROFILE") || undefined;
}

/**
 * `path` with a leading `~` (alone or before a "/") made the home folder. huggingface_hub expands it in
 * HF_HOME, HF_HUB_CACHE and HF_TOKEN_PATH (`os.path.expanduser`); a `HF_HOME=~/hf` set where no shell expands
 * it (a Dockerfile's ENV, a quoted .env value) must name the cache Python uses, not a folder named "~" in the
 * working directory.
 */
function expandHome(path: string): string {
  const home = homeDir();
  return home !== undefined && /^~(?:[\\/]|$)/.test(path) ? join(home, path.slice(1)) : path;
}

/**
 * The hub cache root, from the environment (via `@huggingface/hub`'s `getHFHubCachePath`):
 * `$HF_HUB_CACHE`, else `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
 * else `~/.cache/huggingface/hub`; a leading `~` in them is the home folder, as in huggingface_hub.
 */
export function hubCacheDir(): string {
  const configured = ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"]
    .some((name) => Deno.env.get(name) !== undefined);
  const home = homeDir();
  // Only the last fallback is ours: the package would call os.homedir(), which Deno gates behind --allow-sys.
  if (!configured && home !== undefined) return join(home, ".cache", "huggingface", "hub");
  // The package leaves a "~" as it is; each variable it may come from starts the path it builds.
  return expandHome(getHFHubCachePath());
}

/**
 * The cache folder of one model repo: `<cacheDir>/models--{org}--{name}`.
 *
 * @param repoId a valid hub id
 * @param cacheDir cache root; defaults to {@link hubCacheDir}
 */
export function repoCacheDir(repoId: string, cacheDir?: string): string {
  validateRepoId(repoId);
  return join(cacheDir ?? hubCacheDir(), getRepoFolderName({ name: repoId, type: "model" }));
}

/** `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) set to 1/on/yes/true, as huggingface_hub reads it. */
export function offlineFromEnv(): boolean {
  return ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"].some((name) =>
    ["1", "ON", "YES", "TRUE"].includes((Deno.env.get(name) ?? "").trim().toUpperCase())
  );
}

/** The hub endpoint: `HF_ENDPOINT` if set, else https://huggingface.co, without a trailing slash. */
export function endpointFromEnv(): string {
  return (Deno.env.get("HF_ENDPOINT") || DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
function hfHome(): string {
  return expandHome(
    Deno.env.get("HF_HOME") ||
      join(Deno.env.get("XDG_CACHE_HOME") || join(homeDir() ?? ".", ".cache"), "huggingface"),
  );
}

/**
 * The access token as huggingface_hub finds it: `HF_TOKEN`, else the legacy `HUGGING_FACE_HUB_TOKEN`, else the
 * file written by `huggingface-cli login` (`$HF_TOKEN_PATH`, else `$HF_HOME/token`). Undefined when none.
 */
export async function tokenFromEnv(): Promise<string | undefined> {
  const fromEnv = Deno.env.get("HF_TOKEN") || Deno.env.get("HUGGING_FACE_HUB_TOKEN");
  if (fromEnv) return fromEnv.trim();
  const path = expandHome(Deno.env.get("HF_TOKEN_PATH") || join(hfHome(), "token"));
  try {
    return (await readTextCapped(path, FILE_CAPS.small, "token files")).trim() || undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * The commit a revision points to in the cache, without network: a commit sha is itself, a branch or tag is read
 * from `refs/<revision>`. Undefined when the ref was never recorded (or `refs/<revision>` is a folder of refs
 * below it).
 *
 * @param repoId a valid hub id
 * @param revision branch, tag or commit sha
 * @param cacheDir cache root; defaults to {@link hubCacheDir}
 * @throws {HubError} `cache` when the ref leads outside the cache
 */
export async function cachedCommit(
  repoId: string,
  revision: string = DEFAULT_REVISION,
  cacheDir?: string,
): Promise<string | undefined> {
  validateRevision(revision);
  if (isCommitHash(revision)) return revision;
  validateRepoId(repoId);
  const folder = getRepoFolderName({ name: repoId, type: "model" });
  const fs = await CacheFs.existing(cacheDir ?? hubCacheDir());
  const ref = [folder, "refs", ...revision.split("/")];
  if (fs === undefined || !(await fs.resolve(ref))?.isFile) return undefined;
  const commit = (await readTextCapped(fs.path(ref), FILE_CAPS.small, "hub cache refs")).trim();
  return isCommitHash(commit) ? commit : undefined;
}

/**
 * Looks a model up in the cache without network: the snapshot folder of `revision` if it holds everything we need
 * (`config.json`, `model.safetensors`, and `tokenizer.json` or `vocab.txt`), else undefined. Works on caches filled
 * by Python transformers/huggingface_hub as well as by `downloadModel`. Snapshot entries are read through their
 * links into `blobs/`, but one that leads outside the cache, or to a folder, is an error, not a hit.
 *
 * @param repoId a valid hub id
 * @param options `revision` (default "main") and `cacheDir` (default {@link hubCacheDir})
 * @throws {HubError} `cache` for a snapshot entry or ref leading outside the cache or to a non-file
 */
export async function findCachedModel(
  repoId: string,
  options: { revision?: string; cacheDir?: string } = {},
): Promise<string | undefined> {
  const commit = await cachedCommit(repoId, options.revision ?? DEFAULT_REVISION, options.cacheDir);
  if (commit === undefined) return undefined;
  const fs = await CacheFs.existing(options.cacheDir ?? hubCacheDir());
  if (fs === undefined) return undefined;
  const snapshot = [getRepoFolderName({ name: repoId, type: "model" }), "snapshots", commit];
  const has = async (file: string) => await fs.resolveFile([...snapshot, file]) !== undefined;
  for (const file of REQUIRED_FILES) {
    if (!await has(file)) return undefined;
  }
  for (const file of TOKENIZER_VOCAB_FILES) {
    if (await has(file)) return join(repoCacheDir(repoId, options.cacheDir), "snapshots", commit);
  }
  return undefined;
}
