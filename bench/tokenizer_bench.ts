/**
 * Tokenizer speed: the seed table's rows (one sentence, a batch of 8, both padded to the longest and
 * truncated at 128), 1 MB of text, and vocabulary loading.
 *
 * Run: `deno bench --allow-read bench/tokenizer_bench.ts`
 */

import { Tokenizer } from "../src/tokenizer/mod.ts";
import { BATCH_OPTIONS, oneMegabyte, SENTENCES } from "./sentences.ts";

const BERT_DIR = new URL("../tests/fixtures/tokenizer/bert-base-uncased/", import.meta.url);
const SST2_DIR = new URL("../weights/sst2-distilbert-small/", import.meta.url);

const tok = await Tokenizer.fromDir(BERT_DIR);
const oneMb = oneMegabyte();

let next = 0;
Deno.bench("tokenizer: 1 sentence (padding longest, truncation 128)", { group: "sentence" }, () => {
  tok.encodeBatch([SENTENCES[next++ % SENTENCES.length]], BATCH_OPTIONS);
});

Deno.bench("tokenizer: batch of 8 sentences (padding longest, truncation 128)", { group: "batch8" }, () => {
  const start = next++ % 12;
  tok.encodeBatch(SENTENCES.slice(start, start + 8), BATCH_OPTIONS);
});

Deno.bench("tokenizer: 1 MB of text, no truncation", { group: "1mb" }, () => {
  tok.encode(oneMb);
});

Deno.bench("tokenizer: load bert-base-uncased tokenizer.json (30522 tokens)", { group: "load" }, async () => {
  await Tokenizer.fromDir(BERT_DIR);
});

Deno.bench("tokenizer: load bert-base-uncased vocab.txt (30522 lines)", { group: "load" }, async () => {
  Tokenizer.fromVocab(await Deno.readTextFile(new URL("vocab.txt", BERT_DIR)), { do_lower_case: true });
});

Deno.bench(
  "tokenizer: load sst2-distilbert-small (vocab.txt + tokenizer_config.json)",
  { group: "load" },
  async () => {
    await Tokenizer.fromDir(SST2_DIR);
  },
);
