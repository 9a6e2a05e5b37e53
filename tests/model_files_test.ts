/**
 * Model folders whose files are not regular files (a FIFO, a link to /dev/zero, a directory) or are too large:
 * each is a clear error naming the file, quickly, through the library and through the CLI. A regression must
 * fail, not hang: the library checks have a watchdog that feeds a FIFO after a while (so a blocked read ends and
 * the assertion fails), and the CLI children have a timeout.
 */

import assert from "node:assert/strict";
import { FILE_CAPS, readFileCapped, readTextCapped } from "../src/fs/read.ts";
import { loadConfig } from "../src/config.ts";
import { SafetensorsFile } from "../src/safetensors.ts";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { pipeline } from "../src/pipelines/mod.ts";
import { UNIT } from "./helpers/unit.ts";

const LINUX = Deno.build.os === "linux";
const MODEL = new URL("../weights/sst2-distilbert-small/", import.meta.url).pathname;
const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** A copy of the embedded sentiment model (weights linked) to break one file of. */
async function modelFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "denobert-files-" });
  for (const f of ["config.json", "tokenizer_config.json", "vocab.txt"]) {
    await Deno.copyFile(`${MODEL}${f}`, `${dir}/${f}`);
  }
  await Deno.symlink(`${MODEL}model.safetensors`, `${dir}/model.safetensors`);
  return dir;
}

