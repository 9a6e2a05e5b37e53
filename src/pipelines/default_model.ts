/**
 * The model shipped with the library: a small DistilBERT sentiment classifier trained on SST-2, used by
 * `pipeline("sentiment-analysis")` when no model is given. From a checkout or the npm package it is read in
 * place, offline. From a package loaded over the network (JSR) its files are fetched from the package once
 * into the user cache and read from there afterwards.
 *
 * @module
 */

import { atomicWriteFile, exists } from "../fs/write.ts";

/** `weights/sst2-distilbert-small/` next to this module, as a URL (file: when run from local files). */
export const DEFAULT_SENTIMENT_MODEL_URL: URL = new URL(
  "../../weights/sst2-distilbert-small/",
  import.meta.url,
);

/** The files the model needs at run time. */
const MODEL_FILES = ["config.json", "tokenizer_config.json", "vocab.txt", "model.safetensors"] as const;

function fileUrlToPath(url: URL): string {
  let path = decodeURIComponent(url.pathname);
  if (Deno.build.os === "windows") path = path.replace(/^\/([A-Za-z]:)/, "$1");
  return path.replace(/\/$/, "");
}

/** The embedded sentiment model's folder as a local path; throws when the library was not loaded from files. */
export function defaultSentimentModelDir(): string {
  if (DEFAULT_SENTIMENT_MODEL_URL.protocol !== "file:") {
    throw new Error(
      `the embedded default model is only available as local files when the library is loaded from them ` +
        `(it was loaded from ${DEFAULT_SENTIMENT_MODEL_URL.origin}); use ensureDefaultSentimentModel()`,
    );
  }
  return fileUrlToPath(DEFAULT_SENTIMENT_MODEL_URL);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A local folder holding the embedded sentiment model. For a package loaded over the network the files are
 * downloaded next to the module URL into `$XDG_CACHE_HOME/denobert/models/` (keyed by that URL, so each
 * package version has its own copy), each written to a temporary name then renamed.
 *
 * @param cacheRoot where downloaded copies go (default `$XDG_CACHE_HOME/denobert/models`)
 * @returns the folder path
 */
export async function ensureDefaultSentimentModel(cacheRoot?: string): Promise<string> {
  return await ensureModelFrom(DEFAULT_SENTIMENT_MODEL_URL, cacheRoot);
}

/** `ensureDefaultSentimentModel` for any base URL (tests point it at a local server). */
export async function ensureModelFrom(base: URL, cacheRoot?: string): Promise<string> {
  if (base.protocol === "file:") return fileUrlToPath(base);
  const root = cacheRoot ??
    `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "."}/.cache`}/denobert/models`;
  const dir = `${root}/sst2-distilbert-small-${(await sha256Hex(base.href)).slice(0, 16)}`;
  if ((await Promise.all(MODEL_FILES.map((f) => exists(`${dir}/${f}`)))).every(Boolean)) return dir;
  await Deno.mkdir(dir, { recursive: true });
  for (const name of MODEL_FILES) {
    const target = `${dir}/${name}`;
    if (await exists(target)) continue;
    const url = new URL(name, base);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (err) {
      throw new Error(
        `could not download the default model file ${url.href}: ${(err as Error).message} ` +
          `(needs --allow-net=${url.host}; or pass a model folder instead)`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`could not download the default model file ${url.href}: HTTP ${res.status}`);
    }
    await atomicWriteFile(target, new Uint8Array(await res.arrayBuffer()));
  }
  return dir;
}
