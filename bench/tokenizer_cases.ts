// Tokenizer medians as JSON lines for bench/report.ts: one sentence and a batch of 8 (padding longest,
// truncation 128), 1 MB of text, and loading the vocabulary. With --transformers-js, the same cases on
// Transformers.js's tokenizer in the same process (needs the npm registry; not used in CI).

import { parseArgs } from "node:util";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { median } from "./cases.ts";
import { BATCH_OPTIONS, oneMegabyte, SENTENCES } from "./sentences.ts";

const FIXTURES = new URL("../tests/fixtures/tokenizer/", import.meta.url);
const { values } = parseArgs({
  args: Deno.args,
  options: { "transformers-js": { type: "boolean" }, threads: { type: "string" } }, // threads: unused here
});

async function timeMs(fn: () => unknown, runs: number): Promise<number> {
  for (let i = 0; i < Math.min(runs, 200); i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

interface Encoder {
  one(text: string): unknown;
  batch(texts: string[]): unknown;
  whole(text: string): unknown;
}

async function measure(name: string, load: () => Promise<Encoder>) {
  const loadMs = await timeMs(load, 15);
  const enc = await load();
  let next = 0;
  const sentence = await timeMs(() => enc.one(SENTENCES[next++ % SENTENCES.length]), 5000);
  const batch = await timeMs(() => {
    const start = next++ % 12;
    return enc.batch(SENTENCES.slice(start, start + 8));
  }, 2000);
  const mb = oneMegabyte();
  const megabyte = await timeMs(() => enc.whole(mb), 5);
  console.log(JSON.stringify({
    kind: "tokenizer",
    tokenizer: name,
    sentence_ms: sentence,
    batch8_ms: batch,
    megabyte_ms: megabyte,
    load_ms: loadMs,
  }));
}

await measure("denobert", async () => {
  const tok = await Tokenizer.fromDir(new URL("bert-base-uncased/", FIXTURES));
  return {
    one: (t) => tok.encodeBatch([t], BATCH_OPTIONS),
    batch: (ts) => tok.encodeBatch(ts, BATCH_OPTIONS),
    whole: (t) => tok.encode(t),
  };
});

if (values["transformers-js"]) {
  // A computed specifier keeps this optional peer out of the module graph (and the lockfile) of everything
  // else; only this flag downloads it.
  const peer = "npm:@huggingface/transformers@3.7.5";
  const { AutoTokenizer, env } = await import(peer);
  env.allowRemoteModels = false;
  env.localModelPath = decodeURIComponent(FIXTURES.pathname);
  await measure("transformers.js 3.7.5", async () => {
    const tok = await AutoTokenizer.from_pretrained("bert-base-uncased");
    return {
      one: (t: string) => tok([t], { padding: true, truncation: true, max_length: 128 }),
      batch: (ts: string[]) => tok(ts, { padding: true, truncation: true, max_length: 128 }),
      whole: (t: string) => tok(t),
    };
  });
}
