# One step of the package tests (tests/package/CMakeLists.txt), run with cmake -P:
#   STEP=install       cmake --install BUILD_DIR into PREFIX (emptied first), check its files
#   STEP=cpp           consumer_cpp: find_package(vknorm CONFIG) from PREFIX; build and run
#   STEP=c             consumer_c, a C-only project: one program through find_package(vknorm
#                      CONFIG) from PREFIX, one through pkg-config from PREFIX/LIBDIR/pkgconfig
#   STEP=mpi           consumer_mpi: find_package(vknorm CONFIG COMPONENTS mpi) from PREFIX;
#                      build and run (a singleton MPI process, no mpirun)
#   STEP=subdirectory  subdirectory: add_subdirectory(VKNORM_SOURCE_DIR); build and run, with
#                      the outer build's SPIRV_CACHE_DIR (VKNORM_SPIRV_CACHE_DIR) if not empty
# Consumers build in WORK_DIR/<name>-build, emptied first, with GENERATOR, MAKE_PROGRAM,
# C_COMPILER, CXX_COMPILER and CONFIG (the build type) of the outer build.
cmake_minimum_required(VERSION 3.21)

# Runs a command, echoing it; any failure fails the test.
function(run)
  execute_process(COMMAND ${ARGN} COMMAND_ECHO STDOUT RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

# Configures SOURCE_DIR/<name> in a fresh WORK_DIR/<name>-build with extra arguments,
# builds the programs in the list `targets` and runs each; each must exit 0 and print OK.
function(build_and_run name targets)
  set(build ${WORK_DIR}/${name}-build)
  file(REMOVE_RECURSE ${build})
  set(args -S ${SOURCE_DIR}/${name} -B ${build} -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER}
           -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF --no-warn-unused-cli)
  if(MAKE_PROGRAM)
    list(APPEND args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
  endif()
  run(${CMAKE_COMMAND} ${args} ${ARGN})
  cmake_host_system_information(RESULT jobs QUERY NUMBER_OF_LOGICAL_CORES)
  set(config_args)
  if(CONFIG)
    set(config_args --config ${CONFIG})
  endif()
  run(${CMAKE_COMMAND} --build ${build} --target ${targets} --parallel ${jobs} ${config_args})

  foreach(target IN LISTS targets)
    set(exe)
    foreach(candidate ${build}/${target} ${build}/${CONFIG}/${target} ${build}/Debug/${target})
      if(EXISTS ${candidate} AND NOT IS_DIRECTORY ${candidate})
        set(exe ${candidate})
        break()
      endif()
    endforeach()
    if(NOT exe)
      message(FATAL_ERROR "${target} was not built under ${build}")
    endif()
    execute_process(COMMAND ${exe} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
    message("${exe}:\n${out}${err}")
    if(NOT rc EQUAL 0 OR NOT out MATCHES "(^|\n)OK\n")
      message(FATAL_ERROR "${target} failed (exit ${rc})")
    endif()
  endforeach()
endfunction()

# The package was found in PREFIX, not anywhere else: vknorm_DIR in the consumer's cache.
function(check_found_in_prefix name)
  file(STRINGS ${WORK_DIR}/${name}-build/CMakeCache.txt found REGEX "^vknorm_DIR:")
  string(FIND "${found}" "${PREFIX}/" at)
  if(NOT at GREATER 0)
    message(FATAL_ERROR "vknorm was not found in ${PREFIX}: ${found}")
  endif()
  message("${found}")
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE ${PREFIX})
  set(config_args)
  if(CONFIG)
    set(config_args --config ${CONFIG})
  endif()
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX} ${config_args})
  file(GLOB_RECURSE installed RELATIVE ${PREFIX} ${PREFIX}/*)
  list(SORT installed)
  list(JOIN installed "\n  " listing)
  message("installed:\n  ${listing}")
  foreach(required include/vknorm/layernorm.hpp include/vknorm/status.hpp bin/vknorm)
    if(NOT EXISTS ${PREFIX}/${required})
      message(FATAL_ERROR "not installed: ${required}")
    endif()
  endforeach()
  foreach(required vknormConfig.cmake vknormConfigVersion.cmake vknorm-targets.cmake)
    if(NOT installed MATCHES "/cmake/vknorm/${required}")
      message(FATAL_ERROR "not installed: <libdir>/cmake/vknorm/${required}")
    endif()
  endforeach()
  if(NOT installed MATCHES "/libvknorm\\.(a|so)" OR NOT installed MATCHES "/pkgconfig/vknorm\\.pc")
    message(FATAL_ERROR "libvknorm or vknorm.pc is missing")
  endif()
  # The installed tool runs from the prefix (with a shared libvknorm: through its RPATH).
  run(${PREFIX}/bin/vknorm --help)

elseif(STEP STREQUAL "cpp")
  build_and_run(consumer_cpp consumer_cpp -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_BUILD_TYPE=${CONFIG})
  check_found_in_prefix(consumer_cpp)

elseif(STEP STREQUAL "c")
  find_program(pkg_config NAMES pkg-config pkgconf)
  if(NOT pkg_config)
    message(FATAL_ERROR "pkg-config not found (scripts/install-deps.sh installs it)")
  endif()
  set(pc_dir ${PREFIX}/${LIBDIR}/pkgconfig)
  if(DEFINED ENV{PKG_CONFIG_PATH} AND NOT "$ENV{PKG_CONFIG_PATH}" STREQUAL "")
    set(ENV{PKG_CONFIG_PATH} "${pc_dir}:$ENV{PKG_CONFIG_PATH}")
  else()
    set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  endif()
  run(${pkg_config} --modversion vknorm)
  run(${pkg_config} --cflags --libs vknorm)
  build_and_run(consumer_c "consumer_c_find_package;consumer_c_pkg_config" -DCMAKE_PREFIX_PATH=${PREFIX}
                -DPKG_CONFIG_EXECUTABLE=${pkg_config} -DCMAKE_BUILD_TYPE=${CONFIG})
  check_found_in_prefix(consumer_c)
  # C only: the project never enabled C++, so both programs were linked by the C compiler.
  file(GLOB_RECURSE cxx_compiler ${WORK_DIR}/consumer_c-build/CMakeFiles/CMakeCXXCompiler.cmake)
  if(cxx_compiler)
    message(FATAL_ERROR "consumer_c enabled C++: ${cxx_compiler}")
  endif()

elseif(STEP STREQUAL "mpi")
  build_and_run(consumer_mpi consumer_mpi -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_BUILD_TYPE=${CONFIG})
  check_found_in_prefix(consumer_mpi)

elseif(STEP STREQUAL "subdirectory")
  # No build type: vknorm must leave it empty, and -O0 is the quickest build of it.
  # The outer build's SPIR-V cache (cmake/shaders.cmake), if it has one: the same modules.
  build_and_run(subdirectory subdirectory_consumer -DVKNORM_SOURCE_DIR=${VKNORM_SOURCE_DIR}
                -DCMAKE_BUILD_TYPE= -DVKNORM_EXPECT_BUILD_TYPE= -DVKNORM_SPIRV_CACHE_DIR=${SPIRV_CACHE_DIR})

else()
  message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
