/**
 * What a hub ETag vouches for: sha256 of the content for LFS files, git's blob sha1 otherwise.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The hash an ETag is, when it is one we can check. */
export type EtagHash = "sha256" | "git-sha1";

/** Which hash `etag` is: 64 hex digits for sha256 (LFS), 40 for a git blob sha1; undefined for anything else. */
export function etagHash(etag: string): EtagHash | undefined {
  if (/^[0-9a-f]{64}$/.test(etag)) return "sha256";
  if (/^[0-9a-f]{40}$/.test(etag)) return "git-sha1";
  return undefined;
}

/**
 * The `kind` hash, in hex, of the first `size` bytes of `file` (read from its start, through the open handle so
 * that nothing swapped in at its path since is read instead).
 */
export async function fileDigest(file: Deno.FsFile, kind: EtagHash, size: number): Promise<string> {
  const hash = kind === "sha256" ? createHash("sha256") : createHash("sha1").update(`blob ${size}\0`);
  await file.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(1 << 20);
  for (let left = size; left > 0;) {
    const n = await file.read(buffer.subarray(0, Math.min(buffer.length, left)));
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
    left -= n;
  }
  return hash.digest("hex");
}
