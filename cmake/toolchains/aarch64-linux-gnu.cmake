# Cross build for Arm64 Linux with Debian's cross compiler (g++-aarch64-linux-gnu), against
# Debian multiarch arm64 libraries (/usr/lib/aarch64-linux-gnu; `dpkg --add-architecture
# arm64`). There is no sysroot: the headers are the host's /usr/include, which multiarch
# shares between architectures. scripts/test-arm64.sh uses it:
#   cmake -S . -B build-arm64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# find_library() looks in <prefix>/lib/aarch64-linux-gnu, never in the host's x86_64 dirs.
# No CMAKE_FIND_ROOT_PATH: find_program() finds the host's tools, so glslangValidator
# compiles the shaders to SPIR-V on the build machine.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Vulkan-Headers' CMake package describes headers only, but Debian installs it in a multiarch
# folder (libvulkan-dev:amd64: /usr/lib/x86_64-linux-gnu/cmake/VulkanHeaders), where the
# search for aarch64 packages does not look; without it CMake's FindVulkan would want an
# arm64 loader library to link, which nothing here does. Use the host's: its headers are
# /usr/include, which multiarch shares.
file(GLOB vknorm_vulkan_headers_configs /usr/lib/*-linux-gnu/cmake/VulkanHeaders/VulkanHeadersConfig.cmake)
if(vknorm_vulkan_headers_configs AND NOT VulkanHeaders_DIR)
  list(GET vknorm_vulkan_headers_configs 0 vknorm_vulkan_headers_config)
  get_filename_component(vknorm_vulkan_headers_dir ${vknorm_vulkan_headers_config} DIRECTORY)
  set(VulkanHeaders_DIR ${vknorm_vulkan_headers_dir} CACHE PATH "Vulkan-Headers' CMake package (the host's)" FORCE)
endif()
# CTest, try_run and add_test(COMMAND <target>) run the Arm64 binaries under qemu-user
# (Debian qemu-user). With Debian's arm64 libc installed (libc6:arm64, multiarch) the
# programs run on it and its loader, /lib/ld-linux-aarch64.so.1. Only without it, the cross
# compiler's libc (-L /usr/aarch64-linux-gnu): given both, -L pairs the cross loader with the
# multiarch libc.so.6 it finds in /lib/aarch64-linux-gnu, two different glibc builds, and
# threads waiting on a condition variable then never wake.
find_program(VKNORM_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(VKNORM_QEMU_AARCH64 AND EXISTS /lib/ld-linux-aarch64.so.1)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VKNORM_QEMU_AARCH64})
elseif(VKNORM_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VKNORM_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
