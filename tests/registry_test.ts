// The task registry (src/pipelines/registry.ts) is what pipeline(), the CLI and the server read: names map to
// one task each, every architecture to its task, every task has routes, and the CLI's help lists every name.

import assert from "node:assert/strict";
import { canonicalTask, PIPELINE_TASKS, taskOfArchitecture, TASKS } from "../src/pipelines/registry.ts";
import { POST_ROUTES, routesFor } from "../src/server/routes.ts";

Deno.test("task registry: names, aliases, architectures and routes are consistent", async () => {
  const names = TASKS.flatMap((t) => t.names);
  assert.equal(new Set(names).size, names.length, "a name selects two tasks");
  assert.deepEqual([...PIPELINE_TASKS].sort(), [...names].sort());
  for (const t of TASKS) {
    assert.equal(t.names[0], t.task, "the canonical name comes first");
    for (const n of t.names) assert.equal(canonicalTask(n), t.task);
    for (const a of t.architectures) assert.equal(taskOfArchitecture(a), t.task);
    assert.ok(t.routes.length > 0, `${t.task} has no server route`);
    for (const r of routesFor(t.task)) assert.ok(POST_ROUTES.has(r));
    assert.ok(!t.callOptions.includes("batchSize"), "batchSize is every task's");
  }
  assert.equal(canonicalTask("translation"), undefined);
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, "--help"],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(help.stdout);
  for (const n of names) assert.ok(text.includes(n), `cli --help does not list ${n}`);
  const serve = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, "serve", "--help"],
    stdout: "piped",
  }).output();
  assert.equal(serve.code, 0);
  assert.match(new TextDecoder().decode(serve.stdout), /Usage: deno task serve --model/);
});
