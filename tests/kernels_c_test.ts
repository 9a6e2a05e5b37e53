// Builds the C test harnesses with every kernel source and the library's own flags (ffi/build.ts) and runs
// them: ffi/test/test_kernels.c under AddressSanitizer + UBSan (every kernel against a double-precision
// reference on edge shapes, exp/erf/gelu accuracy sweeps, NaN/Inf, the pool giving bit-identical results),
// and ffi/test/test_threads.c under ThreadSanitizer and under ASan (concurrent callers with different
// thread counts, serialised sgemm). Any failed check or sanitizer report fails the test.

import assert from "node:assert/strict";
import { CFLAGS, cTestFlags, type CTestSanitizer, KERNEL_SOURCES, LDLIBS } from "../ffi/build.ts";

const FFI = new URL("../ffi/", import.meta.url).pathname;

async function cSources(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(FFI)) if (e.isFile && e.name.endsWith(".c")) out.push(`${FFI}${e.name}`);
  return out.sort();
}

/**
 * Whether the CPU has every flag, as /proc/cpuinfo lists them (false off Linux). Read through `grep`: Deno
 * lets only --allow-all read /proc/cpuinfo, and the test task grants --allow-run but not that.
 */
async function cpuHas(...flags: string[]): Promise<boolean> {
  for (const flag of flags) {
    try {
      const out = await new Deno.Command("grep", { args: ["-qw", flag, "/proc/cpuinfo"] }).output();
      if (!out.success) return false;
    } catch {
      return false;
    }
  }
  return true;
}
const HAS_AVX2 = await cpuHas("avx2", "fma");

Deno.test("C kernels: reference checks under ASan + UBSan", () =>
  runCTests("test_kernels", "address", "native"));

// Every bf16 / int8 path this CPU can run (forced one by one) against plain references: the native build
// runs the AVX-512 micro-kernels, the Haswell build shows the plain C and AVX2 code compile and agree without
// AVX-512 in the rest of the library.
Deno.test("C kernels: bf16 and int8 paths under ASan + UBSan", () =>
  runCTests("test_lowp", "address", "native"));
Deno.test({
  name: "C kernels: bf16 and int8 paths, the AVX2 build, under ASan + UBSan",
  ignore: !HAS_AVX2,
  fn: () => runCTests("test_lowp", "address", "haswell"),
});

Deno.test(
  "C kernels: concurrent callers under ThreadSanitizer",
  () => runCTests("test_threads", "thread", "native"),
);

Deno.test(
  "C kernels: concurrent callers under ASan + UBSan",
  () => runCTests("test_threads", "address", "native"),
);

// The kernels' vector width follows the build's instruction set (16 floats with AVX-512, 8 with AVX2): on an
// AVX-512 machine the native build never runs the 8-wide code (6-token panels in the packed linear), which
// users without AVX-512 get. It once read past a panel there unnoticed.
Deno.test({
  name: "C kernels: the AVX2 (8-wide) build, under ASan + UBSan",
  ignore: !HAS_AVX2,
  fn: () => runCTests("test_kernels", "address", "haswell"),
});

// The same, end to end: the library built 8-wide, loaded through DENOBERT_KERNELS_PATH by a child `deno test`
// of the model parity tests (every layer against the PyTorch references) and the SST-2 model.
Deno.test({
  name: "the AVX2 (8-wide) build of the library passes the model parity tests",
  ignore: !HAS_AVX2,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "denobert-avx2-" });
    try {
      const lib = `${dir}/libdistilbert_kernels_avx2.so`;
      const flags = CFLAGS.map((f) => f === "-march=native" ? "-march=haswell" : f);
      const sources = KERNEL_SOURCES.filter((n) => n.endsWith(".c")).map((n) => `${FFI}${n}`);
      const build = await new Deno.Command(Deno.env.get("CC") ?? "gcc", {
        args: [...flags, "-o", lib, ...sources, ...LDLIBS],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.ok(build.success, `building the AVX2 library failed:\n${dec.decode(build.stderr)}`);
      const tests = ["model_test.ts", "sst2_test.ts"].map((f) => new URL(f, import.meta.url).pathname);
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["test", "-A", ...tests],
        env: { DENOBERT_KERNELS_PATH: lib },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = dec.decode(run.stdout) + dec.decode(run.stderr);
      assert.ok(run.success, `model tests on the AVX2 library failed:\n${out}`);
      assert.match(out, / 0 failed/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function runCTests(harness: string, sanitizer: CTestSanitizer, march: string) {
  const dir = await Deno.makeTempDir({ prefix: "denobert-ctest-" });
  try {
    const cc = Deno.env.get("CC") ?? "gcc";
    const exe = `${dir}/${harness}`;
    const build = await new Deno.Command(cc, {
      args: [
        ...cTestFlags(sanitizer, march),
        "-o",
        exe,
        `${FFI}test/${harness}.c`,
        ...await cSources(),
        ...LDLIBS,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.ok(build.success, `compiling ${harness}.c (${sanitizer}) failed:\n${dec.decode(build.stderr)}`);
    const run = await new Deno.Command(exe, {
      env: {
        ASAN_OPTIONS: "halt_on_error=1:detect_leaks=1",
        UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
        TSAN_OPTIONS: "halt_on_error=1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = dec.decode(run.stdout), stderr = dec.decode(run.stderr);
    console.log(stdout.trimEnd());
    assert.ok(run.success, `${harness} (${sanitizer}) failed (exit ${run.code}):\n${stdout}\n${stderr}`);
    assert.ok(
      !/runtime error|AddressSanitizer|LeakSanitizer|ThreadSanitizer/.test(stderr),
      `sanitizer report:\n${stderr}`,
    );
    assert.match(stdout, /all (kernel|concurrency)? ?checks passed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
