#!/usr/bin/env bash
# Runs the forward-pass benchmark cases on PyTorch, ONNX Runtime and on us, and prints one table with ratios
# (peer / ours). Optional, not in CI; see bench/peers/README.md.
#
#   bash bench/peers/run.sh [--skip-install] [--quick] [--models small,base] [--dtypes fp32,q8] [--rounds N]
#        [--pairs N] [--transformers T/src --hub H/src --tokenizers-npm N/tokenizers]
#
# --models: small, base (DistilBERT: torch_distilbert.py) and minilm, bert-base (BERT: torch_bert.py, which
# needs transformers 4.31 and huggingface_hub 0.16.4 checkouts and the npm tokenizers package, given by the
# three options or $TRANSFORMERS_SRC, $HF_HUB_SRC, $TOKENIZERS_NPM).
#
# --dtypes (default fp32): fp32 times ONNX Runtime's fp32 graph against ours; q8 times ONNX Runtime's dynamic
# int8 graph (quantize_onnx.py, written next to the fp32 export) against ours loaded with { dtype: "q8" }.
# PyTorch is timed in fp32 only.
#
# --rounds N (default 3): after the first full pass, ONNX Runtime and ours are timed N - 1 more times,
# alternating, and the table gives per-cell medians over the rounds and the median of the per-round ratios.
# On a shared machine whose speed drifts from minute to minute, a ratio of two runs minutes apart says
# little; alternating short rounds put both in the same minutes.
#
# --pairs N (default 20, 10 with --quick; 0 skips it): last, bench/peers/paired.ts runs ONNX Runtime and ours
# in lockstep, bursts of ~120 ms taking turns, N pairs per cell: the comparison least moved by a busy machine.
#
# Results (JSON lines), the ONNX exports and the table go to bench/peers/out/ (git-ignored), or $PEERS_OUT.
# The environment is passed through unchanged to all three (OPENBLAS_CORETYPE in particular): run it the
# way you run our own benchmark.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
PEERS="$ROOT/bench/peers"
OUT="${PEERS_OUT:-$PEERS/out}"
PY=/usr/bin/python3 # Debian's python: python3-torch lives there, not in a pyenv/venv python
INSTALL=1
EXTRA=()
MODELS=small,base
DTYPES=fp32
ROUNDS=3
PAIRS=""
TRANSFORMERS="${TRANSFORMERS_SRC-}"
HUB="${HF_HUB_SRC-}"
TOKENIZERS="${TOKENIZERS_NPM-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-install) INSTALL=0 ;;
    --quick) EXTRA+=(--min-runs 10 --max-seconds 2) ;;
    --models) MODELS="$2"; shift ;;
    --dtypes) DTYPES="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --pairs) PAIRS="$2"; shift ;;
    --transformers) TRANSFORMERS="$2"; shift ;;
    --hub) HUB="$2"; shift ;;
    --tokenizers-npm) TOKENIZERS="$2"; shift ;;
    *) echo "usage: $0 [--skip-install] [--quick] [--models small,base,minilm,bert-base] [--dtypes fp32,q8]" \
      "[--rounds N] [--pairs N] [--transformers T/src --hub H/src --tokenizers-npm N/tokenizers]" >&2; exit 2 ;;
  esac
  shift
done
# which script exports each model; ours q8 against ONNX Runtime's int8 graph
DISTIL=(); BERT=()
for m in ${MODELS//,/ }; do
  case "$m" in
    small | base) DISTIL+=("$m") ;;
    minilm | bert-base) BERT+=("$m") ;;
    *) echo "run.sh: --models: unknown model '$m' (small, base, minilm, bert-base)" >&2; exit 2 ;;
  esac
done
for d in ${DTYPES//,/ }; do
  case "$d" in
    fp32 | q8) ;;
    *) echo "run.sh: --dtypes: '$d' is not fp32 or q8 (ONNX Runtime has no bf16 peer here)" >&2; exit 2 ;;
  esac
done
ort_dtype() { if [ "$1" = q8 ]; then echo int8; else echo "$1"; fi; }
join() { local IFS=,; echo "$*"; }
if [ "${#BERT[@]}" -gt 0 ] && { [ -z "$TRANSFORMERS" ] || [ -z "$HUB" ] || [ -z "$TOKENIZERS" ]; }; then
  echo "run.sh: the BERT models (${BERT[*]}) need --transformers, --hub and --tokenizers-npm" \
    "(or TRANSFORMERS_SRC, HF_HUB_SRC, TOKENIZERS_NPM): see scripts/hf_reference/README.md" >&2
  exit 2
fi
if [ -z "$PAIRS" ]; then
  PAIRS=20
  [ "${#EXTRA[@]}" -gt 0 ] && PAIRS=10
