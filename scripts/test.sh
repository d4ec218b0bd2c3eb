#!/usr/bin/env bash
# Quick start, step 2 (and CI): build and run the whole test suite. CTest runs the test
# binary once per lavapipe subgroup size (4, 8, 16) and descriptor path; each run covers
# every device configuration (subgroup, shared-memory, mobile) with the validation layer on.
#
#   scripts/test.sh              all of it, as CI runs it: --release, then --swiftshader,
#                                then --sanitize, then the fuzzers for 60 s each
#                                (scripts/fuzz.sh), then the Windows x64 build under wine
#                                (scripts/test-windows.sh), then the Arm64 cross build under
#                                qemu-user (scripts/test-arm64.sh; last, since it installs
#                                Debian's arm64 Mesa through multiarch)
#   scripts/test.sh --release    the Release build in build/ and its suite (the quick loop)
#   scripts/test.sh --swiftshader  the Release build's suite on a second Vulkan
#                                implementation, SwiftShader, and once on lavapipe under a
#                                newer validation layer (both from chromium-common, fetched
#                                into a cache by scripts/swiftshader.sh)
#   scripts/test.sh --sanitize   a separate build in build-sanitize/ with Debian's clang and
#                                AddressSanitizer (LeakSanitizer included) + UBSan, run
#                                the same way; any report fails the test that caused it
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/vknorm-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR"

