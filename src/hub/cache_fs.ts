/**
 * File operations inside the hub cache that never write through a link the cache did not create, and never
 * leave it.
 *
 * The cache root itself may sit behind symlinks (a `~/.cache` moved to another disk), so it is resolved once
 * with `realPath`. Below it, every folder is checked with `lstat` on the way down and created one level at a
 * time, so a planted `blobs -> /elsewhere` is refused instead of followed; files are created exclusively, or,
 * when an existing one is reopened (a `.incomplete` part, a lock), checked after opening to be the regular,
 * singly linked file at that very path. The only links that belong in the cache are
 * `snapshots/<commit>/<file> -> ../../blobs/<etag>`, made by huggingface_hub and by us: they are read (and
 * must resolve to a regular file inside the cache) and replaced by rename, never written through.
 *
 * Deno has no `openat`/`O_NOFOLLOW`, so another process with write access to the cache that swaps a folder for a
 * link between a check and the use that follows it is not excluded; the checks run right before each use and
 * again on every file opened for writing.
 *
 * @module
 */

import { join, sep } from "node:path";
import { atomicWriteFile } from "../fs/write.ts";
import { HubError } from "./errors.ts";

/** A path inside the cache, as its parts below the root (`["models--a--b", "blobs", etag]`). */
export type CachePath = readonly string[];

function absent(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory;
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (absent(err)) return undefined;
    throw err;
  }
}

function plantedLink(path: string): HubError {
  return new HubError(
    "cache",
    `${path} is a symbolic link that the Hugging Face cache does not create there; refusing to write through ` +
      `it (remove it if you did not put it there on purpose)`,
  );
}

/** The hub cache root and the operations on paths below it. */
export class CacheFs {
  /** The cache root after resolving every link in it. */
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** The cache at `cacheDir`, creating the root folder if needed. */
  static async create(cacheDir: string): Promise<CacheFs> {
    await Deno.mkdir(cacheDir, { recursive: true });
    return new CacheFs(await Deno.realPath(cacheDir));
  }

