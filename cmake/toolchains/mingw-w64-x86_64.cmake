# Cross build for Windows x64 with Debian's MinGW-w64 (g++-mingw-w64-x86-64-posix: the
# posix thread model, so std::thread and the C tests' pthreads work through winpthreads).
# scripts/test-windows.sh uses it:
#   cmake -S . -B build-windows --toolchain cmake/toolchains/mingw-w64-x86_64.cmake
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
# Libraries and packages from the MinGW tree only, never the host's Linux ones; programs
# from the host, so that glslangValidator compiles the shaders on the build machine. More
# Windows trees may be named: -DCMAKE_FIND_ROOT_PATH=<prefix> (a consumer of an installed
# vknorm: with CMAKE_PREFIX_PATH=<prefix>, find_package and pkg-config's libraries are found
# there).
list(APPEND CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Static libgcc and libstdc++ (winpthreads too): the programs and vknorm.dll then need no
# MinGW runtime DLLs beside them, on Windows or under wine.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")

# The header-only dependencies come from the host: the Vulkan headers (platform-independent
# without a VK_USE_PLATFORM_* WSI define), volk.h/volk.c (Debian libvulkan-volk-dev) and
# doctest (doctest-dev). Not through /usr/include itself: `-isystem /usr/include` would put
# glibc's headers before MinGW's. So a folder of links to just those headers, in the build
# tree, and the cache variables that FindVulkan and tests/CMakeLists.txt would search for.
set(VKNORM_HOST_INCLUDE /usr/include CACHE PATH "Where the host's vulkan/, volk.h and doctest/ are")
set(vknorm_headers ${CMAKE_BINARY_DIR}/host-headers)
if(NOT EXISTS ${vknorm_headers}/vulkan/vulkan_core.h)
  file(MAKE_DIRECTORY ${vknorm_headers})
  foreach(entry vulkan vk_video volk.h volk.c doctest)
    if(EXISTS ${VKNORM_HOST_INCLUDE}/${entry})
      file(CREATE_LINK ${VKNORM_HOST_INCLUDE}/${entry} ${vknorm_headers}/${entry} SYMBOLIC)
    endif()
  endforeach()
endif()
set(Vulkan_INCLUDE_DIR ${vknorm_headers} CACHE PATH "Vulkan headers (the host's, linked)")
set(VOLK_INCLUDE_DIR ${vknorm_headers} CACHE PATH "volk.h (the host's, linked)")
set(VOLK_SOURCE ${vknorm_headers}/volk.c CACHE FILEPATH "volk.c (the host's, linked)")
set(DOCTEST_INCLUDE_DIR ${vknorm_headers} CACHE PATH "doctest/doctest.h (the host's, linked)")
# vknorm links no Vulkan loader; only the samples that play an engine do, and MinGW has no
# vulkan-1 import library. GNU ld links against a DLL directly: wine's vulkan-1.dll exports
# the loader's names, so the programs import them from "vulkan-1.dll", which on Windows is
# the system loader. (FindVulkan also wants a library before it makes Vulkan::Headers.)
set(VKNORM_WINE_VULKAN_DLL /usr/lib/x86_64-linux-gnu/wine/x86_64-windows/vulkan-1.dll)
if(EXISTS ${VKNORM_WINE_VULKAN_DLL})
  set(Vulkan_LIBRARY ${VKNORM_WINE_VULKAN_DLL} CACHE FILEPATH "vulkan-1.dll to link the samples against")
endif()

# CTest, try_run and add_test(COMMAND <target>) run the programs under wine (Debian: wine,
# which starts wine64 for a 64-bit program). Vulkan under wine needs an X server: run CTest
# under `xvfb-run -a`.
find_program(VKNORM_WINE wine)
if(VKNORM_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VKNORM_WINE})
endif()