fi
mkdir -p "$OUT"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

# ---- 1. install what the peers need
if [ "$INSTALL" = 1 ]; then
  if ! "$PY" -c 'import torch, numpy, onnx' 2>/dev/null || ! ldconfig -p | grep -q 'libopenblas\.so\.0'; then
    echo "run.sh: installing python3-torch, python3-numpy, python3-onnx, libopenblas0-pthread (Debian)" >&2
    $SUDO apt-get update -qq >&2
    # libopenblas0-pthread: Debian's torch calls BLAS through libblas.so.3; without OpenBLAS that is the
    # slow reference BLAS. python3-onnx only checks the exported files (torch.onnx.export works without it).
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      python3-torch python3-numpy python3-onnx libopenblas0-pthread >&2
  fi
  if ! node -e 'process.exit(require(process.argv[1]).version === "1.30.0" ? 0 : 1)' \
    "$PEERS/node_modules/onnxruntime-node/package.json" 2>/dev/null; then
    echo "run.sh: npm ci in bench/peers (onnxruntime-node)" >&2
    # ONNXRUNTIME_NODE_INSTALL=skip: its postinstall would otherwise try to download CUDA binaries from
    # outside the npm registry; the CPU binaries are in the npm package itself. Transformers.js's own
    # onnxruntime-node (1.21, nested) only reads the older ONNXRUNTIME_NODE_INSTALL_CUDA=skip: without it, its
    # postinstall downloads the CUDA binaries from GitHub on any Linux x64, and npm ci fails without access.
    ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
      npm ci --prefix "$PEERS" --no-audit --no-fund --loglevel=error >&2
  fi
fi

DENO="$ROOT/.tools/node_modules/.bin/deno"
[ -x "$DENO" ] || DENO="$(command -v deno || true)"

# ---- 2. record the environment
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(unset)} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS-(unset)}" \
    "OMP_NUM_THREADS=${OMP_NUM_THREADS-(unset)}"
  echo "node $(node --version); deno $("${DENO:-false}" --version 2>/dev/null | head -1 | cut -d' ' -f2)"
} | tee "$OUT/env.txt" >&2

# ---- 3. PyTorch: parity vs HF refs, ONNX export (+ parity samples), timing; int8 graphs for --dtypes q8
echo "run.sh: PyTorch peer (log: $OUT/pytorch.log)" >&2
: >"$OUT/pytorch.jsonl"
: >"$OUT/pytorch.log"
if [ "${#DISTIL[@]}" -gt 0 ]; then
  "$PY" "$PEERS/torch_distilbert.py" --tune --models "$(join "${DISTIL[@]}")" --export-onnx "$OUT" "${EXTRA[@]}" \
    >>"$OUT/pytorch.jsonl" 2>>"$OUT/pytorch.log" || { cat "$OUT/pytorch.log" >&2; exit 1; }
fi
if [ "${#BERT[@]}" -gt 0 ]; then
  "$PY" "$PEERS/torch_bert.py" --tune --models "$(join "${BERT[@]}")" --export-onnx "$OUT" "${EXTRA[@]}" \
    --transformers "$TRANSFORMERS" --hub "$HUB" --tokenizers-npm "$TOKENIZERS" \
    >>"$OUT/pytorch.jsonl" 2>>"$OUT/pytorch.log" || { cat "$OUT/pytorch.log" >&2; exit 1; }
