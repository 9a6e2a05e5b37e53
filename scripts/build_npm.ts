/**
 * Builds the npm channel of `@denobert/distilbert` into `dist/` (or `--out DIR`):
 *
 * - `mod.js`: `mod.ts` bundled by esbuild into one ESM file (plus `ffi/build.js`, the kernel build as a
 *   command: `deno run ... ffi/build.js`);
 * - `*.d.ts`: type declarations from the TypeScript compiler, one per source module, `mod.js` pointing
 *   at `mod.d.ts` with `@ts-self-types` so Deno finds them even without package.json;
 * - `ffi/*.c`, `ffi/kernels.h`: the C kernel sources, built on first use into the user cache;
 * - `weights/…`: the embedded default model's run-time files;
 * - `package.json`: npm dependencies taken from deno.json's import map (kept external, not bundled).
 *
 * The runtime is Deno either way (`Deno.dlopen`): the npm package is for projects that install with npm
 * and run with Deno.
 *
 * Bundling flattens modules, so every module's `import.meta.url` would become the bundle's. A small esbuild
 * plugin rewrites `import.meta.url` in each source module to the URL that module would have in `dist/`
 * (`new URL("./ffi/build.ts", import.meta.url).href`), and the build mirrors the source layout, so
 * `new URL("kernels.h", import.meta.url)` in ffi/build.ts still names `dist/ffi/kernels.h`.
 *
 * Usage: `deno task build:npm [--out DIR]`
 *
 * @module
 */

// Build-only tools, pinned here rather than in deno.json's import map, which describes the package itself.
// deno-lint-ignore no-import-prefix
import * as esbuild from "npm:esbuild@0.28.2";
// deno-lint-ignore no-import-prefix
import ts from "npm:typescript@5.9.3";
import { KERNEL_SOURCES } from "../ffi/build.ts";

/** Source entry points, relative to the project root, and where each lands in the output. */
const ENTRIES: readonly { src: string; out: string }[] = [
  { src: "mod.ts", out: "mod.js" },
  { src: "ffi/build.ts", out: "ffi/build.js" },
];

/** Evaluation data in the embedded model folders that is not needed at run time. */
const WEIGHTS_EXCLUDE: readonly string[] = ["dev-reference.jsonl", "sst2-dev.tsv"];

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

interface DenoConfig {
  name: string;
  version: string;
  license?: string;
  imports?: Record<string, string>;
}

function parseArgs(args: string[]): { out: string } {
  let out = `${ROOT}/dist`;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out" && i + 1 < args.length) out = args[++i];
    else if (args[i].startsWith("--out=")) out = args[i].slice("--out=".length);
    else throw new Error(`unknown argument ${args[i]}; usage: build_npm.ts [--out DIR]`);
  }
  return { out: out.startsWith("/") ? out : `${Deno.cwd()}/${out}` };
}

function relative(fromDir: string, to: string): string {
  const a = fromDir.split("/").filter(Boolean);
  const b = to.split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const rel = [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** `npm:@scope/name@1.2.3/sub/path` -> name `@scope/name`, version `1.2.3`, sub-path `/sub/path`. */
function parseNpmSpecifier(spec: string): { name: string; version: string; subpath: string } {
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(spec);
  if (!m) throw new Error(`cannot parse npm specifier ${spec}`);
  return { name: m[1], version: m[2] ?? "*", subpath: m[3] ?? "" };
}

/**
 * Resolves deno.json's import map and `npm:` specifiers for esbuild: npm packages stay external under
 * their bare name (recorded in `deps` for package.json), `node:` built-ins stay external, anything else
 * remote is an error. Rewrites `import.meta.url` per module (see the module doc).
 */
function denoPlugin(
  imports: Record<string, string>,
  outFileDir: string,
  deps: Map<string, string>,
): esbuild.Plugin {
  const npmExternal = (spec: string) => {
    const { name, version, subpath } = parseNpmSpecifier(spec);
    const seen = deps.get(name);
    if (seen && seen !== version) throw new Error(`npm package ${name} imported at ${seen} and ${version}`);
    deps.set(name, version);
    return { path: name + subpath, external: true };
  };
  return {
    name: "deno-import-map",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        let spec = args.path;
        if (!/^(npm|node|jsr|https?|file|data):/.test(spec)) {
          const key = Object.keys(imports)
            .filter((k) => k === spec || (k.endsWith("/") && spec.startsWith(k)))
            .sort((x, y) => y.length - x.length)[0];
          if (key === undefined) {
            return { errors: [{ text: `bare specifier "${spec}" is not in deno.json's import map` }] };
          }
          spec = imports[key] + spec.slice(key.length);
        }
        if (spec.startsWith("npm:")) return npmExternal(spec);
        if (spec.startsWith("node:")) return { path: spec, external: true };
        if (spec.startsWith("./") || spec.startsWith("../")) {
          return { path: `${ROOT}/${spec}`.replace(/\/\.\//g, "/") };
        }
        return { errors: [{ text: `"${args.path}" (${spec}) cannot go into the npm bundle` }] };
      });
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        let contents = await Deno.readTextFile(args.path);
        if (args.path.startsWith(`${ROOT}/`) && contents.includes("import.meta.url")) {
          // Where this module would sit in the output tree, relative to the bundle file.
          const at = relative(outFileDir, `${ROOT}/__out__/${args.path.slice(ROOT.length + 1)}`);
          contents = contents.replaceAll(
            /\bimport\.meta\.url\b/g,
            `new URL(${JSON.stringify(at)}, import.meta.url).href`,
          );
        }
        return { contents, loader: "ts" };
      });
    },
  };
}

