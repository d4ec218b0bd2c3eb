#!/usr/bin/env bash
# Readies this checkout for scripts/gpu-check.sh on a bare machine: one with a GPU and its
# driver but no Vulkan loader, no validation layer, no glslang and no network (the device
# tool's NVIDIA machines). Run it here, in the checkout the device tool sends:
#   scripts/gpu-check-device.sh prepare
# It fills two folders that git ignores (.git/info/exclude), about 22 MB together:
#   .gl/        libvulkan1_*.deb, the loader (only the loader: the NVIDIA ICD json and its
#               library come with the driver, in /usr/local/nvidia there)
#   .gpu-kit/   build/: the tool, the test binaries and samples of a Release build made here
#               without MPI (build-gpu/; nothing there needs mpiexec), with CMakeCache.txt and
#               CTest's files; vulkan-validationlayers_*.deb (the suite runs under the layer);
#               commit: the commit it was built from (the copy there has no .git)
# and prints the one command for the device tool, which is also this, with carry [".gl",".gpu-kit"]
# and timeout_s 600:
#
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; GPU_CHECK_SUITE_TIMEOUT=150 scripts/gpu-check.sh
#
# There gpu-check.sh finds .gpu-kit/build, links the absolute paths baked into it to that
# checkout, unpacks the validation layer under /tmp, and, with $OUT set by the device tool,
# leaves in $OUT (8 files at most come back) the results folder as a tar.gz, summary.md,
# table.md, bench.json and pytorch.json. The suite is the step cut short first
# (GPU_CHECK_SUITE_TIMEOUT seconds for each of its two parts), so the bench and the PyTorch
# comparison, which run before it, come back whole.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  prepare) ;;
  command) sed -n '/^#   for f in/s/^#   //p' "$0"; exit 0 ;;
  *) echo "usage: scripts/gpu-check-device.sh prepare|command" >&2; exit 2 ;;
esac

exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
for p in /.gl/ /.gpu-kit/; do grep -qxF "$p" "$exclude" 2>/dev/null || echo "$p" >>"$exclude"; done

# The loader, fetched as the device tool's README says (amd64 whatever this machine is).
mkdir -p .gl .gpu-kit
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1 || ! ls .gpu-kit/vulkan-validationlayers_*.deb >/dev/null 2>&1; then
  lists=/tmp/vknorm-apt-amd64
  mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$lists")
  apt-get "${o[@]}" update -qq
  (cd .gl && ls libvulkan1_*.deb >/dev/null 2>&1 || apt-get "${o[@]}" download libvulkan1)
  (cd .gpu-kit && ls vulkan-validationlayers_*.deb >/dev/null 2>&1 || apt-get "${o[@]}" download vulkan-validationlayers)
fi

# The build, without MPI, and only what runs there copied into the kit.
scripts/install-deps.sh
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DVKNORM_BUILD_TESTS=ON -DVKNORM_BUILD_SAMPLES=ON \
  -DVKNORM_BUILD_MPI=OFF "${launcher[@]}" >/dev/null
cmake --build build-gpu -j"$(nproc)"
rm -rf .gpu-kit/build
mkdir -p .gpu-kit/build
(cd build-gpu && find . \( -name CMakeFiles -o -name prefix \) -prune -o -type f \
   \( -name CTestTestfile.cmake -o -name CMakeCache.txt -o \( -perm -u+x ! -name '*.sh' \) \) -print |
   tar -cf - -T -) | tar -xf - -C .gpu-kit/build
commit=$(git rev-parse --short HEAD)
[ -n "$(git status --porcelain --untracked-files=no)" ] && commit="$commit (with local changes)"
echo "$commit" >.gpu-kit/commit
echo "prepared: .gl ($(du -sh .gl | cut -f1)), .gpu-kit ($(du -sh .gpu-kit | cut -f1)); commit $commit"
echo "device tool: run with carry [\".gl\", \".gpu-kit\"], timeout_s 600, command:"
"$0" command
