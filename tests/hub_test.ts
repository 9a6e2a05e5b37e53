// Hub resolution and downloads, against a fake hub on 127.0.0.1 (tests/helpers/fake_hub.ts); no internet.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  downloadModel,
  type DownloadProgress,
  findCachedModel,
  hubCacheDir,
  HubError,
  isValidRepoId,
  repoCacheDir,
  resolveModelDir,
} from "../src/hub/mod.ts";
import { main as cliMain } from "../scripts/download.ts";
import { slowTest } from "./helpers/unit.ts";
import {
  closedEndpoint,
  distilbertFiles,
  fakeCommit,
  type FakeHub,
  gitBlobSha1,
  sha256,
  simpleRepo,
  startFakeHub,
} from "./helpers/fake_hub.ts";

const REPO = "acme/tiny-distilbert";
const FILES = distilbertFiles({ weightsBytes: 96 * 1024 });
const COMMIT = fakeCommit(REPO);
const WEIGHTS_SHA = sha256(FILES["model.safetensors"]);

/** Runs `fn` with a fresh fake hub and temp cache dir, closing/removing both afterwards. */
async function withHub(
  fn: (hub: FakeHub, cacheDir: string) => Promise<void>,
  repos = [simpleRepo(REPO, FILES)],
): Promise<void> {
  const hub = startFakeHub(repos);
  const cacheDir = await Deno.makeTempDir({ prefix: "hub_test_" });
  try {
    await fn(hub, cacheDir);
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, val] of Object.entries(v)) val === undefined ? Deno.env.delete(k) : Deno.env.set(k, val);
  };
  apply(vars);
  try {
    await fn();
  } finally {
    apply(saved);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  ...fragments: string[]
): Promise<HubError> {
  const err = await promise.then(() => undefined, (e) => e);
  assert.ok(err instanceof HubError, `expected a HubError(${code}), got ${err}`);
  assert.equal(err.code, code, err.message);
  for (const f of fragments) {
    assert.ok(err.message.includes(f), `${JSON.stringify(f)} not in: ${err.message}`);
  }
  return err;
}

Deno.test("downloadModel fills the HF cache layout: blobs, relative snapshot symlinks, refs, .no_exist", async () => {
  await withHub(async (hub, cacheDir) => {
    const events: DownloadProgress[] = [];
    const dir = await downloadModel(REPO, { endpoint: hub.url, cacheDir, onProgress: (p) => events.push(p) });

    const storage = join(cacheDir, "models--acme--tiny-distilbert");
    assert.equal(dir, join(storage, "snapshots", COMMIT));
    assert.equal(await Deno.readTextFile(join(storage, "refs", "main")), COMMIT);
    for (const [file, data] of Object.entries(FILES)) {
      const etag = file === "model.safetensors" ? WEIGHTS_SHA : gitBlobSha1(data);
      const pointer = join(dir, file);
      assert.ok((await Deno.lstat(pointer)).isSymlink, `${file} is a symlink`);
      assert.equal(await Deno.readLink(pointer), `../../blobs/${etag}`);
      assert.deepEqual(await Deno.readFile(pointer), data);
    }
    const blobs = [...Deno.readDirSync(join(storage, "blobs"))].map((e) => e.name).sort();
    assert.equal(blobs.length, 4);
    assert.ok(!blobs.some((b) => b.endsWith(".incomplete")));
    // Optional files the repo lacks are skipped quietly and remembered like huggingface_hub does.
    assert.ok(await exists(join(storage, ".no_exist", COMMIT, "tokenizer.json")));
    assert.ok(await exists(join(storage, ".no_exist", COMMIT, "special_tokens_map.json")));
    assert.ok(!await exists(join(dir, "tokenizer.json")));

    const weights = events.filter((e) => e.file === "model.safetensors");
    assert.ok(weights.length >= 2);
    assert.deepEqual(weights.at(-1), { file: "model.safetensors", loaded: 96 * 1024, total: 96 * 1024 });
    // Files come from the commit the branch pointed to, not from "main" again (a moving branch stays consistent).
    const gets = hub.requests.filter((r) => r.method === "GET").map((r) => r.path);
    assert.ok(gets.includes(`/${REPO}/resolve/${COMMIT}/config.json`), gets.join(" "));
    assert.ok(gets.includes(`/cdn/${WEIGHTS_SHA}`));
  });
});

