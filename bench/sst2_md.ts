// BENCHMARKS.md's SST-2 table: the embedded SST-2 model on its 872 dev sentences, one at a time, each peer's
// fp32 and reduced-precision models taking turns, from the JSON lines of bench/peers/sst2_int8.mjs --time 1
// (ONNX Runtime), sst2_ours.ts --time (ours) and tjs_sst2.ts --time (Transformers.js), gathered in
// bench/peers/out/sst2.jsonl (bench/peers/README.md).

/** One line of sst2.jsonl. */
export interface Sst2Line {
  peer: string;
  dtype?: string;
  version?: string;
  [k: string]: unknown;
}

/** The reduced dtype a line's fields are named after: int8 for ONNX Runtime, the line's dtype otherwise. */
function lowDtype(r: Sst2Line): string {
  return r.peer === "onnxruntime" ? "int8" : r.dtype ?? "fp32";
}

function peerName(r: Sst2Line): string {
  if (r.peer === "onnxruntime") return "ONNX Runtime 1.30 (dynamic int8)";
  if (r.peer === "transformers.js") return `Transformers.js ${r.version ?? "3.7.5"} (${r.dtype})`;
  return `ours (${r.dtype})`;
}

const pct = (x: unknown, digits: number) => typeof x === "number" ? `${(100 * x).toFixed(digits)}%` : "-";
const ms = (x: unknown) => typeof x === "number" ? x.toFixed(3) : "-";

/** The intro sentence and the table, one row per line (a field a line lacks shows as "-"). */
export function sst2Section(lines: Sst2Line[]): string {
  const rows = [
    "| peer | fp32 accuracy | int8 / q8 accuracy | labels as fp32 | fp32 ms | int8 / q8 ms |",
    "|---|---|---|---|---|---|",
    ...lines.map((r) => {
      const low = lowDtype(r);
      return `| ${peerName(r)} | ${pct(r.accuracy_fp32, 2)} | ${pct(r[`accuracy_${low}`], 2)} | ` +
        `${pct(r.label_agreement, 1)} | ${ms(r.median_ms_fp32)} | ${ms(r[`median_ms_${low}`])} |`;
    }),
  ];
  return `The embedded SST-2 model on its 872 dev sentences, one at a time (batch 1), median ms per sentence ` +
    `(ours and Transformers.js: the whole pipeline call, tokenizing included; ONNX Runtime is given the token ` +
    `ids), each peer's fp32 and reduced graphs taking turns sentence by sentence ` +
    `(\`node bench/peers/sst2_int8.mjs --time 1\`, ` +
    `\`deno run -A --config deno.json bench/peers/sst2_ours.ts --dtype q8 --time\`, ` +
    `\`deno run -A --no-lock bench/peers/tjs_sst2.ts --dtype q8 --time\`):\n\n${rows.join("\n")}`;
}
