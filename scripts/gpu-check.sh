#!/usr/bin/env bash
# The GPU run-book: on any machine with a Vulkan device, one command writes one results folder
#   scripts/gpu-check.sh [--quick] [--torch-device cuda|cpu] [RESULTS_DIR]
# with
#   devices.txt          vknorm devices
#   bench.json/.txt      vknorm bench --json (--quick: 7 timed runs instead of 21)
#   bench-host.json/.txt vknorm bench --host --json
#   pytorch.json/.log    tools/pytorch_bench.py: PyTorch's own norms on the bench's cases, timed
#                        with CUDA events; skipped, with a message, where PyTorch has no CUDA
#   table.md             per case: vknorm ms, its fraction of the copy bandwidth, PyTorch ms, ratio
#   tests.log            the suite minus the lavapipe-only entries (see run_suite)
#   summary.md           device, driver, date, commit, suite result, the table
# and RESULTS_DIR.tar.gz beside it. RESULTS_DIR defaults to results/gpu-<date>-<device>/; where
# $OUT is set (the device tool's fetch folder, which takes 8 files at most) the folder goes to
# /tmp and $OUT receives the tar.gz, summary.md, table.md, bench.json and pytorch.json.
#
# What it needs: a Vulkan loader (libvulkan.so.1), a driver, and the Khronos validation layer
# for the suite. Without a loader it unpacks .gl/libvulkan1_*.deb (as root) or says how to bring
# one; VK_DRIVER_FILES is honoured, and set to the NVIDIA driver's json at
# /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json when nothing else names a driver; a
# .gpu-kit/vulkan-validationlayers_*.deb is unpacked under /tmp when no layer is installed.
# A missing build is built: scripts/build.sh where BUILD_DIR is build/ (network only for Debian
# packages that are missing), else a kit that scripts/gpu-check-device.sh prepare made
# (.gpu-kit/build, built on another machine; its absolute paths are linked to this checkout).
#
# A bare machine (the device tool): scripts/gpu-check-device.sh prepare, here, then the one
# command it prints. Exit status: 0 when every step that ran passed (a PyTorch without CUDA is a
# skip, not a failure), 1 otherwise; the folder is written either way.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
started=$(date +%s)

quick=0
torch_device=cuda
results=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --torch-device) torch_device=${2:?--torch-device: expected cuda or cpu}; shift ;;
    -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;p}' "$0"; exit 0 ;;
    -*) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) results=$1 ;;
  esac
  shift
done
[ "$torch_device" = cuda ] || [ "$torch_device" = cpu ] || { echo "gpu-check: --torch-device: expected cuda or cpu" >&2; exit 2; }
suite_timeout=${GPU_CHECK_SUITE_TIMEOUT:-3600}   # seconds for the suite as a whole
failed=()
timings=()
say() { echo "gpu-check: $*"; }
step_started=$(date +%s)
# Closes a step: its wall time goes to summary.md (to size a run on a rented machine).
step_done() { local now; now=$(date +%s); timings+=("$1 $((now - step_started)) s"); step_started=$now; }

# ---- Vulkan loader, driver, validation layer ----
have_loader() {
  # Not `ldconfig -p | grep -q`: with pipefail, grep's early exit fails ldconfig (SIGPIPE).
  [[ "$(ldconfig -p 2>/dev/null)" == *libvulkan.so.1* ]] && return 0
  local d dirs
  IFS=: read -ra dirs <<<"${LD_LIBRARY_PATH:-}"  # split on ":" only: a folder may hold spaces
  for d in "${dirs[@]}"; do [ -e "$d/libvulkan.so.1" ] && return 0; done
  return 1
}
if ! have_loader && ls .gl/libvulkan1_*.deb >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  say "no libvulkan.so.1: unpacking .gl/libvulkan1_*.deb into /"
  for f in .gl/libvulkan1_*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if ! have_loader; then
  cat >&2 <<'EOF'
gpu-check: no Vulkan loader (libvulkan.so.1); `ldconfig -p | grep libvulkan` is empty. Bring one:
  Debian/Ubuntu with network: apt-get install libvulkan1
  a bare machine: on a machine with apt, `apt-get download libvulkan1` into .gl/ of this checkout,
  copy it over, then (as root) `for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig`
  (or unpack it anywhere and put its usr/lib/x86_64-linux-gnu on LD_LIBRARY_PATH).