case "${1:-}" in
  "")
    # Each stage's time, then all of them, also when a stage fails: CI's budget is 45 minutes.
    times=()
    print_times() {
      printf '== stage times\n'
      printf '   %s\n' "${times[@]}"
      echo "   all: $SECONDS s"
    }
    trap print_times EXIT
    for stage in "scripts/test.sh --release" "scripts/test.sh --swiftshader" "scripts/test.sh --sanitize" \
      "scripts/fuzz.sh 60" "scripts/test-windows.sh" "scripts/test-arm64.sh"; do
      start=$SECONDS
      times+=("$stage: running (failed if this is the last line)")
      $stage
      times[-1]="$stage: $((SECONDS - start)) s"
    done
    ;;
  --release)
    scripts/build.sh all
    # -j: the suite's entries are separate processes with their own temporary files; two at
    # a time halve the wall time on 2 cores (the guard that times runs alone: RUN_SERIAL).
    ctest --test-dir build --output-on-failure -j"$(nproc)"
    ;;
  --swiftshader)
    scripts/build.sh all
    eval "$(scripts/swiftshader.sh)"  # VK_DRIVER_FILES and VK_LAYER_PATH, used one at a time below
    swiftshader_icd="$VK_DRIVER_FILES" newer_layer="$VK_LAYER_PATH"
    unset VK_DRIVER_FILES VK_LAYER_PATH
    # SwiftShader, with Debian's validation layer (the default). It has no
    # storageBuffer16BitAccess: float16 runs packed in 32-bit words there. A configuration a
    # device cannot run (today: the subgroup one without subgroup arithmetic) is skipped and
    # counted in the summary line the suite prints.
    # Left out there, each with its reason (doctest's -tce: test cases by name; a comma
    # separates names, so "?" stands for the comma in one):
    #  Faults*  the host code of a failed create or allocate, the same on every device, and
    #      minutes on SwiftShader; lavapipe runs it.
    #  vknorm run*  the command-line tool's runs of the library's ops (the PyTorch
    #      fixtures above all): each of its hundreds of runs is a new process that compiles
    #      its kernels, seconds each on SwiftShader; the library's tests above run the same
    #      kernels there. The tool's other cases (devices, bench, tune) run there.
    swiftshader_excluded='Faults*,vknorm run*'
    # The newer layer's run leaves out the two PyTorch fixture sweeps: 235 runs of the tool
    # that repeat the same Vulkan calls fixture after fixture (its other cases, and its own
    # calls in bench and tune, run there), and most of a suite's time.
    newer_layer_excluded='vknorm run matches PyTorch*,vknorm run --sync-shards matches*'
    # lavapipe at subgroup size 8, under the newer Khronos validation layer: it knows rules
    # Debian's does not. Its synchronization validation checks what dispatches do through
    # descriptors only with the setting syncval_shader_accesses_heuristic (the layer's
    # settings read VK_LAYER_<NAME>): without it, the hazard note_external_barrier* leaves
    # on purpose goes unreported there, and so would one vknorm left by mistake.
    # SwiftShader runs on one thread, so its part goes in slices of the test cases that pass
    # its filter (doctest's --first/--last, in one shuffled order: in file order the heavy
    # cases lie together, and their slice took 4 of 6 minutes), and the slices and the newer
    # layer's run go side by side, as many at a time as there are cores (xargs -P; their
    # temporary files carry the process id), each into its own log, printed when all are
    # done. xargs exits non-zero if any part failed.
    echo "== the test suite on SwiftShader (Debian's validation layer) and, beside it, on lavapipe under the newer validation layer ($newer_layer)"
    start=$SECONDS
    slices=6
    export swiftshader_icd newer_layer swiftshader_excluded newer_layer_excluded
    export VKNORM_SWIFTSHADER_ORDER="--order-by=rand --rand-seed=1"
    # shellcheck disable=SC2086  # the order's two options
    swiftshader_cases=$(VK_DRIVER_FILES="$swiftshader_icd" build/tests/vknorm_tests -tce="$swiftshader_excluded" \
      $VKNORM_SWIFTSHADER_ORDER --count | sed -n 's/.*passing the current filters: \([0-9]*\).*/\1/p')
    [ -n "$swiftshader_cases" ] || { echo "test.sh: could not count the SwiftShader test cases" >&2; exit 1; }
    per_slice=$(((swiftshader_cases + slices - 1) / slices))
    export per_slice
    run_part() {
      case "$1" in
        newer_layer)
          VK_LAYER_PATH="$newer_layer" VK_LAYER_SYNCVAL_SHADER_ACCESSES_HEURISTIC=true LP_NATIVE_VECTOR_WIDTH=256 \
            VKNORM_TEST_EXPECT_SUBGROUP_SIZE=8 build/tests/vknorm_tests -tce="$newer_layer_excluded" ;;
        swiftshader_*)
          local i=${1#swiftshader_}
          # shellcheck disable=SC2086
          VK_DRIVER_FILES="$swiftshader_icd" build/tests/vknorm_tests -tce="$swiftshader_excluded" \
            $VKNORM_SWIFTSHADER_ORDER --first=$(((i - 1) * per_slice + 1)) --last=$((i * per_slice)) ;;
      esac >"build/suite_$1.log" 2>&1
      local status=$?
      # Each part's own time, for balancing the slices (SECONDS: since this part's shell began).
      echo "== $1 took $SECONDS s" >>"build/suite_$1.log"
      return "$status"
    }
    export -f run_part
    failed=0
    { echo newer_layer; for i in $(seq "$slices"); do echo "swiftshader_$i"; done; } |
      xargs -P "$(nproc)" -I{} bash -c 'run_part "$1"' _ {} || failed=1
    # Each slice's doctest summary counts every case that passes the filter as passed, also
    # those outside its range, which it did not run.
    for i in $(seq "$slices"); do
      last=$((i * per_slice < swiftshader_cases ? i * per_slice : swiftshader_cases))
      echo "== SwiftShader, slice $i of $slices: test cases $(((i - 1) * per_slice + 1)) to $last of $swiftshader_cases"
      cat "build/suite_swiftshader_$i.log"
    done
    echo "== lavapipe, newer validation layer:"
    cat build/suite_newer_layer.log
    echo "== all parts: $((SECONDS - start)) s"
    [ "$failed" -eq 0 ]
    ;;
  --sanitize)
    scripts/install-deps.sh clang
    # RelWithDebInfo: -O2 keeps the lavapipe-heavy suite affordable; line tables (not -g)
    # give the reports file and line, for a tenth less compile time. -fno-sanitize-recover:
    # the first UB report aborts the process, so the test fails instead of printing a
    # warning nobody reads. -fsanitize-link-c++-runtime:
    # the C programs (engine_frames, linked by the C compiler) link the sanitizers' C++
    # parts too, which libvknorm's instrumented C++ calls; those need libstdc++, also in
    # CMake's C-only test programs (FindMPI's version check), hence -lstdc++ there too.
    flags="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow"
    flags+=" -fno-omit-frame-pointer"
    cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize-link-c++-runtime -lstdc++" \
      -DVKNORM_BUILD_TESTS=ON -DVKNORM_BUILD_SAMPLES=ON -DVKNORM_WARNINGS_AS_ERRORS=ON \
      "-DVKNORM_TEST_SUITE_EXCLUDE=vec4: every kind*" -DVKNORM_SPIRV_CACHE_DIR="$PWD/build/spirv-cache" >/dev/null
    cmake --build build-sanitize -j"$(nproc)"
    # Not instrumented: it only keeps the Vulkan libraries loaded (see the file).
    clang -shared -fPIC -O2 -o build-sanitize/keep_vulkan_libraries.so scripts/keep_vulkan_libraries.c -ldl
    export LD_PRELOAD="$PWD/build-sanitize/keep_vulkan_libraries.so"
    # detect_leaks=1: LeakSanitizer at exit (the default on x86-64 Linux; stated, since the
    #   leaks are half the point). Its suppressions (scripts/lsan.supp) name only the
    #   validation layer, Mesa's lavapipe and the Vulkan loader, each line explained.
    #   The stacks come from the fast (frame-pointer) unwinder, which stops inside the
    #   libraries built without frame pointers; that is enough, since the frame that names
    #   the library is the first above malloc. (fast_unwind_on_malloc=0 would give whole
    #   stacks but makes lavapipe's shader compiles, millions of mallocs, take hours.)
    export ASAN_OPTIONS="detect_leaks=1"
    export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1"  # the stack of a UB report, not just its line
    # The PyTorch fixture sweeps of vknorm_tests_tool run each fixture in one of its layouts
    # and dtypes, in turn (tests/test_cli_pytorch.cpp): every fixture and every variant,
    # through the same host code, at a third of the runs. Each run of the sanitized tool
    # costs seconds, in lavapipe's shader compiles under ASan's allocator.
    export VKNORM_TEST_TOOL_RUNS=sampled
    # Not run here, with the reason:
    #  package_*              build consumer projects against the installed package with
    #                         plain compiler flags, which cannot link the sanitized library;
    #                         they test packaging, not vknorm's code, and run in the Release
    #                         suite.
    #  bench_regression_guard compares timings, which the sanitizers distort (not by the same
    #                         factor for every kernel); it runs in the Release suite.
    #  mpi_communicator_np*   Open MPI leaks in MPI_Init/MPI_Finalize, from MCA components
    #                         it has dlclosed by exit (LeakSanitizer cannot name them, so
    #                         they cannot be suppressed by library); the same for
    #                         sample_data_parallel_mpi_np2 (the sample under mpiexec; its
    #                         threads twin runs here). vknorm's MPI wrapper
    #                         is small; SyncBatchNorm's exchange over the Communicator
    #                         interface runs sanitized with thread ranks in vknorm_tests.
    #  bench_reference_check  compiles every reference grid of both dtypes (116 pipelines;
    #                         lavapipe's shader compiles are what the sanitizers slow most);
    #                         its host code runs here in bench_reference_check_packed (40).
    #  vknorm_tests_faults_every  the fault sweep at every create and allocate: the suite
    #                         entry here sweeps the first ten, every tenth and the last
    #                         sanitized, each kind of failure path; the Release suite runs
    #                         every index. Sanitized, it took 211 s in CI (e2435df),
    #                         every failure a new context that compiles its kernels again.
    #  "vec4: every kind, ..." (VKNORM_TEST_SUITE_EXCLUDE, above) every 4-element kernel on
    #                         many shapes and offsets against the CPU reference: the
    #                         kernels' coverage, which the Release entries give at every
    #                         subgroup size. Its host code, the choice of the variant by
    #                         offsets, runs here in "vec4: a record call creates and runs
    #                         the variant its offsets allow". Sanitized, it took 169 s of
    #                         a 636 s run of the suite's other cases (beside a second
    #                         run), most in the instrumented reference on its large shapes.
    #  vknorm_tests at subgroup sizes 4 and 16, and size 8 on the pool path: the host code
    #                         they run is that of size 8 with push descriptors (only
    #                         lavapipe's shader execution differs), and each entry takes
    #                         many minutes under the sanitizers. The pool path's own host
    #                         code runs here all the same: test_descriptors.cpp and the
    #                         Faults cases force it, and bench_host_check_pool and
    #                         sample_engine_frames_pool take it throughout.
    ctest --test-dir build-sanitize --output-on-failure -j"$(nproc)" \
      -E '^(package_.*|bench_regression_guard|bench_reference_check|mpi_communicator_np[0-9]+|sample_data_parallel_mpi_np2|vknorm_tests_faults_every|vknorm_tests_subgroup(4|16|8_pool))$'
    ;;
  *)
    echo "usage: scripts/test.sh [--release|--swiftshader|--sanitize]" >&2
    exit 2
    ;;
esac
