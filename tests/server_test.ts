// The HTTP server (src/server/) on 127.0.0.1, free ports: every route against pipeline() on the same inputs,
// batching never changing an answer, every error status, 429 under a full queue with every 200 still right,
// a client that goes away, --api-key, and SIGTERM with requests in flight (a child `deno run serve.ts`).

import assert from "node:assert/strict";
import { pipeline } from "../mod.ts";
import { type RunningServer, startServer } from "../src/server/mod.ts";
import { tinyModelDir, tinyPromptedFolder } from "./helpers/tiny_models.ts";

const SST2 = new URL("../weights/sst2-distilbert-small", import.meta.url).pathname;
const SENTENCES = [
  "a gorgeous, witty, seductive movie.",
  "the plot is nothing but tired clichés",
  "it is a film that will have you at the edge of your seat",
  "dull",
  "an utterly charming and hilarious film that reminded me of the best of the genre's classics",
];

async function post(
  server: RunningServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`http://127.0.0.1:${server.addr.port}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function get(server: RunningServer, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${server.addr.port}${path}`, { headers });
  return { status: res.status, text: await res.text() };
}

// Waits until the server on `port` has taken in `n` /predict requests (its te_request_count): a fixed sleep
// before a shutdown let a slow machine's requests arrive after it, to be refused as late.
async function untilReceived(port: number, n: number) {
  const COUNT = /te_request_count\{method="predict"\} (\d+)/;
  const deadline = performance.now() + 60_000;
  for (;;) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const got = Number(COUNT.exec(text)?.[1] ?? 0);
    if (got >= n) return;
    assert.ok(performance.now() < deadline, `only ${got} of ${n} requests reached the server in 60 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function close(a: number, b: number, tol = 1e-5) {
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
}

function deepClose(got: unknown, want: unknown, path = "$") {
  if (typeof want === "number") {
    assert.equal(typeof got, "number", path);
    return close(got as number, want);
  }
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${path} is not a list`);
    assert.equal((got as unknown[]).length, want.length, `${path} length`);
    return want.forEach((w, i) => deepClose((got as unknown[])[i], w, `${path}[${i}]`));
  }
  if (want && typeof want === "object") {
    assert.deepEqual(Object.keys(got as object).sort(), Object.keys(want).sort(), path);
    for (const [k, v] of Object.entries(want)) {
      deepClose((got as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
    return;
  }
  assert.deepEqual(got, want, path);
}

Deno.test("server: /predict, /tokenize, /decode, /health, /info, /metrics on the SST-2 model", async () => {
  const server = await startServer({ model: SST2, port: 0 });
  using classify = await pipeline("sentiment-analysis", SST2, { threads: 1 });
  try {
    assert.equal(server.task, "text-classification");
    assert.equal((await get(server, "/health")).status, 200);
    const head = await fetch(`http://127.0.0.1:${server.addr.port}/health`, { method: "HEAD" });
    assert.equal(head.status, 200, "HEAD /health, as load balancers probe it");
    assert.equal(await head.text(), "");
    // One string: every label, best first.
    const one = await post(server, "/predict", { inputs: SENTENCES[0] });
    assert.equal(one.status, 200);
    deepClose(one.body, await classify(SENTENCES[0], { topK: null }));
    for (const h of ["x-total-time", "x-tokenization-time", "x-queue-time", "x-inference-time"]) {
      assert.ok(Number(one.headers.get(h)) >= 0, h);
    }
    assert.ok(Number(one.headers.get("x-compute-tokens")) > 0);
    // A list, a pair, raw scores.
    const many = await post(server, "/predict", {
      inputs: [SENTENCES[1], [SENTENCES[2], SENTENCES[3]]],
      raw_scores: true,
    });
    deepClose(
      many.body,
      await classify([SENTENCES[1], { text: SENTENCES[2], textPair: SENTENCES[3] }], {
        topK: null,
        functionToApply: "none",
      }),
    );
    // Tokenize / decode against the tokenizer; offsets in characters (code points).
    const text = "Héllo wörld 😀 ok!";
    const tok = await post(server, "/tokenize", { inputs: text });
    const enc = classify.tokenizer.encode(text);
    assert.deepEqual(tok.body[0].map((t: { id: number }) => t.id), enc.inputIds);
    const chars = [...text];
    for (const t of tok.body[0]) {
      if (!t.special) assert.equal(chars.slice(t.start, t.stop).join(""), t.text);
    }
    assert.deepEqual(tok.body[0][0], {
      id: enc.inputIds[0],
      text: "[CLS]",
      special: true,
      start: null,
      stop: null,
    });
    const dec = await post(server, "/decode", {
      ids: [enc.inputIds, enc.inputIds.slice(1, 3)],
      skip_special_tokens: true,
    });
    assert.deepEqual(dec.body, [
      classify.tokenizer.decode(enc.inputIds, { skipSpecialTokens: true }),
      classify.tokenizer.decode(enc.inputIds.slice(1, 3), { skipSpecialTokens: true }),
    ]);
    const info = JSON.parse((await get(server, "/info")).text);
    assert.equal(info.task, "text-classification");
    assert.equal(info.max_input_length, 128);
    assert.deepEqual(info.model_type.classifier.id2label, { 0: "NEGATIVE", 1: "POSITIVE" });
    const metrics = (await get(server, "/metrics")).text;
    assert.match(metrics, /te_request_success\{method="predict"\} 2/);
    assert.match(metrics, /te_request_duration_count\{method="predict"\} 2/);
    assert.match(metrics, /te_batch_next_size_count \d+/);
    assert.match(metrics, /# TYPE te_queue_size gauge/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: batching never changes an answer; concurrent requests share passes", async () => {
  const server = await startServer({ model: SST2, port: 0, maxBatchTokens: 200 });
  using classify = await pipeline("sentiment-analysis", SST2, { threads: 1 });
  try {
    const inputs = Array.from(
      { length: 60 },
      (_, i) => `${SENTENCES[i % SENTENCES.length]} ${"very ".repeat(i % 7)}`,
    );
    const want = await classify(inputs, { topK: null, batchSize: 1 });
    const got = await Promise.all(inputs.map((x) => post(server, "/predict", { inputs: x })));
    got.forEach((g, i) => {
      assert.equal(g.status, 200);
      deepClose(g.body, want[i]);
    });
    const metrics = (await get(server, "/metrics")).text;
    const passes = Number(/te_batch_next_size_count (\d+)/.exec(metrics)![1]);
    const maxTokens = /te_batch_next_tokens_bucket\{le="256"\} (\d+)/.exec(metrics)![1];
    assert.ok(passes < 60, `60 concurrent requests took ${passes} passes: nothing was batched`);
    assert.equal(Number(maxTokens), passes, "a pass exceeded --max-batch-tokens 200");
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: error statuses (404, 405, 413, 422, 401) and /rerank", async () => {
  const dir = await tinyModelDir("seqcls", (c) => {
    c.id2label = { 0: "LABEL_0" };
    c.label2id = { LABEL_0: 0 };
  });
  const server = await startServer({
    model: dir,
    port: 0,
    payloadLimit: 2000,
    apiKey: "sekret",
    maxClientBatchSize: 4,
  });
  using classify = await pipeline("text-classification", dir, { threads: 1 });
  const auth = { authorization: "Bearer sekret" };
  try {
    assert.equal((await get(server, "/health")).status, 200, "/health needs no key");
    assert.equal((await get(server, "/info")).status, 401);
    assert.equal(
      (await post(server, "/predict", { inputs: "x" }, { authorization: "Bearer wrong" })).status,
      401,
    );
    const notFound = await post(server, "/nope", {}, auth);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.body.error_type, "NotFound");
    assert.equal((await post(server, "/embed", { inputs: "x" }, auth)).status, 404, "not this model's route");
    assert.equal((await get(server, "/predict", auth)).status, 405);
    const big = await post(server, "/predict", { inputs: "x".repeat(3000) }, auth);
    assert.equal(big.status, 413);
    for (
      const [bad, status] of [
        ["{not json", 422],
        [{ inputs: 5 }, 422],
        [{ inputs: [] }, 400], // TEI's ErrorType::Empty
        [{ inputs: ["a", 3] }, 422],
        [{ inputs: "a", extra: 1 }, 422],
        [{ inputs: "a", truncate: "yes" }, 422],
        [{ inputs: ["a", "b", "c", "d", "e"] }, 413], // TEI's batch size check (ErrorType::Validation)
      ] as const
    ) {
      const r = await post(server, "/predict", bad, auth);
      assert.equal(r.status, status, JSON.stringify(bad));
      assert.equal(typeof r.body.error, "string");
      assert.ok(["Validation", "Empty"].includes(r.body.error_type), r.body.error_type);
    }
    // Too long for the model (512 positions): 413 (as TEI) unless truncate.
    const long = "word ".repeat(300);
    const tooLong = await post(server, "/predict", { inputs: long.repeat(1) + long }, auth);
    assert.equal(tooLong.status, 413, "over the payload limit first");
    const server2 = await startServer({ model: dir, port: 0 });
    try {
      const r = await post(server2, "/predict", { inputs: long + long });
      assert.equal(r.status, 413);
      assert.match(r.body.error, /tokens, more than the model's 512/);
      const t = await post(server2, "/predict", { inputs: long + long, truncate: true });
      assert.equal(t.status, 200);
      deepClose(t.body, await classify(long + long, { topK: null }));
      // /rerank: (query, text) pairs through the one-label model, sigmoid scores, best first.
      const texts = ["the cat sat", "a dog ran", "on the mat"];
      const rr = await post(server2, "/rerank", { query: "where is the cat", texts, return_text: true });
      assert.equal(rr.status, 200);
      const details = await classify.classify(texts.map((t) => ({ text: "where is the cat", textPair: t })));
      const want = details.map((d, index) => ({
        index,
        score: 1 / (1 + Math.exp(-d.logits[0])),
        text: texts[index],
      }))
        .sort((a, b) => b.score - a.score);
      deepClose(rr.body, want);
    } finally {
      await server2.shutdown();
    }
  } finally {
    await server.shutdown();
  }
  const sst2 = await startServer({ model: SST2, port: 0 });
  try {
    const r = await post(sst2, "/rerank", { query: "q", texts: ["a"] });
    assert.equal(r.status, 422);
    assert.match(r.body.error, /one label/);
  } finally {
    await sst2.shutdown();
  }
});

Deno.test("server: /embed and /v1/embeddings against feature-extraction", async () => {
  const dir = await tinyModelDir("mlm");
  const server = await startServer({ model: dir, port: 0, task: "feature-extraction" });
  using fe = await pipeline("feature-extraction", dir, { threads: 1 });
  try {
    const want = await fe(SENTENCES, { pooling: "mean", normalize: true });
    const r = await post(server, "/embed", { inputs: SENTENCES });
    assert.equal(r.status, 200);
    deepClose(r.body, want.map((t) => Array.from(t.data)));
    const one = await post(server, "/embed", { inputs: SENTENCES[0], normalize: false });
    deepClose(one.body, [Array.from((await fe(SENTENCES[0], { pooling: "mean" })).data)]);
    const oa = await post(server, "/v1/embeddings", { input: SENTENCES.slice(0, 2), model: "m" });
    assert.equal(oa.body.object, "list");
    assert.equal(oa.body.model, "m");
    deepClose(oa.body.data[1].embedding, Array.from(want[1].data));
    assert.equal(oa.body.data[1].index, 1);
    assert.ok(oa.body.usage.prompt_tokens > 0 && oa.body.usage.total_tokens === oa.body.usage.prompt_tokens);
    const b64 = await post(server, "/v1/embeddings", { input: SENTENCES[2], encoding_format: "base64" });
    const bytes = Uint8Array.from(atob(b64.body.data[0].embedding), (c) => c.charCodeAt(0));
    deepClose(Array.from(new Float32Array(bytes.buffer)), Array.from(want[2].data));
    // A text too long for the model is named by the route's own field.
    const long = "word ".repeat(600);
    const tooLong = [
      await post(server, "/embed", { inputs: ["x", long] }),
      await post(server, "/v1/embeddings", { input: ["x", long] }),
    ];
    assert.deepEqual(tooLong.map((r) => r.status), [413, 413]);
    assert.match(tooLong[0].body.error, /^inputs\[1\] has \d+ tokens, more than the model's/);
    // The OpenAI-compatible route answers in TEI's OpenAI error shape: {"message", "code", "type"}.
    assert.match(tooLong[1].body.message, /^input\[1\] has \d+ tokens, more than the model's/);
    assert.equal(tooLong[1].body.code, 413);
    assert.equal(tooLong[1].body.type, "Validation");
    assert.deepEqual(Object.keys(tooLong[1].body).sort(), ["code", "message", "type"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: /fill-mask, /question-answering, /token-classification against their pipelines", async () => {
  const cases: [string, "mlm" | "qa" | "tokcls", string, unknown, (dir: string) => Promise<unknown>][] = [
    ["fill-mask", "mlm", "/fill-mask", {
      inputs: ["the [MASK] sat on the mat.", "[MASK] is a [MASK]."],
      top_k: 3,
    }, async (dir) => {
      using p = await pipeline("fill-mask", dir, { threads: 1 });
      return await p(["the [MASK] sat on the mat.", "[MASK] is a [MASK]."], { topK: 3 });
    }],
    ["question-answering", "qa", "/question-answering", {
      inputs: {
        question: "where did the cat sit?",
        context: "the cat sat on the mat 😀 in the house. ".repeat(30),
      },
      top_k: 2,
      doc_stride: 32,
      max_seq_len: 64,
    }, async (dir) => {
      using p = await pipeline("question-answering", dir, { threads: 1 });
      const context = "the cat sat on the mat 😀 in the house. ".repeat(30);
      const r = await p({ question: "where did the cat sit?", context }, {
        topK: 2,
        docStride: 32,
        maxSeqLen: 64,
      });
      // Over HTTP, offsets count characters, not UTF-16 units.
      const cp = (i: number) => [...context.slice(0, i)].length;
      return (r as { start: number; end: number }[]).map((a) => ({
        ...a,
        start: cp(a.start),
        end: cp(a.end),
      }));
    }],
    ["token-classification", "tokcls", "/token-classification", {
      inputs: ["john smith lives in new york"],
      aggregation_strategy: "simple",
    }, async (dir) => {
      using p = await pipeline("token-classification", dir, { threads: 1 });
      return await p(["john smith lives in new york"], { aggregationStrategy: "simple" });
    }],
  ];
  for (const [task, head, route, body, expected] of cases) {
    const dir = await tinyModelDir(head);
    const server = await startServer({ model: dir, port: 0 });
    try {
      assert.equal(server.task, task);
      const r = await post(server, route, body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      deepClose(r.body, await expected(dir));
    } finally {
      await server.shutdown();
    }
  }
});

Deno.test("server: /question-answering takes doc_stride 0 (windows sharing no token), as the pipeline does", async () => {
  const dir = await tinyModelDir("qa");
  const server = await startServer({ model: dir, port: 0 });
  using qa = await pipeline("question-answering", dir, { threads: 1 });
  try {
    const context = "the cat sat on the mat in the house. ".repeat(20);
    const r = await post(server, "/question-answering", {
      inputs: { question: "where did the cat sit?", context },
      doc_stride: 0,
      max_seq_len: 32,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    deepClose(
      r.body,
      await qa({ question: "where did the cat sit?", context }, { docStride: 0, maxSeqLen: 32 }),
    );
    const negative = await post(server, "/question-answering", {
      inputs: { question: "q", context: "c" },
      doc_stride: -1,
    });
    assert.equal(negative.status, 422);
    assert.match(negative.body.error, /"doc_stride" must be an integer from 0 to 100000, got -1/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: 429 at once under a full queue, every 200 still correct", async () => {
  const server = await startServer({ model: SST2, port: 0, maxConcurrentRequests: 3, maxBatchTokens: 64 });
  using classify = await pipeline("sentiment-analysis", SST2, { threads: 1 });
  try {
    const long = SENTENCES.join(" ").repeat(2);
    const want = await classify(long, { topK: null, truncation: true });
    const all = await Promise.all(
      Array.from({ length: 40 }, () => post(server, "/predict", { inputs: long, truncate: true })),
    );
    const ok = all.filter((r) => r.status === 200), busy = all.filter((r) => r.status === 429);
    assert.equal(ok.length + busy.length, 40, `statuses: ${all.map((r) => r.status)}`);
    assert.ok(ok.length >= 3 && busy.length >= 1, `${ok.length} answered, ${busy.length} refused`);
    for (const r of ok) deepClose(r.body, want);
    for (const r of busy) assert.equal(r.body.error_type, "Overloaded");
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: a request whose client went away is dropped before it runs", async () => {
  const server = await startServer({ model: SST2, port: 0, maxBatchTokens: 64 });
  const long = SENTENCES.join(" ").repeat(2);
  const metric = async (re: RegExp) => Number(re.exec((await get(server, "/metrics")).text)?.[1] ?? 0);
  const PASSES = /te_batch_next_size_count (\d+)/, QUEUED = /te_queue_size (\d+)/;
  const CANCELLED = /te_request_failure\{method="predict",err="cancelled"\} (\d+)/;
  try {
    // Six passes of 4096 tokens queue ahead of it (each runs alone: --max-batch-tokens 64).
    const blockers = Array.from(
      { length: 6 },
      () => post(server, "/predict", { inputs: Array(32).fill(long), truncate: true }),
    );
    // A short body: Deno 2.9's HTTP server reports a client's disconnect (req.signal) only when the request
    // arrived in one read (README, "Serving").
    const ctl = new AbortController();
    const gone = fetch(`http://127.0.0.1:${server.addr.port}/predict`, {
      method: "POST",
      body: JSON.stringify({ inputs: "dull" }),
      signal: ctl.signal,
    }).catch((e) => e);
    // Abort once the request waits in the queue (not before it arrived).
    while (await metric(QUEUED) < 7) await new Promise((r) => setTimeout(r, 1));
    ctl.abort();
    assert.ok((await gone) instanceof Error);
    for (const r of await Promise.all(blockers)) assert.equal(r.status, 200);
    for (let i = 0; i < 100 && await metric(CANCELLED) === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await metric(CANCELLED), 1, "the aborted request was not seen as cancelled");
    assert.equal(
      await metric(PASSES),
      6,
      "the aborted request still ran (only the six blockers should have)",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: shutdown drains: /health 503 and new requests refused while the ones in flight finish", async () => {
  const server = await startServer({ model: SST2, port: 0 });
  try {
    const body = { inputs: Array(32).fill(SENTENCES.join(" ").repeat(3)), truncate: true };
    const inflight = Array.from({ length: 4 }, () => post(server, "/predict", body));
    await untilReceived(server.addr.port, 4);
    const stopping = server.shutdown();
    const health = await get(server, "/health");
    assert.equal(health.status, 503);
    assert.equal(JSON.parse(health.text).error_type, "Unhealthy");
    const late = await post(server, "/predict", { inputs: "x" });
    assert.equal(late.status, 503);
    for (const r of await Promise.all(inflight)) {
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 32);
    }
    await stopping;
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: past --shutdown-timeout the requests still in flight get 503 and the shutdown ends", async () => {
  const server = await startServer({ model: SST2, port: 0, shutdownTimeout: 0, maxBatchTokens: 64 });
  try {
    // Twenty passes of 32 long inputs each (one request per pass: --max-batch-tokens 64).
    const body = { inputs: Array(32).fill(SENTENCES.join(" ").repeat(3)), truncate: true };
    const inflight = Array.from({ length: 20 }, () => post(server, "/predict", body));
    await untilReceived(server.addr.port, 20);
    const err = await server.shutdown().then(() => undefined, (e: Error) => e);
    assert.ok(err instanceof Error, "a shutdown with requests in flight and no time for them succeeded");
    const late = Number(/^(\d+) requests still in flight after 0 s/.exec(err.message)?.[1]);
    assert.ok(late >= 1, err.message);
    const answers = await Promise.all(inflight);
    const refused = answers.filter((a) => a.status === 503);
    // The timeout was not kept: the shutdown waited for every queued pass and all of them answered 200.
    assert.equal(refused.length, late, `statuses: ${answers.map((a) => a.status)}`);
    for (const a of refused) assert.equal(a.body.error_type, "Unhealthy");
    for (const a of answers) if (a.status !== 503) assert.equal(a.status, 200);
  } finally {
    await server.shutdown().catch(() => {});
  }
});

Deno.test("server: a client that stops half-way through its body does not hold the shutdown past its timeout", async () => {
  const server = await startServer({ model: SST2, port: 0, shutdownTimeout: 0 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  let stopping: Promise<unknown> | undefined;
  try {
    const head =
      "POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
    await conn.write(new TextEncoder().encode(head + `{"inputs": "half`));
    await untilReceived(server.addr.port, 1);
    stopping = server.shutdown().then(() => "stopped", (e: Error) => e.message);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise((r) => timer = setTimeout(() => r("still waiting after 20 s"), 20_000));
    const outcome = await Promise.race([stopping, hung]);
    clearTimeout(timer);
    // Deno's server.shutdown() waits for the connection to end, which this client never lets it.
    assert.equal(outcome, "1 requests still in flight after 0 s: stopped anyway");
  } finally {
    conn.close(); // which lets a shutdown that still waits for it end
    await stopping;
  }
});

Deno.test("server: SIGTERM answers the requests in flight, then exits 0", async () => {
  const serve = new URL("../serve.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-no-legacy-abort", "-A", serve, "--model", SST2, "--port", "0"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/http:\/\/127\.0\.0\.1:(\d+)/.test(out)) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const port = Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
  assert.ok(port > 0, `no address printed: ${out}`);
  const body = JSON.stringify({ inputs: Array(32).fill(SENTENCES.join(" ").repeat(3)), truncate: true });
  let answered = 0;
  const inflight = Array.from(
    { length: 6 },
    () =>
      fetch(`http://127.0.0.1:${port}/predict`, { method: "POST", body }).then(async (r) => {
        const a = { status: r.status, body: await r.json() };
        answered++;
        return a;
      }),
  );
  await untilReceived(port, 6);
  child.kill("SIGTERM");
  const answeredBefore = answered;
  const answers = await Promise.all(inflight);
  for (const a of answers) {
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.length, 32);
  }
  assert.ok(answeredBefore < 6, "every request was answered before SIGTERM: nothing was in flight");
  const status = await child.status;
  const stderr = await new Response(child.stderr).text();
  await reader.cancel();
  assert.equal(status.code, 0, stderr);
  assert.match(stderr, /stopped/);
});

Deno.test("server: a bad model or flag exits non-zero with a clear message", async () => {
  const serve = new URL("../serve.ts", import.meta.url).pathname;
  const run = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", serve, ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
  };
  const missing = await run("--model", "/nonexistent/model/dir", "--port", "0", "--offline");
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nonexistent/);
  const flag = await run("--model", SST2, "--port", "99999");
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--port/);
  const unknown = await run("--model", SST2, "--bogus");
  assert.equal(unknown.code, 2);
  const task = await run("--model", SST2, "--task", "translation", "--port", "0");
  assert.equal(task.code, 2);
  assert.match(task.stderr, /unknown task/);
  const dtype = await run("--model", SST2, "--dtype", "fp16", "--port", "0");
  assert.equal(dtype.code, 2);
  assert.match(dtype.stderr, /--dtype must be one of fp32, bf16, q8/);
  const threads = await run("--model", SST2, "--threads", "300", "--port", "0");
  assert.equal(threads.code, 2, threads.stderr);
  assert.match(threads.stderr, /--threads must be an integer from 1 to 256, got "300"/);
  await assert.rejects(startServer({ model: SST2, port: 0, threads: 0.5 }), RangeError);
});

Deno.test("server: a port in use is an error, and `cli.ts serve` exits 1 instead of hanging", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String(listener.addr.port);
  await assert.rejects(startServer({ model: SST2, port: Number(port) }), Deno.errors.AddrInUse);
  // The model's Worker had started before the port was tried; left running, it kept this process alive.
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "serve", "--model", SST2, "--port", port],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(r.stderr);
  assert.equal(r.signal, null, `killed after 60 s: it hung (${stderr})`);
  assert.equal(r.code, 1, stderr);
  assert.match(stderr, /serve: Address already in use/);
});

Deno.test("server: --dtype q8 serves the q8 model (/info says int8, /predict as the q8 pipeline)", async () => {
  const server = await startServer({ model: SST2, port: 0, dtype: "q8" });
  try {
    const info = JSON.parse((await get(server, "/info")).text);
    assert.equal(info.model_dtype, "int8");
    using q8 = await pipeline("text-classification", SST2, { dtype: "q8" });
    const res = await post(server, "/predict", { inputs: SENTENCES });
    assert.equal(res.status, 200);
    deepClose(res.body, await q8(SENTENCES, { topK: null }));
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: a sentence-transformers folder embeds with its own pooling (several modes concatenated)", async () => {
  const dir = await tinyModelDir("mlm");
  const modules = [
    { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
    { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
  ];
  await Deno.writeTextFile(`${dir}/modules.json`, JSON.stringify(modules));
  await Deno.mkdir(`${dir}/1_Pooling`);
  await Deno.writeTextFile(
    `${dir}/1_Pooling/config.json`,
    JSON.stringify({
      word_embedding_dimension: 32,
      pooling_mode_max_tokens: true,
      pooling_mode_cls_token: true,
    }),
  );
  const server = await startServer({ model: dir, port: 0 });
  using fe = await pipeline("feature-extraction", dir, { threads: 1 });
  try {
    assert.equal(server.task, "feature-extraction", "a sentence-transformers folder embeds");
    assert.equal(JSON.parse((await get(server, "/info")).text).model_type.embedding.pooling, "cls+max");
    const r = await post(server, "/embed", { inputs: SENTENCES.slice(0, 2), normalize: false });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const want = await fe(SENTENCES.slice(0, 2)); // the folder's pooling
    assert.equal(want[0].dims[1], 64, "two modes of 32 concatenated");
    deepClose(r.body, want.map((t) => Array.from(t.data)));
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: prompt_name on /embed and /v1/embeddings, the folder's default prompt, /info's prompts, 422s", async () => {
  const dir = await tinyPromptedFolder({ query: "query: ", passage: "a passage about this: " });
  const server = await startServer({ model: dir, port: 0 });
  using fe = await pipeline("feature-extraction", dir, { threads: 1 });
  try {
    const info = JSON.parse((await get(server, "/info")).text);
    assert.deepEqual(info.prompts, { query: "query: ", passage: "a passage about this: " });
    assert.equal(info.default_prompt_name, "query");
    const texts = SENTENCES.slice(0, 3);
    const vectors = async (o: Record<string, unknown>) =>
      (await fe(texts, { normalize: true, ...o })).map((t) => Array.from(t.data));
    // No prompt_name: the folder's default prompt, as pipeline() applies it.
    const byDefault = await post(server, "/embed", { inputs: texts });
    assert.equal(byDefault.status, 200, JSON.stringify(byDefault.body));
    deepClose(byDefault.body, await vectors({}));
    const passage = await post(server, "/embed", { inputs: texts, prompt_name: "passage" });
    assert.equal(passage.status, 200);
    const want = await vectors({ promptName: "passage" });
    deepClose(passage.body, want);
    assert.ok(Math.abs(passage.body[0][0] - byDefault.body[0][0]) > 1e-4, "the prompt changed the vector");
    const oa = await post(server, "/v1/embeddings", { input: texts[1], prompt_name: "passage" });
    assert.equal(oa.status, 200);
    deepClose(oa.body.data[0].embedding, want[1]);
    // Requests with different prompts batched together still get their own.
    const both = await Promise.all([
      post(server, "/embed", { inputs: texts[2], prompt_name: "passage" }),
      post(server, "/embed", { inputs: texts[2] }),
    ]);
    deepClose(both[0].body, [want[2]]);
    deepClose(both[1].body, [(await vectors({}))[2]]);

    const unknown = await post(server, "/embed", { inputs: "x", prompt_name: "document" });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.error_type, "Validation");
    assert.equal(
      unknown.body.error,
      `"prompt_name" "document" is not one of the model's prompts (config_sentence_transformers.json; prompts: "query", "passage")`,
    );
    const notString = await post(server, "/v1/embeddings", { input: "x", prompt_name: 3 });
    assert.equal(notString.status, 422);
    assert.match(notString.body.message, /"prompt_name" must be a string, got 3/);
    // The length check counts the prompt: a text that fits alone does not with it.
    const long = "a ".repeat(509);
    const n = fe.tokenizer.encode("query: " + long).inputIds.length;
    assert.ok(fe.tokenizer.encode(long).inputIds.length <= 512 && n > 512);
    const tooLong = await post(server, "/embed", { inputs: [long] });
    assert.equal(tooLong.status, 413);
    assert.match(
      tooLong.body.error,
      new RegExp(`inputs\\[0\\] with its prompt has ${n} tokens, more than the model's 512`),
    );
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: 405 says which methods the route takes (Allow); another task's route is 404 by any method", async () => {
  const server = await startServer({ model: SST2, port: 0, threads: 1 });
  const url = (path: string) => `http://127.0.0.1:${server.addr.port}${path}`;
  try {
    for (
      const [method, path, allow] of [
        ["GET", "/predict", "POST"],
        ["DELETE", "/tokenize", "POST"],
        ["PUT", "/decode", "POST"],
        ["POST", "/health", "GET, HEAD"],
        ["DELETE", "/info", "GET, HEAD"],
        ["POST", "/metrics", "GET, HEAD"],
      ]
    ) {
      const r = await fetch(url(path), { method });
      assert.equal(r.status, 405, `${method} ${path}`);
      // RFC 9110: a 405 must list the methods the resource takes; TEI's router (axum) sends it.
      assert.equal(r.headers.get("allow"), allow, `${method} ${path}`);
      assert.equal((await r.json()).error_type, "Validation");
    }
    // /embed is not this model's route: 404 whatever the method, not a 405 whose Allow: POST would then 404.
    for (const method of ["GET", "POST", "DELETE"]) {
      const r = await fetch(url("/embed"), { method, body: method === "GET" ? undefined : "{}" });
      assert.equal(r.status, 404, `${method} /embed`);
      assert.equal(r.headers.get("allow"), null);
      assert.equal((await r.json()).error_type, "NotFound");
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: /predict reads a list of one string as one input, as TEI does (the answer is not nested)", async () => {
  const server = await startServer({ model: SST2, port: 0, threads: 1 });
  try {
    const one = await post(server, "/predict", { inputs: SENTENCES[0] });
    // TEI's PredictInput: ["text"] is Single(text), ["a", "b"] is Single(pair); only a list of lists is a batch.
    const listOfOne = await post(server, "/predict", { inputs: [SENTENCES[0]] });
    assert.equal(listOfOne.status, 200, JSON.stringify(listOfOne.body));
    assert.deepEqual(listOfOne.body, one.body);
    assert.equal(typeof listOfOne.body[0].label, "string");
    // A batch of one is still [[text]].
    const batchOfOne = await post(server, "/predict", { inputs: [[SENTENCES[0]]] });
    assert.deepEqual(batchOfOne.body, [one.body]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: /info has every field of TEI's Info that is not optional (auto_truncate, label2id)", async () => {
  const server = await startServer({ model: SST2, port: 0, threads: 1 });
  try {
    const info = JSON.parse((await get(server, "/info")).text);
    // TEI's Info and ClassifierModel (router/src/lib.rs): a client that deserializes them needs every one.
    for (
      const field of [
        "model_id",
        "model_dtype",
        "model_type",
        "max_concurrent_requests",
        "max_input_length",
        "max_batch_tokens",
        "max_batch_requests",
        "max_client_batch_size",
        "auto_truncate",
        "tokenization_workers",
        "version",
      ]
    ) assert.ok(field in info, `/info lacks ${field}`);
    assert.equal(info.auto_truncate, false, "inputs are truncated only when a request asks");
    assert.deepEqual(info.model_type, {
      classifier: { id2label: { 0: "NEGATIVE", 1: "POSITIVE" }, label2id: { NEGATIVE: 0, POSITIVE: 1 } },
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("server: TEI's statuses: 413 for too many inputs or an input too long, 400 for an empty list", async () => {
  const server = await startServer({ model: SST2, port: 0, threads: 1, maxClientBatchSize: 2 });
  try {
    // TEI (router/src/http/server.rs): ErrorType::Validation is 413, ErrorType::Empty 400, Tokenizer 422.
    const cases: [string, unknown, number, string][] = [
      ["/predict", { inputs: ["a", "b", "c"] }, 413, "Validation"],
      ["/tokenize", { inputs: ["a", "b", "c"] }, 413, "Validation"],
      ["/decode", { ids: [[1], [2], [3]] }, 413, "Validation"],
      ["/rerank", { query: "q", texts: ["a", "b", "c"] }, 413, "Validation"],
      ["/predict", { inputs: "word ".repeat(200) }, 413, "Validation"],
      ["/predict", { inputs: [] }, 400, "Empty"],
      ["/tokenize", { inputs: [] }, 400, "Empty"],
      ["/rerank", { query: "q", texts: [] }, 400, "Empty"],
      // Not TEI's own checks (its JSON extractor answers them 422): unchanged.
      ["/predict", { inputs: 5 }, 422, "Validation"],
      ["/predict", { inputs: "a", truncate: "yes" }, 422, "Validation"],
    ];
    for (const [path, body, status, type] of cases) {
      const r = await post(server, path, body);
      assert.equal(
        r.status,
        status,
        `${path} ${JSON.stringify(body).slice(0, 60)}: ${JSON.stringify(r.body)}`,
      );
      assert.equal(r.body.error_type, type);
    }
  } finally {
    await server.shutdown();
  }
});
