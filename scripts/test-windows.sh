#!/usr/bin/env bash
# Windows x64: cross-builds vknorm with Debian's MinGW-w64 (cmake/toolchains/mingw-w64-x86_64.cmake;
# the shaders are compiled to SPIR-V by the host's glslangValidator, as in the native build)
# and runs it under wine, on lavapipe through wine's vulkan-1.dll (winevulkan) and the host's
# loader:
#   build-windows/           static libvknorm: vknorm.exe, vknorm_tests.exe, the C API tests
#                            and cnn_block (which links wine's vulkan-1.dll, as an engine
#                            links the loader);
#   build-windows/shared/    vknorm.dll, its import library libvknorm.dll.a and vknorm.def;
#                            vknorm.exe and the C API test linked against it;
#   build-windows/msvc-abi/  an MSVC-ABI program on vknorm.dll's C API (clang-cl, lld-link);
#   build-windows/install/   both builds installed; build-windows/consumer_c/ is
#                            tests/package/consumer_c built against that prefix.
# Then, under wine: `vknorm.exe devices`, the doctest suite at subgroup size 8, the C API
# tests (static library and DLL), the MSVC-ABI program, the package consumers and cnn_block
# for 40 steps.
#
# Wine's Vulkan needs an X server (without one: VK_ERROR_INITIALIZATION_FAILED), and a wine
# session keeps the display it started with: so all the runs share one X server
# (`xvfb-run -a scripts/test-windows.sh --run`). Debian has no Windows build of the Khronos
# validation layer and wine's vulkan-1.dll offers no layers, so the tests run without it
# (VKNORM_TEST_ALLOW_NO_VALIDATION=1, tests/environment_support.hpp): they say so, count the
# instances without it, and name the test cases they skip for it.
set -euo pipefail
cd "$(dirname "$0")/.."

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/vknorm-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR"
# A wine prefix of our own, created on first use (about 15 s), quiet.
export WINEPREFIX="${WINEPREFIX:-$PWD/build-windows/wineprefix}" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
jobs="$(nproc)"
prefix="$PWD/build-windows/install"
msvc=build-windows/msvc-abi
consumer=build-windows/consumer_c
step() { echo "== [${SECONDS} s] $*"; }

# wine with a time limit: a program that hangs fails the stage in minutes, named, instead of
# running into CI's own limit (a lost wake-up in MinGW's std::latch once hung the suite).
# No terminal for its input: timeout runs wine in a background process group.
wine_limited() {
  local limit=$1 rc=0
  shift
  timeout --kill-after=20 "$limit" wine "$@" </dev/null || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "timed out after $limit s: wine $*" >&2; fi
  return "$rc"
}

run_under_wine() {
  export LP_NATIVE_VECTOR_WIDTH=256 VKNORM_TEST_EXPECT_SUBGROUP_SIZE=8 VKNORM_TEST_ALLOW_NO_VALIDATION=1
  # Each fixture of the tool's PyTorch sweeps in one of its variants, in turn (a wine process
  # start per run of the tool); the Release suite runs every variant.
  export VKNORM_TEST_TOOL_RUNS=sampled
  step "wine: vknorm.exe devices"
  wine_limited 120 build-windows/vknorm.exe devices
  step "wine: the doctest suite, subgroup size 8"
  # --duration=true: a line as each test case ends, so a hang shows where it is.
  wine_limited 1500 build-windows/tests/vknorm_tests.exe --no-intro=true --duration=true
  step "wine: the C API tests (static libvknorm)"
  wine_limited 300 build-windows/tests/c_api/vknorm_c_api_test.exe
  wine_limited 300 build-windows/tests/c_api/vknorm_c_api_sync_test.exe
  step "wine: the C API test and vknorm.exe devices against vknorm.dll"
  # The DLL beside the programs, where Windows looks first.
  cp build-windows/shared/vknorm.dll build-windows/shared/tests/c_api/
  wine_limited 300 build-windows/shared/tests/c_api/vknorm_c_api_test.exe
  wine_limited 120 build-windows/shared/vknorm.exe devices --json >/dev/null
  step "wine: the MSVC-ABI program on vknorm.dll"
  wine_limited 120 "$msvc/msvc_abi_consumer.exe"
  step "wine: tests/package/consumer_c against the installed vknorm.dll (WINEPATH: its bin/)"
  for program in consumer_c_find_package consumer_c_pkg_config; do
    WINEPATH="$(winepath -w "$prefix/bin")" wine_limited 120 "$consumer/$program.exe" | tee "$consumer/$program.txt"
    grep -q '^OK' "$consumer/$program.txt"  # CRLF under wine
  done
  step "wine: cnn_block, 40 steps"
  wine_limited 600 build-windows/samples/cnn_block/cnn_block.exe --steps 40
  wineserver -w  # the session ends while its X server is still there
}

case "${1:-}" in
  "") ;;
  --run)
    run_under_wine
    exit 0
    ;;
  *)
    echo "usage: scripts/test-windows.sh" >&2
    exit 2
    ;;
esac

# clang-tools-14 (clang-cl), lld-14 (lld-link) and llvm-14 (llvm-dlltool): the MSVC-ABI check.
scripts/install-deps.sh g++-mingw-w64-x86-64-posix wine wine64 xvfb xauth clang-tools-14 lld-14 llvm-14

