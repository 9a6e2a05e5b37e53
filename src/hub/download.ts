/**
 * Downloading a DistilBERT checkpoint from the Hugging Face hub into the standard cache: which files, in which
 * order, and how they land in `blobs/`, `snapshots/`, `refs/` and `.no_exist/`.
 *
 * Why this is hand-written rather than `@huggingface/hub`'s `snapshotDownload` / `downloadFileToCacheDir`
 * (checked against npm:@huggingface/hub@2.17.5, which does import and run in Deno):
 * - they do not resume: `.incomplete` is rewritten from byte 0 on every attempt;
 * - they verify nothing: no sha256 check against the LFS ETag, no size check;
 * - they report no progress, and log with `console.debug` on every file;
 * - `downloadFileToCacheDir` does not record `refs/<branch>`, so the cache cannot be resolved offline afterwards,
 *   and `snapshotDownload` fetches every file of the repo (pytorch_model.bin, tf/flax/onnx weights...);
 * - both go through `/api/models/...` JSON endpoints, while the resolve endpoint alone carries all we need.
 * So we use the package for the cache layout (cache root from the environment, repo folder naming, commit-hash
 * regex; see cache.ts) and speak the small resolve protocol ourselves (metadata.ts), with hand-followed
 * redirects (http.ts), bounded verified transfers (transfer.ts) and cache writes that never follow a link we
 * did not make (cache_fs.ts).
 *
 * @module
 */

import { basename, join } from "node:path";
import {
  DEFAULT_REVISION,
  endpointFromEnv,
  findCachedModel,
  hubCacheDir,
  isCommitHash,
  offlineFromEnv,
  repoCacheDir,
  tokenFromEnv,
  TOKENIZER_FILES,
  TOKENIZER_VOCAB_FILES,
  validateRepoId,
  validateRevision,
} from "./cache.ts";
import { CacheFs } from "./cache_fs.ts";
import { HubError } from "./errors.ts";
import { type FileMeta, probe } from "./metadata.ts";
import { fetchBlob, type TransferContext } from "./transfer.ts";
import { FILE_CAPS, readJsonCapped, readTextCapped } from "../fs/read.ts";
import { checkOptionKeys } from "../pipelines/validate.ts";

/** One progress report: `loaded` of `total` bytes of `file` (total is undefined if the hub did not say). */
export interface DownloadProgress {
  /** File name inside the repo, e.g. `model.safetensors`. */
  file: string;
  /** Bytes of the file on disk so far (including a resumed part). */
  loaded: number;
  /** Size of the file, when known. */
  total: number | undefined;
}

/** Options shared by {@link downloadModel} and `resolveModelDir`. */
export interface DownloadOptions {
  /** Branch, tag or commit sha. Default "main". */
  revision?: string;
  /**
   * Cache root. Default: {@link hubCacheDir}'s, `$HF_HUB_CACHE`, else `$HUGGINGFACE_HUB_CACHE`, else
   * `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
   */
  cacheDir?: string;
  /** Hub URL. Default: `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Access token for gated/private repos. Default: `$HF_TOKEN`, else the `huggingface-cli login` token file. */
  token?: string;
  /** Never touch the network, only the cache. Default: `$HF_HUB_OFFLINE` is 1/true/yes/on. */
  offline?: boolean;
  /** Called as bytes arrive (and once per file already in the cache). */
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * Slowest average speed a file transfer may keep up over a whole {@link minSpeedWindowMs}, in bytes per
   * second; below it the transfer is stopped (the part on disk is kept, and the next run resumes it), so a
   * server that trickles bytes cannot hold a download open for ever. 0 turns the check off. Default 1024
   * (1 KiB/s). A transfer with no byte at all for `HF_HUB_DOWNLOAD_TIMEOUT` seconds (default 10) stops sooner.
   */
  minBytesPerSecond?: number;
  /** The window, in milliseconds, over which {@link minBytesPerSecond} is averaged. Default 30000 (30 s). */
  minSpeedWindowMs?: number;
}

/** Defaults of the speed check: abort below 1 KiB/s averaged over 30 s (curl's `-Y 1024 -y 30`). */
const DEFAULT_MIN_BYTES_PER_SECOND = 1024;
const DEFAULT_MIN_SPEED_WINDOW_MS = 30_000;

function secondsFromEnv(name: string, fallback: number): number {
  const value = Number(Deno.env.get(name));
  return (Number.isFinite(value) && value > 0 ? value : fallback) * 1000;
}

/** The names {@link DownloadOptions} declares. */
export const DOWNLOAD_OPTION_KEYS = [
  "revision",
  "cacheDir",
  "endpoint",
  "token",
  "offline",
  "onProgress",
  "minBytesPerSecond",
  "minSpeedWindowMs",
] as const satisfies readonly (keyof DownloadOptions)[];
// Compile-time check that the list names every declared option (a new option must be added to it).
const _downloadKeysComplete: Exclude<keyof DownloadOptions, typeof DOWNLOAD_OPTION_KEYS[number]> extends never
  ? true
  : never = true;
