#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine with Node/npm, a C compiler and apt:
#   1. Deno (pinned) from npm into ./.tools (kept out of the project's own module graph),
#   2. OpenBLAS from Debian,
#   3. our C kernels, built to ffi/build/.
# Idempotent: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
DENO="$PWD/.tools/deno"

if ! "$DENO" --version 2>/dev/null | grep -q "deno $DENO_VERSION"; then
  echo "setup: installing deno $DENO_VERSION from npm into .tools/" >&2
  mkdir -p .tools
  npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" >&2
  ln -sf node_modules/.bin/deno .tools/deno
fi

if ! ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0' && [ -z "${DENOBERT_OPENBLAS_PATH:-}" ]; then
  echo "setup: installing OpenBLAS (Debian package libopenblas0-pthread)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas0-pthread >&2
fi

"$DENO" task build >&2
echo "setup: ready ($("$DENO" --version | head -1), OpenBLAS found, kernels built)" >&2
