#!/usr/bin/env bash
# Builds ffi/test/bench_attention.c with the library's flags (from ffi/build.ts) and runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deno="${DENO:-$here/../../.tools/deno}"
cc="${CC:-gcc}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# shellcheck disable=SC2046
"$cc" $("$deno" run --allow-read --allow-env "$here/../build.ts" --print-cflags) -o "$out/bench_attention" \
  "$here/bench_attention.c" "$here"/../*.c $("$deno" run --allow-read --allow-env "$here/../build.ts" --print-ldlibs)
"$out/bench_attention"