void _downloadKeysComplete;

/**
 * Throws a `TypeError` for options that are not an object or name an option not in `allowed` (a misspelt
 * `revison` would otherwise fetch main, or `local_files_only` go to the network), and a `RangeError` naming
 * the option when `minBytesPerSecond` or `minSpeedWindowMs` is not a usable number.
 *
 * @param options the options to check
 * @param allowed the option names the caller takes
 * @param what the caller, for the message
 */
export function validateDownloadOptions(
  options: DownloadOptions,
  allowed: readonly string[] = DOWNLOAD_OPTION_KEYS,
  what = "downloadModel",
): void {
  checkOptionKeys(options, allowed, `${what} options`);
  const { minBytesPerSecond, minSpeedWindowMs } = options;
  if (minBytesPerSecond !== undefined && !(Number.isFinite(minBytesPerSecond) && minBytesPerSecond >= 0)) {
    throw new RangeError(
      `minBytesPerSecond must be a finite number >= 0 (0: no check), got ${minBytesPerSecond}`,
    );
  }
  if (minSpeedWindowMs !== undefined && !(Number.isFinite(minSpeedWindowMs) && minSpeedWindowMs > 0)) {
    throw new RangeError(
      `minSpeedWindowMs must be a finite number of milliseconds > 0, got ${minSpeedWindowMs}`,
    );
  }
}

/**
 * `refs/<revision>` records which commit a branch/tag pointed to, for offline resolution later. Git cannot hold
 * a ref `v1` and a ref `v1/fix` at once, but a hub's refs change over time, so the cache can meet both: that is a
 * clear error naming the file in the way, not a raw NotADirectory.
 */
async function writeRef(ctx: TransferContext, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const parts = revision.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const rel = [ctx.storage, "refs", ...parts.slice(0, i)];
    const info = await ctx.fs.lstat(rel);
    if (info === undefined) break;
    const prefix = parts.slice(0, i).join("/");
    if (i < parts.length && info.isFile) {
      throw new HubError(
        "cache",
        `revision ${JSON.stringify(revision)} of ${ctx.repoId} cannot be recorded in the cache: ` +
          `${ctx.fs.path(rel)} is a file, the ref of revision ${
            JSON.stringify(prefix)
          } (like git, the cache ` +
          `cannot hold a ref and refs below it under one name); if ${
            JSON.stringify(prefix)
          } is gone from the ` +
          `hub, remove that file`,
      );
    }
    if (i === parts.length && info.isDirectory) {
      throw new HubError(
        "cache",
        `revision ${JSON.stringify(revision)} of ${ctx.repoId} cannot be recorded in the cache: ` +
          `${
            ctx.fs.path(rel)
          } is a folder, holding the refs of revisions under "${prefix}/" (like git, the ` +
          `cache cannot hold a ref and refs below it under one name); if those are gone from the hub, remove ` +
          `that folder`,
      );
    }
  }
  const path = [ctx.storage, "refs", ...parts];
  const info = await ctx.fs.lstat(path);
  if (
    info?.isFile &&
    (await readTextCapped(ctx.fs.path(path), FILE_CAPS.small, "hub cache refs")).trim() === commit
  ) {
    return;
  }
  await ctx.fs.writeFile(path, new TextEncoder().encode(commit));
}

// A folder of the repo as modules.json names one: plain names, no ".", ".." or empty part, nothing absolute.
const REPO_FOLDER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;

/**
 * The folders of the Pooling modules that a downloaded `modules.json` lists (`1_Pooling` when a module gives
 * no path, as the pipelines read it). A malformed file gives none: loading the folder then says what is wrong
 * with it. A path that would leave the snapshot is refused.
 */
async function poolingFolders(modulesPath: string, where: string): Promise<string[]> {
  const modules = await readJsonCapped(modulesPath, FILE_CAPS.config, "JSON config files");
  if (!Array.isArray(modules)) return [];
  const folders: string[] = [];
  for (const m of modules) {
    if (typeof m !== "object" || m === null || typeof m.type !== "string" || !m.type.endsWith("Pooling")) {
      continue;
    }
    const folder = typeof m.path === "string" ? m.path : "1_Pooling";
    if (folder === "") continue; // its config.json would be the model's own, already fetched
    if (!REPO_FOLDER.test(folder)) {
      throw new HubError(
        "unsupported",
        `${where}: modules.json puts its Pooling module in ${
          JSON.stringify(folder)
        }, which is not a folder ` +
          `inside the repo (plain names separated by "/", no "." or ".." parts); refusing it`,
      );
    }
    if (!folders.includes(folder)) folders.push(folder);
  }
  return folders;
}

