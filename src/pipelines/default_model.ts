/**
 * The model shipped with the library: a small DistilBERT sentiment classifier trained on SST-2, used by
 * `pipeline("sentiment-analysis")` when no model is given. It works offline.
 *
 * @module
 */

/** `weights/sst2-distilbert-small/` next to this module, as a URL (file: when run from a checkout). */
export const DEFAULT_SENTIMENT_MODEL_URL: URL = new URL(
  "../../weights/sst2-distilbert-small/",
  import.meta.url,
);

/** The embedded sentiment model's folder as a local path; throws when the library was not loaded from files. */
export function defaultSentimentModelDir(): string {
  if (DEFAULT_SENTIMENT_MODEL_URL.protocol !== "file:") {
    throw new Error(
      `the embedded default model is only available when the library is loaded from local files ` +
        `(it was loaded from ${DEFAULT_SENTIMENT_MODEL_URL.origin}); pass a model folder or hub id instead`,
    );
  }
  let path = decodeURIComponent(DEFAULT_SENTIMENT_MODEL_URL.pathname);
  if (Deno.build.os === "windows") path = path.replace(/^\/([A-Za-z]:)/, "$1");
  return path.replace(/\/$/, "");
}
