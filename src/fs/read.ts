/**
 * The one way the library reads the files of a model folder (and the small files of the hub cache): links are
 * resolved, anything but a regular file (a FIFO, a device such as `/dev/zero`, a directory, a socket) is refused
 * before it is opened, and at most `cap + 1` bytes are read, so a file that is too large, keeps growing, or
 * reports a size of 0 while holding data (as `/proc` files do) cannot hang the process or exhaust its memory.
 *
 * @module
 */

const MiB = 1 << 20;

/**
 * Size caps by kind of file, each far above what real Hugging Face files need: a DistilBERT `config.json` or
 * `tokenizer_config.json` is a few KB (a config listing thousands of added tokens a few hundred KB);
 * bert-base-uncased's `tokenizer.json` is 0.7 MB and the largest `tokenizer.json` files on the hub (large
 * multilingual vocabularies) are a few tens of MB.
 */
export const FILE_CAPS = {
  /** `config.json`, `tokenizer_config.json`, `special_tokens_map.json` and other JSON settings files. */
  config: 8 * MiB,
  /** `tokenizer.json` and `vocab.txt`. */
  tokenizer: 128 * MiB,
  /** One-line files of the hub cache (`refs/<branch>`, the token file). */
  small: 64 * 1024,
} as const;

/** An error about one file: it names the path (and what the link resolved to). */
export class ModelFileError extends Error {
  /** The path as given. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param path the path as given
   * @param message the full message (it names the path)
   */
  constructor(path: string, message: string) {
    super(message);
    this.name = "ModelFileError";
    this.path = path;
  }
}

/** The path as a string for messages. */
export function pathLabel(path: string | URL): string {
  return path instanceof URL
    ? (path.protocol === "file:" ? decodeURIComponent(path.pathname) : path.href)
    : path;
}

/** A byte count as people read it: "16 MiB", "64 KiB", "100 bytes". */
export function formatBytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** What a path resolves to, for messages: `x` or `x (a link to y)`. */
function describe(label: string, real: string): string {
  return real === label ? label : `${label} (a link to ${real})`;
}

/**
 * Resolves links and checks that `path` is a regular file.
 *
 * @returns the resolved path and the file's size
 * @throws {Deno.errors.NotFound} when the path (or a link's target) does not exist, naming it
 * @throws {ModelFileError} when it is a directory, FIFO, device or socket
 */
export async function regularFile(path: string | URL): Promise<{ real: string; size: number }> {
  const label = pathLabel(path);
  let real: string;
  let info: Deno.FileInfo;
  try {
    real = await Deno.realPath(path);
    info = await Deno.stat(real);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Deno.errors.NotFound(`${label} not found`);
    if (err instanceof Deno.errors.NotADirectory) throw new Deno.errors.NotFound(`${label} not found`);
    throw new ModelFileError(label, `${label} cannot be read: ${(err as Error).message}`);
  }
  if (!info.isFile) {
    throw new ModelFileError(label, `${describe(label, real)} is ${kindOf(info)}, not a regular file`);
  }
  return { real, size: info.size };
}

/**
 * Opens a regular file for reading, refusing anything else before the open (opening a FIFO blocks until a writer
 * appears) and checking again on the open handle (the path may have been swapped in between).
 */
export async function openRegularFile(
  path: string | URL,
): Promise<{ file: Deno.FsFile; size: number; info: Deno.FileInfo }> {
  const label = pathLabel(path);
  const { real } = await regularFile(path);
  const file = await Deno.open(real, { read: true });
  try {
    const info = await file.stat();
    if (!info.isFile) {
      throw new ModelFileError(label, `${describe(label, real)} is ${kindOf(info)}, not a regular file`);
    }
    return { file, size: info.size, info };
  } catch (err) {
    file.close();
    throw err;
  }
}

/**
 * Reads a regular file of at most `cap` bytes.
 *
 * @param path the file
 * @param cap the largest size accepted
 * @param what the kind of file, for the error (e.g. "JSON config files")
 * @throws {Deno.errors.NotFound} when it does not exist
 * @throws {ModelFileError} when it is not a regular file or holds more than `cap` bytes
 */
export async function readFileCapped(path: string | URL, cap: number, what: string): Promise<Uint8Array> {
  const label = pathLabel(path);
  const { file, size } = await openRegularFile(path);
  using _ = file;
  const tooLarge = () =>
    new ModelFileError(label, `${label} is larger than the ${formatBytes(cap)} limit for ${what}`);
  if (size > cap) throw tooLarge();
  // The stat size is a hint only: read until end of file, but never more than cap + 1 bytes.
  let buf = new Uint8Array(Math.min(cap + 1, Math.max(size + 1, 4096)));
  let length = 0;
  for (;;) {
    if (length === buf.length) {
      if (length > cap) throw tooLarge();
      const grown = new Uint8Array(Math.min(cap + 1, buf.length * 2));
      grown.set(buf);
      buf = grown;
    }
    const n = await file.read(buf.subarray(length));
    if (n === null) break;
    length += n;
  }
  if (length > cap) throw tooLarge();
  return buf.subarray(0, length);
}

/** Reads a UTF-8 text file of at most `cap` bytes (invalid bytes become U+FFFD; a BOM is kept, as `Deno.readTextFile`). */
export async function readTextCapped(path: string | URL, cap: number, what: string): Promise<string> {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(await readFileCapped(path, cap, what));
}

/**
 * Reads and parses a JSON file of at most `cap` bytes.
 *
 * @throws {Deno.errors.NotFound} when it does not exist
 * @throws {ModelFileError} when it is not a regular file, too large, or not valid JSON
 */
export async function readJsonCapped(path: string | URL, cap: number, what: string): Promise<unknown> {
  const text = await readTextCapped(path, cap, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    const label = pathLabel(path);
    throw new ModelFileError(label, `${label} is not valid JSON: ${(err as Error).message}`);
  }
}

/** {@link readJsonCapped}, or undefined when the file does not exist. */
export async function readOptionalJson(path: string | URL, cap: number, what: string): Promise<unknown> {
  try {
    return await readJsonCapped(path, cap, what);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}
