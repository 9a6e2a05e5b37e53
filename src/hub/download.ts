/**
 * Downloading a DistilBERT checkpoint from the Hugging Face hub into the standard cache.
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
 * regex; see cache.ts) and speak the small resolve protocol here, like huggingface_hub's `hf_hub_download`:
 * `HEAD {endpoint}/{repo}/resolve/{revision}/{file}` without following absolute redirects gives `X-Repo-Commit`,
 * `X-Linked-Etag`/`ETag` and `X-Linked-Size`; the `GET` goes to the redirect target (the LFS CDN) or the resolve URL.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join, relative } from "node:path";
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
import { HubError } from "./errors.ts";
import { FILE_CAPS, readTextCapped } from "../fs/read.ts";

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
  /** Cache root. Default: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Hub URL. Default: `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Access token for gated/private repos. Default: `$HF_TOKEN`, else the `huggingface-cli login` token file. */
  token?: string;
  /** Never touch the network, only the cache. Default: `$HF_HUB_OFFLINE` is 1/true/yes/on. */
  offline?: boolean;
  /** Called as bytes arrive (and once per file already in the cache). */
  onProgress?: (progress: DownloadProgress) => void;
}

interface Context {
  repoId: string;
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  storage: string;
  onProgress: ((progress: DownloadProgress) => void) | undefined;
  metadataTimeoutMs: number;
  readTimeoutMs: number;
}

interface FileMeta {
  commit: string;
  etag: string;
  size: number | undefined;
  downloadUrl: string;
}

type Probe = { kind: "found"; meta: FileMeta } | { kind: "missing"; commit: string | undefined };

const USER_AGENT = "denobert-distilbert-hub/0.1";

function secondsFromEnv(name: string, fallback: number): number {
  const value = Number(Deno.env.get(name));
  return (Number.isFinite(value) && value > 0 ? value : fallback) * 1000;
}