  /** The cache at `cacheDir`, or undefined when there is none (nothing is created). */
  static async existing(cacheDir: string): Promise<CacheFs | undefined> {
    try {
      return new CacheFs(await Deno.realPath(cacheDir));
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
  }

  /** The absolute path of `rel`. */
  path(rel: CachePath): string {
    for (const part of rel) {
      // Callers validate what they put in a path (ids, etags, revisions); this is the last line.
      if (part === "" || part === "." || part === ".." || /[\\/\0]/.test(part)) {
        throw new HubError(
          "cache",
          `refusing the cache path part ${JSON.stringify(part)} (in ${rel.join("/")})`,
        );
      }
    }
    return join(this.root, ...rel);
  }

  /** What is at `rel` itself (a link is not followed), or undefined. */
  async lstat(rel: CachePath): Promise<Deno.FileInfo | undefined> {
    return await lstatOrUndefined(this.path(rel));
  }

  /**
   * Makes sure `rel` is a real folder, checking every level below the root: a missing one is created (unless
   * `create` is false: then the result says whether the folder exists), a symlink or a file is refused.
   */
  async dir(rel: CachePath, create = true): Promise<boolean> {
    for (let i = 1; i <= rel.length; i++) {
      const path = this.path(rel.slice(0, i));
      let info = await lstatOrUndefined(path);
      if (info === undefined) {
        if (!create) return false;
        try {
          await Deno.mkdir(path);
        } catch (err) {
          if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
        }
        info = await Deno.lstat(path);
      }
      if (info.isSymlink) throw plantedLink(path);
      if (!info.isDirectory) {
        throw new HubError("cache", `${path} is a file where the cache needs a folder; remove it to go on`);
      }
    }
    await this.assertUnmoved(rel);
    return true;
  }

  /** `rel` resolves to itself: no link anywhere below the root (checked again after the lstat walk). */
  private async assertUnmoved(rel: CachePath): Promise<void> {
    const path = this.path(rel);
    const real = await Deno.realPath(path);
    if (real !== path) {
      throw new HubError(
        "cache",
        `${path} resolves to ${real}: a link was planted in the cache; refusing it`,
      );
    }
  }

  /** A new file at `rel` (its folder made as by {@link dir}); fails if anything, a link included, is there. */
  async createFile(rel: CachePath): Promise<Deno.FsFile> {
    await this.dir(rel.slice(0, -1));
    const file = await Deno.open(this.path(rel), { read: true, write: true, createNew: true });
    return await this.checked(file, rel);
  }

  /**
   * The existing file at `rel`, opened for reading and writing, or undefined when there is none. Anything but
   * a regular file with no other hard link is refused: a link planted at the name of a part we would resume
   * would otherwise have its target appended to or overwritten.
   */
  async openFile(rel: CachePath): Promise<Deno.FsFile | undefined> {
    if (!await this.dir(rel.slice(0, -1), false)) return undefined;
    const info = await this.lstat(rel);
    if (info === undefined) return undefined;
    if (info.isSymlink) throw plantedLink(this.path(rel));
    if (!info.isFile) {
      throw new HubError("cache", `${this.path(rel)} is not a regular file; remove it to go on`);
    }
    return await this.checked(await Deno.open(this.path(rel), { read: true, write: true }), rel);
  }

  /** {@link openFile}, else {@link createFile}; for files several processes open, like locks. */
  async openOrCreateFile(rel: CachePath): Promise<Deno.FsFile> {
    const existing = await this.openFile(rel);
    if (existing !== undefined) return existing;
    try {
      return await this.createFile(rel);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      const raced = await this.openFile(rel); // another process created it in between
      if (raced === undefined) throw err;
      return raced;
    }
  }

  /** Closes and refuses `file` unless it is the regular, singly linked file now at `rel`, in its folder. */
  private async checked(file: Deno.FsFile, rel: CachePath): Promise<Deno.FsFile> {
    const path = this.path(rel);
    try {
      const [opened, there] = [await file.stat(), await Deno.lstat(path)];
      const same = opened.ino === null || (opened.ino === there.ino && opened.dev === there.dev);
      if (there.isSymlink || !opened.isFile || !same) throw plantedLink(path);
      if (opened.nlink !== null && opened.nlink > 1) {
        throw new HubError(
          "cache",
          `${path} has ${opened.nlink - 1} other hard link(s); refusing to write to a file shared with ` +
            `something outside the cache (remove it to go on)`,
        );
      }
      await this.assertUnmoved(rel.slice(0, -1));
      return file;
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Writes `data` to `rel` atomically (see `atomicWriteFile`); a link there is replaced, not followed. */
  async writeFile(rel: CachePath, data: Uint8Array): Promise<void> {
    await this.dir(rel.slice(0, -1));
    if ((await this.lstat(rel))?.isDirectory) {
      throw new HubError(
        "cache",
        `${this.path(rel)} is a folder where the cache needs a file; remove it to go on`,
      );
    }
    await atomicWriteFile(this.path(rel), data);
  }

  /**
   * Points `rel` at `target` (a path relative to `rel`'s folder) with a symlink made under a temporary name and
   * renamed into place; where links cannot be made (Windows without developer mode, some file systems), a copy
   * of `copyFrom`, as huggingface_hub does.
   */
  async symlink(rel: CachePath, target: string, copyFrom: CachePath): Promise<void> {
    await this.dir(rel.slice(0, -1));
    const path = this.path(rel);
    // A link cannot be renamed over a folder (EISDIR); say which folder is in the way instead.
    if ((await this.lstat(rel))?.isDirectory) {
      throw new HubError("cache", `${path} is a folder where the cache needs a file; remove it to go on`);
    }
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    try {
      try {
        await Deno.symlink(target, tmp);
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) throw err;
        await Deno.copyFile(this.path(copyFrom), tmp);
      }
      await Deno.rename(tmp, path);
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
  }

  /** Renames `from` to `to`, both in checked folders. */
  async rename(from: CachePath, to: CachePath): Promise<void> {
    await this.dir(from.slice(0, -1));
    await this.dir(to.slice(0, -1));
    await Deno.rename(this.path(from), this.path(to));
  }

  /** Removes the file (or link) `rel` if it is there; never through a planted folder link. */
  async remove(rel: CachePath): Promise<void> {
    if (!await this.dir(rel.slice(0, -1), false)) return;
    try {
      await Deno.remove(this.path(rel));
    } catch (err) {
      if (!absent(err)) throw err;
    }
  }

  /**
   * What the entry `rel` leads to once every link is followed (a snapshot entry, a ref), or undefined when
   * there is nothing there (a dangling link included). It must lead to somewhere inside the cache.
   */
  async resolve(rel: CachePath): Promise<Deno.FileInfo | undefined> {
    const path = this.path(rel);
    let real: string;
    try {
      real = await Deno.realPath(path);
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
    if (!real.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) {
      throw new HubError(
        "cache",
        `${path} leads to ${real}, outside the cache at ${this.root}; refusing to read it (remove it, or the ` +
          `link it goes through, to go on)`,
      );
    }
    return await Deno.stat(real);
  }

  /** {@link resolve} for a file to read: also refused when it leads to a folder or other non-file. */
  async resolveFile(rel: CachePath): Promise<Deno.FileInfo | undefined> {
    const info = await this.resolve(rel);
    if (info !== undefined && !info.isFile) {
      throw new HubError("cache", `${this.path(rel)} does not lead to a regular file; remove it to go on`);
    }
    return info;
  }
}