EOF
  exit 1
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nvidia_icd" ] &&
   ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$nvidia_icd
  say "no driver json in the loader's folders: VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi
have_layer() {
  local d dirs
  IFS=: read -ra dirs <<<"${VK_LAYER_PATH:-}:${VK_ADD_LAYER_PATH:-}"
  for d in "${dirs[@]}" /usr/share/vulkan/explicit_layer.d \
           /etc/vulkan/explicit_layer.d /usr/local/share/vulkan/explicit_layer.d; do
    [ -f "$d/VkLayer_khronos_validation.json" ] && return 0
  done
  return 1
}
if ! have_layer && ls .gpu-kit/vulkan-validationlayers_*.deb >/dev/null 2>&1; then
  layers=/tmp/vknorm-validation-layers
  for f in .gpu-kit/vulkan-validationlayers_*.deb; do dpkg -x "$f" "$layers"; done
  # Debian's manifest names the library without a path: the loader finds it by LD_LIBRARY_PATH.
  export VK_ADD_LAYER_PATH=$layers/usr/share/vulkan/explicit_layer.d${VK_ADD_LAYER_PATH:+:${VK_ADD_LAYER_PATH}}
  export LD_LIBRARY_PATH=$layers/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}
  say "validation layer unpacked from .gpu-kit into $layers"
fi

# ---- The build: build/, a kit from gpu-check-device.sh prepare, or built now ----
build_log=$(mktemp)
if [ -z "${BUILD_DIR:-}" ]; then
  BUILD_DIR=build
  [ ! -x build/vknorm ] && [ -x .gpu-kit/build/vknorm ] && BUILD_DIR=.gpu-kit/build
fi
if [ "$BUILD_DIR" = build ] && { [ ! -x build/vknorm ] || [ ! -x build/tests/vknorm_tests ]; }; then
  say "building (scripts/build.sh, log in build.log)"
  scripts/build.sh all >"$build_log" 2>&1 || { tail -20 "$build_log" >&2; say "the build failed"; exit 1; }
fi
[ -x "$BUILD_DIR/vknorm" ] || { say "$BUILD_DIR/vknorm is missing: build it (scripts/build.sh)"; exit 1; }
build_abs=$(cd "$BUILD_DIR" && pwd)
# A build made elsewhere holds absolute paths (CTest's commands, the tests' fixture folder):
# link them to this checkout where they do not exist here.
cache_value() { sed -n "s/^$1:INTERNAL=//p" "$build_abs/CMakeCache.txt" 2>/dev/null; }
built_source=$(cache_value CMAKE_HOME_DIRECTORY)
built_build=$(cache_value CMAKE_CACHEFILE_DIR)
if [ -n "$built_source" ] && [ "$built_source" != "$root" ] && [ ! -e "$built_source" ]; then
  mkdir -p "$(dirname "$built_source")" && ln -s "$root" "$built_source" && say "linked $built_source -> $root"
fi
if [ -n "$built_build" ] && [ ! -e "$built_build" ]; then
  ln -s "$build_abs" "$built_build" && say "linked $built_build -> $build_abs"
fi
vknorm=$build_abs/vknorm
step_done "setup and build"

# ---- The results folder, named after the default device ----
devices_txt=$(mktemp)
"$vknorm" devices >"$devices_txt" 2>&1
devices_rc=$?
device=$(sed -n 's/^\* [0-9]*: //p' "$devices_txt" | head -1)
[ -n "$device" ] || device=unknown
short=$(echo "$device" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9]\+/-/g; s/^-//; s/-$//' | cut -d- -f1-3)
name="gpu-$(date +%Y-%m-%d)-$short"
fetch=""
if [ -z "$results" ]; then
  if [ -n "${OUT:-}" ]; then fetch=$OUT; results=/tmp/vknorm-gpu-check/$name; else results=results/$name; fi
