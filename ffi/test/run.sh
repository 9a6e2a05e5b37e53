#!/usr/bin/env bash
# Builds ffi/test/test_kernels.c with every kernel source under AddressSanitizer + UBSan and runs it;
# any failed check or sanitizer report fails the script. No OpenBLAS needed. tests/kernels_c_test.ts
# does the same from `deno test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cc="${CC:-gcc}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# native, then the 8-wide AVX2 build when the CPU has AVX2 (an AVX-512 machine never runs that code natively)
marches=(native)
grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && marches+=(haswell)
for march in "${marches[@]}"; do
  echo "== -march=$march"
  "$cc" -std=c11 -O2 -g -march="$march" -ffp-contract=fast -pthread -fno-math-errno -Wall -Wextra -Werror \
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    -o "$out/test_kernels" "$here/test_kernels.c" "$here"/../*.c -lm
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$out/test_kernels"
done
