/**
 * The one error type the hub code throws, with a machine-readable {@link HubErrorCode}.
 *
 * @module
 */

/**
 * What went wrong, for callers that branch on it:
 * - `invalid_repo_id`: the string is neither an existing folder nor a valid hub id.
 * - `invalid_revision`: the revision cannot be used as a path inside the cache.
 * - `auth`: 401/403 — gated or private repo, or a token without access.
 * - `not_found`: 404 — repo, revision or required file missing.
 * - `unsupported`: the repo has no `model.safetensors` (e.g. only `pytorch_model.bin`) or no tokenizer files.
 * - `network`: the hub could not be reached, timed out, or the connection dropped mid-download.
 * - `checksum`: the downloaded bytes do not match the hub's ETag (sha256 for LFS files, git sha1 otherwise), or
 *   cannot be checked at all (an ETag that is no hash, and no size announced).
 * - `not_cached`: offline (or downloads disabled) and the model is not in the cache.
 * - `cache`: the cache holds something we refuse to write through or read from: a symlink it did not create
 *   (a folder, a `.incomplete` part), an entry resolving outside the cache, a file where a folder must be (e.g.
 *   `refs/v1` when recording revision `v1/fix`).
 * - `http`: any other unexpected HTTP status.
 */
export type HubErrorCode =
  | "invalid_repo_id"
  | "invalid_revision"
  | "auth"
  | "not_found"
  | "unsupported"
  | "network"
  | "checksum"
  | "not_cached"
  | "cache"
  | "http";

/** Error raised by hub resolution and downloads; `message` is meant to be shown to the user as is. */
export class HubError extends Error {
  /** Machine-readable category. */
  readonly code: HubErrorCode;
  /** HTTP status when the error came from a hub response. */
  readonly status: number | undefined;

  /**
   * Creates a hub error.
   *
   * @param code category of the failure
   * @param message human-readable explanation, including what to do about it
   * @param options HTTP status and underlying cause, when there is one
   */
  constructor(code: HubErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HubError";
    this.code = code;
    this.status = options.status;
  }
}
