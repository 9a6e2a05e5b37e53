/**
 * The project's one existence check and one atomic file write.
 *
 * @module
 */

/**
 * Whether something exists at `path`, following symlinks (a dangling link does not count). A parent that is a
 * file counts as absent; any other failure (permissions, I/O) is thrown rather than taken for "absent".
 *
 * @param path file or folder to look for
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return false;
    throw err;
  }
}

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a part: the bytes
 * go to a new temporary file next to `path` (created exclusively, so nothing already at that name, a planted
 * link included, is written through), which is then renamed over `path`. A symlink at `path` is replaced, not
 * followed. On failure the temporary file is removed and `path` is left as it was.
 *
 * @param path destination file; its folder must exist
 * @param data the bytes, or chunks written in order (a large file need not be joined in memory first)
 */
export async function atomicWriteFile(path: string, data: Uint8Array | Iterable<Uint8Array>): Promise<void> {
  const tmp = `${path}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      for (const chunk of data instanceof Uint8Array ? [data] : data) {
        for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
      }
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
