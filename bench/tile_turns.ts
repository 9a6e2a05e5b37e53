// The fp32 micro-kernel's ceiling: builds bench/limits/tile.c (ffi/packed_linear.c's register tile on data in
// cache, taking turns with a fp32 FMA loop on one thread) with the library's own flags and runs it. A forward
// pass's linears cannot reach a larger fraction of the FMA peak than the tile does here.
//
// Usage: deno run -A bench/tile_turns.ts [--rounds 41]
// Prints one JSON line per case (x_l1: x and the weight slice in L1; x_l2: x from L2, as in a large batch).

import { parseArgs } from "node:util";
import { CFLAGS, LDLIBS } from "../ffi/build.ts";
import { buildBenchC, DEFAULT_OUT_DIR } from "./limits.ts";

/** One case's line, as tile.c prints it. */
export interface TileTurnsRow {
  kind: "tile_turns";
  case: "x_l1" | "x_l2";
  mr: number;
  pw: number;
  kc: number;
  rounds: number;
  /** Median of the FMA loop's rate over the rounds, one thread. */
  fma_gflops: number;
  /** Median of the rounds' tile / FMA-loop ratios, then their quartiles and the best round. */
  of_fma: number;
  of_fma_p25: number;
  of_fma_p75: number;
  of_fma_max: number;
}

const NUMBERS = [
  "mr",
  "pw",
  "kc",
  "rounds",
  "fma_gflops",
  "of_fma",
  "of_fma_p25",
  "of_fma_p75",
  "of_fma_max",
];

/**
 * Parses and checks tile.c's output: both cases once each, every field a positive number, the ratios ordered
 * (p25 <= median <= p75 <= max) and the median below 1.5 (a tile faster than the FMA loop by half again
 * means the loop or the tile was optimized away; a single round can be, when the host stalls the FMA loop).
 */
export function parseTileTurns(text: string): TileTurnsRow[] {
  const rows: TileTurnsRow[] = [];
  for (const [i, line] of text.split("\n").filter((l) => l.trim() !== "").entries()) {
    const where = `tile.c line ${i + 1}`;
    let row: TileTurnsRow;
    try {
      row = JSON.parse(line);
    } catch {
      throw new Error(`${where}: not JSON: ${line}`);
    }
    if (row.kind !== "tile_turns") throw new Error(`${where}: kind ${JSON.stringify(row.kind)}`);
    if (row.case !== "x_l1" && row.case !== "x_l2") throw new Error(`${where}: unknown case ${row.case}`);
    if (rows.some((r) => r.case === row.case)) throw new Error(`${where}: ${row.case} twice`);
    for (const f of NUMBERS) {
      const v = (row as unknown as Record<string, unknown>)[f];
      if (typeof v !== "number" || !(v > 0)) throw new Error(`${where}: ${f} is ${JSON.stringify(v)}`);
    }
    if (!(row.of_fma_p25 <= row.of_fma && row.of_fma <= row.of_fma_p75 && row.of_fma_p75 <= row.of_fma_max)) {
      throw new Error(`${where}: ratios out of order`);
    }
    if (row.of_fma >= 1.5) throw new Error(`${where}: the tile ran ${row.of_fma}x the FMA loop (median)`);
    rows.push(row);
  }
  if (rows.length !== 2) throw new Error(`tile.c printed ${rows.length} cases, not x_l1 and x_l2`);
  return rows;
}

/** tile.c built with the library's flags (an executable: no -shared / -fPIC), linked with the pool it calls. */
export function buildTile(outDir: string = DEFAULT_OUT_DIR): Promise<string> {
  const flags = CFLAGS.filter((f) => f !== "-shared" && f !== "-fPIC");
  const ffi = (f: string) => new URL(`../ffi/${f}`, import.meta.url);
  const sources = [new URL("limits/tile.c", import.meta.url), ffi("pool.c"), ffi("cpu.c")];
  // tile.c includes the kernel itself: a change to the tile must rebuild it.
  const included = ["packed_linear.c", "packed.h", "kernels.h", "pool.h", "vecmath.h", "cpu.h"].map(ffi);
  return buildBenchC("tile", sources, flags, LDLIBS, outDir, included);
}

/** Builds (unless built) and runs tile.c. */
export async function measureTile(
  options: { rounds?: number; binary?: string } = {},
): Promise<TileTurnsRow[]> {
  const binary = options.binary ?? await buildTile();
  const args = options.rounds === undefined ? [] : ["--rounds", String(options.rounds)];
  const out = await new Deno.Command(binary, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${binary} exited with code ${out.code}: ${dec.decode(out.stderr).trim()}`);
  }
  return parseTileTurns(dec.decode(out.stdout));
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { rounds: { type: "string", default: "41" } } });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10000) {
    throw new Error(`--rounds must be an integer from 1 to 10000, got "${values.rounds}"`);
  }
  for (const row of await measureTile({ rounds })) console.log(JSON.stringify(row));
}
