#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, run the sample on the default device.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/vknorm-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
build/samples/batchnorm_training
