// The weight formats a benchmark row can run in (the model's `dtype` load option, whose list is the
// library's) and which machine limit (bench/limits/limits.c) each is measured against.

import { type Dtype, DTYPES } from "../src/backend.ts";
import type { LimitName } from "./limits.ts";

export { type Dtype, DTYPES };

/** Checks a `--dtype` value. */
export function parseDtype(value: string, option = "--dtype"): Dtype {
  if (!(DTYPES as readonly string[]).includes(value)) {
    throw new Error(`${option} must be one of ${DTYPES.join(", ")}, got "${value}"`);
  }
  return value as Dtype;
}

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
