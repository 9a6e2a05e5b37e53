// The machine's limits, for bench/report.ts's "% of limit": builds bench/limits/limits.c (a standalone C
// microbenchmark: fp32 FMA, bf16 and int8 dot-product peaks, memory read bandwidth) and runs it.
//
// Usage: deno run -A bench/limits.ts [--threads N] [--seconds S] [--repeats R] [--mem-mib M]
//   [--max-isa avx512|avx2|scalar] [--only fp32_fma,bf16_dot,int8_dot,mem_read]
// prints the JSON lines; `measureLimits()` returns them parsed.

import { parseArgs } from "node:util";
import { CFLAGS } from "../ffi/build.ts";

/** What limits.c measures, and the unit of each. */
export const LIMIT_UNITS = {
  fp32_fma: "GFLOP/s",
  bf16_dot: "GFLOP/s",
  int8_dot: "Gop/s",
  mem_read: "GB/s",
} as const;
export type LimitName = keyof typeof LIMIT_UNITS;

/**
 * The CPU features limits.c looks for, spelled as in /proc/cpuinfo ("amx": AMX-BF16 and AMX-INT8 tiles, which
 * Linux granted the process).
 */
export const CPU_FLAGS = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx"] as const;

export interface CpuRow {
  kind: "cpu";
  /** /proc/cpuinfo's "model name" (else the CPUID brand string, else "unknown"). */
  model: string;
  /** The subset of {@link CPU_FLAGS} the CPU has and the OS enables. */
  flags: string[];
}

export interface LimitRow {
  kind: "limit";
  what: LimitName;
  unit: string;
  /** The best repetition's rate, in `unit`. */
  value: number;
  threads: number;
  /** Register width / instruction set used: "amx" (tiles), "avx512" (zmm), "avx2" or "avx_vnni" (ymm), "scalar". */
  isa: string;
  instruction: string;
  /** mem_read only: the buffer's size. */
  bytes?: number;
}

export interface MachineLimits {
  cpu: CpuRow;
  /** One row per measurement the CPU could run; mem_read is always there. */
  limits: LimitRow[];
}

export interface LimitsOptions {
  /** Threads per measurement (default: limits.c's, the online CPUs). */
  threads?: number;
  /** Length of one repetition in seconds (default 0.2). */
  seconds?: number;
  /** Repetitions per measurement, the best kept (default 5). */
  repeats?: number;
  /** Memory read buffer in MiB (default max(512, 8x L3)). */
  memMib?: number;
  /** The widest code path to use (default avx512): runs the narrower kernels on a CPU that has wider ones. */
  maxIsa?: "avx512" | "avx2" | "scalar";
  /** Measure only these (default: all; a measurement the CPU cannot run is left out either way). */
  only?: readonly LimitName[];
  /** A limits binary already built (default: {@link buildLimits}'s). */
  binary?: string;
}

const SOURCE = new URL("limits/limits.c", import.meta.url);
export const DEFAULT_OUT_DIR = decodeURIComponent(new URL("out/", import.meta.url).pathname);

/**
 * The library's flags where they apply to an executable: no -march (each kernel names its instruction set
 * with a target attribute, chosen at run time), no -shared/-fPIC, and -O2: the loops are hand-written
 * intrinsics, and higher levels only reorder them.
 */
export const LIMITS_CFLAGS: readonly string[] = [
  "-O2",
  ...CFLAGS.filter((f) => ["-std=c11", "-pthread", "-Wall", "-Wextra"].includes(f)),
];

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Compiles a benchmark's C program (`sources`: its file and any it links with, as file URLs) into `outDir`
 * as `<name>-<hash>` unless a binary of the same sources, compiler and flags is there; returns its path.
 * `included`: the files those sources #include, hashed too (not compiled), so an edit to one rebuilds.
 * Written to a temporary name and renamed, so a concurrent run never executes a half-written file; builds of
 * older sources are unlinked.
 */