fi
mkdir -p "$results" || exit 1
results=$(cd "$results" && pwd)
mv "$devices_txt" "$results/devices.txt"
[ -s "$build_log" ] && mv "$build_log" "$results/build.log" || rm -f "$build_log"
chmod 644 "$results"/*.txt "$results"/*.log 2>/dev/null  # mktemp's 600, for whoever unpacks them
[ $devices_rc -eq 0 ] || failed+=("vknorm devices (exit $devices_rc)")
say "device: $device; results in $results"
cat "$results/devices.txt"

# ---- The bench ----
bench_args=()
[ $quick -eq 1 ] && bench_args+=(--quick)
say "vknorm bench ${bench_args[*]} --json"
"$vknorm" bench "${bench_args[@]}" --json "$results/bench.json" >"$results/bench.txt" 2>&1 ||
  failed+=("vknorm bench (exit $?; bench.txt)")
say "vknorm bench --host --json"
"$vknorm" bench --host --json "$results/bench-host.json" >"$results/bench-host.txt" 2>&1 ||
  failed+=("vknorm bench --host (exit $?; bench-host.txt)")
step_done "devices + bench + bench --host"

# ---- PyTorch on the bench's shapes ----
torch_python=""
torch_note=""
if [ -f "$results/bench.json" ]; then
  check='import torch; assert torch.cuda.is_available(), "torch.cuda.is_available() is False"'
  [ "$torch_device" = cpu ] && check='import torch'
  for py in ${PYTHON:-} python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    if why=$("$py" -c "$check" 2>&1); then torch_python=$py; break; fi
    torch_note="$py: $(echo "$why" | tail -1)"
  done
  if [ -z "$torch_python" ]; then
    say "skipping the PyTorch comparison: no PyTorch with CUDA (${torch_note:-no python3}); the table has vknorm's columns only"
    echo "skipped: no PyTorch with CUDA (${torch_note:-no python3})" >"$results/pytorch.log"
  else
    torch_args=(--device "$torch_device")
    [ "$torch_device" = cpu ] && torch_args+=(--runs 3 --warmup 1 --inner 1)
    say "PyTorch ($torch_python, $torch_device): tools/pytorch_bench.py"
    PYTHONUNBUFFERED=1 "$torch_python" tools/pytorch_bench.py run --bench "$results/bench.json" \
      --out "$results/pytorch.json" "${torch_args[@]}" >"$results/pytorch.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && [ "$torch_device" = cuda ]; then  # a CUDA-graph failure that took the process down
      say "pytorch_bench failed (exit $rc): again without CUDA graphs"
      PYTHONUNBUFFERED=1 "$torch_python" tools/pytorch_bench.py run --bench "$results/bench.json" \
        --out "$results/pytorch.json" "${torch_args[@]}" --no-graph >>"$results/pytorch.log" 2>&1
      rc=$?
    fi
    [ $rc -eq 0 ] || failed+=("tools/pytorch_bench.py (exit $rc; pytorch.log)")
  fi
  table_python=${torch_python:-$(command -v python3 || true)}
  if [ -n "$table_python" ]; then
    torch_json=()
    [ -f "$results/pytorch.json" ] && torch_json=(--torch "$results/pytorch.json")
    "$table_python" tools/pytorch_bench.py table --bench "$results/bench.json" "${torch_json[@]}" \
      --out "$results/table.md" || failed+=("the table (tools/pytorch_bench.py table)")
  fi
fi
step_done "PyTorch + table"

# ---- The suite, minus what only lavapipe runs ----
# Left out: vknorm_tests_subgroup*, vknorm_tests_tool and vknorm_tests_faults_every
# (lavapipe's subgroup sizes through LP_NATIVE_VECTOR_WIDTH, which expect that size;
# vknorm_tests runs whole once below instead, with the sampled fault sweep), bench_regression_guard (a
# lavapipe baseline), package_* (the build system, not the device) and the MPI entries
# (mpiexec). LP_NATIVE_VECTOR_WIDTH in the other entries' environment does nothing elsewhere.
suite_exclude='^(vknorm_tests_subgroup.*|vknorm_tests_tool|vknorm_tests_faults_every|bench_regression_guard|package_.*|mpi_.*|.*_mpi_.*)$'
exit_note() { [ "$1" -eq 124 ] && echo "$1: timed out after ${suite_timeout} s (GPU_CHECK_SUITE_TIMEOUT)" || echo "$1"; }
run_suite() {
  local rc ctest_rc=0
  echo "== vknorm_tests (the doctest suite, once, default descriptor path)"
  timeout "$suite_timeout" "$build_abs/tests/vknorm_tests"
  rc=$?
  echo "== vknorm_tests exit status $(exit_note $rc)"
  if command -v ctest >/dev/null; then
    echo "== ctest -E '$suite_exclude'"
    timeout "$suite_timeout" ctest --test-dir "$build_abs" -E "$suite_exclude" --output-on-failure
    ctest_rc=$?
    echo "== ctest exit status $(exit_note $ctest_rc)"
  else
    echo "== no ctest on PATH: the C API tests, samples and bench checks did not run"
    ctest_rc=1
  fi
  [ $rc -eq 0 ] && [ $ctest_rc -eq 0 ]
}
if [ ! -x "$build_abs/tests/vknorm_tests" ]; then
  suite="not run: $BUILD_DIR/tests/vknorm_tests is missing (a build without tests)"
  failed+=("the suite (not built)")
elif ! have_layer; then
  suite="not run: no VK_LAYER_KHRONOS_validation (the tests run with it): install vulkan-validationlayers, or put its .deb in .gpu-kit/"
  failed+=("the suite (no validation layer)")
else
  say "the suite (log in tests.log)"
  run_suite >"$results/tests.log" 2>&1
  suite_rc=$?
  doctest_line=$(grep -a '^\[doctest\] test cases:' "$results/tests.log" | head -1 | sed 's/^\[doctest\] //; s/  */ /g')
  ctest_line=$(grep -a 'tests passed, .* tests failed out of' "$results/tests.log" | tail -1)
  ctest_failed=$(sed -n 's/^\t *[0-9]* - \(.*\) (\(Failed\|Timeout\|Not Run\))$/\1/p' "$results/tests.log" | tr '\n' ' ')
  timed_out=$(grep -a -c 'exit status 124' "$results/tests.log")
  suite="vknorm_tests: ${doctest_line:-no summary line}; ctest: ${ctest_line:-no summary line}${ctest_failed:+ (failed: ${ctest_failed% })}"
  [ "$timed_out" -gt 0 ] && suite="$suite; $timed_out part(s) timed out after ${suite_timeout} s"
  [ $suite_rc -eq 0 ] && suite="passed. $suite" || { suite="FAILED. $suite"; failed+=("the suite (tests.log)"); }