/** The error for a model that is needed but absent from the cache while downloads are off. */
export function notCachedError(repoId: string, revision: string, cacheDir: string, why: string): HubError {
  const rev = revision === DEFAULT_REVISION ? "" : ` --revision ${revision}`;
  const revOption = revision === DEFAULT_REVISION ? "" : `, { revision: ${JSON.stringify(revision)} }`;
  // downloadModel() works wherever the library came from; scripts/download.ts only exists in a checkout.
  return new HubError(
    "not_cached",
    `${repoId} (revision ${revision}) is not in the Hugging Face cache at ${cacheDir} and ${why}; ` +
      `download it first: await downloadModel(${JSON.stringify(repoId)}${revOption}), or in a checkout ` +
      `deno task download ${repoId}${rev}`,
  );
}

/**
 * Downloads a DistilBERT checkpoint into the Hugging Face cache and returns its snapshot folder
 * (`<cache>/models--{org}--{name}/snapshots/<commit>`), which then holds `config.json`, `model.safetensors` and the
 * tokenizer files the repo has (`tokenizer.json`, `vocab.txt`, `tokenizer_config.json`, `special_tokens_map.json`),
 * and for a sentence-transformers repo `modules.json`, its Pooling module's `config.json` (`1_Pooling/`),
 * `sentence_bert_config.json` and `config_sentence_transformers.json`.
 *
 * The revision is resolved to a commit once, and every file is fetched at that commit. Files already in the
 * snapshot are not fetched again; an interrupted download resumes from its `.incomplete` part; each file is
 * checked against the hub's checksum (or, for an ETag that is no hash, its announced size) before it is moved
 * into `blobs/`, and a body longer than announced is cut off and refused. Only http(s) redirects are followed
 * (at most 10), and the token never goes to another origin. Nothing is written through a symlink the cache did
 * not create. Offline (`offline` or `HF_HUB_OFFLINE=1`), the cached snapshot is returned if complete, without
 * any request.
 *
 * @param repoId hub id, `org/name` or a legacy `name`
 * @param options revision, cache dir, endpoint, token, offline switch, progress callback and minimum speed
 * @returns the snapshot folder
 * @throws {HubError} with a `code` saying what went wrong (auth, not_found, network, checksum, cache,
 *   unsupported...)
 * @throws {RangeError} for an invalid `minBytesPerSecond` or `minSpeedWindowMs`
 * @throws {TypeError} for an option it does not take
 */