async function mkfifo(path: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("mkfifo", { args: [path], stderr: "piped" }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
}

/** Ways to break a file, and what the error must say. */
type Breakage = {
  name: string;
  file: string;
  make: (path: string) => Promise<void>;
  message: RegExp;
  fifo?: boolean;
};

const sparse = (size: number) => async (path: string) => {
  await Deno.remove(path).catch(() => {});
  await Deno.writeTextFile(path, "{}");
  await Deno.truncate(path, size);
};
const replaceWith = (make: (path: string) => Promise<void>) => async (path: string) => {
  await Deno.remove(path).catch(() => {});
  await make(path);
};

const BREAKAGES: Breakage[] = [
  {
    name: "config.json is a FIFO",
    file: "config.json",
    make: replaceWith(mkfifo),
    message: /config\.json is a FIFO \(named pipe\), not a regular file/,
    fifo: true,
  },
  {
    name: "config.json is a directory",
    file: "config.json",
    make: replaceWith((p) => Deno.mkdir(p)),
    message: /config\.json is a directory, not a regular file/,
  },
  {
    name: "config.json is over the cap",
    file: "config.json",
    make: sparse(FILE_CAPS.config + 1),
    message: /config\.json is larger than the 8 MiB limit for JSON config files/,
  },
  {
    name: "vocab.txt links to /dev/zero",
    file: "vocab.txt",
    make: replaceWith((p) => Deno.symlink("/dev/zero", p)),
    message: /vocab\.txt \(a link to \/dev\/zero\) is a character device, not a regular file/,
  },
  {
    name: "vocab.txt is over the cap",
    file: "vocab.txt",
    make: sparse(FILE_CAPS.tokenizer + 1),
    message: /vocab\.txt is larger than the 128 MiB limit for tokenizer files/,
  },
  {
    name: "tokenizer.json links to /dev/zero",
    file: "tokenizer.json",
    make: replaceWith((p) => Deno.symlink("/dev/zero", p)),
    message: /tokenizer\.json \(a link to \/dev\/zero\) is a character device, not a regular file/,
  },
  {
    name: "tokenizer_config.json is a FIFO",
    file: "tokenizer_config.json",
    make: replaceWith(mkfifo),
    message: /tokenizer_config\.json is a FIFO \(named pipe\), not a regular file/,
    fifo: true,
  },
  {
    name: "special_tokens_map.json links to /dev/zero",
    file: "special_tokens_map.json",
    make: replaceWith((p) => Deno.symlink("/dev/zero", p)),
    message: /special_tokens_map\.json \(a link to \/dev\/zero\) is a character device/,
  },
  {
    name: "model.safetensors is a FIFO",
    file: "model.safetensors",
    make: replaceWith(mkfifo),
    message: /model\.safetensors is a FIFO \(named pipe\), not a regular file/,
    fifo: true,
  },
  {
    name: "model.safetensors links to /dev/zero",
    file: "model.safetensors",
    make: replaceWith((p) => Deno.symlink("/dev/zero", p)),
    message: /model\.safetensors \(a link to \/dev\/zero\) is a character device, not a regular file/,
  },
  {
    name: "model.safetensors is a directory",
    file: "model.safetensors",
    make: replaceWith((p) => Deno.mkdir(p)),
    message: /model\.safetensors is a directory, not a regular file/,
  },
];

/**
 * Runs `fn`; if it is still running after `ms`, writes to the FIFO (which releases a reader blocked on it), so a
 * regression that opens the FIFO ends with a wrong result instead of hanging the test run.
 */
async function withFifoWatchdog<T>(fifo: string | undefined, ms: number, fn: () => Promise<T>): Promise<T> {
  if (fifo === undefined) return await fn();
  const timer = setTimeout(() => {
    Deno.writeTextFile(fifo, "{}").catch(() => {});
  }, ms);
  try {
    return await fn();
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "model files: FIFOs, devices, directories and oversized files are refused by the library",
  ignore: !LINUX,
  fn: async (t) => {
    for (const b of BREAKAGES) {
      await t.step(b.name, async () => {
        const dir = await modelFolder();
        try {
          const path = `${dir}/${b.file}`;
          await b.make(path);
          await withFifoWatchdog(b.fifo ? path : undefined, 10_000, async () => {
            await assert.rejects(pipeline("text-classification", dir, { threads: 1 }), b.message);
            // The entry point that reads the file directly says the same.
            if (b.file === "config.json") await assert.rejects(loadConfig(dir), b.message);
            if (b.file === "model.safetensors") await assert.rejects(SafetensorsFile.open(path), b.message);
            if (b.file !== "config.json" && b.file !== "model.safetensors") {
              await assert.rejects(Tokenizer.fromDir(dir), b.message);
            }
          });
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      });
    }
  },
});

// A sentence-transformers folder's own files, read only by feature-extraction: refused the same way.
const SENTENCE_TRANSFORMERS_BREAKAGES: Breakage[] = [
  {
    name: "modules.json is a FIFO",
    file: "modules.json",
    make: replaceWith(mkfifo),
    message: /modules\.json is a FIFO \(named pipe\), not a regular file/,
    fifo: true,
  },
  {
    // (Not /dev/zero here: before the capped reader, that read never ended, so the test could not fail.)
    name: "1_Pooling/config.json is a directory",
    file: "1_Pooling/config.json",
    make: replaceWith((p) => Deno.mkdir(p)),
    message: /1_Pooling\/config\.json is a directory, not a regular file/,
  },
  {
    name: "sentence_bert_config.json is a FIFO",
    file: "sentence_bert_config.json",
    make: replaceWith(mkfifo),
    message: /sentence_bert_config\.json is a FIFO \(named pipe\), not a regular file/,
    fifo: true,
  },
  {
    name: "config_sentence_transformers.json is over the cap",
    file: "config_sentence_transformers.json",
    make: sparse(FILE_CAPS.config + 1),
    message: /config_sentence_transformers\.json is larger than the 8 MiB limit for JSON config files/,
  },
];

Deno.test({
  name: "model files: a sentence-transformers folder's FIFOs, devices and oversized files are refused",
  ignore: !LINUX,
  fn: async (t) => {
    for (const b of SENTENCE_TRANSFORMERS_BREAKAGES) {
      await t.step(b.name, async () => {
        const dir = await modelFolder();
        try {
          await Deno.writeTextFile(
            `${dir}/modules.json`,
            JSON.stringify([
              { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
              { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
            ]),
          );
          await Deno.mkdir(`${dir}/1_Pooling`);
          await Deno.writeTextFile(
            `${dir}/1_Pooling/config.json`,
            JSON.stringify({ pooling_mode_mean_tokens: true }),
          );
          await Deno.writeTextFile(
            `${dir}/sentence_bert_config.json`,
            JSON.stringify({ max_seq_length: 128 }),
          );
          await Deno.writeTextFile(
            `${dir}/config_sentence_transformers.json`,
            JSON.stringify({ prompts: {} }),
          );
          const path = `${dir}/${b.file}`;
          await b.make(path);
          await withFifoWatchdog(b.fifo ? path : undefined, 10_000, async () => {
            await assert.rejects(pipeline("feature-extraction", dir, { threads: 1 }), b.message);
          });
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      });
    }
  },
});

Deno.test({
  name: "model files: a file whose stat size is 0 (/proc) is read to its end, and the cap still holds",
  ignore: !LINUX,
  fn: async () => {
    // Deno lets only --allow-all read /proc (which `deno run -A cli.ts` has), so in a child.
    const readUrl = new URL("../src/fs/read.ts", import.meta.url).href;
    const code = `
      import { readFileCapped, readTextCapped } from ${JSON.stringify(readUrl)};
      const size = (await Deno.stat("/proc/self/status")).size;
      const text = await readTextCapped("/proc/self/status", 1 << 20, "test files");
      let capped = "";
      try { await readFileCapped("/proc/self/status", 100, "test files"); } catch (e) { capped = e.message; }
      console.log(JSON.stringify({ size, text, capped }));`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "-A", code],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const { size, text, capped } = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(size, 0);
    assert.match(text, /^Name:/);
    assert.ok(text.length > 100);
    assert.match(capped, /\/proc\/self\/status is larger than the 100 bytes limit for test files/);
  },
});

Deno.test("model files: missing files, dangling links, and exactly the cap", async () => {
  await assert.rejects(readFileCapped("/dev/zero", 100, "test files"), /\/dev\/zero is a character device/);
  await assert.rejects(readFileCapped("/no/such/file", 100, "test files"), /\/no\/such\/file not found/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink(`${dir}/missing`, `${dir}/link`);
    await assert.rejects(readFileCapped(`${dir}/link`, 100, "test files"), /link not found/);
    await Deno.writeFile(`${dir}/f`, new Uint8Array(100).fill(65));
    assert.equal(await readTextCapped(`${dir}/f`, 100, "test files"), "A".repeat(100));
    await assert.rejects(readFileCapped(`${dir}/f`, 99, "test files"), /f is larger than the 99 bytes limit/);
    // Larger than the first read buffer: the buffer grows until the end of the file.
    await Deno.writeFile(`${dir}/g`, new Uint8Array(100_000).fill(66));
    assert.equal((await readFileCapped(`${dir}/g`, 1 << 20, "test files")).length, 100_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "model files: the CLI exits 1 with the message for each broken file, without hanging (children)",
  ignore: !LINUX || UNIT,
  fn: async (t) => {
    for (const b of BREAKAGES) {
      await t.step(b.name, async () => {
        const dir = await modelFolder();
        try {
          await b.make(`${dir}/${b.file}`);
          const { code, signal, stderr } = await new Deno.Command(Deno.execPath(), {
            args: ["run", "--allow-ffi", "--allow-read", "--allow-env", CLI, "sentiment-analysis"].concat(
              ["--model", dir, "--threads", "1", "a fine movie"],
            ),
            stdin: "null",
            stdout: "null",
            stderr: "piped",
            // A regression that blocks on the FIFO is killed and fails here instead of hanging the run.
            signal: AbortSignal.timeout(30_000),
          }).output();
          const err = new TextDecoder().decode(stderr);
          assert.equal(signal, null, `killed by ${signal} (timed out): ${err}`);
          assert.equal(code, 1, err);
          assert.match(err, b.message);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      });
    }
  },
});
