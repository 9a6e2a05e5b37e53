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
import { readSentenceTransformersConfig } from "../src/pipelines/sentence_transformers.ts";
import { slowTest } from "./helpers/unit.ts";
import {
  closedEndpoint,
  distilbertFiles,
  dripBody,
  endlessBody,
  fakeCommit,
  type FakeHub,
  gitBlobSha1,
  halfBody,
  noLengthBody,
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
  for (
    const revision of [
      "a b",
      "v1.lock",
      ".hidden",
      "x/.y",
      "a~1",
      "a:b",
      "tab\t",
      "nul\0",
      "a\\b",
      "a//b",
      "x.",
    ]
  ) {
    await rejectsWith(
      downloadModel(REPO, { revision, endpoint: "http://127.0.0.1:9" }),
      "invalid_revision",
      JSON.stringify(revision),
    );
  }
});

Deno.test("offline or download:false on a cache miss says how to download", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "hub_test_" });
  try {
    await rejectsWith(
      resolveModelDir(REPO, { cacheDir, offline: true }),
      "not_cached",
      // A way that works from the JSR and npm packages too, which have no scripts/download.ts to run.
      `downloadModel("${REPO}")`,
      `deno task download ${REPO}`,
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

// ---- A hub that misbehaves on purpose (tests/helpers/fake_hub.ts `intercept`); the cache must stay sound. ----

const STORAGE_NAME = "models--acme--tiny-distilbert";
const WEIGHTS = FILES["model.safetensors"];

/** A folder beside the cache standing for "the rest of the machine": nothing may ever be written there. */
async function withOutside(fn: (outside: string) => Promise<void>): Promise<void> {
  const outside = await Deno.makeTempDir({ prefix: "hub_test_outside_" });
  try {
    await fn(outside);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** `file` is not complete in the cache: no snapshot entry and no blob named `etag` (nor any for it). */
async function assertNotComplete(cacheDir: string, file: string, etag: string): Promise<void> {
  const storage = join(cacheDir, STORAGE_NAME);
  assert.ok(!await exists(join(storage, "snapshots", COMMIT, file)), `snapshot has ${file}`);
  const blobs = await exists(join(storage, "blobs")) ? listDir(join(storage, "blobs")) : [];
  assert.ok(!blobs.includes(etag), `blobs/${etag} was marked complete`);
  assert.equal(await findCachedModel(REPO, { cacheDir }), undefined);
}

/** Whether `url` asks the resolve endpoint for `file` (at any revision). */
function resolves(url: URL, file: string): boolean {
  return new RegExp(`^/${REPO}/resolve/[^/]+/${file.replaceAll(".", "\\.")}$`).test(url.pathname);
}

Deno.test("malicious hub: an LFS redirect to file:// is refused, at HEAD and at GET; nothing is copied", async () => {
  await withOutside(async (outside) => {
    const secretPath = join(outside, "secret.bin");
    const secret = new TextEncoder().encode("a local file the hub should never see\n");
    await Deno.writeFile(secretPath, secret);
    // 1. The resolve endpoint's LFS redirect (which gives the download URL) points at a local file.
    await withHub(async (hub, cacheDir) => {
      hub.intercept = (_req, url) =>
        resolves(url, "model.safetensors")
          ? new Response(null, {
            status: 302,
            headers: {
              "x-repo-commit": COMMIT,
              "x-linked-etag": `"${sha256(secret)}"`,
              "x-linked-size": String(secret.length),
              location: `file://${secretPath}`,
            },
          })
          : undefined;
      await rejectsWith(
        downloadModel(REPO, { endpoint: hub.url, cacheDir }),
        "http",
        "model.safetensors",
        `file://${secretPath}`,
        "only http(s)",
      );
      await assertNotComplete(cacheDir, "model.safetensors", sha256(secret));
    });
    // 2. The CDN itself redirects the GET to a local file.
    await withHub(async (hub, cacheDir) => {
      hub.intercept = (_req, url) =>
        url.pathname === `/cdn/${WEIGHTS_SHA}`
          ? new Response(null, { status: 302, headers: { location: `file://${secretPath}` } })
          : undefined;
      await rejectsWith(
        downloadModel(REPO, { endpoint: hub.url, cacheDir }),
        "http",
        `file://${secretPath}`,
        "only http(s)",
      );
      await assertNotComplete(cacheDir, "model.safetensors", WEIGHTS_SHA);
    });
    assert.deepEqual(listDir(outside), ["secret.bin"]);
  });
});

Deno.test("malicious hub: redirects are capped at 10 hops; the token never follows a redirect off the hub", async () => {
  const gated = simpleRepo(REPO, FILES, { token: "hf_secret" });
  const other = startFakeHub([]);
  try {
    await withHub(async (hub, cacheDir) => {
      // LFS download: hub -> other origin -> back to the hub's own /cdn/ (the token must not come back either).
      hub.intercept = (_req, url) =>
        resolves(url, "model.safetensors")
          ? new Response(null, {
            status: 302,
            headers: {
              "x-repo-commit": COMMIT,
              "x-linked-etag": `"${WEIGHTS_SHA}"`,
              "x-linked-size": String(WEIGHTS.length),
              location: `${other.url}/bounce/${WEIGHTS_SHA}`,
            },
          })
          : undefined;
      // A plain file whose GET the hub redirects to another origin.
      const vocabEtag = gitBlobSha1(FILES["vocab.txt"]);
      const hubIntercept = hub.intercept;
      hub.intercept = (req, url) =>
        req.method === "GET" && resolves(url, "vocab.txt")
          ? new Response(null, { status: 302, headers: { location: `${other.url}/vocab` } })
          : hubIntercept(req, url);
      other.intercept = (_req, url) =>
        url.pathname === "/vocab"
          ? new Response(FILES["vocab.txt"].slice(), { headers: { etag: `"${vocabEtag}"` } })
          : new Response(null, { status: 307, headers: { location: `${hub.url}/cdn/${WEIGHTS_SHA}` } });
      const dir = await downloadModel(REPO, { endpoint: hub.url, cacheDir, token: "hf_secret" });
      assert.deepEqual(await Deno.readFile(join(dir, "model.safetensors")), WEIGHTS);
      assert.deepEqual(await Deno.readFile(join(dir, "vocab.txt")), FILES["vocab.txt"]);
      assert.deepEqual(other.requests.map((r) => r.path).sort(), ["/bounce/" + WEIGHTS_SHA, "/vocab"]);
      assert.ok(other.requests.every((r) => r.authorization === null), "the token reached another origin");
      const cdn = hub.requests.filter((r) => r.path.startsWith("/cdn/"));
      assert.ok(cdn.length === 1 && cdn[0].authorization === null, "the token came back after leaving");
      assert.ok(hub.requests.some((r) => r.authorization === "Bearer hf_secret"), "the hub itself got it");
    }, [gated]);

    await withHub(async (hub, cacheDir) => {
      let hops = 0;
      hub.intercept = (_req, url) => {
        const m = /^\/cdn\/loop\/(\d+)$/.exec(url.pathname);
        if (url.pathname !== `/cdn/${WEIGHTS_SHA}` && !m) return undefined;
        hops++;
        return new Response(null, {
          status: 302,
          headers: { location: `/cdn/loop/${Number(m?.[1] ?? 0) + 1}` },
        });
      };
      await rejectsWith(
        downloadModel(REPO, { endpoint: hub.url, cacheDir }),
        "http",
        "model.safetensors",
        "too many redirects",
      );
      assert.equal(hops, 11, "the first request and 10 redirects");
      await assertNotComplete(cacheDir, "model.safetensors", WEIGHTS_SHA);
    });
  } finally {
    await other.close();
  }
});

Deno.test("malicious hub: a body longer than the announced size is cut off while streaming and refused", async () => {
  // 1. Endless chunked body for a file announced (X-Linked-Size) at 96 KiB.
  await withHub(async (hub, cacheDir) => {
    const counter = { sent: 0, cancelled: false };
    hub.intercept = (req, url) =>
      req.method === "GET" && url.pathname === `/cdn/${WEIGHTS_SHA}`
        ? new Response(endlessBody(WEIGHTS.subarray(0, 16 * 1024), counter))
        : undefined;
    await rejectsWith(
      downloadModel(REPO, { endpoint: hub.url, cacheDir }),
      "http",
      "model.safetensors",
      `more than the ${WEIGHTS.length} bytes expected`,
    );
    // Reading stopped right after the expected size; what the server pushed beyond it sat in socket buffers.
    assert.ok(counter.sent < 16 << 20, `the client kept reading: ${counter.sent} bytes sent`);
    const blobs = listDir(join(cacheDir, STORAGE_NAME, "blobs"));
    assert.ok(!blobs.some((b) => b.startsWith(WEIGHTS_SHA)), `partial download kept: ${blobs}`);
    await assertNotComplete(cacheDir, "model.safetensors", WEIGHTS_SHA);
  });
  // 2. No size anywhere (a git-sha1 ETag, no Content-Length on HEAD or GET) and an endless body: refused before
  //    a byte is read, instead of being written until the body ends.
  await withHub(async (hub, cacheDir) => {
    const counter = { sent: 0, cancelled: false };
    const etag = "a".repeat(40);
    hub.intercept = (req, url) => {
      if (!resolves(url, "vocab.txt")) return undefined;
      const headers = { "x-repo-commit": COMMIT, etag: `"${etag}"` };
      if (req.method === "HEAD") return new Response(noLengthBody(), { headers });
      return new Response(endlessBody(new Uint8Array(64 * 1024), counter), { headers });
    };
    await rejectsWith(
      downloadModel(REPO, { endpoint: hub.url, cacheDir }),
      "http",
      "vocab.txt",
      "no size was announced",
    );
    assert.ok(counter.sent < 16 << 20, `the client kept reading: ${counter.sent} bytes sent`);
    await assertNotComplete(cacheDir, "vocab.txt", etag);
  });
  // 3. A Content-Length that disagrees with X-Linked-Size: refused before a byte is written.
  await withHub(async (hub, cacheDir) => {
    const doubled = new Uint8Array(WEIGHTS.length * 2);
    hub.intercept = (req, url) =>
      req.method === "GET" && url.pathname === `/cdn/${WEIGHTS_SHA}` ? new Response(doubled) : undefined;
    await rejectsWith(
      downloadModel(REPO, { endpoint: hub.url, cacheDir }),
      "http",
      "model.safetensors",
      String(WEIGHTS.length),
      String(doubled.length),
    );
    await assertNotComplete(cacheDir, "model.safetensors", WEIGHTS_SHA);
    const blobs = listDir(join(cacheDir, STORAGE_NAME, "blobs"));
    assert.ok(!blobs.some((b) => b.startsWith(WEIGHTS_SHA)), `partial download kept: ${blobs}`);
  });
});

Deno.test("malicious cache: a planted blobs/<sha>.incomplete symlink is never written through (200 or 206)", async () => {
  for (const ignoreRange of [false, true]) {
    await withOutside(async (outside) => {
      const victim = join(outside, "victim.txt");
      await Deno.writeTextFile(victim, "precious");
      await withHub(async (hub, cacheDir) => {
        hub.ignoreRange = ignoreRange; // true: the server answers 200, which would truncate and overwrite
        const blobs = join(cacheDir, STORAGE_NAME, "blobs");
        await Deno.mkdir(blobs, { recursive: true });
        await Deno.symlink(victim, join(blobs, `${WEIGHTS_SHA}.incomplete`));
        await rejectsWith(
          downloadModel(REPO, { endpoint: hub.url, cacheDir }),
          "cache",
          `${WEIGHTS_SHA}.incomplete`,
          "symbolic link",
        );
        await assertNotComplete(cacheDir, "model.safetensors", WEIGHTS_SHA);
      });
      assert.equal(
        await Deno.readTextFile(victim),
        "precious",
        `victim changed (ignoreRange ${ignoreRange})`,
      );
      assert.deepEqual(listDir(outside), ["victim.txt"]);
    });
  }
});

Deno.test("malicious cache: a planted folder symlink (repo, blobs, refs, snapshots, .no_exist, .locks) is refused", async () => {
  const planted = [
    [STORAGE_NAME],
    [STORAGE_NAME, "blobs"],
    [STORAGE_NAME, "refs"],
    [STORAGE_NAME, "snapshots"],
    [STORAGE_NAME, ".no_exist"],
    [".locks"],
    [".locks", STORAGE_NAME],
  ];
  for (const parts of planted) {
    await withOutside(async (outside) => {
      await withHub(async (hub, cacheDir) => {
        await Deno.mkdir(join(cacheDir, ...parts.slice(0, -1)), { recursive: true });
        await Deno.symlink(outside, join(cacheDir, ...parts));
        await rejectsWith(
          downloadModel(REPO, { endpoint: hub.url, cacheDir }),
          "cache",
          join(...parts),
          "symbolic link",
        );
      });
      assert.deepEqual(listDir(outside), [], `written through ${parts.join("/")}`);
    });
  }
});

Deno.test("malicious cache: a snapshot entry leading outside the cache is refused when read, replaced on download", async () => {
  await withOutside(async (outside) => {
    const secretPath = join(outside, "secret.json");
    await Deno.writeTextFile(secretPath, "{}");
    await withHub(async (hub, cacheDir) => {
      const dir = await downloadModel(REPO, { endpoint: hub.url, cacheDir });
      for (const file of ["config.json", "model.safetensors"]) {
        await Deno.remove(join(dir, file));
        await Deno.symlink(secretPath, join(dir, file));
      }
      await rejectsWith(
        findCachedModel(REPO, { cacheDir }),
        "cache",
        join(dir, "config.json"),
        "outside the cache",
      );
      await rejectsWith(resolveModelDir(REPO, { cacheDir, offline: true }), "cache", "outside the cache");
      await rejectsWith(resolveModelDir(REPO, { cacheDir, endpoint: hub.url }), "cache", "outside the cache");
      // A download writes its own links over them (a rename replaces the link itself; nothing is followed).
      assert.equal(await downloadModel(REPO, { endpoint: hub.url, cacheDir }), dir);
      assert.equal(
        await Deno.readLink(join(dir, "config.json")),
        `../../blobs/${gitBlobSha1(FILES["config.json"])}`,
      );
      assert.equal(await Deno.readLink(join(dir, "model.safetensors")), `../../blobs/${WEIGHTS_SHA}`);
      assert.equal(await findCachedModel(REPO, { cacheDir }), dir);
    });
    assert.equal(await Deno.readTextFile(secretPath), "{}");
    assert.deepEqual(listDir(outside), ["secret.json"]);
  });
});

Deno.test("malicious hub: a download verifiable neither by hash nor by size is not marked complete", async () => {
  const vocab = FILES["vocab.txt"];
  const answer = (req: Request, withSize: boolean) => {
    const headers: Record<string, string> = { "x-repo-commit": COMMIT, etag: `"not-a-sha-1"` };
    if (withSize) headers["content-length"] = String(vocab.length);
    if (req.method === "HEAD") return new Response(withSize ? null : noLengthBody(), { headers });
    return new Response(withSize ? vocab.slice() : halfBody(vocab), { headers });
  };
  // No size anywhere and half the body: the file cannot be checked, so it is refused.
  await withHub(async (hub, cacheDir) => {
    hub.intercept = (req, url) => resolves(url, "vocab.txt") ? answer(req, false) : undefined;
    await rejectsWith(
      downloadModel(REPO, { endpoint: hub.url, cacheDir }),
      "checksum",
      "vocab.txt",
      "not-a-sha-1",
      "cannot be verified",
    );
    await assertNotComplete(cacheDir, "vocab.txt", "not-a-sha-1");
    const blobs = listDir(join(cacheDir, STORAGE_NAME, "blobs"));
    assert.ok(!blobs.some((b) => b.startsWith("not-a-sha-1")), `partial download kept: ${blobs}`);
  });
  // The same ETag with an exact size is accepted: the size is checked.
  await withHub(async (hub, cacheDir) => {
    hub.intercept = (req, url) => resolves(url, "vocab.txt") ? answer(req, true) : undefined;
    const dir = await downloadModel(REPO, { endpoint: hub.url, cacheDir });
    assert.deepEqual(await Deno.readFile(join(dir, "vocab.txt")), vocab);
    assert.equal(await Deno.readLink(join(dir, "vocab.txt")), "../../blobs/not-a-sha-1");
  });
});

Deno.test("malicious hub: an ETag that is not a plain file name (.., ., a/b) is refused", async () => {
  for (const etag of ["..", ".", "../../outside", "a/b", "x\\y", "a b"]) {
    await withHub(async (hub, cacheDir) => {
      hub.intercept = (req, url) =>
        resolves(url, "config.json")
          ? new Response(req.method === "HEAD" ? null : FILES["config.json"].slice(), {
            headers: { "x-repo-commit": COMMIT, etag: `"${etag}"` },
          })
          : undefined;
      await rejectsWith(
        downloadModel(REPO, { endpoint: hub.url, cacheDir }),
        "http",
        "config.json",
        `ETag ${JSON.stringify(etag)}`,
      );
      const storage = join(cacheDir, STORAGE_NAME);
      assert.ok(!await exists(join(storage, "snapshots", COMMIT, "config.json")));
      assert.equal(await findCachedModel(REPO, { cacheDir }), undefined);
    });
  }
});

Deno.test("an empty file downloads: a git-sha1 (e69de29...) and a sha256 (e3b0c44...) blob of 0 bytes", async () => {
  const empty = new Uint8Array();
  const plain = simpleRepo("acme/empty-plain", { ...FILES, "special_tokens_map.json": empty });
  const lfs = simpleRepo("acme/empty-lfs", { ...FILES, "model.safetensors": empty });
  await withHub(async (hub, cacheDir) => {
    const opts = { endpoint: hub.url, cacheDir };
    for (
      const [id, file, etag] of [
        ["acme/empty-plain", "special_tokens_map.json", "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"],
        [
          "acme/empty-lfs",
          "model.safetensors",
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ],
      ]
    ) {
      const dir = await downloadModel(id, opts);
      assert.equal(await Deno.readLink(join(dir, file)), `../../blobs/${etag}`);
      assert.equal((await Deno.stat(join(dir, file))).size, 0);
      assert.equal(await findCachedModel(id, { cacheDir }), dir);
      assert.equal(await downloadModel(id, opts), dir, "and again, from the cache");
    }
  }, [plain, lfs]);
});

Deno.test("a slow drip is stopped by minBytesPerSecond over minSpeedWindowMs; the part on disk resumes", async () => {
  await withHub(async (hub, cacheDir) => {
    const counter = { sent: 0, cancelled: false };
    let drip = true;
    hub.intercept = (req, url) =>
      drip && req.method === "GET" && url.pathname === `/cdn/${WEIGHTS_SHA}`
        ? new Response(dripBody(WEIGHTS, 50, counter), {
          headers: { "content-length": String(WEIGHTS.length) },
        })
        : undefined;
    // 1000 bytes/s over 1 s: the drip sends ~20, a local transfer of the small files thousands of times more.
    const opts = { endpoint: hub.url, cacheDir, minBytesPerSecond: 1000, minSpeedWindowMs: 1000 };
    await rejectsWith(
      downloadModel(REPO, opts),
      "network",
      "model.safetensors",
      "too slow",
      "minBytesPerSecond",
      "resume",
    );
    for (let waited = 0; !counter.cancelled && waited < 5000; waited += 10) await delay(10);
    assert.ok(counter.cancelled, "the connection was dropped");
    await assertNotComplete(cacheDir, "model.safetensors", WEIGHTS_SHA);
    const part = (await Deno.stat(join(cacheDir, STORAGE_NAME, "blobs", `${WEIGHTS_SHA}.incomplete`))).size;
    assert.ok(part > 0 && part <= counter.sent, `part of ${part} bytes, ${counter.sent} sent`);

    drip = false;
    const dir = await downloadModel(REPO, { endpoint: hub.url, cacheDir });
    assert.deepEqual(await Deno.readFile(join(dir, "model.safetensors")), WEIGHTS);
    assert.ok(hub.requests.some((r) => r.range === `bytes=${part}-`), "the next run resumed the part");

    for (const bad of [{ minBytesPerSecond: -1 }, { minBytesPerSecond: NaN }, { minSpeedWindowMs: 0 }]) {
      for (const call of [downloadModel, resolveModelDir]) {
        const err = await call(REPO, { ...opts, ...bad }).then(() => undefined, (e) => e);
        assert.ok(err instanceof RangeError && err.message.includes(Object.keys(bad)[0]), String(err));
      }
    }
  });
});

Deno.test("an unknown or misspelt option is a TypeError naming it, before the cache or the network", async () => {
  // No server (a closed 127.0.0.1 port): a call that went on to the network would fail otherwise.
  const cacheDir = await Deno.makeTempDir();
  const endpoint = "http://127.0.0.1:9";
  try {
    const cases: [typeof downloadModel | typeof resolveModelDir, Record<string, unknown>, string][] = [
      [downloadModel, { revison: "v1" }, "revison"],
      [downloadModel, { download: false }, "download"], // resolveModelDir's, not downloadModel's
      [resolveModelDir, { local_files_only: true }, "local_files_only"],
      [resolveModelDir, { cacheDir, offline: true, cache_dir: "x" }, "cache_dir"],
    ];
    for (const [call, options, name] of cases) {
      const err = await call(REPO, { cacheDir, endpoint, ...options }).then(() => undefined, (e) => e);
      assert.ok(err instanceof TypeError && err.message.includes(`unknown option "${name}"`), String(err));
    }
    for (const call of [downloadModel, resolveModelDir]) {
      const err = await call(REPO, null as never).then(() => undefined, (e) => e);
      assert.ok(err instanceof TypeError && /options must be an object/.test(err.message), String(err));
    }
    // Every declared option is still taken: offline with an empty cache fails as not_cached, not on a name.
    const err = await resolveModelDir(REPO, { cacheDir, offline: true, download: false, revision: "main" })
      .then(() => undefined, (e) => e);
    assert.ok(err instanceof HubError && err.code === "not_cached", String(err));
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("revision v1, then v1/fix (and the other way round): a HubError naming the conflict in refs/", async () => {
  const repo = simpleRepo(REPO, FILES);
  repo.refs.v1 = COMMIT;
  repo.refs["v1/fix"] = COMMIT;
  for (const [first, second, what] of [["v1", "v1/fix", "is a file"], ["v1/fix", "v1", "is a folder"]]) {
    await withHub(async (hub, cacheDir) => {
      const opts = { endpoint: hub.url, cacheDir };
      await downloadModel(REPO, { ...opts, revision: first });
      await rejectsWith(
        downloadModel(REPO, { ...opts, revision: second }),
        "cache",
        JSON.stringify(second),
        join(STORAGE_NAME, "refs", "v1"),
        what,
      );
      assert.equal(await findCachedModel(REPO, { cacheDir, revision: second }), undefined);
      assert.equal(
        await findCachedModel(REPO, { cacheDir, revision: first }),
        join(cacheDir, STORAGE_NAME, "snapshots", COMMIT),
      );
    }, [repo]);
  }
});

Deno.test("malicious hub: a body sent gzip-encoded although identity was asked is refused, not kept", async () => {
  const { gzipSync } = await import("node:zlib");
  const config = FILES["config.json"];
  const gz = new Uint8Array(gzipSync(config));
  // An ETag that is no hash: only the size vouches for the file, and a server gzipping anyway announces the
  // compressed one, which its body matches byte for byte.
  for (const etag of ["5f3-abcdef", gitBlobSha1(config)]) {
    await withHub(async (hub, cacheDir) => {
      hub.intercept = (req, url) =>
        resolves(url, "config.json")
          ? new Response(req.method === "HEAD" ? null : gz.slice(), {
            headers: {
              "x-repo-commit": COMMIT,
              etag: `"${etag}"`,
              "content-encoding": "gzip",
              "content-length": String(gz.length),
            },
          })
          : undefined;
      await rejectsWith(
        downloadModel(REPO, { endpoint: hub.url, cacheDir }),
        "http",
        "config.json",
        "Content-Encoding gzip",
        "Accept-Encoding: identity",
      );
      await assertNotComplete(cacheDir, "config.json", etag);
    });
  }
});

Deno.test("a folder where a snapshot entry belongs is a HubError naming it, not a raw EISDIR", async () => {
  await withHub(async (hub, cacheDir) => {
    const entry = join(cacheDir, STORAGE_NAME, "snapshots", COMMIT, "config.json");
    await Deno.mkdir(join(entry, "inside"), { recursive: true });
    await rejectsWith(downloadModel(REPO, { endpoint: hub.url, cacheDir }), "cache", entry, "is a folder");
    assert.deepEqual(listDir(entry), ["inside"], "the folder is left alone");
    assert.ok(
      !listDir(join(entry, "..")).some((name) => name.endsWith(".tmp")),
      "no temporary link is left behind",
    );
  });
});

Deno.test("a leading ~ in HF_HOME, HF_HUB_CACHE, XDG_CACHE_HOME, HF_TOKEN_PATH is the home folder, as in huggingface_hub", async () => {
  const home = await Deno.makeTempDir({ prefix: "hub_test_home_" });
  const unset = { HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined, HF_HOME: undefined };
  try {
    const cacheDirWith = async (vars: Record<string, string>) => {
      let dir = "";
      await withEnv({ ...unset, HOME: home, ...vars }, () => Promise.resolve(void (dir = hubCacheDir())));
      return dir;
    };
    assert.equal(await cacheDirWith({ HF_HOME: "~/hf" }), join(home, "hf", "hub"));
    assert.equal(await cacheDirWith({ HF_HUB_CACHE: "~/hub-cache" }), join(home, "hub-cache"));
    assert.equal(await cacheDirWith({ XDG_CACHE_HOME: "~/xdg" }), join(home, "xdg", "huggingface", "hub"));
    assert.equal(await cacheDirWith({ HF_HOME: "~" }), join(home, "hub"));
    // The token file of `huggingface-cli login` under such an HF_HOME (and at such an HF_TOKEN_PATH) is read.
    await Deno.mkdir(join(home, "hf"), { recursive: true });
    await Deno.writeTextFile(join(home, "hf", "token"), "hf_secret\n");
    await Deno.writeTextFile(join(home, "other-token"), "hf_secret\n");
    const gated = simpleRepo("acme/gated", FILES, { token: "hf_secret" });
    for (const env of [{ HF_HOME: "~/hf" }, { HF_TOKEN_PATH: "~/other-token" }]) {
      await withHub(async (hub, cacheDir) => {
        const vars = {
          HOME: home,
          HF_TOKEN: undefined,
          HUGGING_FACE_HUB_TOKEN: undefined,
          HF_TOKEN_PATH: undefined,
          ...env,
        };
        await withEnv(vars, async () => {
          const dir = await downloadModel("acme/gated", { endpoint: hub.url, cacheDir });
          assert.deepEqual(await Deno.readFile(join(dir, "config.json")), FILES["config.json"]);
        });
      }, [gated]);
    }
    assert.ok(!await exists("~"), "a folder named ~ was made in the working directory");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a sentence-transformers repo downloads modules.json, its Pooling folder's config.json and settings", async () => {
  const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
  const modules = (poolingPath: string) =>
    json([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: poolingPath, type: "sentence_transformers.models.Pooling" },
      { idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" },
    ]);
  const st = simpleRepo("acme/st", {
    ...FILES,
    "modules.json": modules("1_Pooling"),
    "1_Pooling/config.json": json({ word_embedding_dimension: 8, pooling_mode_mean_tokens: true }),
    "sentence_bert_config.json": json({ max_seq_length: 128, do_lower_case: false }),
    "config_sentence_transformers.json": json({ prompts: { query: "query: " }, default_prompt_name: null }),
  });
  const hostile = simpleRepo("acme/st-hostile", {
    ...FILES,
    "modules.json": modules("../../../outside"),
  });
  await withHub(async (hub, cacheDir) => {
    const opts = { endpoint: hub.url, cacheDir };
    const dir = await downloadModel("acme/st", opts);
    const pooling = join(dir, "1_Pooling", "config.json");
    assert.equal(
      await Deno.readLink(pooling),
      `../../../blobs/${gitBlobSha1(st.commits[fakeCommit("acme/st")]["1_Pooling/config.json"])}`,
    );
    assert.deepEqual(await readSentenceTransformersConfig(dir), {
      pooling: ["mean"],
      normalize: true,
      doLowerCase: false,
      prompts: { query: "query: " },
      includePrompt: true,
      maxSeqLength: 128,
    });
    assert.equal(await findCachedModel("acme/st", { cacheDir }), dir);
    // Again, from the cache: one HEAD for the branch's commit, nothing else.
    const before = hub.requests.length;
    assert.equal(await downloadModel("acme/st", opts), dir);
    assert.equal(hub.requests.length, before + 1);

    await rejectsWith(
      downloadModel("acme/st-hostile", opts),
      "unsupported",
      "modules.json",
      "../../../outside",
    );
    assert.ok(!hub.requests.some((r) => r.path.includes("outside")), "the path was asked for");
  }, [st, hostile]);
});
