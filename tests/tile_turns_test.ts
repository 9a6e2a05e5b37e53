// bench/limits/tile.c (the fp32 register tile against the FMA loop) and bench/tile_turns.ts's checks of its
// output. The program is built with the library's flags and run for a few rounds: it must print both cases
// in the documented shape with ratios that are possible. Nothing here is timed against anything else.

import assert from "node:assert/strict";
import { buildTile, measureTile, parseTileTurns, type TileTurnsRow } from "../bench/tile_turns.ts";

function row(overrides: Partial<TileTurnsRow> = {}): TileTurnsRow {
  return {
    kind: "tile_turns",
    case: "x_l1",
    mr: 12,
    pw: 32,
    kc: 128,
    rounds: 41,
    fma_gflops: 130,
    of_fma: 0.8,
    of_fma_p25: 0.78,
    of_fma_p75: 0.9,
    of_fma_max: 0.97,
    ...overrides,
  };
}

function lines(...rows: object[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
}

Deno.test("tile_turns: both cases parse; a missing, doubled or unknown case is an error", () => {
  const parsed = parseTileTurns(lines(row(), row({ case: "x_l2" })));
  assert.deepEqual(parsed.map((r) => r.case), ["x_l1", "x_l2"]);
  assert.throws(() => parseTileTurns(lines(row())), /printed 1 cases/);
  assert.throws(() => parseTileTurns(lines(row(), row())), /x_l1 twice/);
  assert.throws(() => parseTileTurns(lines(row(), row({ case: "x_l3" as "x_l2" }))), /unknown case x_l3/);
  assert.throws(() => parseTileTurns("not json\n"), /line 1: not JSON/);
});

Deno.test("tile_turns: a field that is not a positive number, ratios out of order, or an impossible median", () => {
  const l2 = row({ case: "x_l2" });
  assert.throws(() => parseTileTurns(lines(row({ kc: 0 }), l2)), /kc is 0/);
  assert.throws(
    () => parseTileTurns(lines(row({ fma_gflops: "fast" as unknown as number }), l2)),
    /fma_gflops/,
  );
  assert.throws(() => parseTileTurns(lines(row({ of_fma_p25: 0.85 }), l2)), /out of order/);
  assert.throws(() => parseTileTurns(lines(row({ of_fma_max: 0.85 }), l2)), /out of order/);
  assert.throws(
    () => parseTileTurns(lines(row({ of_fma: 1.6, of_fma_p25: 1.5, of_fma_p75: 1.7, of_fma_max: 2 }), l2)),
    /1.6x the FMA loop/,
  );
  // One outlier round is allowed: the host can stall a round's FMA loop.
  assert.equal(parseTileTurns(lines(row({ of_fma_max: 3 }), l2)).length, 2);
});

Deno.test("tile_turns: tile.c builds with the library's flags and prints both cases", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denobert-tile-" });
  try {
    const binary = await buildTile(dir);
    const rows = await measureTile({ binary, rounds: 3 });
    // The k slice the library itself uses.
    const source = await Deno.readTextFile(new URL("../ffi/packed_linear.c", import.meta.url));
    const kc = Number(source.match(/^#define KC (\d+)$/m)?.[1]);
    for (const r of rows) {
      assert.equal(r.rounds, 3);
      assert.equal(r.kc, kc);
      // The kernel's shape: 12 tokens x 32 features with AVX-512, 6 x 16 with AVX2.
      assert.ok((r.mr === 12 && r.pw === 32) || (r.mr === 6 && r.pw === 16), JSON.stringify(r));
    }
    const bad = await new Deno.Command(binary, { args: ["--rounds", "0"], stderr: "piped" }).output();
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /--rounds takes an integer from 1 to 10000, got "0"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
