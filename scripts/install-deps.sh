#!/usr/bin/env bash
# Installs the Debian 12 packages vknorm needs, only those that are missing; arguments
# name more. A name with an architecture (libvulkan-dev:arm64) adds that architecture to dpkg
# first (Debian multiarch).
set -euo pipefail
packages=("$@"
  cmake g++ make                # build
  glslang-tools                 # compiles shaders/*.comp to SPIR-V at build time
  libvulkan-dev                 # Vulkan loader and headers
  libvulkan-volk-dev            # volk.c/volk.h: the tests call Vulkan as an engine through volk, linking no loader
  mesa-vulkan-drivers           # lavapipe: a Vulkan 1.3 device on the CPU
  vulkan-validationlayers       # the tests run with the Khronos validation layer
  doctest-dev                   # test framework (header only)
  pkgconf                       # pkg-config: the package test builds a C program with vknorm.pc
  libopenmpi-dev openmpi-bin    # vknorm::mpi (optional, built when found) and its tests under mpirun
  clang libclang-rt-14-dev      # scripts/fuzz.sh: libFuzzer targets with ASan and UBSan
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
for p in "${missing[@]}"; do
  arch="${p#*:}"
  if [ "$arch" != "$p" ] && [ "$arch" != "$(dpkg --print-architecture)" ] &&
     ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    $sudo dpkg --add-architecture "$arch"
  fi
done
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