function resolveUrl(endpoint: string, repoId: string, revision: string, file: string): string {
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file}`;
}

function normalizeEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

function headers(ctx: Context, url: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { "user-agent": USER_AGENT, "accept-encoding": "identity", ...extra };
  // The token goes to the hub only, never to the CDN a LFS file redirects to (its URL is pre-signed).
  if (ctx.token && new URL(url).origin === new URL(ctx.endpoint).origin) {
    h.authorization = `Bearer ${ctx.token}`;
  }
  return h;
}

function reasonOf(err: unknown): string {
  // Deno's fetch says only "fetch failed"; the cause has "tcp connect error: Connection refused", "dns error"...
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return (cause ?? message).replace(/^error sending request for url \(.*?\): /, "");
}

function networkError(url: string, err: unknown): HubError {
  return new HubError(
    "network",
    `no network: could not reach ${new URL(url).origin} (${
      reasonOf(err)
    }); check the connection or HF_ENDPOINT, ` +
      `or set HF_HUB_OFFLINE=1 to use the cache only`,
    { cause: err },
  );
}

function isNetworkFailure(err: unknown): boolean {
  // fetch rejects with TypeError for refused connections, DNS failures, resets; abort/timeout with DOMException.
  return err instanceof TypeError ||
    (err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError"));
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (isNetworkFailure(err)) throw networkError(url, err);
    throw err;
  }
}

function statusError(ctx: Context, res: Response, file: string, revision: string, url: string): HubError {
  const code = res.headers.get("x-error-code") ?? "";
  const hubMessage = res.headers.get("x-error-message");
  const detail = `(HTTP ${res.status}${code ? ` ${code}` : ""}${hubMessage ? `: ${hubMessage}` : ""})`;
  const status = res.status;
  if (status === 401 || status === 403 || code === "GatedRepo") {
    const page = `${ctx.endpoint}/${ctx.repoId}`;
    return new HubError(
      "auth",
      ctx.token
        ? `access denied to ${ctx.repoId} with the given token: check that HF_TOKEN is valid and has access ` +
          `(for a gated repo, request access on ${page}) ${detail}`
        : `authentication required for ${ctx.repoId} (gated/private repo: set HF_TOKEN to a token with access; ` +
          `for a gated repo, also request access on ${page}) ${detail}`,
      { status },
    );
  }
  if (status === 404) {
    const what = code === "RepoNotFound"
      ? `no repo ${ctx.repoId} on ${ctx.endpoint} (if it is private, set HF_TOKEN)`
      : code === "RevisionNotFound"
      ? `no revision ${JSON.stringify(revision)} in ${ctx.repoId}`
      : `${file} in ${ctx.repoId} at revision ${revision} (${url})`;
    return new HubError("not_found", `repo or file not found: ${what} ${detail}`, { status });
  }
  return new HubError("http", `hub request failed for ${url} ${detail}`, { status });
}

/** HEAD one file, following only relative redirects (renamed repos); an absolute one points at the LFS CDN. */
async function probe(ctx: Context, revision: string, file: string): Promise<Probe> {
  let url = resolveUrl(ctx.endpoint, ctx.repoId, revision, file);
  for (let hop = 0;; hop++) {
    const res = await send(url, {
      method: "HEAD",
      redirect: "manual",
      headers: headers(ctx, url),
      signal: AbortSignal.timeout(ctx.metadataTimeoutMs),
    });
    await res.body?.cancel();
    const location = res.headers.get("location");
    const redirect = res.status >= 300 && res.status < 400;
    if (redirect && location && /^\/(?!\/)/.test(location) && hop < 5) {
      url = new URL(location, url).href;
      continue;
    }
    if (res.status === 404) {
      const code = res.headers.get("x-error-code");
      if (code !== "RepoNotFound" && code !== "RevisionNotFound") {
        return { kind: "missing", commit: res.headers.get("x-repo-commit") ?? undefined };
      }
    }
    if (!res.ok && !(redirect && location)) throw statusError(ctx, res, file, revision, url);
    const commit = res.headers.get("x-repo-commit");
    const etag = normalizeEtag(res.headers.get("x-linked-etag") ?? res.headers.get("etag"));
    if (!commit || !isCommitHash(commit) || !etag || !/^[A-Za-z0-9_.-]+$/.test(etag)) {
      throw new HubError(
        "http",
        `${url} did not answer like a Hugging Face hub (missing or invalid X-Repo-Commit/ETag headers)`,
        { status: res.status },
      );
    }
    const sizeHeader = res.headers.get("x-linked-size") ??
      (res.ok ? res.headers.get("content-length") : null);
    const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined;
    const downloadUrl = redirect && location
      ? new URL(location, url).href
      : revision === commit
      ? url
      : url.replace(`/resolve/${encodeURIComponent(revision)}/`, `/resolve/${commit}/`);
    return { kind: "found", meta: { commit, etag, size, downloadUrl } };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return false;
    throw err;
  }
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Writes `content` to `path` through a temporary file and a rename, so readers never see half a file. */
async function writeAtomic(path: string, content: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(tmp, content);
    await Deno.rename(tmp, path);
  } finally {
    await removeIfExists(tmp);
  }
}

/** `refs/<revision>` records which commit a branch/tag pointed to, for offline resolution later. */
async function writeRef(storage: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const path = join(storage, "refs", revision);
  try {
    if ((await readTextCapped(path, FILE_CAPS.small, "hub cache refs")).trim() === commit) return;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await writeAtomic(path, commit);
}

/** Relative symlink `snapshots/<commit>/<file>` -> `../../blobs/<etag>`, created under a temporary name and renamed. */
async function linkIntoSnapshot(blobPath: string, pointerPath: string): Promise<void> {
  await Deno.mkdir(dirname(pointerPath), { recursive: true });
  const tmp = `${pointerPath}.${crypto.randomUUID()}.tmp`;
  try {
    try {
      await Deno.symlink(relative(dirname(pointerPath), blobPath), tmp);
    } catch {
      // No symlinks here (Windows without developer mode, some file systems): a copy, as huggingface_hub does.
      await Deno.copyFile(blobPath, tmp);
    }
    await Deno.rename(tmp, pointerPath);
  } finally {
    await removeIfExists(tmp);
  }
}

/** The checksum the hub's ETag stands for: sha256 of the content for LFS files, git's blob sha1 otherwise. */
async function verify(path: string, etag: string, size: number): Promise<string | undefined> {
  let hash;
  if (/^[0-9a-f]{64}$/.test(etag)) {
    hash = createHash("sha256");
  } else if (/^[0-9a-f]{40}$/.test(etag)) {
    hash = createHash("sha1");
    hash.update(`blob ${size}\0`);
  } else {
    return undefined; // an ETag we cannot interpret: the size check is all we have
  }
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  const actual = hash.digest("hex");
  return actual === etag ? undefined : actual;
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
}

/**
 * Downloads one blob into `blobs/<etag>`: resumes from `blobs/<etag>.incomplete` with a Range request, checks size
 * and checksum, then renames into place. A lock (`.locks/<repo>/<etag>.lock`, flock, as huggingface_hub uses)
 * keeps two processes from writing the same `.incomplete`.
 */
async function fetchBlob(ctx: Context, file: string, meta: FileMeta, blobPath: string): Promise<void> {
  const lockPath = join(ctx.cacheDir, ".locks", relative(ctx.cacheDir, ctx.storage), `${meta.etag}.lock`);
  await Deno.mkdir(dirname(lockPath), { recursive: true });
  await Deno.mkdir(dirname(blobPath), { recursive: true });
  using lock = await Deno.open(lockPath, { create: true, write: true });
  await lock.lock(true);
  try {
    if (await exists(blobPath)) return; // another process finished it while we waited for the lock
    const incomplete = `${blobPath}.incomplete`;
    let offset = 0;
    try {
      offset = (await Deno.stat(incomplete)).size;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (meta.size !== undefined && offset > meta.size) {
      await removeIfExists(incomplete);
      offset = 0;
    }
    let loaded = offset;
    ctx.onProgress?.({ file, loaded, total: meta.size });
    if (meta.size === undefined || offset < meta.size) {
      loaded = await fetchInto(ctx, file, meta, incomplete, offset);
    }
    if (meta.size !== undefined && loaded < meta.size) {
      throw new HubError(
        "network",
        `download of ${file} from ${ctx.repoId} ended early, at ${loaded} of ${meta.size} bytes; run again to resume`,
      );
    }
    if (meta.size !== undefined && loaded > meta.size) {
      await removeIfExists(incomplete);
      throw new HubError(
        "http",
        `download of ${file} from ${ctx.repoId} gave ${loaded} bytes, more than the ${meta.size} announced; ` +
          `the download was deleted, run again`,
      );
    }
    const actual = await verify(incomplete, meta.etag, loaded);
    if (actual !== undefined) {
      await removeIfExists(incomplete);
      throw new HubError(
        "checksum",
        `checksum mismatch for ${file} from ${ctx.repoId}: expected ${meta.etag}, got ${actual}; ` +
          `the corrupted download was deleted, run again`,
      );
    }
    await Deno.rename(incomplete, blobPath);
  } finally {
    await lock.unlock();
  }
}

/** GET from `offset` (Range) appending to `incomplete`; returns the bytes on disk afterwards. */
async function fetchInto(
  ctx: Context,
  file: string,
  meta: FileMeta,
  incomplete: string,
  offset: number,
): Promise<number> {
  const url = meta.downloadUrl;
  // Abort when no byte arrives for readTimeoutMs (huggingface_hub's HF_HUB_DOWNLOAD_TIMEOUT), not on total time.
  const idle = new AbortController();
  let timer = setTimeout(
    () => idle.abort(new DOMException("read timed out", "TimeoutError")),
    ctx.readTimeoutMs,
  );
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => idle.abort(new DOMException("read timed out", "TimeoutError")),
      ctx.readTimeoutMs,
    );
  };
  let loaded = offset;
  try {
    const res = await send(url, {
      headers: headers(ctx, url, offset > 0 ? { range: `bytes=${offset}-` } : {}),
      signal: idle.signal,
    });
    if (res.status === 416 && offset > 0) {
      // Nothing left to send: the part on disk is already whole (the checksum decides).
      await res.body?.cancel();
      return offset;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      if (new URL(url).origin === new URL(ctx.endpoint).origin) {
        throw statusError(ctx, res, file, meta.commit, url);
      }
      // The LFS CDN (pre-signed URL): its status says nothing about the repo's access rights.
      throw new HubError(
        "http",
        `download of ${file} failed: HTTP ${res.status} from ${new URL(url).origin}; run again`,
        { status: res.status },
      );
    }
    let append = false;
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
      if (Number(start) !== offset) {
        await res.body.cancel();
        await removeIfExists(incomplete);
        throw new HubError(
          "http",
          `${url} answered a Range request for byte ${offset} from byte ${start}; run again`,
        );
      }
      append = true;
    }
    loaded = append ? offset : 0; // a 200 means the server ignored the Range: start over
    using out = await Deno.open(incomplete, { write: true, create: true, append, truncate: !append });
    ctx.onProgress?.({ file, loaded, total: meta.size });
    try {
      for await (const chunk of res.body) {
        rearm();
        await writeAll(out, chunk);
        loaded += chunk.length;
        ctx.onProgress?.({ file, loaded, total: meta.size });
      }
    } catch (err) {
      if (!isNetworkFailure(err)) throw err;
      const of = meta.size === undefined ? "" : ` of ${meta.size}`;
      throw new HubError(
        "network",
        `download of ${file} from ${new URL(url).origin} interrupted after ${loaded}${of} bytes ` +
          `(${reasonOf(err)}); run again to resume`,
        { cause: err },
      );
    }
    return loaded;
  } finally {
    clearTimeout(timer);
  }
}

/** The error for a model that is needed but absent from the cache while downloads are off. */
export function notCachedError(repoId: string, revision: string, cacheDir: string, why: string): HubError {
  const rev = revision === DEFAULT_REVISION ? "" : ` --revision ${revision}`;
  return new HubError(
    "not_cached",
    `${repoId} (revision ${revision}) is not in the Hugging Face cache at ${cacheDir} and ${why}; ` +
      `download it first: deno run -A scripts/download.ts ${repoId}${rev}`,
  );
}

/**
 * Downloads a DistilBERT checkpoint into the Hugging Face cache and returns its snapshot folder
 * (`<cache>/models--{org}--{name}/snapshots/<commit>`), which then holds `config.json`, `model.safetensors` and the
 * tokenizer files the repo has (`tokenizer.json`, `vocab.txt`, `tokenizer_config.json`, `special_tokens_map.json`).
 *
 * The revision is resolved to a commit once, and every file is fetched at that commit. Files already in the
 * snapshot are not fetched again; an interrupted download resumes from its `.incomplete` part; each file is
 * checked against the hub's checksum before it is moved into `blobs/`. Offline (`offline` or `HF_HUB_OFFLINE=1`),
 * the cached snapshot is returned if complete, without any request.
 *
 * @param repoId hub id, `org/name` or a legacy `name`
 * @param options revision, cache dir, endpoint, token, offline switch and progress callback
 * @returns the snapshot folder
 * @throws {HubError} with a `code` saying what went wrong (auth, not_found, network, checksum, unsupported...)
 */
export async function downloadModel(repoId: string, options: DownloadOptions = {}): Promise<string> {
  validateRepoId(repoId);
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
  const ctx: Context = {
    repoId,
    endpoint,
    token: options.token ?? await tokenFromEnv(),
    cacheDir,
    storage: repoCacheDir(repoId, cacheDir),
    onProgress: options.onProgress,
    metadataTimeoutMs: secondsFromEnv("HF_HUB_ETAG_TIMEOUT", 10),
    readTimeoutMs: secondsFromEnv("HF_HUB_DOWNLOAD_TIMEOUT", 10),
  };

  // 1. Plan: learn the commit and each file's etag/size (HEAD only), so a repo we cannot use fails before any
  //    large transfer. Files already in snapshots/<commit>/ (or known absent via .no_exist) cost no request.
  let commit: string | undefined = isCommitHash(revision) ? revision : undefined;
  const snapshot = (c: string) => join(ctx.storage, "snapshots", c);
  const planned: { file: string; meta: FileMeta | undefined }[] = [];
  const look = async (file: string): Promise<"cached" | "missing" | FileMeta> => {
    if (commit !== undefined) {
      if (await exists(join(snapshot(commit), file))) return "cached";
      if (await exists(join(ctx.storage, ".no_exist", commit, file))) return "missing";
    }
    const found = await probe(ctx, commit ?? revision, file);
    const seen = found.kind === "found" ? found.meta.commit : found.commit;
    if (commit === undefined && seen !== undefined) {
      commit = seen;
      await writeRef(ctx.storage, revision, commit);
    }
    if (found.kind === "missing") {
      if (commit !== undefined) {
        // Same marker huggingface_hub leaves, so transformers does not ask again either.
        await Deno.mkdir(join(ctx.storage, ".no_exist", commit), { recursive: true });
        await Deno.writeFile(join(ctx.storage, ".no_exist", commit, file), new Uint8Array());
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

  // 2. Fetch what is missing, the small files first and the weights last.
  const dir = snapshot(commit);
  planned.sort((a, b) => Number(a.file === "model.safetensors") - Number(b.file === "model.safetensors"));
  for (const { file, meta } of planned) {
    const pointer = join(dir, file);
    if (meta === undefined) {
      const size = (await Deno.stat(pointer)).size;
      ctx.onProgress?.({ file, loaded: size, total: size });
      continue;
    }
    const blobPath = join(ctx.storage, "blobs", meta.etag);
    if (!await exists(blobPath)) await fetchBlob(ctx, file, meta, blobPath);
    else ctx.onProgress?.({ file, loaded: meta.size ?? 0, total: meta.size });
    await linkIntoSnapshot(blobPath, pointer);
  }
  return dir;
}
