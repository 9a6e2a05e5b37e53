// Packaging: the JSR package (doc lint, publish dry run, what it ships) and the npm channel (build the
// bundle, install it the way npm lays it out, load a model from it under Deno with the kernels built on
// first use into a temporary cache, and compare with the source API).

import assert from "node:assert/strict";
import { DistilBertModel } from "../mod.ts";
import { KERNEL_SOURCES } from "../ffi/build.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const DENO = Deno.execPath();
const JSR_MAX_BYTES = 20 * 1024 * 1024; // JSR's limit for a package version (and for one file)

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  output: string;
}

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<RunResult> {
  const res = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    clearEnv: opts.clearEnv ?? false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const stdout = dec.decode(res.stdout);
  const stderr = dec.decode(res.stderr);
  return { code: res.code, stdout, stderr, output: `${stdout}\n${stderr}` };
}

function assertOk(res: RunResult, what: string): void {
  assert.equal(res.code, 0, `${what} exited ${res.code}:\n${res.output}`);
}

/** Deno's own cache: kept for subprocesses that move XDG_CACHE_HOME (Deno's default lives under it). */
async function denoDir(): Promise<string> {
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return fromEnv;
  const res = await run(DENO, ["info", "--json"]);
  assertOk(res, "deno info --json");
  return JSON.parse(res.stdout).denoDir;
}

/** The environment for a subprocess, without any override that would bypass what is under test. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.DENOBERT_KERNELS_PATH;
  delete env.CC;
  return { ...env, NO_COLOR: "1", ...extra };
}

/** `deno task build:npm --out <out>`, as a subprocess with `env`. */
function buildNpm(out: string, env: Record<string, string>): Promise<RunResult> {
  const flags = ["--no-lock", "--allow-read", "--allow-write", "--allow-env", "--allow-run"];
  return run(DENO, ["run", ...flags, "scripts/build_npm.ts", "--out", out], { env });
}

