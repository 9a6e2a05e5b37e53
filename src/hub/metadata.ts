/**
 * The hub's resolve protocol, as huggingface_hub's `hf_hub_download` speaks it:
 * `HEAD {endpoint}/{repo}/resolve/{revision}/{file}`, following only relative redirects (renamed repos), gives
 * `X-Repo-Commit`, `X-Linked-Etag`/`ETag` and `X-Linked-Size`/`Content-Length`; an absolute redirect's
 * `Location` is the download URL of an LFS file (its CDN), else the resolve URL at the commit is.
 *
 * @module
 */

import { isCommitHash } from "./cache.ts";
import { HubError } from "./errors.ts";
import { type HttpContext, redirectTarget, send } from "./http.ts";

/** What a request needs to know besides the URL. */
export interface ProbeContext extends HttpContext {
  repoId: string;
  /** Time allowed for one metadata request (`HF_HUB_ETAG_TIMEOUT`). */
  metadataTimeoutMs: number;
}

/** What the hub says about one file at one commit. */
export interface FileMeta {
  commit: string;
  /** Names the blob in the cache; checked to be a plain file name. */
  etag: string;
  /** Size of the file, if the hub said. */
  size: number | undefined;
  /** The header the size came from, to name it in errors. */
  sizeHeader: "X-Linked-Size" | "Content-Length" | undefined;
  downloadUrl: string;
}

/** A file found, or known to be absent (with the commit, when the hub told it). */
export type Probe = { kind: "found"; meta: FileMeta } | { kind: "missing"; commit: string | undefined };

/** The resolve URL of `file` at `revision`. */
export function resolveUrl(endpoint: string, repoId: string, revision: string, file: string): string {
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file}`;
}

function normalizeEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

// An ETag names a file in blobs/: a hash in practice; no dots, so never ".", "..", nor "<x>.incomplete", the name
// of another download's part.
const ETAG_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** The error for an HTTP status, in the hub's terms (gated repo, missing repo/revision/file). */
export function statusError(
  ctx: ProbeContext,
  res: Response,
  file: string,
  revision: string,
  url: string,
): HubError {
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

/** HEAD one file; see the module doc. */
export async function probe(ctx: ProbeContext, revision: string, file: string): Promise<Probe> {
  const { response: res, url } = await send(ctx, resolveUrl(ctx.endpoint, ctx.repoId, revision, file), {
    method: "HEAD",
    signal: AbortSignal.timeout(ctx.metadataTimeoutMs),
    follow: "relative",
    what: file,
  });
  await res.body?.cancel();
  const location = res.headers.get("location");
  const redirect = res.status >= 300 && res.status < 400 && location !== null;
  if (res.status === 404) {
    const code = res.headers.get("x-error-code");
    if (code !== "RepoNotFound" && code !== "RevisionNotFound") {
      return { kind: "missing", commit: res.headers.get("x-repo-commit") ?? undefined };
    }
  }
  if (!res.ok && !redirect) throw statusError(ctx, res, file, revision, url);
  const commit = res.headers.get("x-repo-commit");
  const etag = normalizeEtag(res.headers.get("x-linked-etag") ?? res.headers.get("etag"));
  if (!commit || !isCommitHash(commit) || !etag) {
    throw new HubError(
      "http",
      `${url} did not answer like a Hugging Face hub (missing or invalid X-Repo-Commit/ETag headers)`,
      { status: res.status },
    );
  }
  if (!ETAG_NAME.test(etag)) {
    throw new HubError(
      "http",
      `${file}: ${url} sent ETag ${JSON.stringify(etag)}, which cannot name a file in the cache (expected ` +
        `letters, digits, "-" and "_", such as a sha256); refusing it`,
      { status: res.status },
    );
  }
  const linked = res.headers.get("x-linked-size");
  const length = res.ok ? res.headers.get("content-length") : null;
  const sizeText = linked ?? length;
  const size = sizeText !== null && /^\d{1,15}$/.test(sizeText) ? Number(sizeText) : undefined;
  const sizeHeader = size === undefined ? undefined : linked !== null ? "X-Linked-Size" : "Content-Length";
  const downloadUrl = redirect
    ? redirectTarget(url, location, file)
    : revision === commit
    ? url
    : url.replace(`/resolve/${encodeURIComponent(revision)}/`, `/resolve/${commit}/`);
  return { kind: "found", meta: { commit, etag, size, sizeHeader, downloadUrl } };
}
