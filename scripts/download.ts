#!/usr/bin/env -S deno run --allow-read --allow-write --allow-env --allow-net
/**
 * Fills the Hugging Face cache with a DistilBERT checkpoint (config.json, tokenizer files, model.safetensors), the
 * same cache Python transformers uses, so models load offline afterwards.
 *
 * ```sh
 * deno run -A scripts/download.ts <repo-id> [--revision r] [--cache-dir d] [--endpoint url] [--quiet]
 * ```
 *
 * Prints the snapshot folder on stdout and progress on stderr. Exit codes: 0 ok, 1 failure, 2 usage.
 * Environment: HF_TOKEN (gated/private repos), HF_ENDPOINT, HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { downloadModel, type DownloadProgress, isValidRepoId } from "../src/hub/mod.ts";

/** Where the CLI writes; swappable for tests. */
export interface CliIo {
  /** One line of normal output (the snapshot folder). */
  stdout: (line: string) => void;
  /** Raw text for diagnostics and progress (no newline added). */
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress is then redrawn in place). */
  isTerminal: boolean;
}

const USAGE = `usage: deno run -A scripts/download.ts <repo-id> [options]

Downloads config.json, tokenizer files and model.safetensors of a Hugging Face model repo
into the Hugging Face cache and prints the snapshot folder.

  <repo-id>              e.g. distilbert/distilbert-base-uncased-finetuned-sst-2-english
  -r, --revision <rev>   branch, tag or commit sha (default: main)
      --cache-dir <dir>  cache root (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)
      --endpoint <url>   hub URL (default: $HF_ENDPOINT, else https://huggingface.co)
  -q, --quiet            no progress output
  -h, --help             this help

Set HF_TOKEN for gated or private repos.`;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** A progress renderer: redraws one line per file on a terminal, prints a line per 25% step otherwise. */
function progressRenderer(io: CliIo): (p: DownloadProgress) => void {
  let current = "";
  let lastDraw = 0;
  let lastStep = -1;
  return (p) => {
    const done = p.total !== undefined && p.loaded >= p.total;
    if (p.file !== current) {
      current = p.file;
      lastStep = -1;
      lastDraw = 0;
    }
    const pct = p.total ? Math.floor((p.loaded / p.total) * 100) : undefined;
    const line = `${p.file}: ${formatBytes(p.loaded)}` +
      (p.total !== undefined ? ` / ${formatBytes(p.total)}` : "") + (pct !== undefined ? ` (${pct}%)` : "");
    if (io.isTerminal) {
      const now = Date.now();
      if (!done && now - lastDraw < 100) return;
      lastDraw = now;
      io.stderr(`\r\x1b[2K${line}${done ? "\n" : ""}`);
      return;
    }
    const step = done ? 4 : pct === undefined ? -1 : Math.floor(pct / 25);
    if (step > lastStep) {
      lastStep = step;
      if (step > 0) io.stderr(`${line}\n`);
    }
  };
}

/**
 * Runs the CLI.
 *
 * @param args command-line arguments (without the script name)
 * @param io output sinks; default stdout/stderr of the process
 * @returns the exit code: 0 ok, 1 failure, 2 usage error
 */
export async function main(args: string[], io: Partial<CliIo> = {}): Promise<number> {
  const encoder = new TextEncoder();
  const out: CliIo = {
    stdout: io.stdout ?? ((line) => console.log(line)),
    stderr: io.stderr ?? ((text) => Deno.stderr.writeSync(encoder.encode(text))),
    isTerminal: io.isTerminal ?? Deno.stderr.isTerminal(),
  };
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        revision: { type: "string", short: "r" },
        "cache-dir": { type: "string" },
        endpoint: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    out.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.stdout(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    out.stderr(`error: expected exactly one repo id, got ${positionals.length}\n\n${USAGE}\n`);
    return 2;
  }
  const repoId = positionals[0];
  if (!isValidRepoId(repoId)) {
    out.stderr(
      `error: invalid repo id ${JSON.stringify(repoId)}: expected "name" or "org/name"\n\n${USAGE}\n`,
    );
    return 2;
  }
  try {
    const dir = await downloadModel(repoId, {
      revision: values.revision,
      cacheDir: values["cache-dir"],
      endpoint: values.endpoint,
      onProgress: values.quiet ? undefined : progressRenderer(out),
    });
    out.stdout(dir);
    return 0;
  } catch (err) {
    if (out.isTerminal && !values.quiet) out.stderr("\n");
    out.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
