// The weight formats a benchmark row can run in (the model's `dtype` load option) and which machine limit
// (bench/limits/limits.c) each is measured against.

import type { LimitName } from "./limits.ts";

export const DTYPES = ["fp32", "bf16", "q8"] as const;
export type Dtype = typeof DTYPES[number];

/** fp32 runs on FMAs, bf16 on vdpbf16ps, q8 on vpdpbusd. */
export const DTYPE_LIMIT: Record<Dtype, LimitName> = { fp32: "fp32_fma", bf16: "bf16_dot", q8: "int8_dot" };

/** `--dtypes fp32,bf16,q8`: known names, each once, at least one. */
export function parseDtypes(text: string): Dtype[] {
  const names = text.split(",").map((s) => s.trim());
  const out: Dtype[] = [];
  for (const name of names) {
    if (!(DTYPES as readonly string[]).includes(name)) {
      throw new Error(`--dtypes: unknown dtype ${JSON.stringify(name)} (dtypes: ${DTYPES.join(", ")})`);
    }
    if (out.includes(name as Dtype)) throw new Error(`--dtypes: ${name} given twice`);
    out.push(name as Dtype);
  }
  return out;
}

/** A result row's dtype: fp32 when absent (rows from before the option existed). */
export function rowDtype(row: { dtype?: unknown }): Dtype {
  if (row.dtype === undefined) return "fp32";
  if (!(DTYPES as readonly unknown[]).includes(row.dtype)) {
    throw new Error(
      `benchmark row with unknown dtype ${JSON.stringify(row.dtype)} (dtypes: ${DTYPES.join(", ")})`,
    );
  }
  return row.dtype as Dtype;
}