export async function buildBenchC(
  name: string,
  sources: readonly URL[],
  flags: readonly string[],
  libs: readonly string[],
  outDir: string,
  included: readonly URL[] = [],
): Promise<string> {
  const cc = Deno.env.get("CC") ?? "cc";
  const paths = sources.map((u) => decodeURIComponent(u.pathname));
  const parts = [new TextEncoder().encode(`${cc}\n${flags.join(" ")}\n${libs.join(" ")}\n`)];
  for (const src of [...sources, ...included]) parts.push(await Deno.readFile(src));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const dir = outDir.replace(/\/$/, "");
  const out = `${dir}/${name}-${(await sha256Hex(all)).slice(0, 16)}`;
  try {
    await Deno.stat(out);
    return out;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await Deno.mkdir(outDir, { recursive: true });
  const tmp = `${out}.${Deno.pid}.tmp`;
  const what = paths.join(" ");
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(cc, {
      args: [...flags, "-o", tmp, ...paths, ...libs],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new Error(
      `could not run the C compiler '${cc}' for ${what} (${(err as Error).message}); install one or set CC`,
    );
  }
  if (!result.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`compiling ${what} with '${cc}' failed:\n${new TextDecoder().decode(result.stderr)}`);
  }
  await Deno.rename(tmp, out);
  // A run still executing an older build keeps it until it exits.
  const stale = new RegExp(`^${name}-[0-9a-f]{16}$`);
  for await (const e of Deno.readDir(outDir)) {
    const path = `${dir}/${e.name}`;
    if (stale.test(e.name) && path !== out) await Deno.remove(path).catch(() => {});
  }
  return out;
}

/** Compiles limits.c into `outDir` (default bench/out/, git-ignored) once per source, compiler and flags. */
export function buildLimits(outDir: string = DEFAULT_OUT_DIR): Promise<string> {
  return buildBenchC("limits", [SOURCE], LIMITS_CFLAGS, [], outDir);
}

/** limits.c's command line for `options` (the binary checks the ranges and names a bad value). */
export function limitsArgs(options: LimitsOptions = {}): string[] {
  const args: string[] = [];
  if (options.threads !== undefined) args.push("--threads", String(options.threads));
  if (options.seconds !== undefined) args.push("--seconds", String(options.seconds));
  if (options.repeats !== undefined) args.push("--repeats", String(options.repeats));
  if (options.memMib !== undefined) args.push("--mem-mib", String(options.memMib));
  if (options.maxIsa !== undefined) args.push("--max-isa", options.maxIsa);
  if (options.only !== undefined) args.push("--only", options.only.join(","));
  return args;
}

/**
 * Parses and checks limits.c's output: one cpu line, then limit lines with known names and positive values,
 * only those in `only` when given (mem_read, which every CPU can run, there exactly when asked for).
 */
export function parseLimits(text: string, only?: readonly LimitName[]): MachineLimits {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  let cpu: CpuRow | undefined;
  const limits: LimitRow[] = [];
  lines.forEach((line, i) => {
    const where = `limits.c output line ${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch {
      throw new Error(`${where} is not JSON: ${line}`);
    }
    if (row.kind === "cpu") {
      if (cpu) throw new Error(`${where}: a second cpu line`);
      const flags = row.flags;
      if (typeof row.model !== "string" || row.model === "") throw new Error(`${where}: no CPU model`);
      if (!Array.isArray(flags) || !flags.every((f) => (CPU_FLAGS as readonly unknown[]).includes(f))) {
        throw new Error(`${where}: flags must be a subset of ${CPU_FLAGS.join(", ")}: ${line}`);
      }
      cpu = { kind: "cpu", model: row.model, flags };
    } else if (row.kind === "limit") {
      const what = row.what as LimitName;
      if (!Object.hasOwn(LIMIT_UNITS, what)) {
        throw new Error(`${where}: unknown limit ${JSON.stringify(what)}`);
      }
      if (limits.some((l) => l.what === what)) throw new Error(`${where}: ${what} twice`);
      if (only && !only.includes(what)) throw new Error(`${where}: ${what}, which was not asked for`);
      if (row.unit !== LIMIT_UNITS[what]) {
        throw new Error(`${where}: ${what} in ${row.unit}, not ${LIMIT_UNITS[what]}`);
      }
      const value = row.value, threads = row.threads;
      if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
        throw new Error(`${where}: ${what} value must be a positive number: ${line}`);
      }
      if (typeof threads !== "number" || !Number.isInteger(threads) || threads < 1) {
        throw new Error(`${where}: threads must be a positive integer: ${line}`);
      }
      if (typeof row.isa !== "string" || typeof row.instruction !== "string") {
        throw new Error(`${where}: isa and instruction must be strings: ${line}`);
      }
      const bytes = row.bytes;
      if (what === "mem_read" && (typeof bytes !== "number" || !(bytes > 0))) {
        throw new Error(`${where}: mem_read without its buffer size: ${line}`);
      }
      limits.push({
        kind: "limit",
        what,
        unit: LIMIT_UNITS[what],
        value,
        threads,
        isa: row.isa,
        instruction: row.instruction,
        ...(what === "mem_read" ? { bytes: bytes as number } : {}),
      });
    } else {
      throw new Error(`${where}: unknown kind ${JSON.stringify(row.kind)}`);
    }
  });
  if (!cpu) throw new Error("limits.c printed no cpu line");
  if ((!only || only.includes("mem_read")) && !limits.some((l) => l.what === "mem_read")) {
    throw new Error("limits.c printed no mem_read line");
  }
  return { cpu, limits };
}

/** Builds limits.c if needed, runs it, and returns its rows. Throws with its stderr when it fails. */
/** Each limit's better value of two measurements on the same machine (rows of `a` missing from `b` kept). */
export function bestLimits(a: MachineLimits, b: MachineLimits): MachineLimits {
  return {
    cpu: a.cpu,
    limits: a.limits.map((row) => {
      const other = b.limits.find((r) => r.what === row.what);
      return other && other.value > row.value ? other : row;
    }),
  };
}

export async function measureLimits(options: LimitsOptions = {}): Promise<MachineLimits> {
  const binary = options.binary ?? await buildLimits();
  const out = await new Deno.Command(binary, { args: limitsArgs(options), stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${binary} exited with code ${out.code}: ${dec.decode(out.stderr).trim()}`);
  }
  return parseLimits(dec.decode(out.stdout), options.only);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      threads: { type: "string" },
      seconds: { type: "string" },
      repeats: { type: "string" },
      "mem-mib": { type: "string" },
      "max-isa": { type: "string" },
      only: { type: "string" },
    },
  });
  // Only checked for being numbers here: limits.c checks the ranges and names the option out of range.
  const num = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === "" || Number.isNaN(n)) throw new Error(`--${flag} must be a number, got "${v}"`);
    return n;
  };
  const result = await measureLimits({
    threads: num("threads", values.threads),
    seconds: num("seconds", values.seconds),
    repeats: num("repeats", values.repeats),
    memMib: num("mem-mib", values["mem-mib"]),
    // limits.c names a value it does not know.
    maxIsa: values["max-isa"] as LimitsOptions["maxIsa"],
    only: values.only?.split(",") as LimitName[] | undefined,
  });
  for (const row of [result.cpu, ...result.limits]) console.log(JSON.stringify(row));
}