fi
grep -E 'OpenBLAS|torch |parity|WARN|tune' "$OUT/pytorch.log" | grep -v 'parity ref' >&2 || true
grep -c ' ok$' "$OUT/pytorch.log" | xargs -I{} echo "run.sh: pytorch parity checks passed: {}" >&2
if [[ ",$DTYPES," == *",q8,"* ]]; then
  : >"$OUT/quantize.log"
  for m in ${MODELS//,/ }; do
    "$PY" "$PEERS/quantize_onnx.py" "$OUT/$m.onnx" "$OUT/$m.int8.onnx" 2>>"$OUT/quantize.log" ||
      { cat "$OUT/quantize.log" >&2; exit 1; }
  done
  tail -n "$(echo "${MODELS//,/ }" | wc -w)" "$OUT/quantize.log" >&2
fi

# ---- 4. ONNX Runtime: parity vs torch and HF refs (int8: vs its fp32 graph), timing, each dtype
echo "run.sh: ONNX Runtime peer (log: $OUT/onnxruntime.log)" >&2
: >"$OUT/onnxruntime.jsonl"
: >"$OUT/onnxruntime.log"
for d in ${DTYPES//,/ }; do
  node "$PEERS/ort_distilbert.mjs" "$OUT" --models "$MODELS" --dtype "$(ort_dtype "$d")" "${EXTRA[@]}" \
    >>"$OUT/onnxruntime.jsonl" 2>>"$OUT/onnxruntime.log" || { cat "$OUT/onnxruntime.log" >&2; exit 1; }
done
head -1 "$OUT/onnxruntime.log" >&2
grep -c ' ok$' "$OUT/onnxruntime.log" | xargs -I{} echo "run.sh: onnxruntime parity checks passed: {}" >&2

# ---- 5. ours (when bench/forward_cases.ts exists), then the alternating rounds
# Every result line is tagged with its round, so compare.ts can pair each peer's round with ours.
tag() { sed "s/^{/{\"round\":$1,/"; }
rm -f "$OUT/denobert.jsonl" "$OUT/denobert.log"
tag 1 <"$OUT/onnxruntime.jsonl" >"$OUT/onnxruntime.rounds.jsonl"
tag 1 <"$OUT/pytorch.jsonl" >"$OUT/pytorch.rounds.jsonl"
if [ -f "$ROOT/bench/forward_cases.ts" ]; then
  echo "run.sh: our engine (bench/forward_cases.ts; log: $OUT/denobert.log)" >&2
  # setup.sh: pinned deno into .tools/, OpenBLAS, our C kernels built
  bash "$ROOT/scripts/setup.sh" >"$OUT/setup.log" 2>&1 || { cat "$OUT/setup.log" >&2; exit 1; }
  DENO="$ROOT/.tools/node_modules/.bin/deno"
  # ours against the torch outputs the ONNX graphs were exported with (same inputs, each dtype)
  for d in ${DTYPES//,/ }; do
    "$DENO" run -A --config "$ROOT/deno.json" "$PEERS/parity_ours.ts" "$OUT" --models "$MODELS" --dtype "$d" \
      >>"$OUT/denobert.log" 2>&1 || { tail -20 "$OUT/denobert.log" >&2; exit 1; }
  done
  grep -c ' ok$' "$OUT/denobert.log" | xargs -I{} echo "run.sh: our parity checks vs torch passed: {}" >&2
  ours() {
    for d in ${DTYPES//,/ }; do
      "$DENO" run -A "$ROOT/bench/forward_cases.ts" --threads 2 --models "$MODELS" --dtype "$d" \
        2>>"$OUT/denobert.log" | tag "$1" || return 1
    done
  }
  ours 1 >"$OUT/denobert.jsonl" ||
    { echo "run.sh: our benchmark failed, see $OUT/denobert.log" >&2; rm -f "$OUT/denobert.jsonl"; }
  for r in $(seq 2 "$ROUNDS"); do
    echo "run.sh: round $r of $ROUNDS (ONNX Runtime, then ours)" >&2
    for d in ${DTYPES//,/ }; do
      node "$PEERS/ort_distilbert.mjs" "$OUT" --models "$MODELS" --dtype "$(ort_dtype "$d")" "${EXTRA[@]}" \
        2>>"$OUT/onnxruntime.log" | tag "$r" >>"$OUT/onnxruntime.rounds.jsonl"
    done
    ours "$r" >>"$OUT/denobert.jsonl" || { echo "run.sh: our benchmark failed, see $OUT/denobert.log" >&2; exit 1; }
  done
else
  echo "run.sh: bench/forward_cases.ts not found: showing the peers only" >&2
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt" >&2

# ---- 6. the table
if [ -z "$DENO" ]; then
  echo "run.sh: no deno found (run scripts/setup.sh); raw results are in $OUT/*.jsonl" >&2
  exit 1
fi
"$DENO" run --allow-read "$PEERS/compare.ts" "$OUT/denobert.jsonl" "$OUT/pytorch.rounds.jsonl" \
  "$OUT/onnxruntime.rounds.jsonl" 2>/dev/null | tee "$OUT/table.md"

# ---- 7. lockstep: ONNX Runtime and ours taking turns in short bursts
if [ "$PAIRS" -gt 0 ] && [ -f "$ROOT/bench/forward_cases.ts" ]; then
  echo "run.sh: lockstep pairs, $PAIRS per cell (bench/peers/paired.ts; log: $OUT/paired.log)" >&2
  : >"$OUT/paired.out"
  : >"$OUT/paired.log"
  for d in ${DTYPES//,/ }; do
    "$DENO" run -A --config "$ROOT/deno.json" "$PEERS/paired.ts" "$OUT" --models "$MODELS" --pairs "$PAIRS" \
      --dtype "$d" >>"$OUT/paired.out" 2>>"$OUT/paired.log" || { cat "$OUT/paired.log" >&2; exit 1; }
  done
  grep '^{' "$OUT/paired.out" >"$OUT/paired.jsonl"
  grep -v '^{' "$OUT/paired.out" | tee "$OUT/paired.md"
fi
