#!/usr/bin/env bash
# Builds ffi/test/bench_attention.c with the library's flags (ffi/build.ts) and runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cc="${CC:-gcc}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$cc" -std=c11 -O3 -march=native -fPIC -fno-math-errno -ffp-contract=fast -pthread -Wall -Wextra \
  -o "$out/bench_attention" "$here/bench_attention.c" "$here"/../*.c -lm
"$out/bench_attention"
