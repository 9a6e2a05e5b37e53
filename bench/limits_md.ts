// BENCHMARKS.md's pieces about the machine's limits: the "Machine limits" section, and a row's percentage of
// the limit for its dtype.

import { type Dtype, DTYPE_LIMIT } from "./dtypes.ts";
import { LIMIT_UNITS, type LimitName, type MachineLimits } from "./limits.ts";

const LABELS: Record<LimitName, string> = {
  fp32_fma: "fp32 FMA",
  bf16_dot: "bf16 dot product",
  int8_dot: "int8 dot product",
  mem_read: "memory read",
};

/** The CPU features without which limits.c leaves a compute limit out. */
const NEEDS: Record<LimitName, string> = {
  fp32_fma: "avx512f or avx2+fma",
  bf16_dot: "avx512_bf16",
  int8_dot: "avx512_vnni or avx_vnni",
  mem_read: "",
};

/**
 * `gflops` as a percentage of the limit for `dtype` ("51%"), or "n/a" when this CPU has no such instruction
 * (limits.c left the limit out).
 */
export function percentOfLimit(gflops: number, dtype: Dtype, machine: MachineLimits): string {
  const limit = machine.limits.find((l) => l.what === DTYPE_LIMIT[dtype]);
  return limit ? `${(100 * gflops / limit.value).toFixed(0)}%` : "n/a";
}

/** The "Machine limits" section: how they were measured, the CPU, and one table row per limit. */
export function limitsSection(machine: MachineLimits, run: { seconds: number; repeats: number }): string {
  const threads = [...new Set(machine.limits.map((l) => l.threads))].join("/");
  const mem = machine.limits.find((l) => l.what === "mem_read")!;
  const lines = [
    "## Machine limits",
    "",
    `Measured before and after the cases by \`bench/limits/limits.c\` (\`deno run -A bench/limits.ts\`), ` +
    `the better of the two kept, on ` +
    `${threads} threads, each the best of ${run.repeats} repetitions of ~${run.seconds} s. CPU: **${machine.cpu.model}** ` +
    `(${
      machine.cpu.flags.join(", ") || "none of avx2, fma, avx512f, avx512_bf16, avx512_vnni, avx_vnni"
    }). ` +
    "The compute peaks run 24 (zmm) or 12 (ymm) independent accumulator chains per thread in registers " +
    "(AMX: four accumulator tiles), so they are the rate at which the vector (or tile) units issue that " +
    "instruction, which no kernel built on it can beat. FLOPs are counted per lane: an fp32 zmm FMA is 32, a " +
    "`vdpbf16ps` zmm 64 (32 multiply-adds), a `vpdpbusd` zmm 128 int ops (64 multiply-adds of u8 x s8), a " +
    "`tdpbf16ps` 16,384 and a `tdpbsud` 32,768 (16x16 sums of 32 bf16 pairs / 64 byte products). Where the CPU " +
    "has AMX and Linux grants it, the bf16 and int8 limits are AMX's, the instructions the library runs " +
    "there. The memory read sums a " +
    `${(mem.bytes! / 2 ** 20).toFixed(0)} MiB buffer, split between the threads.`,
    "",
    "| limit | instruction | threads | value |",
    "|---|---|---|---|",
  ];
  for (const what of Object.keys(LIMIT_UNITS) as LimitName[]) {
    const l = machine.limits.find((x) => x.what === what);
    lines.push(
      l
        ? `| ${LABELS[what]} | \`${l.instruction}\` | ${l.threads} | **${
          l.value.toFixed(l.value < 100 ? 1 : 0)
        } ` +
          `${l.unit}** |`
        : `| ${LABELS[what]} | not measured: the CPU lacks ${NEEDS[what]} | | |`,
    );
  }
  return lines.join("\n");
}
