/**
 * Downloading one blob into `blobs/<etag>`: resumable, bounded and verified.
 *
 * - Resumes from `blobs/<etag>.incomplete` with a Range request; a server that ignores it starts over from 0.
 * - Never reads past the expected size (X-Linked-Size, else Content-Length, else the response's own size):
 *   a longer body is cut off while streaming and the part deleted, so an endless body cannot fill the disk;
 *   a file with no size at all is refused.
 * - Stops a transfer with no byte for `readTimeoutMs`, or fewer than `minBytesPerSecond` over any
 *   `minSpeedWindowMs`; the part is kept for the next run to resume.
 * - Moves the part into place only once verified: by its sha256 / git sha1 ETag, or, for any other ETag, by an
 *   exact size the hub announced. A file that can be checked neither way is refused.
 * - A lock (`.locks/<repo>/<etag>.lock`, flock, as huggingface_hub uses) keeps two processes from writing the
 *   same part.
 *
 * @module
 */

import type { DownloadProgress } from "./download.ts";
import { HubError } from "./errors.ts";
import { etagHash, fileDigest } from "./checksum.ts";
import type { CacheFs, CachePath } from "./cache_fs.ts";
import { isNetworkFailure, reasonOf, send } from "./http.ts";
import { type FileMeta, type ProbeContext, statusError } from "./metadata.ts";

/** Everything a transfer needs. */
export interface TransferContext extends ProbeContext {
  fs: CacheFs;
  /** The repo's folder below the cache root (`models--org--name`). */
  storage: string;
  onProgress: ((progress: DownloadProgress) => void) | undefined;
  /** No byte for this long ends the transfer (`HF_HUB_DOWNLOAD_TIMEOUT`). */
  readTimeoutMs: number;
  /** Minimum average speed over each window; 0 turns the check off. */
  minBytesPerSecond: number;
  minSpeedWindowMs: number;
}

/** A failure after which the part on disk cannot be trusted: it is deleted before `error` is thrown. */
class Refusal {
  constructor(readonly error: HubError) {}
}

/** The blob's size if it is already in the cache; a link or folder in its place is refused. */
async function blobSize(fs: CacheFs, blob: CachePath): Promise<number | undefined> {
  const info = await fs.lstat(blob);
  if (info === undefined) return undefined;
  if (info.isFile) return info.size;
  throw new HubError(
    "cache",
    `${fs.path(blob)} is ${
      info.isSymlink ? "a symbolic link" : "not a regular file"
    }, where the cache keeps ` +
      `the downloaded file itself; remove it to go on`,
  );
}

/** Downloads `file` (described by `meta`) into `blobs/<etag>`, unless it is already there. */
export async function fetchBlob(ctx: TransferContext, file: string, meta: FileMeta): Promise<void> {
  const blobs = [ctx.storage, "blobs"];
  const blob = [...blobs, meta.etag];
  const partPath = [...blobs, `${meta.etag}.incomplete`];
  using lock = await ctx.fs.openOrCreateFile([".locks", ctx.storage, `${meta.etag}.lock`]);
  await lock.lock(true);
  try {
    await ctx.fs.dir(blobs);
    const present = await blobSize(ctx.fs, blob); // shared with another snapshot, or another process made it
    if (present !== undefined) {
      ctx.onProgress?.({ file, loaded: present, total: present });
      return;
    }
    const part = await ctx.fs.openFile(partPath) ?? await ctx.fs.createFile(partPath);
    let open = true;
    try {
      let offset = (await part.stat()).size;
      if (meta.size !== undefined && offset > meta.size) {
        await part.truncate(0);
        offset = 0;
      }
      ctx.onProgress?.({ file, loaded: offset, total: meta.size });
      let loaded = offset;
      let expected = meta.size;
      if (expected === undefined || offset < expected) {
        ({ loaded, expected } = await fetchInto(ctx, file, meta, part, offset));
      }
      if (expected !== undefined && loaded < expected) {
        throw new HubError(
          "network",
          `download of ${file} from ${ctx.repoId} ended early, at ${loaded} of ${expected} bytes; run again to resume`,
        );
      }
      const hash = etagHash(meta.etag);
      if (hash === undefined && expected === undefined) throw new Refusal(unverifiable(ctx, file, meta));
      if (hash !== undefined) {
        const actual = await fileDigest(part, hash, loaded);
        if (actual !== meta.etag) {
          throw new Refusal(
            new HubError(
              "checksum",
              `checksum mismatch for ${file} from ${ctx.repoId}: expected ${meta.etag}, got ${actual}; ` +
                `the corrupted download was deleted, run again`,
            ),
          );
        }
      }
      part.close();
      open = false;
      await ctx.fs.rename(partPath, blob);
    } catch (err) {
      if (open) part.close();
      if (!(err instanceof Refusal)) throw err;
      await ctx.fs.remove(partPath);
      throw err.error;
    }
  } finally {
    await lock.unlock();
  }
}

