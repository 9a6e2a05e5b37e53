// Reads the JSON lines written by the benchmark peers and by our own bench/forward_cases.ts and prints a
// markdown table of medians with ratios peer / ours (> 1: we are faster).
//
//   deno run --allow-read bench/peers/compare.ts FILE...
//
// Each line of interest is {"peer","model","batch","seq","median_ms","runs"} and, from run.sh, "round"; other
// lines are ignored, and so are missing files (a warning goes to stderr). Our rows are those with
// "peer":"denobert"; when there are none, the table shows the peers only. With several rounds a cell shows
// the median over rounds of each peer's median, and the ratio is the median of the per-round ratios (a
// peer's round r against our round r), so both sides of every ratio were measured minutes apart at most.
// Rows carry a "dtype" (fp32 when absent): ours "q8" and ONNX Runtime's "int8" (quantize_onnx.py) are the
// same precision class and share a row of the table; a dtype column appears when any row is not fp32.

import { median } from "../median.ts";

const OURS = "denobert";
const MODEL_ORDER = ["small", "base", "minilm", "bert-base"];
// our dtype names -> the precision class the peers' rows use
const PRECISION: Record<string, string> = { q8: "int8" };
const DTYPE_ORDER = ["fp32", "bf16", "int8"];
const PEER_ORDER = ["pytorch", "onnxruntime"];

export interface Row {
  peer: string;
  model: string;
  batch: number;
  seq: number;
  median_ms: number;
  runs?: number;
  round?: number;
  dtype?: string;
}

/** The precision class of a row: its dtype, with ours q8 and ONNX Runtime's int8 both "int8". */
export function precision(r: { dtype?: string }): string {
  const d = r.dtype ?? "fp32";
  return PRECISION[d] ?? d;
}

/** Median of peer_r / ours_r over the rounds both have (round 1 when untagged); NaN when none match. */
export function roundRatio(peer: Row[], ours: Row[]): number {
  const mine = new Map(ours.map((r) => [r.round ?? 1, r.median_ms]));
  const ratios = peer.flatMap((r) => {
    const m = mine.get(r.round ?? 1);
    return m && m > 0 ? [r.median_ms / m] : [];
  });
  return ratios.length ? median(ratios) : NaN;
}

function isRow(x: unknown): x is Row {
  const r = x as Row;
  return typeof r === "object" && r !== null && typeof r.peer === "string" &&
    typeof r.model === "string" &&
    typeof r.batch === "number" && typeof r.seq === "number" &&
    typeof r.median_ms === "number" && (r.dtype === undefined || typeof r.dtype === "string");
}

export function parseLines(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      const x: unknown = JSON.parse(t);
      if (isRow(x)) rows.push(x);
    } catch {
      // not a result line
    }
  }
  return rows;
}

const fmtMs = (ms: number) => ms >= 100 ? ms.toFixed(1) : ms >= 10 ? ms.toFixed(2) : ms.toFixed(3);

