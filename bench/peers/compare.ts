// Reads the JSON lines written by the benchmark peers and by our own bench/forward_cases.ts and prints a
// markdown table of medians with ratios peer / ours (> 1: we are faster).
//
//   deno run --allow-read bench/peers/compare.ts FILE...
//
// Each line of interest is {"peer","model","batch","seq","median_ms","runs"}; other lines are ignored, and so
// are missing files (a warning goes to stderr). Our rows are those with "peer":"denobert"; when there are
// none, the table shows the peers only.

const OURS = "denobert";
const MODEL_ORDER = ["small", "base"];
const PEER_ORDER = ["pytorch", "onnxruntime"];

export interface Row {
  peer: string;
  model: string;
  batch: number;
  seq: number;
  median_ms: number;
  runs?: number;
}

function isRow(x: unknown): x is Row {
  const r = x as Row;
  return typeof r === "object" && r !== null && typeof r.peer === "string" && typeof r.model === "string" &&
    typeof r.batch === "number" && typeof r.seq === "number" && typeof r.median_ms === "number";
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
  const key = (r: { model: string; batch: number; seq: number }) => `${r.model}|${r.batch}|${r.seq}`;
  // the last line wins when a file holds a cell twice
  const byPeer = new Map<string, Map<string, Row>>();
  const cells = new Map<string, { model: string; batch: number; seq: number }>();
  for (const r of rows) {
    if (!byPeer.has(r.peer)) byPeer.set(r.peer, new Map());
    byPeer.get(r.peer)!.set(key(r), r);
    cells.set(key(r), { model: r.model, batch: r.batch, seq: r.seq });
  }
  const ours = byPeer.get(OURS);
  const rank = (p: string) => {
    const i = PEER_ORDER.indexOf(p);
    return i < 0 ? PEER_ORDER.length : i;
  };
  const peers = [...byPeer.keys()].filter((p) => p !== OURS).sort((a, b) => rank(a) - rank(b));
  const order = (m: string) => {
    const i = MODEL_ORDER.indexOf(m);
    return i < 0 ? MODEL_ORDER.length : i;
  };
  const sorted = [...cells.values()].sort((a, b) =>
    order(a.model) - order(b.model) || a.model.localeCompare(b.model) || a.batch - b.batch || a.seq - b.seq
  );

  const head = ["model", "batch x seq"];
  if (ours) head.push(`${OURS} ms`);
  for (const p of peers) {
    head.push(`${p} ms`);
    if (ours) head.push(`${p} / ours`);
  }
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => i < 2 ? " --- " : " ---: ").join("|")}|`];
  for (const c of sorted) {
    const k = key(c);
    const mine = ours?.get(k);
    const cols = [c.model, `${c.batch}x${c.seq}`];
    if (ours) cols.push(mine ? fmtMs(mine.median_ms) : "-");
    for (const p of peers) {
      const r = byPeer.get(p)!.get(k);
      cols.push(r ? fmtMs(r.median_ms) : "-");
      if (ours) {
        cols.push(r && mine && mine.median_ms > 0 ? `${(r.median_ms / mine.median_ms).toFixed(2)}x` : "-");
      }
    }
    lines.push(`| ${cols.join(" | ")} |`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("usage: deno run --allow-read bench/peers/compare.ts RESULTS.jsonl...");
    Deno.exit(2);
  }
  const rows: Row[] = [];
  for (const f of Deno.args) {
    try {
      rows.push(...parseLines(await Deno.readTextFile(f)));
    } catch (e) {
      console.error(`compare: skipping ${f}: ${e instanceof Error ? e.message : e}`);
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
    for (const line of (await Deno.readTextFile(f).catch(() => "")).split("\n")) {
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