# No MPI (FindMPI would find the host's Open MPI); everything else as the native build,
# warnings as errors.
common=(--toolchain cmake/toolchains/mingw-w64-x86_64.cmake --no-warn-unused-cli -DCMAKE_BUILD_TYPE=Release
  -DVKNORM_BUILD_MPI=OFF -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DVKNORM_WARNINGS_AS_ERRORS=ON
  -DVKNORM_SPIRV_CACHE_DIR="$PWD/build/spirv-cache")
step "Windows x64 (MinGW-w64): static build"
cmake -S . -B build-windows "${common[@]}" >/dev/null
cmake --build build-windows -j"$jobs" --target vknorm_cli vknorm_tests vknorm_c_api_test vknorm_c_api_sync_test \
  cnn_block
step "Windows x64 (MinGW-w64): shared build (vknorm.dll)"
cmake -S . -B build-windows/shared "${common[@]}" -DBUILD_SHARED_LIBS=ON -DVKNORM_BUILD_SAMPLES=OFF >/dev/null
cmake --build build-windows/shared -j"$jobs" --target vknorm vknorm_cli vknorm_c_api_test

# An MSVC-ABI program on vknorm.dll's C API: clang-cl (x86_64-pc-windows-msvc) compiles it,
# lld-link links it against an MSVC-style import library that llvm-dlltool makes from
# vknorm.def, as MSVC's `lib /def:vknorm.def /machine:x64` would. Debian has no MSVC C
# runtime, so the program has none (tests/windows/msvc_abi_consumer.c).
step "MSVC ABI: clang-cl and lld-link against vknorm.dll"
llvm=/usr/lib/llvm-14/bin
mkdir -p "$msvc"
"$llvm/llvm-dlltool" -m i386:x86-64 -D vknorm.dll -d build-windows/shared/vknorm.def -l "$msvc/vknorm.lib"
printf 'LIBRARY kernel32.dll\nEXPORTS\nExitProcess\nGetStdHandle\nWriteFile\n' >"$msvc/kernel32.def"
"$llvm/llvm-dlltool" -m i386:x86-64 -d "$msvc/kernel32.def" -l "$msvc/kernel32.lib"
"$llvm/clang-cl" --target=x86_64-pc-windows-msvc /nologo /c /O2 /GS- /W4 /WX -Xclang -ffreestanding /Iinclude \
  /Ibuild-windows/shared/host-headers tests/windows/msvc_abi_consumer.c "/Fo$msvc/consumer.obj"
"$llvm/lld-link" /nologo /entry:mainCRTStartup /subsystem:console /nodefaultlib "/out:$msvc/msvc_abi_consumer.exe" \
  "$msvc/consumer.obj" "$msvc/vknorm.lib" "$msvc/kernel32.lib"
cp build-windows/shared/vknorm.dll "$msvc/"

# Nothing but the sample that plays an engine imports vulkan-1.dll: vknorm opens the loader
# at run time (tests/no_vulkan_link.cmake checks the same on Linux).
step "no vulkan-1.dll import but cnn_block's"
imports() { x86_64-w64-mingw32-objdump -p "$1" | grep -i "DLL Name:"; }
for binary in build-windows/shared/vknorm.dll build-windows/vknorm.exe build-windows/tests/vknorm_tests.exe \
  build-windows/tests/c_api/vknorm_c_api_test.exe build-windows/shared/tests/c_api/vknorm_c_api_test.exe; do
  if imports "$binary" | grep -qi vulkan-1; then
    echo "$binary imports vulkan-1.dll" >&2
    exit 1
  fi
done
imports build-windows/samples/cnn_block/cnn_block.exe | grep -qi vulkan-1  # the check can see one

# The static build's libvknorm.a beside the DLL's files; the CMake package, vknorm.pc and
# vknorm.exe are the shared build's (its install replaces the static build's).
step "install: static, then shared, into build-windows/install"
rm -rf "$prefix"
cmake --install build-windows --prefix "$prefix" >/dev/null
rm -rf "$prefix/lib/cmake" "$prefix/lib/pkgconfig"
cmake --install build-windows/shared --prefix "$prefix" >/dev/null
(cd "$prefix" && find . -type f -not -path './include/*' | sort)

# tests/package/consumer_c, a C-only project, against the installed package: through
# find_package(vknorm CONFIG) and through pkg-config (CMAKE_FIND_ROOT_PATH: the toolchain
# looks for libraries and packages only in the Windows trees it is given). pkg-config names
# no Vulkan headers: a Windows engine has its own (the Vulkan SDK's), here the toolchain's
# links to the host's.
step "tests/package/consumer_c against build-windows/install"
rm -rf "$consumer"
PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" cmake -S tests/package/consumer_c -B "$consumer" \
  --toolchain "$PWD/cmake/toolchains/mingw-w64-x86_64.cmake" --no-warn-unused-cli -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_FIND_ROOT_PATH=$prefix" "-DCMAKE_PREFIX_PATH=$prefix" "-DCMAKE_C_FLAGS=-I$PWD/$consumer/host-headers" \
  >/dev/null
cmake --build "$consumer" -j"$jobs" >/dev/null

wineserver -k 2>/dev/null || true  # no session left over from an earlier display
xvfb-run -a "$0" --run