async function bundle(config: DenoConfig, out: string): Promise<Map<string, string>> {
  const deps = new Map<string, string>();
  for (const entry of ENTRIES) {
    const outfile = `${out}/${entry.out}`;
    const dts = `./${entry.out.split("/").pop()!.replace(/\.js$/, ".d.ts")}`;
    // The rewrite computes paths inside a virtual `${ROOT}/__out__` that mirrors `out`.
    const outFileDir = dirname(`${ROOT}/__out__/${entry.out}`);
    const result = await esbuild.build({
      entryPoints: [`${ROOT}/${entry.src}`],
      outfile,
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      charset: "utf8",
      legalComments: "inline",
      logLevel: "warning",
      banner: {
        js: `/* @ts-self-types="${dts}" */\n` +
          `// ${config.name}@${config.version} for the npm channel; runs on Deno (it uses Deno.dlopen).\n` +
          // Elsewhere (Node.js, a browser) the first use of Deno would be a bare "Deno is not defined".
          `if (typeof Deno === "undefined") {\n` +
          `  throw new Error(${
            JSON.stringify(
              `${config.name} runs on Deno only: it calls its C kernels through Deno.dlopen, which ` +
                `Node.js and browsers do not have. Run it with deno (deno run --allow-ffi --allow-read ` +
                `--allow-env ...); npm is only how it is installed.`,
            )
          });\n}`,
      },
      plugins: [denoPlugin(config.imports ?? {}, outFileDir, deps)],
    });
    if (result.errors.length > 0) throw new Error(`esbuild failed for ${entry.src}`);
  }
  await esbuild.stop();
  return deps;
}

/** The Deno namespace types (`deno types`), so declarations of inferred types come out right. */
async function denoTypes(dir: string): Promise<string> {
  const res = await new Deno.Command(Deno.execPath(), { args: ["types"], stdout: "piped" }).output();
  if (!res.success) throw new Error("`deno types` failed");
  const path = `${dir}/lib.deno.d.ts`;
  await Deno.writeFile(path, res.stdout);
  return path;
}