function unverifiable(ctx: TransferContext, file: string, meta: FileMeta): HubError {
  return new HubError(
    "checksum",
    `${file} from ${ctx.repoId} cannot be verified: its ETag ${
      JSON.stringify(meta.etag)
    } is neither a sha256 ` +
      `nor a git sha1, and no size was announced (X-Linked-Size, Content-Length); refusing to keep it`,
  );
}

function sizeOf(header: string | null): number | undefined {
  return header !== null && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
}

/**
 * GET from `offset` (Range) into `part`; returns the bytes it then holds and the file's expected size, from the
 * hub's HEAD or, failing that, from this response.
 */
async function fetchInto(
  ctx: TransferContext,
  file: string,
  meta: FileMeta,
  part: Deno.FsFile,
  offset: number,
): Promise<{ loaded: number; expected: number | undefined }> {
  const abort = new AbortController();
  let stopped: string | undefined;
  const stop = (why: string) => {
    stopped ??= why;
    abort.abort(new DOMException(why, "TimeoutError"));
  };
  const idleText = `no data for ${ctx.readTimeoutMs / 1000} s (HF_HUB_DOWNLOAD_TIMEOUT)`;
  let idle = setTimeout(() => stop(`timed out: ${idleText}`), ctx.readTimeoutMs);
  let loaded = offset;
  let windowStart = loaded;
  const windowBytes = ctx.minBytesPerSecond * ctx.minSpeedWindowMs / 1000;
  const speed = ctx.minBytesPerSecond > 0
    ? setInterval(() => {
      const got = loaded - windowStart;
      windowStart = loaded;
      if (got < windowBytes) {
        stop(
          `too slow: ${got} bytes in the last ${ctx.minSpeedWindowMs / 1000} s, below minBytesPerSecond ` +
            `(${ctx.minBytesPerSecond} bytes/s over minSpeedWindowMs ${ctx.minSpeedWindowMs})`,
        );
      }
    }, ctx.minSpeedWindowMs)
    : undefined;
  let origin = new URL(meta.downloadUrl).origin;
  const of = (expected: number | undefined) => expected === undefined ? "" : ` of ${expected}`;
  let expected = meta.size;
  try {
    const { response: res, url } = await send(ctx, meta.downloadUrl, {
      method: "GET",
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      signal: abort.signal,
      follow: "all",
      what: file,
    });
    origin = new URL(url).origin;
    if (res.status === 416 && offset > 0) {
      // Nothing left to send: the part on disk is already whole (the size and checksum decide).
      await res.body?.cancel();
      expected ??= sizeOf(/^bytes \*\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1] ?? null);
      return { loaded: offset, expected };
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      if (origin === new URL(ctx.endpoint).origin) throw statusError(ctx, res, file, meta.commit, url);
      // The LFS CDN (pre-signed URL): its status says nothing about the repo's access rights.
      throw new HubError(
        "http",
        `download of ${file} failed: HTTP ${res.status} from ${origin}; run again`,
        { status: res.status },
      );
    }
    // We ask for identity, so fetch hands over the bytes as sent: a server encoding them anyway would have its
    // gzip stream stored as the file, and Content-Length counts those bytes, so the size check passes and only
    // a hash ETag would notice. The part on disk is not touched, so it stays resumable.
    const encoding = res.headers.get("content-encoding")?.trim().toLowerCase();
    if (encoding && encoding !== "identity") {
      await res.body.cancel();
      throw new HubError(
        "http",
        `download of ${file} from ${origin}: the server sent it with Content-Encoding ${encoding} although ` +
          `Accept-Encoding: identity was asked; those bytes are not the file itself, refusing them`,
        { status: res.status },
      );
    }
    const body = res.body;
    const refuse = async (error: HubError): Promise<never> => {
      await body.cancel();
      throw new Refusal(error);
    };
    // The whole file's size according to this response, and where its body starts.
    let total: number | undefined;
    let start = 0;
    const length = sizeOf(res.headers.get("content-length"));
    if (res.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
      if (range === null || Number(range[1]) !== offset) {
        await refuse(
          new HubError(
            "http",
            `${url} answered a Range request for byte ${offset} from byte ${range?.[1]}; run again`,
          ),
        );
      }
      start = offset;
      total = sizeOf(range![3]);
      if (length !== undefined && length !== Number(range![2]) - offset + 1) {
        await refuse(
          new HubError(
            "http",
            `download of ${file} from ${origin}: Content-Length ${length} does not match Content-Range ` +
              `${res.headers.get("content-range")}; refusing it, run again`,
          ),
        );
      }
    } else {
      total = length; // a 200 means the server ignored the Range: start over
    }
    if (meta.size !== undefined && total !== undefined && total !== meta.size) {
      await refuse(
        new HubError(
          "http",
          `download of ${file} from ${origin}: the hub announced ${meta.size} bytes (${meta.sizeHeader}) ` +
            `but the download ${total}; refusing it, run again`,
        ),
      );
    }
    expected ??= total;
    if (expected === undefined && etagHash(meta.etag) === undefined) {
      await refuse(unverifiable(ctx, file, meta));
    }
    // With no size anywhere nothing bounds the body: an endless one would be written until the disk is full
    // (the checksum is only known once it ends). The hub always announces one (X-Linked-Size, Content-Length).
    if (expected === undefined) {
      await refuse(
        new HubError(
          "http",
          `download of ${file} from ${origin}: no size was announced (X-Linked-Size, Content-Length), so ` +
            `the download could not be bounded; refusing it`,
        ),
      );
    }
    if (start === 0) await part.truncate(0);
    await part.seek(start, Deno.SeekMode.Start);
    loaded = windowStart = start;
    ctx.onProgress?.({ file, loaded, total: expected });
    let overflow = false;
    for await (const chunk of body) {
      clearTimeout(idle);
      idle = setTimeout(() => stop(`timed out: ${idleText}`), ctx.readTimeoutMs);
      if (expected !== undefined && loaded + chunk.length > expected) {
        overflow = true;
        break; // cancels the body: not one byte more is read
      }
      await writeAll(part, chunk);
      loaded += chunk.length;
      ctx.onProgress?.({ file, loaded, total: expected });
    }
    if (overflow) {
      throw new Refusal(
        new HubError(
          "http",
          `download of ${file} from ${origin}: the server sent more than the ${expected} bytes expected ` +
            `(${meta.sizeHeader ?? "Content-Length"}); stopped reading and deleted the partial download`,
        ),
      );
    }
    return { loaded, expected };
  } catch (err) {
    if (err instanceof Refusal) throw err;
    if (stopped !== undefined || (isNetworkFailure(err) && !(err instanceof HubError))) {
      throw new HubError(
        "network",
        `download of ${file} from ${origin} interrupted after ${loaded}${of(expected)} bytes ` +
          `(${stopped ?? reasonOf(err)}); run again to resume`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    clearTimeout(idle);
    clearInterval(speed);
    abort.abort();
  }
}
