/**
 * cli.ts as a subprocess on the embedded sentiment model: texts as arguments, stdin lines, stdin JSONL, --help,
 * usage errors (exit 2), runtime errors (exit 1), streaming of results written before a bad line.
 */

import assert from "node:assert/strict";
import { ST_MODULES, stFolder } from "./helpers/st_folder.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const FLAGS = [
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net=127.0.0.1",
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  lines: unknown[];
}

async function cli(args: string[], stdin?: string, env: Record<string, string> = {}): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, CLI, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env,
    // A hung child fails its test instead of hanging the run.
    signal: AbortSignal.timeout(120_000),
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    // A child that stops reading early (an over-long line) closes the pipe: that is its answer, not an error.
    const closed = (err: unknown) => {
      if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
    };
    await writer.write(new TextEncoder().encode(stdin)).catch(closed);
    await writer.close().catch(closed);
  }
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout), err = new TextDecoder().decode(stderr);
  return {
    code,
    stdout: out,
    stderr: err,
    get lines() {
      return out.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    },
  };
}

type Label = { label: string; score: number };

Deno.test("cli: texts as arguments, one JSON result per line, default model", async () => {
  const r = await cli([
    "sentiment-analysis",
    "a gorgeous, witty, seductive movie.",
    "a dull, lifeless mess.",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.lines.length, 2);
  const [a, b] = r.lines as Label[];
  assert.equal(a.label, "POSITIVE");
  assert.equal(b.label, "NEGATIVE");
  assert.ok(a.score > 0.5 && a.score <= 1);
});

Deno.test("cli: --input-format applies to texts given as arguments", async () => {
  const plain = await cli(["sentiment-analysis", "--threads", "1", "a dull, lifeless mess.", "fine"]);
  assert.equal(plain.code, 0, plain.stderr);
  const json = await cli([
    "sentiment-analysis",
    "--threads",
    "1",
    "--input-format",
    "jsonl",
    JSON.stringify({ text: "a dull, lifeless mess." }),
    JSON.stringify("fine"),
  ]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(json.lines, plain.lines);
  const broken = await cli(["sentiment-analysis", "--input-format", "jsonl", "not json"]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /argument 1: not valid JSON/);
  // Without the flag an argument is a text, even one that looks like JSON.
  const quoted = await cli(["sentiment-analysis", "--threads", "1", JSON.stringify("fine")]);
  assert.notDeepEqual(quoted.lines, plain.lines.slice(1));
});

Deno.test("cli: stdin plain lines and JSONL, blank lines skipped, order kept, --top-k all", async () => {
  const refs = (await Deno.readTextFile(
    new URL("../weights/sst2-distilbert-small/dev-reference.jsonl", import.meta.url),
  ))
    .trim().split("\n").slice(0, 50).map((l) => JSON.parse(l) as { text: string; logits: number[] });
  const stdin =
    refs.map((r, i) =>
      i % 3 === 0 ? JSON.stringify({ text: r.text }) : i % 3 === 1 ? JSON.stringify(r.text) : r.text
    )
      .join("\n\n") + "\n";
  const r = await cli(["text-classification", "--batch-size", "4", "--threads", "1"], stdin);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.lines.length, refs.length);
  (r.lines as Label[]).forEach((got, i) => {
    const [neg, pos] = refs[i].logits;
    assert.equal(got.label, pos > neg ? "POSITIVE" : "NEGATIVE", `line ${i}`);
    assert.ok(Math.abs(got.score - 1 / (1 + Math.exp(-Math.abs(pos - neg)))) < 1e-4);
  });
  const all = await cli(["sentiment-analysis", "--top-k", "all"], "fine\r\nterrible");
  assert.equal(all.code, 0, all.stderr);
  const ranked = all.lines as Label[][];
  assert.equal(ranked.length, 2);
  assert.deepEqual(ranked[0].map((x) => x.label).sort(), ["NEGATIVE", "POSITIVE"]);
  assert.ok(ranked[0][0].score >= ranked[0][1].score);
});

Deno.test("cli: --help shows every task and option and exits 0", async () => {
  const r = await cli(["--help"]);
  assert.equal(r.code, 0);
  for (
    const word of [
      "sentiment-analysis",
      "text-classification",
      "fill-mask",
      "feature-extraction",
      "embeddings",
      "question-answering",
      "token-classification",
      "ner",
      "--model",
      "--batch-size",
      "--threads",
      "--offline",
      "--top-k",
      "--pooling",
      "--normalize",
      "--no-normalize",
      "--prompt",
      "--prompt-name",
      "--aggregation-strategy",
      "--doc-stride",
      "--max-answer-len",
      "Exit codes",
    ]
  ) assert.ok(r.stdout.includes(word), `--help does not mention ${word}`);
});

Deno.test("cli: usage errors exit 2 with a message on stderr", async () => {
  for (
    const args of [
      ["sentiment-analysis", "--bogus", "x"],
      ["summarization", "x"],
      [],
      ["sentiment-analysis", "--batch-size", "0", "x"],
      ["sentiment-analysis", "--threads", "300", "x"], // above the 256 a model takes
      ["sentiment-analysis", "--pooling", "mean", "x"],
      ["sentiment-analysis", "--prompt-name", "query", "x"],
      ["embeddings", "--model", "x", "--prompt", "q: ", "--prompt-name", "query", "x"],
      ["embeddings", "--model", "x", "--normalize", "--no-normalize", "x"],
      ["sentiment-analysis", "--no-normalize", "x"],
      ["fill-mask", "x [MASK]"], // no default model
      ["sentiment-analysis", "--model", "", "x"], // not the default model
      ["ner", "--model", "x", "--aggregation-strategy", "bogus", "x"],
    ]
  ) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^error: /);
    assert.equal(r.stdout, "");
  }
});

