/**
 * Tokenizer speed: the seed table's rows (one sentence, a batch of 8, both padded to the longest and
 * truncated at 128), 1 MB of text, and vocabulary loading.
 *
 * Run: `deno bench --allow-read bench/tokenizer_bench.ts`
 */

import { Tokenizer } from "../src/tokenizer/mod.ts";

const BERT_DIR = new URL("../tests/fixtures/tokenizer/bert-base-uncased/", import.meta.url);
const SST2_DIR = new URL("../weights/sst2-distilbert-small/", import.meta.url);

// Ordinary English sentences of 15-40 words, mixed case and punctuation.
const SENTENCES = [
  "The committee announced on Tuesday that the new bridge, which cost nearly two billion dollars, will open to traffic next spring.",
  "I can't believe how quickly the kids finished their homework once they heard we were going out for pizza tonight!",
  "Researchers at the university found that people who walk for thirty minutes a day sleep better and report lower stress.",
  "Despite the heavy rain, thousands of fans gathered outside the stadium, singing and waving flags long after the final whistle.",
  "She opened the old wooden box carefully, expecting letters or photographs, but found only a single brass key wrapped in silk.",
  "The film's second half drags badly, yet the performances are strong enough that most viewers won't mind the slow pace.",
  "According to the latest report, global shipping costs rose by 12% in March as fuel prices and port delays increased again.",
  "If you're planning to visit Kyoto in autumn, book your hotel early: the best places fill up months in advance.",
  "He said the software update fixed the battery problem, but several users on the forum still complain about overheating phones.",
  "Our neighbours adopted a tiny grey kitten last week, and it has already learned to open the kitchen cupboard by itself.",
  "The museum's new exhibition brings together paintings, letters and maps that tell the story of the city's first harbour.",
  "Honestly, the service was slow and the soup was cold, but the dessert was so good that we'd probably go back.",
  "Engineers replaced the aging water pipes under Main Street over the summer, finishing two weeks ahead of the original schedule.",
  "Nobody expected the underdog team to win the championship, least of all the coach, who had planned his retirement party.",
  "After years of debate, the council finally approved a plan to turn the abandoned rail yard into a public park with gardens.",
  "The author's latest novel is a gripping, funny and surprisingly tender story about three sisters who inherit a failing bakery.",
  "Please remember to switch off the lights and lock the back door before you leave the office tonight.",
  "Although the forecast had promised clear skies for the whole weekend, a cold front moved in on Saturday morning, and by noon the campsite was soaked, the tents were sagging, and everyone was crowded into the tiny cabin playing cards.",
  "The quarterly results beat expectations: revenue grew 8%, margins improved, and the company raised its full-year guidance for the second time.",
  "When the power went out across the whole neighbourhood, people brought candles, blankets and leftover food into the street, and what started as an inconvenience turned into the friendliest evening anyone could remember in years.",
];

const BATCH_OPTIONS = { padding: "longest", truncation: true, maxLength: 128 } as const;

const tok = await Tokenizer.fromDir(BERT_DIR);
const oneMb = SENTENCES.join(" ").repeat(Math.ceil(1_000_000 / SENTENCES.join(" ").length)).slice(
  0,
  1_000_000,
);

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
