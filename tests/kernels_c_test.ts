// Builds ffi/test/test_kernels.c with every kernel source under AddressSanitizer + UBSan and runs it: every
// kernel against a double-precision reference on edge shapes, exp/erf/gelu accuracy sweeps, NaN/Inf, and
// the thread pool giving bit-identical results. Any failed check or sanitizer report fails the test.

import assert from "node:assert/strict";

const FFI = new URL("../ffi/", import.meta.url).pathname;

async function cSources(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(FFI)) if (e.isFile && e.name.endsWith(".c")) out.push(`${FFI}${e.name}`);
  return out.sort();
}

/** Whether /proc/cpuinfo lists every flag (false off Linux). */
function cpuHas(...flags: string[]): boolean {
  try {
    const line = /^flags\s*:(.*)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "";
    const have = new Set(line.trim().split(/\s+/));
    return flags.every((f) => have.has(f));
  } catch {
    return false;
  }
}

Deno.test("C kernels: reference checks under ASan + UBSan", () => runCTests("native"));

// The kernels' vector width follows the build's instruction set (16 floats with AVX-512, 8 with AVX2): on an
// AVX-512 machine the native build never runs the 8-wide code (6-token panels in the packed linear), which
// users without AVX-512 get. It once read past a panel there unnoticed.
Deno.test({
  name: "C kernels: the AVX2 (8-wide) build, under ASan + UBSan",
  ignore: !cpuHas("avx2", "fma"),
  fn: () => runCTests("haswell"),
});

async function runCTests(march: string) {
  const dir = await Deno.makeTempDir({ prefix: "denobert-ctest-" });
  try {
    const cc = Deno.env.get("CC") ?? "gcc";
    const exe = `${dir}/test_kernels`;
    const build = await new Deno.Command(cc, {
      args: [
        "-std=c11",
        "-O2",
        "-g",
        `-march=${march}`,
        "-ffp-contract=fast",
        "-pthread",
        "-fno-math-errno",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
        "-fno-omit-frame-pointer",
        "-o",
        exe,
        `${FFI}test/test_kernels.c`,
        ...await cSources(),
        "-lm",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.ok(build.success, `compiling the C kernel tests failed:\n${dec.decode(build.stderr)}`);
    const run = await new Deno.Command(exe, {
      env: {
        ASAN_OPTIONS: "halt_on_error=1:detect_leaks=1",
        UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = dec.decode(run.stdout), stderr = dec.decode(run.stderr);
    console.log(stdout.trimEnd());
    assert.ok(run.success, `C kernel tests failed (exit ${run.code}):\n${stdout}\n${stderr}`);
    assert.ok(!/runtime error|AddressSanitizer|LeakSanitizer/.test(stderr), `sanitizer report:\n${stderr}`);
    assert.match(stdout, /all kernel checks passed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
