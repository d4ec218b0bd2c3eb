#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in build-fuzz/, and
# runs them side by side, each for SECONDS seconds (default 60) from its committed seed corpus:
#   scripts/fuzz.sh [SECONDS]
# New inputs go to a scratch copy of the corpus, so the tree stays as committed. A crash,
# a sanitizer report or a failed check stops that target with the input saved in
# build-fuzz/, and the script then fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scripts/install-deps.sh
# fuzzer-no-link: the library the targets link is instrumented for coverage (and checked by
# the sanitizers) like the targets themselves.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" -DVKNORM_BUILD_FUZZERS=ON -DVKNORM_BUILD_TESTS=OFF -DVKNORM_BUILD_SAMPLES=OFF -DVKNORM_BUILD_MPI=OFF \
  -DVKNORM_SPIRV_CACHE_DIR="$PWD/build/spirv-cache" >/dev/null
targets=(fuzz_npy fuzz_cli)
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"
# The targets run side by side (one per core), each into its own log and scratch corpus.
declare -A runs
for target in "${targets[@]}"; do
  corpus="tests/fuzz/corpus/${target#fuzz_}"
  scratch="build-fuzz/corpus-$target"
  rm -rf "$scratch" && mkdir -p "$scratch" && cp "$corpus"/* "$scratch"/
  echo "== $target: $seconds s from $(ls "$corpus" | wc -l) seeds"
  (cd build-fuzz && "./tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 \
     -timeout=10 -rss_limit_mb=2048 "../$scratch") >"build-fuzz/$target.log" 2>&1 &
  runs[$target]=$!
done
failed=0
for target in "${targets[@]}"; do
  log="build-fuzz/$target.log"
  status=0
  wait "${runs[$target]}" || status=$?
  echo "== $target:"
  grep -E "^#[0-9]+.*(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
  echo "corpus: $(ls "build-fuzz/corpus-$target" | wc -l) inputs after the run"
  [ "$status" -eq 0 ] || { tail -40 "$log" >&2; echo "$target failed (exit $status); see $log" >&2; failed=1; }
done
exit "$failed"