fi
say "suite: $suite"
step_done "the suite"

# ---- summary.md ----
commit=$(git rev-parse --short HEAD 2>/dev/null || cat .gpu-kit/commit 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit (with local changes)"
field() { sed -n "s/^ *$1 \+//p" "$results/devices.txt" | head -1; }
{
  echo "# vknorm on $device"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); host $(hostname); $(uname -sm)"
  echo "- commit: $commit"
  echo "- device: $device ($(field type)), Vulkan $(field 'Vulkan API')"
  echo "- driver: $(field driver)"
  echo "- loader and driver files: VK_DRIVER_FILES=${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-unset, the loader searches its folders}}"
  echo "- subgroup size $(field 'subgroup size'); $(field 'reduction path' | cut -c1-60)"
  echo "- suite: $suite"
  echo "- bench: $(sed -n 's/^timing: //p' "$results/bench.txt" 2>/dev/null | head -1)"
  echo "- PyTorch: $(tail -1 "$results/pytorch.log" 2>/dev/null || echo 'not run')"
  [ ${#failed[@]} -eq 0 ] && echo "- every step passed" || printf -- '- FAILED: %s\n' "${failed[@]}"
  echo "- wall time: $(( $(date +%s) - started )) s ($(IFS=,; echo "${timings[*]}" | sed 's/,/, /g'))"
  echo
  [ -f "$results/table.md" ] && cat "$results/table.md"
} >"$results/summary.md"

tar -czf "$results.tar.gz" -C "$(dirname "$results")" "$(basename "$results")"
if [ -n "$fetch" ]; then
  mkdir -p "$fetch"
  cp "$results.tar.gz" "$fetch/"
  for f in summary.md table.md bench.json pytorch.json; do [ -f "$results/$f" ] && cp "$results/$f" "$fetch/"; done
  say "copied to $fetch: $(cd "$fetch" && ls | tr '\n' ' ')"
fi
say "wrote $results and $results.tar.gz in $(( $(date +%s) - started )) s"
cat "$results/summary.md"
[ ${#failed[@]} -eq 0 ]
