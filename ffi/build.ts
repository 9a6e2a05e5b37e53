/**
 * Builds our C kernels (`ffi/*.c`) into one shared library. Idempotent: the output name carries a hash of
 * the sources and flags, so an up-to-date build is found and reused, and a stale one is never loaded.
 *
 * `deno task build` runs this for a checkout; `ensureKernelsBuilt()` does the same on first use when the
 * package came from JSR (its sources are fetched next to this module once, and kept in the user cache) or
 * npm (they ship next to the bundle), building into the user cache.
 *
 * @module
 */

import { atomicWriteFile, exists } from "../src/fs/write.ts";

/** Compiler flags. `-march=native` is right here: the library is always built on the machine that runs it. */
export const CFLAGS: readonly string[] = [
  "-std=c11",
  "-O3",
  "-march=native",
  "-fPIC",
  "-shared",
  "-fno-math-errno",
  "-ffp-contract=fast",
  "-pthread",
  "-Wall",
  "-Wextra",
];

/** Libraries the kernels link against: libm, and libdl for loading OpenBLAS (part of libc on newer glibc). */
export const LDLIBS: readonly string[] = Deno.build.os === "linux" ? ["-lm", "-ldl"] : ["-lm"];

/** Sanitizer builds of the C test harnesses (`ffi/test/`): which sanitizers, and their flags. */
export type CTestSanitizer = "address" | "thread";

/**
 * Compiler flags for a C test harness: the library's own code-generation flags (so the tests run the code
 * users get), with `march` in place of `-march=native` (to run the AVX2 build on an AVX-512 machine), a
 * sanitizer, debug info, and warnings as errors.
 */
export function cTestFlags(sanitizer: CTestSanitizer, march = "native"): string[] {
  const codegen = CFLAGS.filter((f) => f !== "-shared" && f !== "-fPIC" && !f.startsWith("-O"))
    .map((f) => f === "-march=native" ? `-march=${march}` : f);
  const sanitize = sanitizer === "address"
    ? ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    : ["-fsanitize=thread"];
  return [...codegen, "-O2", "-g", "-Werror", "-fno-omit-frame-pointer", ...sanitize];
}

/** The C sources, relative to this module. */
export const KERNEL_SOURCES: readonly string[] = [
  "kernels.h",
  "vecmath.h",
  "pool.h",
  "pool.c",
  "cpu.h",
  "cpu.c",
  "blas.h",
  "blas.c",
  "embedding.c",
  "layernorm.c",
  "activation.c",
  "attention.c",
  "rows.c",
  "linear.c",
  "packed.h",
  "packed_linear.c",
  "lowp.h",
  "lowp.c",
  "lowp_x86.c",
  "memory.c",
];

const LIB_EXT = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";

async function sha256Hex(parts: Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `$XDG_CACHE_HOME/denobert`, by default `~/.cache/denobert`: kernel builds and fetched sources. */
function userCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const cache = xdg && xdg.length > 0 ? xdg : `${Deno.env.get("HOME") ?? "."}/.cache`;
  return `${cache}/denobert`;
}

/**
 * Where the C sources of a package loaded over the network are kept once fetched, keyed by the URL they came
 * from: a JSR version never changes, so later runs read this copy and need no network just to find the
 * library's name (which hashes the sources).
 */
function fetchedSourceDir(): Promise<string> {
  return sourceDir ??= sha256Hex([new TextEncoder().encode(new URL(".", import.meta.url).href)])
    .then((hash) => `${userCacheDir()}/kernel-sources/${hash.slice(0, 16)}`);
}
let sourceDir: Promise<string> | undefined; // hashed once, not once per source file

async function readSource(name: string): Promise<Uint8Array> {
  const url = new URL(name, import.meta.url);
  if (url.protocol !== "file:") {
    const copy = `${await fetchedSourceDir()}/${name}`;
    try {
      return await Deno.readFile(copy);
    } catch {
      // not fetched yet (or not readable): fetch it, and keep a copy when we may write
      const bytes = await fetchSource(url);
      try {
        await Deno.mkdir(copy.slice(0, copy.lastIndexOf("/")), { recursive: true });
        await atomicWriteFile(copy, bytes);
      } catch {
        // no --allow-write: the next run fetches it again
      }
      return bytes;
    }
  }
  try {
    return await Deno.readFile(url);
  } catch (err) {
    throw new Error(
      `could not read the C source ${decodeURIComponent(url.pathname)} (${(err as Error).message}); ` +
        `it ships with the package next to this module. Deno needs --allow-read for it.`,
    );
  }
}