Deno.test("a cached model is reused without network: offline option, HF_HUB_OFFLINE, and a stopped hub", async () => {
  const hub = startFakeHub([simpleRepo(REPO, FILES)]);
  const cacheDir = await Deno.makeTempDir({ prefix: "hub_test_" });
  try {
    const dir = await downloadModel(REPO, { endpoint: hub.url, cacheDir });
    const seen = hub.requests.length;
    assert.equal(await resolveModelDir(REPO, { endpoint: hub.url, cacheDir }), dir);
    assert.equal(hub.requests.length, seen, "a cache hit makes no request");
    await hub.close();

    assert.equal(await resolveModelDir(REPO, { cacheDir, offline: true }), dir);
    assert.equal(await resolveModelDir(REPO, { cacheDir, endpoint: hub.url }), dir);
    assert.equal(await downloadModel(REPO, { cacheDir, endpoint: hub.url, offline: true }), dir);
    await withEnv({ HF_HUB_OFFLINE: "1" }, async () => {
      assert.equal(await downloadModel(REPO, { cacheDir, endpoint: hub.url }), dir);
      assert.equal(await resolveModelDir(`${REPO}`, { cacheDir, revision: COMMIT }), dir);
      await rejectsWith(
        downloadModel("acme/other", { cacheDir, endpoint: hub.url }),
        "not_cached",
        "HF_HUB_OFFLINE",
      );
    });
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a cache written by Python transformers is found through HF_HUB_CACHE / HF_HOME, legacy id", async () => {
  const home = await Deno.makeTempDir({ prefix: "hub_test_home_" });
  try {
    // The layout huggingface_hub leaves for a legacy (org-less) id.
    const id = "distilbert-base-uncased-finetuned-sst-2-english";
    const commit = fakeCommit("python");
    const storage = join(home, "hub", `models--${id}`);
    await Deno.mkdir(join(storage, "blobs"), { recursive: true });
    await Deno.mkdir(join(storage, "snapshots", commit), { recursive: true });
    await Deno.mkdir(join(storage, "refs"), { recursive: true });
    await Deno.writeTextFile(join(storage, "refs", "main"), commit);
    for (const [file, data] of Object.entries(FILES)) {
      const etag = file === "model.safetensors" ? sha256(data) : gitBlobSha1(data);
      await Deno.writeFile(join(storage, "blobs", etag), data);
      await Deno.symlink(`../../blobs/${etag}`, join(storage, "snapshots", commit, file));
    }
    const expected = join(storage, "snapshots", commit);
    const closed = await closedEndpoint();

    await withEnv({ HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined, HF_HOME: home }, async () => {
      assert.equal(hubCacheDir(), join(home, "hub"));
      assert.equal(repoCacheDir(id), storage);
      assert.equal(await resolveModelDir(id, { endpoint: closed }), expected);
    });
    await withEnv({ HF_HUB_CACHE: join(home, "hub"), HF_HOME: "/nonexistent" }, async () => {
      assert.equal(await resolveModelDir(id, { endpoint: closed }), expected);
      assert.equal(await findCachedModel(id, { revision: "other-branch" }), undefined);
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("an interrupted download resumes from blobs/<etag>.incomplete with a Range request", async () => {
  await withHub(async (hub, cacheDir) => {
    const storage = join(cacheDir, "models--acme--tiny-distilbert");
    const incomplete = join(storage, "blobs", `${WEIGHTS_SHA}.incomplete`);
    hub.cutNextAfter = 40_000;
    await rejectsWith(
      downloadModel(REPO, { endpoint: hub.url, cacheDir }),
      "network",
      "interrupted",
      "resume",
    );
    const partial = (await Deno.stat(incomplete)).size;
    assert.ok(partial > 0 && partial <= 40_000, `partial size ${partial}`);
    assert.ok(!await exists(join(storage, "snapshots", COMMIT, "model.safetensors")));
    assert.ok(!await exists(join(storage, "blobs", WEIGHTS_SHA)));

    const events: DownloadProgress[] = [];
    const dir = await downloadModel(REPO, {
      endpoint: hub.url,
      cacheDir,
      onProgress: (p) => p.file === "model.safetensors" && events.push(p),
    });
    const ranged = hub.requests.filter((r) => r.path === `/cdn/${WEIGHTS_SHA}` && r.range !== null);
    assert.deepEqual(ranged.map((r) => r.range), [`bytes=${partial}-`]);
    assert.equal(events[0].loaded, partial, "progress starts at the resumed offset");
    assert.deepEqual(await Deno.readFile(join(dir, "model.safetensors")), FILES["model.safetensors"]);
    assert.ok(!await exists(incomplete));
  });
});

Deno.test("a server that ignores Range restarts the file from byte 0; a stalled body times out", async () => {
  await withHub(async (hub, cacheDir) => {
    const incomplete = join(cacheDir, "models--acme--tiny-distilbert", "blobs", `${WEIGHTS_SHA}.incomplete`);
    await withEnv({ HF_HUB_DOWNLOAD_TIMEOUT: "0.3" }, async () => {
      hub.stallNextAfter = 30_000;
      // No clock: the fake server ends its stall after 5 s, so "timed out" (not "ended early") can only come
      // from HF_HUB_DOWNLOAD_TIMEOUT's 0.3 s, the default being 10 s.
      await rejectsWith(
        downloadModel(REPO, { endpoint: hub.url, cacheDir }),
        "network",
        "timed out",
        "resume",
      );
    });
    assert.equal((await Deno.stat(incomplete)).size, 30_000);

    hub.ignoreRange = true;
    const dir = await downloadModel(REPO, { endpoint: hub.url, cacheDir });
    assert.ok(hub.requests.some((r) => r.range === "bytes=30000-"), "a resume was attempted");
    assert.deepEqual(await Deno.readFile(join(dir, "model.safetensors")), FILES["model.safetensors"]);
  });
});

Deno.test("a checksum mismatch fails and leaves nothing in blobs/ or snapshots/ for that file", async () => {
  await withHub(async (hub, cacheDir) => {
    const storage = join(cacheDir, "models--acme--tiny-distilbert");
    hub.corrupt = true;
    await rejectsWith(
      downloadModel(REPO, { endpoint: hub.url, cacheDir }),
      "checksum",
      "model.safetensors",
      WEIGHTS_SHA,
    );
    const blobs = [...Deno.readDirSync(join(storage, "blobs"))].map((e) => e.name);
    assert.ok(!blobs.some((b) => b.startsWith(WEIGHTS_SHA)), blobs.join(" "));
    assert.ok(!await exists(join(storage, "snapshots", COMMIT, "model.safetensors")));
    assert.equal(await findCachedModel(REPO, { cacheDir }), undefined);

    hub.corrupt = false;
    const dir = await downloadModel(REPO, { endpoint: hub.url, cacheDir });
    assert.deepEqual(await Deno.readFile(join(dir, "model.safetensors")), FILES["model.safetensors"]);
  });
});

Deno.test("401 on a gated repo asks for HF_TOKEN; the token is sent and then works", async () => {
  const gated = simpleRepo("acme/gated", FILES, { token: "hf_secret" });
  await withHub(async (hub, cacheDir) => {
    const err = await rejectsWith(
      downloadModel("acme/gated", { endpoint: hub.url, cacheDir, token: "" }),
      "auth",
      "authentication required",
      "HF_TOKEN",
      "acme/gated",
    );
    assert.equal(err.status, 401);
    await rejectsWith(
      downloadModel("acme/gated", { endpoint: hub.url, cacheDir, token: "hf_wrong" }),
      "auth",
      "access denied",
    );
    assert.ok(!err.message.includes("hf_wrong") && !err.message.includes("hf_secret"));
    await withEnv({ HF_TOKEN: "hf_secret" }, async () => {
      const dir = await downloadModel("acme/gated", { endpoint: hub.url, cacheDir });
      assert.deepEqual(await Deno.readFile(join(dir, "config.json")), FILES["config.json"]);
    });
    const authed = hub.requests.filter((r) => r.authorization === "Bearer hf_secret");
    assert.ok(authed.some((r) => r.method === "HEAD") && authed.some((r) => r.method === "GET"));
  }, [gated]);
});

Deno.test("404s: unknown repo, unknown revision, missing config.json", async () => {
  const noConfig = simpleRepo("acme/no-config", { "model.safetensors": FILES["model.safetensors"] });
  await withHub(async (hub, cacheDir) => {
    const opts = { endpoint: hub.url, cacheDir };
    const err = await rejectsWith(
      downloadModel("acme/nope", opts),
      "not_found",
      "repo or file not found",
      "acme/nope",
    );
    assert.equal(err.status, 404);
    await rejectsWith(
      downloadModel(REPO, { ...opts, revision: "v9" }),
      "not_found",
      "repo or file not found",
      "v9",
    );
    await rejectsWith(downloadModel("acme/no-config", opts), "not_found", "config.json");
    await rejectsWith(resolveModelDir("acme/nope", opts), "not_found", "repo or file not found");
  }, [simpleRepo(REPO, FILES), noConfig]);
});

Deno.test("only safetensors weights are supported; a tokenizer file is required", async () => {
  const { "model.safetensors": weights, ...rest } = FILES;
  const pytorch = simpleRepo("acme/pytorch-only", { ...rest, "pytorch_model.bin": weights });
  const { "vocab.txt": _vocab, ...noVocab } = FILES;
  const noTokenizer = simpleRepo("acme/no-tokenizer", noVocab);
  const withTokenizerJson = simpleRepo("acme/tokenizer-json", {
    ...noVocab,
    "tokenizer.json": new TextEncoder().encode('{"model":{"type":"WordPiece"}}'),
  });
  await withHub(async (hub, cacheDir) => {
    const opts = { endpoint: hub.url, cacheDir };
    await rejectsWith(
      downloadModel("acme/pytorch-only", opts),
      "unsupported",
      "pytorch_model.bin",
      "only safetensors",
    );
    await rejectsWith(downloadModel("acme/no-tokenizer", opts), "unsupported", "tokenizer.json", "vocab.txt");
    // Nothing large was fetched for repos we cannot use.
    assert.ok(!hub.requests.some((r) => r.method === "GET" && r.path.startsWith("/cdn/")));
    const dir = await downloadModel("acme/tokenizer-json", opts);
    assert.ok(await exists(join(dir, "tokenizer.json")));
    assert.ok(!await exists(join(dir, "vocab.txt")));
    assert.equal(await findCachedModel("acme/tokenizer-json", { cacheDir }), dir);
  }, [pytorch, noTokenizer, withTokenizerJson]);
});

Deno.test("no network: a closed 127.0.0.1 port gives a clear error pointing at HF_HUB_OFFLINE", async () => {
  const endpoint = await closedEndpoint();
  const cacheDir = await Deno.makeTempDir({ prefix: "hub_test_" });
  try {
    await rejectsWith(
      downloadModel(REPO, { endpoint, cacheDir }),
      "network",
      "no network",
      endpoint,
      "HF_HUB_OFFLINE=1",
    );
    await rejectsWith(resolveModelDir(REPO, { endpoint, cacheDir }), "network", "no network");
    await withEnv({ HF_ENDPOINT: endpoint }, async () => {
      await rejectsWith(downloadModel(REPO, { cacheDir }), "network", endpoint);
    });
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a revision given as a commit sha is used directly; blobs are shared between snapshots", async () => {
  const oldCommit = fakeCommit("old");
  const oldFiles = {
    ...FILES,
    "config.json": new TextEncoder().encode('{"model_type":"distilbert","old":true}'),
  };
  const repo = simpleRepo(REPO, FILES);
  repo.commits[oldCommit] = oldFiles;
  await withHub(async (hub, cacheDir) => {
    const opts = { endpoint: hub.url, cacheDir };
    const storage = join(cacheDir, "models--acme--tiny-distilbert");
    const oldDir = await downloadModel(REPO, { ...opts, revision: oldCommit });
    assert.equal(oldDir, join(storage, "snapshots", oldCommit));
    assert.deepEqual(await Deno.readFile(join(oldDir, "config.json")), oldFiles["config.json"]);
    assert.ok(!await exists(join(storage, "refs")), "no ref is written for a commit sha");
    assert.ok(hub.requests.every((r) => !r.path.includes("/resolve/main/")));

    const cdnGets = () => hub.requests.filter((r) => r.method === "GET" && r.path.startsWith("/cdn/")).length;
    assert.equal(cdnGets(), 1);
    const mainDir = await downloadModel(REPO, opts);
    assert.equal(mainDir, join(storage, "snapshots", COMMIT));
    assert.equal(cdnGets(), 1, "the weights blob is reused, not downloaded again");
    assert.equal(await Deno.readLink(join(mainDir, "model.safetensors")), `../../blobs/${WEIGHTS_SHA}`);

    // Already complete: a commit revision needs no request at all, a branch one HEAD for the current commit.
    const before = hub.requests.length;
    assert.equal(await downloadModel(REPO, { ...opts, revision: oldCommit }), oldDir);
    assert.equal(hub.requests.length, before);
    assert.equal(await downloadModel(REPO, opts), mainDir);
    assert.deepEqual(hub.requests.slice(before).map((r) => `${r.method} ${r.path}`), [
      `HEAD /${REPO}/resolve/main/config.json`,
    ]);
    assert.equal(await resolveModelDir(REPO, { cacheDir, offline: true, revision: oldCommit }), oldDir);
  }, [repo]);
});

Deno.test("a renamed repo (relative redirect) and two concurrent downloads of the same repo", async () => {
  const repo = simpleRepo(REPO, FILES, { renamedFrom: "acme/old-name" });
  await withHub(async (hub, cacheDir) => {
    const opts = { endpoint: hub.url, cacheDir };
    const [a, b] = await Promise.all([downloadModel(REPO, opts), downloadModel(REPO, opts)]);
    assert.equal(a, b);
    assert.deepEqual(await Deno.readFile(join(a, "model.safetensors")), FILES["model.safetensors"]);
    const renamed = await downloadModel("acme/old-name", opts);
    assert.equal(renamed, join(cacheDir, "models--acme--old-name", "snapshots", COMMIT));
    assert.deepEqual(await Deno.readFile(join(renamed, "vocab.txt")), FILES["vocab.txt"]);
  }, [repo]);
});

Deno.test("resolveModelDir returns local folders and explicit paths unchanged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hub_test_local_" });
  try {
    assert.equal(await resolveModelDir(dir), dir);
    assert.equal(await resolveModelDir("tests"), "tests"); // an existing relative folder wins over a hub id
    assert.equal(await resolveModelDir("./no/such/folder"), "./no/such/folder");
    assert.equal(await resolveModelDir("../elsewhere"), "../elsewhere");
    assert.equal(await resolveModelDir("/abs/missing"), "/abs/missing");
    await Deno.writeTextFile(join(dir, "file.txt"), "x");
    await rejectsWith(resolveModelDir(join(dir, "file.txt")), "invalid_repo_id", "is a file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("invalid repo ids and revisions are rejected before any request", async () => {
  for (const id of ["distilbert-base-uncased-finetuned-sst-2-english", "org/name.v2", "a", "A_b/c-d"]) {
    assert.ok(isValidRepoId(id), id);
  }
  const bad = [
    "",
    "a/b/c",
    "-bad",
    "bad-",
    "a--b",
    "a..b",
    "x.git",
    "org/",
    "/x",
    "na me",
    "é/x",
    "a".repeat(97),
  ];
  for (const id of bad) {
    assert.ok(!isValidRepoId(id), id);
    await rejectsWith(downloadModel(id, { endpoint: "http://127.0.0.1:9" }), "invalid_repo_id");
  }
  await rejectsWith(resolveModelDir("a/b/c"), "invalid_repo_id", "neither an existing folder");
  await rejectsWith(downloadModel(REPO, { revision: "../../etc" }), "invalid_revision");
});

Deno.test("offline or download:false on a cache miss says how to download", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "hub_test_" });
  try {
    await rejectsWith(
      resolveModelDir(REPO, { cacheDir, offline: true }),
      "not_cached",
      "scripts/download.ts",
      REPO,
    );
    await rejectsWith(resolveModelDir(REPO, { cacheDir, download: false }), "not_cached", "disabled");
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("scripts/download.ts: snapshot dir on stdout, progress on stderr, exit codes 0/1/2", async () => {
  await withHub(async (hub, cacheDir) => {
    const run = async (...args: string[]) => {
      const out: string[] = [];
      let err = "";
      const code = await cliMain(args, {
        stdout: (l) => out.push(l),
        stderr: (t) => err += t,
        isTerminal: false,
      });
      return { code, out, err };
    };
    const ok = await run(REPO, "--endpoint", hub.url, "--cache-dir", cacheDir);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(ok.out, [join(cacheDir, "models--acme--tiny-distilbert", "snapshots", COMMIT)]);
    assert.match(ok.err, /model\.safetensors: 96\.0 KiB \/ 96\.0 KiB \(100%\)/);

    const missing = await run("acme/nope", "--endpoint", hub.url, "--cache-dir", cacheDir);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^error: repo or file not found/m);
    assert.deepEqual(missing.out, []);

    assert.equal((await run()).code, 2);
    assert.equal((await run("a", "b")).code, 2);
    assert.equal((await run(REPO, "--bogus")).code, 2);
    assert.equal((await run("a/b/c")).code, 2);
    const help = await run("--help");
    assert.equal(help.code, 0);
    assert.match(help.out.join("\n"), /usage:/);
  });
});

slowTest("scripts/download.ts as a process: stdout is only the snapshot dir", async () => {
  await withHub(async (hub, cacheDir) => {
    const script = new URL("../scripts/download.ts", import.meta.url).pathname;
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-net=127.0.0.1",
        script,
        REPO,
      ],
      env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cacheDir, HF_TOKEN: "" },
      stdout: "piped",
      stderr: "piped",
    });
    const res = await cmd.output();
    const stderr = new TextDecoder().decode(res.stderr);
    assert.equal(res.code, 0, stderr);
    assert.equal(
      new TextDecoder().decode(res.stdout),
      `${join(cacheDir, "models--acme--tiny-distilbert", "snapshots", COMMIT)}\n`,
    );

    const usage = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", "--allow-read", "--allow-env", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(usage.code, 2);
    assert.match(new TextDecoder().decode(usage.stderr), /usage:/);
  });
});
