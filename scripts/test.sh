#!/usr/bin/env bash
# Quick start, step 2 (and CI): build and run the whole test suite. CTest runs the test
# binary once per lavapipe subgroup size (4, 8, 16); each run covers every device
# configuration (subgroup, shared-memory, mobile) with the validation layer on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh all
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/vknorm-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR"
ctest --test-dir build --output-on-failure
