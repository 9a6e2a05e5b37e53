// The embedded default model when the package is loaded over the network (JSR): fetched once into the cache.

import assert from "node:assert/strict";
import { ensureModelFrom } from "../src/pipelines/default_model.ts";
import { defaultSentimentModelDir, ensureDefaultSentimentModel } from "../mod.ts";

Deno.test("default model: read in place from a checkout", async () => {
  assert.equal(await ensureDefaultSentimentModel(), defaultSentimentModelDir());
});

Deno.test("default model: a network-loaded package downloads it once into the cache", async () => {
  const local = defaultSentimentModelDir();
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const name = path.split("/").pop()!;
    requests.push(name);
    if (!path.startsWith("/pkg/")) return new Response("not found", { status: 404 });
    try {
      return new Response(await Deno.readFile(`${local}/${name}`));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const root = await Deno.makeTempDir();
  try {
    const base = new URL(`http://127.0.0.1:${server.addr.port}/pkg/1.0.0/weights/sst2-distilbert-small/`);
    const dir = await ensureModelFrom(base, root);
    for (const f of ["config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors"]) {
      assert.deepEqual(await Deno.readFile(`${dir}/${f}`), await Deno.readFile(`${local}/${f}`), f);
    }
    const count = requests.length;
    assert.equal(await ensureModelFrom(base, root), dir);
    assert.equal(requests.length, count, "second call must not download again");
    const missing = new URL(`http://127.0.0.1:${server.addr.port}/nothing/here/`);
    await assert.rejects(ensureModelFrom(missing, root), /HTTP 404/);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});