Deno.test("cli: runtime errors exit 1: missing model folder, offline cache miss, bad input line", async () => {
  const missing = await cli(["sentiment-analysis", "--model", "./no/such/model", "text"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no\/such\/model does not exist/);

  const cacheDir = await Deno.makeTempDir();
  try {
    const offline = await cli(
      ["sentiment-analysis", "--model", "someone/nothing", "--offline", "x"],
      undefined,
      {
        HF_HUB_CACHE: cacheDir,
      },
    );
    assert.equal(offline.code, 1);
    assert.match(offline.stderr, /offline/);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }

  // Results before the bad line are written, then the error names the line.
  const bad = await cli(["sentiment-analysis"], 'good\nfine\n{"text": 3}\nnever\n');
  assert.equal(bad.code, 1);
  assert.equal(bad.lines.length, 2);
  assert.match(bad.stderr, /line 3: "text" must be a string/);
  // A misspelt field is an error, not a text run without it.
  const typo = await cli(["sentiment-analysis"], 'good\n{"text": "fine", "pair": "awful"}\n');
  assert.equal(typo.code, 1);
  assert.equal(typo.lines.length, 1);
  assert.match(typo.stderr, /line 2: unknown field "pair" \(text-classification takes "text", "text_pair"/);
  const broken = await cli(["sentiment-analysis", "--input-format", "jsonl"], "plain text\n");
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /line 1: not valid JSON/);
});

Deno.test("cli: empty stdin writes nothing and exits 0", async () => {
  const r = await cli(["sentiment-analysis"], "");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
});

Deno.test("cli: the other tasks on synth checkpoints (fill-mask, embeddings, ner, question-answering)", async () => {
  const { ensureSynthModel } = await import("./helpers/synth_cache.ts");
  const tokenizer = new URL("fixtures/tokenizer/bert-base-uncased/", import.meta.url).pathname;
  const root = await Deno.makeTempDir({ prefix: "cli-synth-" });
  const dir = async (head: "mlm" | "qa" | "tokcls") => {
    const synth = await ensureSynthModel("base", head);
    const d = `${root}/${head}`;
    await Deno.mkdir(d);
    await Deno.copyFile(`${synth}/config.json`, `${d}/config.json`);
    await Deno.symlink(`${synth}/model.safetensors`, `${d}/model.safetensors`);
    for (const f of ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]) {
      await Deno.copyFile(tokenizer + f, `${d}/${f}`);
    }
    return d;
  };
  try {
    const mlm = await dir("mlm");
    const fill = await cli(
      ["fill-mask", "-m", mlm, "--top-k", "3", "--threads", "1"],
      '{"text": "Paris is the [MASK] of France."}\n',
    );
    assert.equal(fill.code, 0, fill.stderr);
    const [cands] = fill.lines as { score: number; token_str: string; sequence: string }[][];
    assert.equal(cands.length, 3);
    assert.ok(cands[0].score >= cands[1].score && cands[0].sequence.startsWith("paris is the "));
    const noMask = await cli(["fill-mask", "-m", mlm, "--threads", "1"], "has [MASK]\nno mask\n");
    assert.equal(noMask.code, 1);
    assert.equal(noMask.lines.length, 1); // the good line before the bad one
    assert.match(noMask.stderr, /line 2: no \[MASK\] token/);

    const emb = await cli([
      "embeddings",
      "-m",
      mlm,
      "--pooling",
      "mean",
      "--normalize",
      "--threads",
      "1",
      "hi",
      "there",
    ]);
    assert.equal(emb.code, 0, emb.stderr);
    const vecs = emb.lines as number[][];
    assert.equal(vecs.length, 2);
    assert.equal(vecs[0].length, 768);
    assert.ok(Math.abs(Math.hypot(...vecs[0]) - 1) < 1e-5);
    // Every pooling the pipeline takes: max pooling is at least the mean in every dimension.
    const pooled = (mode: string) =>
      cli(["embeddings", "-m", mlm, "--pooling", mode, "--threads", "1", "hi there"]);
    const [mean, max] = [await pooled("mean"), await pooled("max")];
    assert.equal(max.code, 0, max.stderr);
    const [m0, x0] = [mean.lines[0] as number[], max.lines[0] as number[]];
    assert.equal(x0.length, 768);
    assert.ok(x0.every((v, i) => v >= m0[i] - 1e-6) && x0.some((v, i) => v > m0[i] + 1e-3));
    const tokens = await cli(["feature-extraction", "-m", mlm, "--threads", "1", "hello world"]);
    assert.deepEqual([(tokens.lines[0] as number[][]).length, (tokens.lines[0] as number[][])[0].length], [
      4,
      768,
    ]);

    const ner = await cli([
      "ner",
      "-m",
      await dir("tokcls"),
      "--aggregation-strategy",
      "simple",
      "--ignore-labels",
      "",
      "--threads",
      "1",
      "Angela Merkel visited Paris",
    ]);
    assert.equal(ner.code, 0, ner.stderr);
    const groups = ner.lines[0] as { entity_group: string; start: number; end: number }[];
    assert.ok(groups.length > 0 && groups[0].start === 0 && groups[groups.length - 1].end === 27);

    const qa = await dir("qa");
    const context = "It happened in Paris in 1900.";
    const a = await cli(["question-answering", "-m", qa, "--question", "Where?", "--threads", "1", context]);
    assert.equal(a.code, 0, a.stderr);
    const b = await cli(
      ["question-answering", "-m", qa, "--threads", "1"],
      JSON.stringify({ question: "Where?", context }),
    );
    assert.deepEqual(a.lines, b.lines);
    const ans = a.lines[0] as { answer: string; start: number; end: number };
    assert.equal(ans.answer, context.slice(ans.start, ans.end));
    const noQuestion = await cli(["question-answering", "-m", qa, "--threads", "1"], "just a context\n");
    assert.equal(noQuestion.code, 1);
    assert.match(noQuestion.stderr, /line 1: .*--question/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cli: a stdin line over the cap is an error naming the line; the lines before it are answered", async () => {
  const over = await cli(
    ["sentiment-analysis", "--max-line-bytes", "100", "--threads", "1"],
    "a fine movie\nawful\n" + "x ".repeat(60) + "\nnever read\n",
  );
  assert.equal(over.code, 1);
  assert.match(over.stderr, /line 3: longer than the 100-byte limit \(raise it with --max-line-bytes\)/);
  assert.equal(over.lines.length, 2);

  // The default cap is 1 MiB: one byte more is refused, and the rest of the line is never read.
  const big = await cli(
    ["sentiment-analysis", "--threads", "1"],
    "good\n" + "a".repeat((1 << 20) + 1) + "\n",
  );
  assert.equal(big.code, 1);
  assert.match(big.stderr, /line 2: longer than the 1048576-byte limit/);
  assert.equal(big.lines.length, 1);

  // A raised cap takes a 3 MB line (truncated to the model's 512 tokens like any text).
  const words = "a gorgeous, witty, seductive movie. ".repeat(90_000);
  const raised = await cli(
    ["sentiment-analysis", "--max-line-bytes", String(4 << 20), "--threads", "1"],
    words,
  );
  assert.equal(raised.code, 0, raised.stderr);
  assert.equal((raised.lines[0] as Label).label, "POSITIVE");

  for (const bad of ["0", "-5", "1.5", "lots"]) {
    const r = await cli(["sentiment-analysis", `--max-line-bytes=${bad}`, "x"]);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /--max-line-bytes must be an integer >= 1/);
  }
});

Deno.test("cli: --prompt and --prompt-name on a sentence-transformers folder with a default prompt", async () => {
  const { tinyPromptedFolder } = await import("./helpers/tiny_models.ts");
  const { pipeline } = await import("../mod.ts");
  const dir = await tinyPromptedFolder({ query: "query: ", passage: "passage: " });
  try {
    using fe = await pipeline("feature-extraction", dir, { threads: 1 });
    const want = async (o: Record<string, unknown>) => Array.from((await fe("hello there", o)).data);
    const run = (...flags: string[]) =>
      cli(["embeddings", "-m", dir, "--threads", "1", ...flags, "hello there"]);
    for (
      const [flags, options] of [
        [[], {}],
        [["--prompt-name", "passage"], { promptName: "passage" }],
        [["--prompt", "passage: "], { prompt: "passage: " }],
        [["--prompt", ""], { prompt: "" }],
      ] as [string[], Record<string, unknown>][]
    ) {
      const r = await run(...flags);
      assert.equal(r.code, 0, r.stderr);
      const got = r.lines[0] as number[];
      const expected = await want(options);
      assert.equal(got.length, expected.length);
      got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-6, `${flags.join(" ")} [${i}]`));
    }
    assert.notDeepEqual(await want({}), await want({ prompt: "" }), "the default prompt is applied");
    const unknown = await run("--prompt-name", "document");
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /promptName "document" is not one of this model's prompts .*prompts: "query", "passage"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --no-normalize switches a sentence-transformers folder's Normalize off", async () => {
  const dir = await stFolder({
    "modules.json": ST_MODULES,
    "1_Pooling/config.json": { word_embedding_dimension: 384, pooling_mode_mean_tokens: true },
  });
  try {
    const norms = async (...flags: string[]) => {
      const r = await cli(["embeddings", "-m", dir, "--threads", "1", ...flags, "a short text"]);
      assert.equal(r.code, 0, r.stderr);
      return (r.lines as number[][]).map((v) => Math.hypot(...v));
    };
    const [folder] = await norms();
    assert.ok(Math.abs(folder - 1) < 1e-5, `the folder's Normalize: norm ${folder}`);
    const [off] = await norms("--no-normalize");
    assert.ok(Math.abs(off - 1) > 1e-3, `--no-normalize: norm ${off}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
