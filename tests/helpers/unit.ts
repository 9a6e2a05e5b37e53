/**
 * `deno task test:unit` sets `DENOBERT_UNIT=1`: tests that spawn CLI or script children, or measure RSS growth,
 * are declared with {@link slowTest} and skipped then; the task also leaves out whole files of such tests (the C
 * kernels built under ASan, the CLI, packaging). `deno task test` runs everything.
 *
 * @module
 */

/** True under `deno task test:unit`. */
export const UNIT: boolean = Deno.env.get("DENOBERT_UNIT") === "1";

/** `Deno.test`, or `Deno.test.ignore` under `deno task test:unit`. */
export const slowTest: typeof Deno.test.ignore = UNIT ? Deno.test.ignore : Deno.test;
