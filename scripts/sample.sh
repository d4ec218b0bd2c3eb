#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build the library and the sample (no tests,
# no tool), run the sample on the default device.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh sample
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/vknorm-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR"
build/samples/cnn_block/cnn_block "$@"