export async function downloadModel(repoId: string, options: DownloadOptions = {}): Promise<string> {
  validateRepoId(repoId);
  validateDownloadOptions(options);
  const revision = options.revision ?? DEFAULT_REVISION;
  validateRevision(revision);
  const cacheDir = options.cacheDir ?? hubCacheDir();
  if (options.offline ?? offlineFromEnv()) {
    const cached = await findCachedModel(repoId, { revision, cacheDir });
    if (cached !== undefined) return cached;
    throw notCachedError(repoId, revision, cacheDir, "offline mode is on (HF_HUB_OFFLINE)");
  }
  const endpoint = (options.endpoint ?? endpointFromEnv()).replace(/\/+$/, "");
  if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
    throw new HubError("http", `invalid hub endpoint ${JSON.stringify(endpoint)}: expected an http(s) URL`);
  }
  const storageDir = repoCacheDir(repoId, cacheDir);
  const ctx: TransferContext = {
    repoId,
    endpoint,
    token: options.token ?? await tokenFromEnv(),
    fs: await CacheFs.create(cacheDir),
    storage: basename(storageDir),
    onProgress: options.onProgress,
    metadataTimeoutMs: secondsFromEnv("HF_HUB_ETAG_TIMEOUT", 10),
    readTimeoutMs: secondsFromEnv("HF_HUB_DOWNLOAD_TIMEOUT", 10),
    minBytesPerSecond: options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
    minSpeedWindowMs: options.minSpeedWindowMs ?? DEFAULT_MIN_SPEED_WINDOW_MS,
  };

  // 1. Plan: learn the commit and each file's etag/size (HEAD only), so a repo we cannot use fails before any
  //    large transfer. Files already in snapshots/<commit>/ (or known absent via .no_exist) cost no request.
  let commit: string | undefined = isCommitHash(revision) ? revision : undefined;
  const planned: { file: string; meta: FileMeta | undefined }[] = [];
  const snapshotPath = (
    commit: string,
    file: string,
  ) => [ctx.storage, "snapshots", commit, ...file.split("/")];
  // huggingface_hub's marker of a file the repo does not have at that commit.
  const markerPath = (commit: string, file: string) => [ctx.storage, ".no_exist", commit, ...file.split("/")];
  const look = async (file: string): Promise<"cached" | "missing" | FileMeta> => {
    if (commit !== undefined) {
      try {
        if (await ctx.fs.resolveFile(snapshotPath(commit, file)) !== undefined) return "cached";
      } catch (err) {
        // An entry leading outside the cache or to a folder is not ours: fetch the file and link it anew (the
        // rename replaces the entry itself, nothing is followed).
        if (!(err instanceof HubError && err.code === "cache")) throw err;
      }
      if (await ctx.fs.lstat(markerPath(commit, file)) !== undefined) {
        return "missing";
      }
    }
    const found = await probe(ctx, commit ?? revision, file);
    const seen = found.kind === "found" ? found.meta.commit : found.commit;
    if (commit === undefined && seen !== undefined) {
      commit = seen;
      await writeRef(ctx, revision, commit);
    }
    if (found.kind === "missing") {
      // Same marker huggingface_hub leaves, so transformers does not ask again either.
      if (commit !== undefined) {
        await ctx.fs.writeFile(markerPath(commit, file), new Uint8Array());
      }
      return "missing";
    }
    return found.meta;
  };
  const take = async (file: string): Promise<boolean> => {
    const r = await look(file);
    if (r === "missing") return false;
    planned.push({ file, meta: r === "cached" ? undefined : r });
    return true;
  };
  const where = () => `${repoId} at revision ${revision}`;
  // Fetches a file and points the snapshot at its blob with a relative link, as huggingface_hub does (one
  // "../" more per folder the file is in, e.g. 1_Pooling/config.json).
  const store = async (commit: string, file: string, meta: FileMeta) => {
    await fetchBlob(ctx, file, meta);
    const up = "../".repeat(file.split("/").length + 1);
    await ctx.fs.symlink(snapshotPath(commit, file), `${up}blobs/${meta.etag}`, [
      ctx.storage,
      "blobs",
      meta.etag,
    ]);
  };

  if (!await take("config.json")) {
    throw new HubError(
      "not_found",
      `repo or file not found: ${where()} has no config.json (not a model repo?)`,
    );
  }
  if (!await take("model.safetensors")) {
    if (await look("model.safetensors.index.json") !== "missing") {
      throw new HubError(
        "unsupported",
        `${where()} has sharded safetensors weights (model.safetensors.index.json); only a single ` +
          `model.safetensors is supported`,
      );
    }
    if (await look("pytorch_model.bin") !== "missing") {
      throw new HubError(
        "unsupported",
        `${where()} has only pytorch_model.bin weights; only safetensors is supported (model.safetensors). ` +
          `Try a revision that has it (the hub's safetensors conversion bot opens such PRs: --revision refs/pr/N), ` +
          `or convert the checkpoint and save it with safe_serialization=True`,
      );
    }
    throw new HubError("not_found", `repo or file not found: ${where()} has no model.safetensors`);
  }
  const tokenizerFiles: string[] = [];
  for (const file of TOKENIZER_FILES) {
    if (await take(file)) tokenizerFiles.push(file);
  }
  if (!tokenizerFiles.some((f) => TOKENIZER_VOCAB_FILES.includes(f))) {
    throw new HubError(
      "unsupported",
      `${where()} has neither tokenizer.json nor vocab.txt; cannot build a tokenizer`,
    );
  }
  if (commit === undefined) throw new HubError("http", `${endpoint} never told the commit of ${where()}`);
  if (await take("modules.json")) {
    // A sentence-transformers repo: without these files the folder loads as a plain transformers model, so
    // feature-extraction would silently give per-token vectors where Python's cache gives pooled, normalized
    // ones. modules.json, small, is fetched now to learn where its Pooling module keeps config.json.
    const entry = planned.find((p) => p.file === "modules.json")!;
    if (entry.meta !== undefined) await store(commit, entry.file, entry.meta);
    entry.meta = undefined;
    for (const folder of await poolingFolders(ctx.fs.path(snapshotPath(commit, entry.file)), where())) {
      await take(`${folder}/config.json`);
    }
    await take("sentence_bert_config.json");
    await take("config_sentence_transformers.json");
  }

  // 2. Fetch what is missing, the small files first and the weights last, and point the snapshot at each blob
  //    with a relative link, as huggingface_hub does.
  planned.sort((a, b) => Number(a.file === "model.safetensors") - Number(b.file === "model.safetensors"));
  for (const { file, meta } of planned) {
    if (meta === undefined) {
      const size = (await ctx.fs.resolveFile(snapshotPath(commit, file)))?.size ?? 0;
      ctx.onProgress?.({ file, loaded: size, total: size });
      continue;
    }
    await store(commit, file, meta);
  }
  return join(storageDir, "snapshots", commit);
}
