// bench/limits/limits.c (the machine's limits behind BENCHMARKS.md's "% of limit") and what bench:report makes
// of it. The C program is compiled and run for a few milliseconds: its output must have the documented shape,
// name the CPU /proc/cpuinfo names, measure exactly the limits the CPU's flags allow, and give values that
// are positive and physically possible (an eliminated loop gives absurd ones). Nothing here is timed
// against anything else.

import assert from "node:assert/strict";
import { DTYPE_LIMIT, parseDtypes, rowDtype } from "../bench/dtypes.ts";
import {
  bestLimits,
  buildBenchC,
  buildLimits,
  CPU_FLAGS,
  LIMIT_UNITS,
  type LimitName,
  type MachineLimits,
  measureLimits,
  parseLimits,
} from "../bench/limits.ts";
import { limitsSection, percentOfLimit } from "../bench/limits_md.ts";

const QUICK = { threads: 2, seconds: 0.01, repeats: 1, memMib: 16 };

async function withBinary(fn: (binary: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "denobert-limits-" });
  try {
    await fn(await buildLimits(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** /proc/cpuinfo through grep (Deno lets only --allow-all read it): the first match of `pattern`, or null. */
async function cpuinfo(args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("grep", { args: [...args, "/proc/cpuinfo"], stdout: "piped" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}
const ON_LINUX_X86 = Deno.build.os === "linux" && Deno.build.arch === "x86_64";

// Per thread, far above any CPU (a 512-bit unit issuing 4 such instructions a cycle at 8 GHz; an AMX unit
// finishing 4 times its 16-cycle tile rate, also at 8 GHz) and any memory: a loop the compiler removed, or a
// miscounted rate, lands beyond them; a busy machine only lowers a value.
const PER_THREAD_CEILING: Record<LimitName, number> = {
  fp32_fma: 4 * 32 * 8,
  bf16_dot: 4 * 64 * 8,
  int8_dot: 4 * 128 * 8,
  mem_read: 2000,
};
const AMX_CEILING: Partial<Record<LimitName, number>> = { bf16_dot: 4 * 1024 * 8, int8_dot: 4 * 2048 * 8 };

type MaxIsa = "avx512" | "avx2" | "scalar";

/** The [limit, isa] lines limits.c must print for a CPU with `flags`, its code capped at `maxIsa`. */
function expectedLimits(flags: Set<string>, maxIsa: MaxIsa): [LimitName, string][] {
  const wide = maxIsa === "avx512", avx2 = maxIsa !== "scalar";
  const has = (f: string) => flags.has(f) && (f.startsWith("avx512") ? wide : avx2);
  const out: [LimitName, string][] = [];
  if (has("avx512f")) out.push(["fp32_fma", "avx512"]);
  else if (has("avx2") && has("fma")) out.push(["fp32_fma", "avx2"]);
  if (flags.has("amx") && wide) out.push(["bf16_dot", "amx"]);
  else if (has("avx512_bf16")) out.push(["bf16_dot", "avx512"]);
  if (flags.has("amx") && wide) out.push(["int8_dot", "amx"]);
  else if (has("avx512_vnni")) out.push(["int8_dot", "avx512"]);
  else if (has("avx_vnni")) out.push(["int8_dot", "avx_vnni"]);
  out.push(["mem_read", has("avx512f") ? "avx512" : has("avx2") ? "avx2" : "scalar"]);
  return out;
}

Deno.test("limits.c: builds, names the CPU, and measures each limit its flags allow, positive and possible", async () => {
  await withBinary(async (binary) => {
    // Every code path this CPU can run: the widest, and capped at AVX2 and at plain C.
    for (const maxIsa of ["avx512", "avx2", "scalar"] as const) {
      const run = await new Deno.Command(binary, {
        args: [
          "--threads",
          "2",
          "--seconds",
          "0.01",
          "--repeats",
          "1",
          "--mem-mib",
          "16",
          "--max-isa",
          maxIsa,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.equal(run.code, 0, dec.decode(run.stderr));
      const text = dec.decode(run.stdout);
      const lines = text.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines[0].kind, "cpu", "the cpu line comes first");
      for (const l of lines) {
        const keys = l.kind === "cpu" ? ["flags", "kind", "model"] : [
          "instruction",
          "isa",
          "kind",
          "threads",
          "unit",
          "value",
          "what",
          ...(l.what === "mem_read" ? ["bytes"] : []),
        ];
        assert.deepEqual(Object.keys(l).sort(), keys.sort(), JSON.stringify(l));
      }
      const { cpu, limits } = parseLimits(text);
      const flags = new Set(cpu.flags);
      assert.deepEqual(
        limits.map((l) => [l.what, l.isa]),
        expectedLimits(flags, maxIsa),
        `--max-isa ${maxIsa}`,
      );
      for (const l of limits) {
        assert.equal(l.threads, 2, l.what);
        assert.ok(
          l.value > 0 &&
            l.value <=
              2 * ((l.isa === "amx" ? AMX_CEILING[l.what] : undefined) ?? PER_THREAD_CEILING[l.what]),
          `${l.what} = ${l.value} ${l.unit}`,
        );
      }
      assert.equal(limits.find((l) => l.what === "mem_read")!.bytes, 16 * 2 ** 20);

      if (ON_LINUX_X86 && maxIsa === "avx512") {
        // The same CPU as the kernel reports: its name, and each flag present exactly when /proc/cpuinfo lists it.
        const model = await cpuinfo(["-m1", "^model name"]);
        if (model !== null) assert.equal(cpu.model, model.slice(model.indexOf(":") + 1).trim());
        for (const f of CPU_FLAGS) {
          // "amx": the three AMX flags, and Linux granting the tiles (which a kernel may refuse).
          const names = f === "amx" ? ["amx_bf16", "amx_tile", "amx_int8"] : [f];
          let listed = true;
          for (const name of names) listed &&= (await cpuinfo(["-m1", "-w", name])) !== null;
          if (f === "amx" && !flags.has(f)) continue;
          assert.equal(flags.has(f), listed, `flag ${f}: limits.c ${flags.has(f)}, /proc/cpuinfo ${listed}`);
        }
      }
    }
  });
});

Deno.test("limits.c: a bad option exits with code 2 and names it; measureLimits() throws with that message", async () => {
  await withBinary(async (binary) => {
    const dec = new TextDecoder();
    for (
      const [args, named] of [
        [["--threads", "0"], "--threads"],
        [["--seconds", "fast"], "--seconds"],
        [["--repeats", "1.5"], "--repeats"],
        [["--mem-mib"], "--mem-mib needs a value"],
        [["--threads=2"], '"--threads=2"'],
        [["--max-isa", "sse"], "--max-isa must be avx512, avx2 or scalar"],
        [
          ["--only", "fp32_fma,fp16_fma"],
          '--only takes a comma-separated list of fp32_fma, bf16_dot, int8_dot, mem_read; got "fp32_fma,fp16_fma"',
        ],
        [["--only", "fp32_fma,"], "--only takes"],
      ] as const
    ) {
      const out = await new Deno.Command(binary, { args: [...args], stdout: "piped", stderr: "piped" })
        .output();
      assert.equal(out.code, 2, args.join(" "));
      assert.match(
        dec.decode(out.stderr),
        new RegExp(named.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
        args.join(" "),
      );
      assert.equal(dec.decode(out.stdout), "", "nothing measured");
    }
    await assert.rejects(
      measureLimits({ ...QUICK, threads: 0, binary }),
      /--threads must be an integer from 1/,
    );
    // And a good run through measureLimits(), the path bench:report takes.
    const machine = await measureLimits({ ...QUICK, binary });
    assert.ok(machine.limits.some((l) => l.what === "mem_read"));
    // --only: just those, in the order limits.c prints (mem_read last); what the CPU cannot run still left out.
    const fp32 = machine.limits.some((l) => l.what === "fp32_fma") ? ["fp32_fma"] : [];
    const some = await measureLimits({ ...QUICK, binary, only: ["mem_read", "fp32_fma"] });
    assert.deepEqual(some.limits.map((l) => l.what), [...fp32, "mem_read"]);
    const memless = await measureLimits({ ...QUICK, binary, only: ["fp32_fma"] });
    assert.deepEqual(memless.limits.map((l) => l.what), fp32);
  });
});

const CPU = '{"kind":"cpu","model":"Test CPU","flags":["avx2","fma"]}';
const limit = (what: string, value: number, extra = "") =>
  `{"kind":"limit","what":"${what}","unit":"${
    LIMIT_UNITS[what as LimitName] ?? "GFLOP/s"
  }","value":${value},"threads":2,"isa":"avx2","instruction":"x"${extra}}`;
const MEM = limit("mem_read", 40, ',"bytes":536870912');

Deno.test("parseLimits: rejects output that is not what limits.c prints, naming the line", () => {
  const bad: [string, RegExp][] = [
    [`${MEM}`, /no cpu line/],
    [`${CPU}\n${limit("fp32_fma", 100)}`, /no mem_read line/],
    [`${CPU}\nnot json\n${MEM}`, /line 2 is not JSON/],
    [`${CPU}\n${CPU}\n${MEM}`, /line 2: a second cpu line/],
    [`${CPU}\n${limit("fp16_fma", 100)}\n${MEM}`, /line 2: unknown limit "fp16_fma"/],
    [`${CPU}\n${limit("fp32_fma", 0)}\n${MEM}`, /line 2: fp32_fma value must be a positive number/],
    [`${CPU}\n${limit("fp32_fma", 1)}\n${limit("fp32_fma", 2)}\n${MEM}`, /line 3: fp32_fma twice/],
    [
      `${CPU}\n${limit("int8_dot", 1).replace("Gop/s", "GFLOP/s")}\n${MEM}`,
      /int8_dot in GFLOP\/s, not Gop\/s/,
    ],
    [`${CPU}\n${limit("mem_read", 40)}`, /mem_read without its buffer size/],
    [`${CPU.replace('"fma"', '"sse2"')}\n${MEM}`, /flags must be a subset/],
    [`{"kind":"other"}\n${CPU}\n${MEM}`, /line 1: unknown kind "other"/],
  ];
  for (const [text, err] of bad) assert.throws(() => parseLimits(text), err, text);
  // Asked for a subset: a row outside it is an error, and mem_read is required only when asked for.
  const fp32Only = ["fp32_fma"] as const;
  assert.throws(
    () => parseLimits(`${CPU}\n${limit("fp32_fma", 1)}\n${MEM}`, fp32Only),
    /mem_read, which was not asked for/,
  );
  assert.deepEqual(parseLimits(`${CPU}\n${limit("fp32_fma", 1)}`, fp32Only).limits.map((l) => l.what), [
    "fp32_fma",
  ]);
  assert.throws(
    () => parseLimits(`${CPU}\n${limit("fp32_fma", 1)}`, ["fp32_fma", "mem_read"]),
    /no mem_read line/,
  );
  const ok = parseLimits(`${CPU}\n${limit("fp32_fma", 123.5)}\n${MEM}\n`);
  assert.deepEqual(ok.cpu, { kind: "cpu", model: "Test CPU", flags: ["avx2", "fma"] });
  assert.deepEqual(ok.limits.map((l) => [l.what, l.value, l.bytes]), [["fp32_fma", 123.5, undefined], [
    "mem_read",
    40,
    536870912,
  ]]);
});

function machine(values: Partial<Record<LimitName, number>>): MachineLimits {
  return parseLimits(
    [
      CPU,
      ...Object.entries(values).map(([w, v]) => limit(w, v!, w === "mem_read" ? ',"bytes":536870912' : "")),
    ]
      .join("\n"),
  );
}

Deno.test("% of limit: each dtype against its own limit, n/a when the CPU has none; rows without dtype are fp32", () => {
  const m = machine({ fp32_fma: 200, bf16_dot: 400, int8_dot: 800, mem_read: 40 });
  assert.deepEqual(DTYPE_LIMIT, { fp32: "fp32_fma", bf16: "bf16_dot", q8: "int8_dot" });
  assert.equal(percentOfLimit(100, rowDtype({}), m), "50%");
  assert.equal(percentOfLimit(100, rowDtype({ dtype: "fp32" }), m), "50%");
  assert.equal(percentOfLimit(100, rowDtype({ dtype: "bf16" }), m), "25%");
  assert.equal(percentOfLimit(100, rowDtype({ dtype: "q8" }), m), "13%");
  const noVnni = machine({ fp32_fma: 200, mem_read: 40 });
  assert.equal(percentOfLimit(100, "q8", noVnni), "n/a");
  assert.throws(() => rowDtype({ dtype: "fp16" }), /unknown dtype "fp16"/);

  const md = limitsSection(noVnni, { seconds: 0.2, repeats: 5 });
  assert.match(md, /CPU: \*\*Test CPU\*\* \(avx2, fma\)/);
  assert.match(md, /\| fp32 FMA \| `x` \| 2 \| \*\*200 GFLOP\/s\*\* \|/);
  assert.match(md, /\| memory read \| `x` \| 2 \| \*\*40\.0 GB\/s\*\* \|/);
  assert.match(md, /\| int8 dot product \| not measured: the CPU lacks avx512_vnni or avx_vnni \|/);
  assert.match(md, /512 MiB buffer/);
});

Deno.test("bestLimits: each limit's better value of two measurements, rows only the first has kept", () => {
  const before = machine({ fp32_fma: 200, bf16_dot: 400, int8_dot: 800, mem_read: 40 });
  const after = machine({ fp32_fma: 230, bf16_dot: 380, mem_read: 45 });
  const best = bestLimits(before, after);
  const value = (what: LimitName) => best.limits.find((l) => l.what === what)?.value;
  assert.deepEqual([value("fp32_fma"), value("bf16_dot"), value("int8_dot"), value("mem_read")], [
    230,
    400,
    800,
    45,
  ]);
  assert.equal(best.cpu, before.cpu);
});

Deno.test("--dtypes: known names, each once", () => {
  assert.deepEqual(parseDtypes("fp32"), ["fp32"]);
  assert.deepEqual(parseDtypes("fp32,bf16,q8"), ["fp32", "bf16", "q8"]);
  assert.throws(() => parseDtypes("fp32,int4"), /--dtypes: unknown dtype "int4"/);
  assert.throws(() => parseDtypes(""), /--dtypes: unknown dtype ""/);
  assert.throws(() => parseDtypes("bf16,bf16"), /--dtypes: bf16 given twice/);
});

Deno.test("buildBenchC: a change to a source or to a file it includes rebuilds; the same inputs reuse the binary", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denobert-benchc-" });
  try {
    const main = new URL(`file://${dir}/main.c`), inc = new URL(`file://${dir}/value.h`);
    await Deno.writeTextFile(
      main,
      '#include <stdio.h>\n#include "value.h"\nint main(void) { printf("%d", VALUE); }\n',
    );
    const run = async (value: number) => {
      await Deno.writeTextFile(inc, `#define VALUE ${value}\n`);
      const binary = await buildBenchC("probe", [main], ["-O0"], [], `${dir}/out`, [inc]);
      const out = await new Deno.Command(binary, { stdout: "piped" }).output();
      return { binary, printed: new TextDecoder().decode(out.stdout) };
    };
    const first = await run(1), again = await run(1), changed = await run(2);
    assert.equal(first.printed, "1");
    assert.equal(again.binary, first.binary);
    assert.equal(changed.printed, "2");
    assert.notEqual(changed.binary, first.binary);
    // The older build is removed once the new one is in place.
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name), [
      changed.binary.split("/").pop(),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