async function declarations(out: string, deps: Map<string, string>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "denobert-dts-" });
  try {
    const libDeno = await denoTypes(tmp);
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.esnext.d.ts"],
      types: [],
      declaration: true,
      emitDeclarationOnly: true,
      allowImportingTsExtensions: true,
      rewriteRelativeImportExtensions: true,
      noCheck: true,
      skipLibCheck: true,
      strict: true,
      rootDir: ROOT,
      outDir: out,
    };
    const host = ts.createCompilerHost(options);
    const program = ts.createProgram([...ENTRIES.map((e) => `${ROOT}/${e.src}`), libDeno], options, host);
    const written: string[] = [];
    const emit = program.emit(undefined, (fileName, text) => {
      if (!fileName.startsWith(`${out}/`)) return; // e.g. lib.deno.d.ts would land outside
      // npm: specifiers in declarations become the bare names package.json declares.
      text = text.replaceAll(
        /(["'])npm:((?:@[^/@"']+\/)?[^/@"']+)(?:@[^/"']+)?(\/[^"']*)?\1/g,
        (_m, q, n, s) => {
          if (!deps.has(n)) deps.set(n, "*");
          return `${q}${n}${s ?? ""}${q}`;
        },
      );
      // Relative imports are rewritten to .js by the compiler; make sure no .ts ones remain.
      text = text.replaceAll(/(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.ts\2/g, "$1$2$3.js$2");
      Deno.mkdirSync(dirname(fileName), { recursive: true });
      Deno.writeTextFileSync(fileName, text);
      written.push(fileName);
    });
    const fatal = emit.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (emit.emitSkipped || fatal.length > 0) {
      throw new Error(
        `declaration emit failed:\n${ts.formatDiagnostics(fatal, host)}`,
      );
    }
    for (const entry of ENTRIES) {
      const dts = `${out}/${entry.out.replace(/\.js$/, ".d.ts")}`;
      if (!written.includes(dts)) throw new Error(`no declarations emitted for ${entry.src} (${dts})`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

async function copyAssets(out: string): Promise<string[]> {
  const copied: string[] = [];
  await Deno.mkdir(`${out}/ffi`, { recursive: true });
  for (const name of KERNEL_SOURCES) {
    await Deno.copyFile(`${ROOT}/ffi/${name}`, `${out}/ffi/${name}`);
    copied.push(`ffi/${name}`);
  }
  let models: Deno.DirEntry[] = [];
  try {
    models = [...Deno.readDirSync(`${ROOT}/weights`)].filter((e) => e.isDirectory);
  } catch {
    // no embedded models
  }
  for (const model of models) {
    const dir = `weights/${model.name}`;
    await Deno.mkdir(`${out}/${dir}`, { recursive: true });
    for (const file of Deno.readDirSync(`${ROOT}/${dir}`)) {
      if (!file.isFile || WEIGHTS_EXCLUDE.includes(file.name)) continue;
      await Deno.copyFile(`${ROOT}/${dir}/${file.name}`, `${out}/${dir}/${file.name}`);
      copied.push(`${dir}/${file.name}`);
    }
  }
  for (const doc of ["README.md", "LICENSE"]) {
    try {
      await Deno.copyFile(`${ROOT}/${doc}`, `${out}/${doc}`);
      copied.push(doc);
    } catch {
      // optional
    }
  }
  return copied;
}

async function writePackageJson(config: DenoConfig, out: string, deps: Map<string, string>): Promise<void> {
  const pkg = {
    name: config.name,
    version: config.version,
    description:
      "DistilBERT inference for Deno: Hugging Face checkpoints, OpenBLAS and a small C library through Deno's FFI",
    license: config.license ?? "MIT",
    type: "module",
    main: "./mod.js",
    types: "./mod.d.ts",
    exports: {
      ".": { types: "./mod.d.ts", default: "./mod.js" },
      "./build": { types: "./ffi/build.d.ts", default: "./ffi/build.js" },
      "./package.json": "./package.json",
    },
    files: ["**/*"],
    sideEffects: false,
    engines: { deno: ">=2.0.0" },
    keywords: ["distilbert", "bert", "transformers", "nlp", "deno", "ffi", "openblas"],
    dependencies: Object.fromEntries([...deps].sort(([a], [b]) => a.localeCompare(b))),
  };
  await Deno.writeTextFile(`${out}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
}

/**
 * Throws unless `out` may be emptied: absent, an empty folder, or an earlier build of this package. The
 * build removes `out` first, so `--out .` (or a typo naming a home or project folder) would otherwise
 * delete that folder and everything under it.
 */
function checkOutDir(out: string, name: string): void {
  let entries: string[];
  try {
    entries = [...Deno.readDirSync(out)].map((e) => e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    if (err instanceof Deno.errors.NotADirectory) throw new Error(`--out ${out} is a file, not a folder`);
    throw err;
  }
  if (entries.length === 0) return;
  let previous = false;
  try {
    previous = JSON.parse(Deno.readTextFileSync(`${out}/package.json`)).name === name &&
      entries.includes("mod.js");
  } catch {
    // no package.json of ours: not an earlier build
  }
  if (!previous) {
    throw new Error(
      `--out ${out} is a folder that is not empty and not an earlier build of ${name} ` +
        `(no package.json of it next to mod.js); the build empties its output folder, so name a new ` +
        `or empty one`,
    );
  }
}

/**
 * Builds the npm package into `out` (emptied first; it must be absent, empty or an earlier build); returns
 * the files written, relative to `out`.
 */
export async function buildNpm(out: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as DenoConfig;
  checkOutDir(out, config.name);
  await Deno.remove(out, { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  await Deno.mkdir(out, { recursive: true });
  const deps = await bundle(config, out);
  await declarations(out, deps);
  await copyAssets(out);
  await writePackageJson(config, out, deps);
  const files: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory) walk(`${dir}/${e.name}`, `${prefix}${e.name}/`);
      else files.push(`${prefix}${e.name}`);
    }
  };
  walk(out, "");
  return files.sort();
}

if (import.meta.main) {
  const { out } = parseArgs(Deno.args);
  const files = await buildNpm(out);
  let bytes = 0;
  for (const f of files) bytes += (await Deno.stat(`${out}/${f}`)).size;
  console.log(`build:npm: ${files.length} files, ${(bytes / 1e6).toFixed(2)} MB in ${out}`);
  for (const f of files) console.log(`  ${f}`);
}