Deno.test("packaging: deno doc --lint mod.ts is clean", async () => {
  const res = await run(DENO, ["doc", "--lint", "mod.ts"]);
  assertOk(res, "deno doc --lint mod.ts");
  assert.doesNotMatch(res.output, /error\[|warning\[/, res.output);
});

Deno.test("packaging: every project type in mod.ts's public signatures is exported from mod.ts", async () => {
  // deno doc --lint lets a public member name a type the package does not export (Tokenizer's constructor
  // took the internal TokenizerSpec): users could call it but neither name nor build its argument.
  const res = await run(DENO, ["doc", "--json", "mod.ts"]);
  assertOk(res, "deno doc --json mod.ts");
  const doc = JSON.parse(res.stdout);
  const symbols: { name: string }[] = Object.values(
    doc.nodes as Record<string, { symbols: { name: string }[] }>,
  )[0].symbols;
  const exported = new Set(symbols.map((s) => s.name));
  const declared = new Set<string>();
  for (const dir of ["src", "ffi"]) {
    const files = (await run("grep", ["-rhoE", "^export (interface|type|class) [A-Za-z0-9_]+", dir])).stdout;
    for (const m of files.matchAll(/^export (?:interface|type|class) (\w+)/gm)) declared.add(m[1]);
  }
  const missing = new Set<string>();
  const walk = (x: unknown, where: string): void => {
    if (Array.isArray(x)) return x.forEach((v) => walk(v, where));
    if (x === null || typeof x !== "object") return;
    const o = x as Record<string, unknown>;
    // private and protected members are not the package's API (protected constructors serve its own heads)
    if (o.accessibility === "private" || o.accessibility === "protected") return;
    const name = typeof o.name === "string" ? `${where}.${o.name}` : where;
    if (typeof o.typeName === "string" && declared.has(o.typeName) && !exported.has(o.typeName)) {
      missing.add(`${o.typeName} (in ${name})`);
    }
    for (const v of Object.values(o)) walk(v, name);
  };
  for (const s of symbols) walk(s, "");
  assert.deepEqual([...missing], [], "public signatures name types mod.ts does not export");
});

Deno.test("packaging: every C file in ffi/ is a kernel source that ships", () => {
  const onDisk = [...Deno.readDirSync(`${ROOT}/ffi`)]
    .filter((e) => e.isFile && /\.[ch]$/.test(e.name))
    .map((e) => e.name)
    .sort();
  assert.deepEqual(
    [...KERNEL_SOURCES].sort(),
    onDisk,
    "ffi/build.ts KERNEL_SOURCES must list every ffi/*.c and *.h",
  );
});

Deno.test("packaging: deno publish --dry-run passes, no slow types, ships the C sources and the default model", async () => {
  const res = await run(DENO, ["publish", "--dry-run", "--allow-dirty"]);
  assertOk(res, "deno publish --dry-run --allow-dirty");
  assert.doesNotMatch(res.output, /error\[|warning\[|missing-explicit|--allow-slow-types/, res.output);
  assert.match(res.output, /Success Dry run complete/);

  // "   file:///work/main/ffi/rows.c (531B)"
  const files = new Map<string, number>();
  const units: Record<string, number> = { B: 1, KB: 1024, MB: 1024 * 1024 };
  for (const m of res.output.matchAll(/file:\/\/(\S+) \(([\d.]+)(B|KB|MB)\)/g)) {
    const path = decodeURIComponent(m[1]);
    assert.ok(path.startsWith(`${ROOT}/`), path);
    files.set(path.slice(ROOT.length + 1), Number(m[2]) * units[m[3]]);
  }
  const names = [...files.keys()];
  for (const src of KERNEL_SOURCES) assert.ok(files.has(`ffi/${src}`), `ffi/${src} is not published`);
  for (const f of ["mod.ts", "ffi/build.ts", "ffi/library.ts", "deno.json"]) assert.ok(files.has(f), f);
  for (const f of ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]) {
    assert.ok(
      files.has(`weights/sst2-distilbert-small/${f}`),
      `weights/sst2-distilbert-small/${f} is not published`,
    );
  }
  const unwanted = names.filter((n) =>
    /^(tests|bench|dist|\.ci|\.tools|\.cache|ffi\/build)\//.test(n) || n.endsWith(".so") ||
    n === "scripts/build_npm.ts" || n.startsWith("scripts/hf_reference/") ||
    // the test-fixture generators: Python / Node scripts and the synth-v1 weights, for tests that do not ship
    /^scripts\/.*\.(py|mjs)$/.test(n) || n === "scripts/synth.ts" ||
    /^weights\/.*\/(dev-reference\.jsonl|sst2-dev\.tsv)$/.test(n)
  );
  assert.deepEqual(unwanted, [], "files that must not be published");
  const total = [...files.values()].reduce((a, b) => a + b, 0);
  console.log(`  publish: ${files.size} files, ${(total / 1024 / 1024).toFixed(2)} MB`);
  assert.ok(total < JSR_MAX_BYTES * 0.5, `package is ${total} bytes, JSR allows ${JSR_MAX_BYTES}`);
});

Deno.test("packaging: build:npm refuses to empty an output folder that is not an earlier build", async () => {
  // The build removes its output folder first: `--out .` once meant the whole checkout.
  const tmp = await Deno.makeTempDir({ prefix: "denobert-npm-out-" });
  try {
    await Deno.writeTextFile(`${tmp}/keep.txt`, "not a build");
    const env = cleanEnv({ DENO_DIR: await denoDir() });
    const build = (out: string) => buildNpm(out, env);
    const res = await build(tmp);
    assert.notEqual(res.code, 0, res.output);
    assert.match(
      res.stderr,
      /is a folder that is not empty and not an earlier build of @denobert\/distilbert/,
    );
    assert.equal(await Deno.readTextFile(`${tmp}/keep.txt`), "not a build");
    // An earlier build is rebuilt in place.
    await Deno.remove(`${tmp}/keep.txt`);
    assertOk(await build(tmp), "build:npm into an empty folder");
    assertOk(await build(tmp), "build:npm over an earlier build");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test({
  name:
    "packaging: npm bundle installs, type-checks, builds the kernels on first use and matches the source API",
  sanitizeResources: false,
  fn: async (t) => {
    const tmp = await Deno.makeTempDir({ prefix: "denobert-npm-" });
    try {
      const dist = `${tmp}/dist`;
      const proj = `${tmp}/proj`;
      const cache = `${tmp}/cache`;
      const env = cleanEnv({ DENO_DIR: await denoDir(), XDG_CACHE_HOME: cache });
      const depsOf = (pkgJson: string) => JSON.parse(Deno.readTextFileSync(pkgJson)).dependencies ?? {};

      await t.step("build:npm", async () => {
        const res = await buildNpm(dist, env);
        assertOk(res, "scripts/build_npm.ts");
        for (const f of ["mod.js", "mod.d.ts", "ffi/build.js", "ffi/build.d.ts", "package.json"]) {
          assert.ok(Deno.statSync(`${dist}/${f}`).isFile, f);
        }
        for (const src of KERNEL_SOURCES) assert.ok(Deno.statSync(`${dist}/ffi/${src}`).isFile, `ffi/${src}`);
        const js = Deno.readTextFileSync(`${dist}/mod.js`);
        assert.ok(js.startsWith(`/* @ts-self-types="./mod.d.ts" */`));
        assert.doesNotMatch(js, /from\s+"(npm|jsr|https?):/, "remote specifiers left in the bundle");
        // The import map's npm packages stay external, declared with the same pinned versions.
        const imports: Record<string, string> =
          JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).imports ?? {};
        const deps = depsOf(`${dist}/package.json`);
        for (const [name, version] of Object.entries(deps)) {
          assert.ok(
            Object.values(imports).includes(`npm:${name}@${version}`),
            `${name}@${version} is not pinned like that in deno.json`,
          );
        }
        for (const m of js.matchAll(/^import .* from "([^".][^"]*)";$/gm)) {
          const spec = m[1];
          if (spec.startsWith("node:")) continue;
          const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
          assert.ok(name in deps, `the bundle imports ${spec} but package.json does not depend on ${name}`);
        }
      });

      await t.step("install into node_modules like npm", async () => {
        Deno.mkdirSync(`${proj}/node_modules/@denobert/distilbert`, { recursive: true });
        // The package's dependencies, as npm would hoist them (installed by Deno from its npm cache).
        Deno.writeTextFileSync(
          `${proj}/package.json`,
          JSON.stringify({ type: "module", dependencies: depsOf(`${dist}/package.json`) }, null, 2),
        );
        assertOk(await run(DENO, ["install"], { cwd: proj, env }), "deno install");
        // The package itself: what `npm pack` puts in the tarball where npm is there, else a plain copy.
        const packed = await run("npm", ["pack", dist, "--pack-destination", tmp, "--json"], {
          cwd: tmp,
          env,
        })
          .catch(() => undefined);
        const target = `${proj}/node_modules/@denobert/distilbert`;
        if (packed && packed.code === 0) {
          const tgz = `${tmp}/${JSON.parse(packed.stdout)[0].filename}`;
          assertOk(await run("tar", ["xzf", tgz, "-C", target, "--strip-components=1"]), "tar xzf");
        } else {
          assertOk(await run("cp", ["-R", `${dist}/.`, target]), "cp -R dist");
        }
        assert.ok(Deno.statSync(`${target}/ffi/kernels.h`).isFile);
      });

      const modelDir = `${tmp}/model`;
      Deno.mkdirSync(modelDir);
      Deno.copyFileSync(`${ROOT}/tests/fixtures/models/tiny/config.mlm.json`, `${modelDir}/config.json`);
      Deno.copyFileSync(
        `${ROOT}/tests/fixtures/models/tiny/model.safetensors`,
        `${modelDir}/model.safetensors`,
      );
      const ids = [2, 45, 117, 999, 3, 0, 2, 7, 1123, 3, 0, 0];
      const mask = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0];
      const dims = [2, 6];

      Deno.writeTextFileSync(
        `${proj}/main.ts`,
        `import * as pkg from "@denobert/distilbert";
import { DistilBertModel, type ModelOutput } from "@denobert/distilbert";
const model: DistilBertModel = await DistilBertModel.load(Deno.args[0]);
const out: ModelOutput = model.forward({
  inputIds: { data: new Int32Array(${JSON.stringify(ids)}), dims: ${JSON.stringify(dims)} },
  attentionMask: { data: new Int32Array(${JSON.stringify(mask)}), dims: ${JSON.stringify(dims)} },
});
model.close();
const p = pkg as Record<string, unknown>;
const defaultModelDir = typeof p.defaultSentimentModelDir === "function"
  ? (p.defaultSentimentModelDir as () => string)()
  : null;
console.log(JSON.stringify({ dims: out.lastHiddenState.dims, data: Array.from(out.lastHiddenState.data), defaultModelDir }));
`,
      );
      const perms = ["--allow-ffi", "--allow-read", "--allow-write", "--allow-env", "--allow-run"];

      await t.step("loads the tiny model from the bundle; kernels built into the empty cache", async () => {
        const res = await run(DENO, ["run", ...perms, "main.ts", modelDir], { cwd: proj, env });
        assertOk(res, "deno run main.ts (bundle)");
        const got = JSON.parse(res.stdout.trim().split("\n").pop()!);

        const built = [...Deno.readDirSync(`${cache}/denobert/kernels`)].map((e) => e.name);
        assert.equal(
          built.filter((n) => /^libdistilbert_kernels-[0-9a-f]{16}\.(so|dylib|dll)$/.test(n)).length,
          1,
          built.join(),
        );

        using model = await DistilBertModel.load(modelDir);
        const want = model.forward({
          inputIds: { data: new Int32Array(ids), dims },
          attentionMask: { data: new Int32Array(mask), dims },
        }).lastHiddenState;
        assert.deepEqual(got.dims, want.dims);
        assert.equal(got.data.length, want.data.length);
        let maxDiff = 0;
        for (let i = 0; i < want.data.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(got.data[i] - want.data[i]));
        }
        console.log(`  bundle vs source: last_hidden_state max|diff| ${maxDiff}`);
        assert.ok(maxDiff <= 1e-6, `bundle and source differ by ${maxDiff}`);

        if (got.defaultModelDir !== null) {
          // The embedded model resolves inside the installed package, not the checkout.
          assert.ok(
            got.defaultModelDir.startsWith(`${proj}/node_modules/@denobert/distilbert/`),
            got.defaultModelDir,
          );
          assert.ok(Deno.statSync(`${got.defaultModelDir}/model.safetensors`).isFile);
        }
      });

      await t.step("the build command of the package finds the same library", async () => {
        const res = await run(DENO, [
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-run",
          "node_modules/@denobert/distilbert/ffi/build.js",
        ], { cwd: proj, env });
        assertOk(res, "deno run ffi/build.js");
        assert.match(
          res.stdout.trim(),
          new RegExp(`^${cache}/denobert/kernels/libdistilbert_kernels-[0-9a-f]{16}\\.`),
        );
      });

      await t.step("clear errors without a C compiler or OpenBLAS", async () => {
        const noCc = await run(DENO, ["run", ...perms, "main.ts", modelDir], {
          cwd: proj,
          env: { ...env, XDG_CACHE_HOME: `${tmp}/cache-nocc`, CC: `${tmp}/no-such-cc` },
        });
        assert.notEqual(noCc.code, 0);
        assert.match(noCc.stderr, /could not run the C compiler/, noCc.stderr);
        const noBlas = await run(DENO, ["run", ...perms, "main.ts", modelDir], {
          cwd: proj,
          env: { ...env, DENOBERT_OPENBLAS_PATH: `${tmp}/no-such-libopenblas.so` },
        });
        assert.notEqual(noBlas.code, 0);
        assert.match(noBlas.stderr, /could not load OpenBLAS/, noBlas.stderr);
      });

      // Installed with npm, it may well be run with node: that must say it needs Deno, not "Deno is not
      // defined" from somewhere inside the bundle.
      const node = await run("node", ["--version"]).catch(() => undefined);
      await t.step({
        name: "under Node.js, importing it is an error that says it runs on Deno",
        ignore: node === undefined || node.code !== 0,
        fn: async () => {
          Deno.writeTextFileSync(`${proj}/node_main.mjs`, `await import("@denobert/distilbert");\n`);
          const res = await run("node", ["node_main.mjs"], { cwd: proj, env });
          assert.notEqual(res.code, 0);
          assert.match(res.stderr, /@denobert\/distilbert runs on Deno only: .*Deno\.dlopen/, res.stderr);
          assert.doesNotMatch(res.stderr, /Deno is not defined/, res.stderr);
        },
      });

      await t.step("declarations type-check a consumer and reject a wrong one", async () => {
        assertOk(await run(DENO, ["check", "main.ts"], { cwd: proj, env }), "deno check main.ts");
        Deno.writeTextFileSync(
          `${proj}/bad.ts`,
          `import { DistilBertModel } from "@denobert/distilbert";\nconst n: number = DistilBertModel.load("x");\nconsole.log(n);\n`,
        );
        const bad = await run(DENO, ["check", "bad.ts"], { cwd: proj, env });
        assert.notEqual(bad.code, 0, "a wrong use type-checked: declarations are missing or untyped");
        assert.match(bad.output, /TS2322/, bad.output);
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("packaging: loaded over http like a JSR package, the kernels are fetched and built into the cache once", async () => {
  // The checkout served on 127.0.0.1 stands in for jsr.io: `import.meta.url` is http:, so ffi/build.ts fetches
  // the C sources next to itself and builds into $XDG_CACHE_HOME/denobert/kernels.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(`${ROOT}${path}`);
      const type = path.endsWith(".ts") ? "application/typescript" : "text/plain";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const tmp = await Deno.makeTempDir({ prefix: "denobert-remote-" });
  try {
    const origin = `127.0.0.1:${server.addr.port}`;
    const cache = `${tmp}/cache`;
    const imports = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).imports ?? {};
    Deno.writeTextFileSync(`${tmp}/deno.json`, JSON.stringify({ imports })); // JSR rewrites these at publish
    Deno.mkdirSync(`${tmp}/model`);
    Deno.copyFileSync(`${ROOT}/tests/fixtures/models/tiny/config.mlm.json`, `${tmp}/model/config.json`);
    Deno.copyFileSync(
      `${ROOT}/tests/fixtures/models/tiny/model.safetensors`,
      `${tmp}/model/model.safetensors`,
    );
    Deno.writeTextFileSync(
      `${tmp}/main.ts`,
      `import { DistilBertModel } from "http://${origin}/mod.ts";
using model = await DistilBertModel.load(Deno.args[0]);
const out = model.forward({ inputIds: { data: new Int32Array([2, 45, 117, 3]), dims: [1, 4] } });
console.log(JSON.stringify(Array.from(out.lastHiddenState.data)));
`,
    );
    const env = cleanEnv({ DENO_DIR: await denoDir(), XDG_CACHE_HOME: cache });
    const res = await run(DENO, [
      "run",
      "--no-lock",
      "--reload=http://" + origin,
      `--allow-import=${origin}`,
      `--allow-net=${origin}`,
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "main.ts",
      `${tmp}/model`,
    ], { cwd: tmp, env });
    assertOk(res, "deno run main.ts (remote)");
    const got: number[] = JSON.parse(res.stdout.trim().split("\n").pop()!);
    const built = [...Deno.readDirSync(`${cache}/denobert/kernels`)].map((e) => e.name);
    assert.equal(built.filter((n) => n.startsWith("libdistilbert_kernels-")).length, 1, built.join());

    using model = await DistilBertModel.load(`${tmp}/model`);
    const want = model.forward({ inputIds: { data: new Int32Array([2, 45, 117, 3]), dims: [1, 4] } })
      .lastHiddenState.data;
    assert.equal(got.length, want.length);
    const maxDiff = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
    assert.ok(maxDiff <= 1e-6, `remote and local differ by ${maxDiff}`);

    // Once built, a run needs no network: the modules are in Deno's cache and the library in ours. The C
    // sources were once fetched again on every start just to find the library's name.
    const offline = await run(DENO, [
      "run",
      "--no-lock",
      `--allow-import=${origin}`,
      "--allow-ffi",
      "--allow-read",
      "--allow-env",
      "main.ts",
      `${tmp}/model`,
    ], { cwd: tmp, env });
    assertOk(offline, "deno run main.ts (remote, second run without --allow-net)");
    assert.deepEqual(JSON.parse(offline.stdout.trim().split("\n").pop()!), got);
  } finally {
    await server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});
