/**
 * Every Unicode scalar value through our BERT normalizer + pre-tokenizer, against what the Rust tokenizer
 * does with it (`tests/fixtures/tokenizer/unicode_sweep.txt`, made by `scripts/make_unicode_sweep.ts`).
 */

import assert from "node:assert/strict";
import { compareSweep, ourOutcome, parseSweep, SWEEP_SETUPS } from "./tokenizer/unicode_sweep.ts";

const fixture = parseSweep(
  await Deno.readTextFile(new URL("./fixtures/tokenizer/unicode_sweep.txt", import.meta.url)),
);

Deno.test("unicode sweep: the fixture holds both setups", () => {
  assert.deepEqual(Object.keys(fixture).sort(), Object.keys(SWEEP_SETUPS).sort());
});

for (const [name, spec] of Object.entries(SWEEP_SETUPS)) {
  Deno.test(`unicode sweep (${name}): every scalar value normalizes and splits as in the Rust tokenizer`, () => {
    const { count, lines } = compareSweep(fixture[name], ourOutcome(spec));
    assert.deepEqual(lines.slice(0, 40), [], `${count} code points differ`);
  });
}
