#!/usr/bin/env bash
# Arm64 Linux: cross-builds vknorm for aarch64 in build-arm64/ (Debian's g++-aarch64-linux-gnu,
# cmake/toolchains/aarch64-linux-gnu.cmake; the shaders are compiled to SPIR-V by the host's
# glslangValidator, as in the native build) and runs it under qemu-user:
#
#   scripts/test-arm64.sh         what CI runs (about 20 s of tests after the build):
#                                 - with no Vulkan driver at all: the planner, the CPU
#                                   reference, the .npy reader, the thread communicator and
#                                   the shader contract;
#                                 - on Debian's arm64 lavapipe (emulated): `vknorm devices`
#                                   and two float32 GPU test cases, at subgroup size 4.
#   scripts/test-arm64.sh --gpu   then the whole GPU suite on the emulated lavapipe. Not in
#                                 CI: it would run 6-15 times slower than the native suite,
#                                 and today it aborts at the first float16 kernel, in
#                                 lavapipe's LLVM ("LLVM ERROR: Cannot select: v4f32 =
#                                 fp_extend"). Under qemu-user lavapipe reads the x86 host's
#                                 /proc/cpuinfo, so that may not happen on Arm hardware.
set -euo pipefail
cd "$(dirname "$0")/.."

gpu_suite=0
case "${1:-}" in
  "") ;;
  --gpu) gpu_suite=1 ;;
  *)
    echo "usage: scripts/test-arm64.sh [--gpu]" >&2
    exit 2
    ;;
esac

# The arm64 libraries come from Debian multiarch (install-deps.sh adds the architecture).
# libstdc++6:arm64 brings Debian's arm64 libc, which the programs run on (the toolchain file
# says why not the cross compiler's). Nothing links libvulkan (vknorm opens the loader at run
# time; the tests use volk from the host's libvulkan-volk-dev): libvulkan1:arm64 is the
# loader the arm64 programs open, for `vknorm devices` and the smoke cases below.
scripts/install-deps.sh g++-aarch64-linux-gnu qemu-user libstdc++6:arm64 libvulkan1:arm64 \
  mesa-vulkan-drivers:arm64 vulkan-validationlayers:arm64

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/vknorm-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR"

# No samples, MPI or install rules: the samples are covered natively, and FindMPI would
# find the host's x86-64 Open MPI. The test binary has only the test files run below
# (VKNORM_TEST_FILES; all of them for --gpu): the others' cross compile took most of the
# build, for test cases this script does not run.
test_files="test_reference_*.cpp;test_npy.cpp;test_communicator.cpp;test_shader_contract.cpp;test_batchnorm_gpu.cpp"
test_files+=";test_descriptors.cpp"
[ "$gpu_suite" -eq 0 ] || test_files="test_*.cpp"
cmake -S . -B build-arm64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake --no-warn-unused-cli \
  -DCMAKE_BUILD_TYPE=Release -DVKNORM_BUILD_TESTS=ON -DVKNORM_BUILD_SAMPLES=OFF "-DVKNORM_TEST_FILES=$test_files" \
  -DVKNORM_BUILD_MPI=OFF -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DVKNORM_INSTALL=OFF \
  -DVKNORM_SPIRV_CACHE_DIR="$PWD/build/spirv-cache" >/dev/null
cmake --build build-arm64 -j"$(nproc)" --target vknorm_cli vknorm_tests vknorm_planner_tests

# The emulator: none on an Arm64 host; else qemu-user's, under either of Debian's names.
qemu=()
if [ "$(uname -m)" != aarch64 ]; then
  qemu=("$(command -v qemu-aarch64 || command -v qemu-aarch64-static)") || {
    echo "test-arm64.sh: no qemu-aarch64 or qemu-aarch64-static (Debian package qemu-user)" >&2
    exit 1
  }
fi
tests=("${qemu[@]}" build-arm64/tests/vknorm_tests --no-intro=true)

echo "== Arm64 (qemu-user), no Vulkan driver: planner"
ctest --test-dir build-arm64 --output-on-failure -R '^planner$'  # CTest runs it under qemu
echo "== Arm64 (qemu-user), no Vulkan driver: reference, .npy, communicator, shader contract"
# A test here that reached for a device would fail.
env VK_DRIVER_FILES=/nonexistent VK_ICD_FILENAMES=/nonexistent "${tests[@]}" \
  --source-file='*test_reference_*,*test_npy.cpp,*test_communicator.cpp,*test_shader_contract.cpp'

# Only the arm64 lavapipe: the x86-64 ICDs cannot load into an arm64 process, and the arm64
# hardware drivers would find no device. LP_NATIVE_VECTOR_WIDTH=128 (subgroup size 4):
# NEON's width, and faster to emulate than 256 (LayerNorm's test case: 75 s against 94 s).
export VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.aarch64.json
export LP_NATIVE_VECTOR_WIDTH=128 VKNORM_TEST_EXPECT_SUBGROUP_SIZE=4
echo "== Arm64 (qemu-user), lavapipe: vknorm devices"
"${qemu[@]}" build-arm64/vknorm devices
echo "== Arm64 (qemu-user), lavapipe: float32 GPU test cases, subgroup size 4"
"${tests[@]}" --test-case='BatchNorm GPU with momentum=None*,Descriptor paths: lavapipe pushes descriptors*'

if [ "$gpu_suite" -eq 1 ]; then
  echo "== Arm64 (qemu-user), lavapipe: the GPU test suite, subgroup size 4"
  "${tests[@]}"
fi