async function fetchSource(url: URL): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(
      `could not fetch the C source ${url.href} to build the DistilBERT kernels on first use ` +
        `(${(err as Error).message}). Deno needs --allow-net=${url.host} for this one-time step.`,
    );
  }
  if (!res.ok) throw new Error(`could not fetch C source ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

// A source checkout has the project's deno.json next to ffi/. An installed package does not: the npm
// bundle (dist/, possibly in a read-only node_modules or Deno's npm cache) ships a package.json instead,
// and a JSR package is remote (https:).
function isCheckout(here: URL): boolean {
  if (here.protocol !== "file:") return false;
  try {
    return Deno.statSync(new URL("../deno.json", here)).isFile;
  } catch {
    return false;
  }
}

/**
 * Where built libraries go: `ffi/build/` in a source checkout, else (a package installed from JSR or
 * npm) the user cache: `$XDG_CACHE_HOME/denobert/kernels`, by default `~/.cache/denobert/kernels`.
 */
export function defaultBuildDir(): string {
  const here = new URL(".", import.meta.url);
  if (isCheckout(here)) return decodeURIComponent(new URL("build", here).pathname);
  return `${userCacheDir()}/kernels`;
}

/** Path of the library for the current sources, whether or not it exists yet. */
export async function kernelLibraryPath(buildDir: string = defaultBuildDir()): Promise<string> {
  const enc = new TextEncoder();
  const sources = await Promise.all(KERNEL_SOURCES.map(readSource));
  const hash = await sha256Hex([...sources, enc.encode(CFLAGS.join(" "))]);
  return `${buildDir}/libdistilbert_kernels-${hash.slice(0, 16)}.${LIB_EXT}`;
}

// Older builds are unlinked, never overwritten: a process that still has one open keeps its mapping.
async function removeStaleBuilds(buildDir: string, keep: string): Promise<void> {
  for await (const entry of Deno.readDir(buildDir)) {
    const path = `${buildDir}/${entry.name}`;
    if (entry.name.startsWith("libdistilbert_kernels-") && path !== keep) {
      await Deno.remove(path).catch(() => {});
    }
  }
}

/**
 * Compiles the kernels if the library for the current sources is missing; returns its path.
 * Writes to a temporary name and renames, so a process that has the old library open never sees a
 * half-written file.
 */
export async function ensureKernelsBuilt(buildDir: string = defaultBuildDir()): Promise<string> {
  const out = await kernelLibraryPath(buildDir);
  if (await exists(out)) return out;
  await Deno.mkdir(buildDir, { recursive: true });
  const srcDir = await Deno.makeTempDir({ prefix: "denobert-src-" });
  try {
    for (const name of KERNEL_SOURCES) await Deno.writeFile(`${srcDir}/${name}`, await readSource(name));
    const cc = Deno.env.get("CC") ?? "cc";
    const tmp = `${out}.${Deno.pid}.tmp`;
    const cFiles = KERNEL_SOURCES.filter((n) => n.endsWith(".c")).map((n) => `${srcDir}/${n}`);
    let result: Deno.CommandOutput;
    try {
      result = await new Deno.Command(cc, { args: [...CFLAGS, "-o", tmp, ...cFiles, ...LDLIBS] }).output();
    } catch (err) {
      throw new Error(
        `could not run the C compiler '${cc}' to build the DistilBERT kernels (${(err as Error).message}). ` +
          `Install one (Debian: apt-get install gcc) or set CC; Deno needs --allow-run for this step.`,
      );
    }
    if (!result.success) {
      const stderr = new TextDecoder().decode(result.stderr);
      throw new Error(`building the DistilBERT kernels with '${cc}' failed:\n${stderr}`);
    }
    await Deno.rename(tmp, out);
    await removeStaleBuilds(buildDir, out);
    return out;
  } finally {
    await Deno.remove(srcDir, { recursive: true });
  }
}

if (import.meta.main) {
  // For ffi/test/*.sh, so no script copies the flags: `--print-c-test-flags address|thread [march]`,
  // `--print-cflags` (the library's, for an executable), `--print-ldlibs`.
  if (Deno.args[0] === "--print-c-test-flags") {
    console.log(cTestFlags(Deno.args[1] === "thread" ? "thread" : "address", Deno.args[2]).join(" "));
  } else if (Deno.args[0] === "--print-cflags") {
    console.log(CFLAGS.filter((f) => f !== "-shared").join(" "));
  } else if (Deno.args[0] === "--print-ldlibs") {
    console.log(LDLIBS.join(" "));
  } else {
    console.log(await ensureKernelsBuilt());
  }
}
