#!/usr/bin/env bash
# Installs missing Debian packages, configures build/ (Release) and builds it:
#   scripts/build.sh          everything: the library, the vknorm tool, the samples and the tests
#   scripts/build.sh sample   the library and samples/cnn_block only (what scripts/sample.sh runs)
# Each form configures every option it relies on, since both share build/ and CMake would
# otherwise keep whatever an earlier configure left in the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The compiled shaders, kept for the other build trees of this checkout (the sanitizer,
# fuzzing, Windows and Arm64 builds use the same folder): cmake/shaders.cmake.
spirv_cache=(-DVKNORM_SPIRV_CACHE_DIR="$PWD/build/spirv-cache")
case "${1:-all}" in
  all)
    # Warnings as errors here, and in the sanitizer build (Clang): CI holds both compilers to
    # -Wall -Wextra -Wpedantic (cmake/warnings.cmake). The quick start's sample build does not.
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVKNORM_BUILD_TESTS=ON -DVKNORM_BUILD_SAMPLES=ON \
      -DVKNORM_WARNINGS_AS_ERRORS=ON "${spirv_cache[@]}" >/dev/null
    cmake --build build -j"$(nproc)"
    ;;
  sample)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVKNORM_BUILD_TESTS=OFF -DVKNORM_BUILD_SAMPLES=ON \
      -DVKNORM_WARNINGS_AS_ERRORS=OFF "${spirv_cache[@]}" >/dev/null
    cmake --build build -j"$(nproc)" --target cnn_block
    ;;
  *)
    echo "usage: scripts/build.sh [all|sample]" >&2
    exit 2
    ;;
esac