export function table(rows: Row[]): string {
  const key = (r: { model: string; dtype?: string; batch: number; seq: number }) =>
    `${r.model}|${precision(r)}|${r.batch}|${r.seq}`;
  // every round of a cell; within one round the last line wins
  const byPeer = new Map<string, Map<string, Map<number, Row>>>();
  const cells = new Map<
    string,
    { model: string; dtype: string; batch: number; seq: number }
  >();
  for (const r of rows) {
    if (!byPeer.has(r.peer)) byPeer.set(r.peer, new Map());
    const peerCells = byPeer.get(r.peer)!;
    if (!peerCells.has(key(r))) peerCells.set(key(r), new Map());
    peerCells.get(key(r))!.set(r.round ?? 1, r);
    cells.set(key(r), { model: r.model, dtype: precision(r), batch: r.batch, seq: r.seq });
  }
  const get = (
    peer: string,
    k: string,
  ) => [...(byPeer.get(peer)?.get(k)?.values() ?? [])];
  const ours = byPeer.has(OURS);
  const rank = (p: string) => {
    const i = PEER_ORDER.indexOf(p);
    return i < 0 ? PEER_ORDER.length : i;
  };
  const peers = [...byPeer.keys()].filter((p) => p !== OURS).sort((a, b) => rank(a) - rank(b));
  const order = (m: string) => {
    const i = MODEL_ORDER.indexOf(m);
    return i < 0 ? MODEL_ORDER.length : i;
  };
  const dtypeRank = (d: string) => {
    const i = DTYPE_ORDER.indexOf(d);
    return i < 0 ? DTYPE_ORDER.length : i;
  };
  const sorted = [...cells.values()].sort((a, b) =>
    order(a.model) - order(b.model) || a.model.localeCompare(b.model) ||
    dtypeRank(a.dtype) - dtypeRank(b.dtype) || a.dtype.localeCompare(b.dtype) ||
    a.batch - b.batch || a.seq - b.seq
  );
  const showDtype = sorted.some((c) => c.dtype !== "fp32");
  // the int8 class is ours q8 against ONNX Runtime's int8 graph
  const dtypeLabel = (d: string) => d === "int8" && ours ? "q8 / int8" : d;

  const head = ["model", ...(showDtype ? ["dtype"] : []), "batch x seq"];
  if (ours) head.push(`${OURS} ms`);
  for (const p of peers) {
    head.push(`${p} ms`);
    if (ours) head.push(`${p} / ours`);
  }
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => i < (showDtype ? 3 : 2) ? " --- " : " ---: ").join("|")}|`,
  ];
  const cellMs = (rs: Row[]) => rs.length ? fmtMs(median(rs.map((r) => r.median_ms))) : "-";
  const rounds = (rs: Row[]) => rs.length > 1 ? ` (${rs.length})` : "";
  for (const c of sorted) {
    const k = key(c);
    const mine = get(OURS, k);
    const cols = [c.model, ...(showDtype ? [dtypeLabel(c.dtype)] : []), `${c.batch}x${c.seq}`];
    if (ours) cols.push(cellMs(mine) + rounds(mine));
    for (const p of peers) {
      const theirs = get(p, k);
      cols.push(cellMs(theirs) + rounds(theirs));
      if (ours) {
        const ratio = roundRatio(theirs, mine);
        cols.push(Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : "-");
      }
    }
    lines.push(`| ${cols.join(" | ")} |`);
  }
  if (
    [...byPeer.values()].some((m) => [...m.values()].some((r) => r.size > 1))
  ) {
    lines.push(
      "",
      "(n): medians over n rounds; ratios: median over rounds of the peer's round-r median / ours in round r.",
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error(
      "usage: deno run --allow-read bench/peers/compare.ts RESULTS.jsonl...",
    );
    Deno.exit(2);
  }
  const rows: Row[] = [];
  for (const f of Deno.args) {
    try {
      rows.push(...parseLines(await Deno.readTextFile(f)));
    } catch (e) {
      console.error(
        `compare: skipping ${f}: ${e instanceof Error ? e.message : e}`,
      );
    }
  }
  if (rows.length === 0) {
    console.error("compare: no result lines found");
    Deno.exit(1);
  }
  if (!rows.some((r) => r.peer === OURS)) {
    console.error(`compare: no "${OURS}" results; showing the peers only`);
  }
  console.log(table(rows));
  for (const f of Deno.args) {
    // context lines such as our {"peer":"denobert","kind":"sgemm_peak",...}
    for (
      const line of (await Deno.readTextFile(f).catch(() => "")).split("\n")
    ) {
      try {
        const x = JSON.parse(line);
        if (x && typeof x === "object" && typeof x.kind === "string") {
          console.log(`\n${x.peer ?? "?"} ${x.kind}: ${JSON.stringify(x)}`);
        }
      } catch {
        // not JSON
      }
    }
  }
}
