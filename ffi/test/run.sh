#!/usr/bin/env bash
# Builds the C test harnesses with every kernel source and runs them: test_kernels.c under AddressSanitizer
# + UBSan (natively, then 8-wide AVX2 when the CPU has it), test_threads.c under ThreadSanitizer. Any failed
# check or sanitizer report fails the script. No OpenBLAS needed. The flags come from ffi/build.ts (the
# library's own); tests/kernels_c_test.ts does the same from `deno test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deno="${DENO:-$here/../../.tools/deno}"
cc="${CC:-gcc}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
flags() { "$deno" run --allow-read --allow-env "$here/../build.ts" --print-c-test-flags "$@"; }
libs() { "$deno" run --allow-read --allow-env "$here/../build.ts" --print-ldlibs; }
marches=(native)
grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && marches+=(haswell)
for march in "${marches[@]}"; do
  echo "== test_kernels, -march=$march, ASan + UBSan"
  # shellcheck disable=SC2046
  "$cc" $(flags address "$march") -o "$out/test_kernels" "$here/test_kernels.c" "$here"/../*.c $(libs)
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$out/test_kernels"
  echo "== test_lowp (bf16 / int8 paths), -march=$march, ASan + UBSan"
  # shellcheck disable=SC2046
  "$cc" $(flags address "$march") -o "$out/test_lowp" "$here/test_lowp.c" "$here"/../*.c $(libs)
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$out/test_lowp"
done
echo "== test_threads, ThreadSanitizer"
# shellcheck disable=SC2046
"$cc" $(flags thread) -o "$out/test_threads" "$here/test_threads.c" "$here"/../*.c $(libs)
TSAN_OPTIONS=halt_on_error=1 "$out/test_threads"
