# Compiles every kernel of VKNORM_KERNELS (src/kernels.hpp), shaders/<name>.comp, to SPIR-V at
# build time (glslangValidator -x writes the words as text) and wraps each module in a small
# generated .cpp that defines vknorm_spirv_<module>[] for src/kernels.cpp. Variants:
#  - tensor storage (dtype f32, f16, f16p): float32; float16 through 16-bit storage
#    (DTYPE_F16=1); float16 halves packed in 32-bit words (DTYPE_F16_PACKED=1), for devices
#    without storageBuffer16BitAccess;
#  - a SUBGROUP kernel is built with USE_SUBGROUP=1 (subgroup arithmetic) and
#    USE_SUBGROUP=0 (only a shared-memory tree): a module that merely mentions subgroup
#    operations declares their SPIR-V capability, which devices without it refuse.
#    Modules <name>_sg<0|1>_<dtype>.
#  - a PLAIN kernel has one module per dtype, <name>_<dtype>, for both reduction paths. It
#    is compiled both ways too, and the build fails unless the two are the same.
# SPIR-V 1.3 (Vulkan 1.1) is the target: it is Android's baseline, and the vulkan1.3 target
# would turn local_size_x_id into LocalSizeId, which needs maintenance4.
set(VKNORM_SHADER_DIR ${CMAKE_CURRENT_BINARY_DIR}/shaders)
file(MAKE_DIRECTORY ${VKNORM_SHADER_DIR})
set(VKNORM_SHADER_SOURCE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/shaders)
# The kernels include shaders/*.glsl and the host-shader contract src/shader_contract.h.
file(GLOB VKNORM_SHADER_INCLUDES CONFIGURE_DEPENDS ${VKNORM_SHADER_SOURCE_DIR}/*.glsl)
list(APPEND VKNORM_SHADER_INCLUDES ${CMAKE_CURRENT_SOURCE_DIR}/src/shader_contract.h)
set(VKNORM_GLSLANG_FLAGS --quiet --target-env vulkan1.1 -I${CMAKE_CURRENT_SOURCE_DIR}/src -x)

# VKNORM_SPIRV_CACHE_DIR: a folder of compiled modules keyed by the hash of the compiler, its
# command line and every shader source and include (cmake/glslang_cached.cmake). Build trees
# of one checkout that name the same folder compile each module once: scripts/ give every
# tree of CI (native, sanitizer, fuzzing, Windows, Arm64, the add_subdirectory consumer)
# build/spirv-cache. Empty (the default): glslangValidator runs directly. Safe to delete.
set(VKNORM_SPIRV_CACHE_DIR "" CACHE PATH "Folder of compiled SPIR-V shared by build trees (empty: none)")
if(VKNORM_SPIRV_CACHE_DIR)
  execute_process(COMMAND ${GLSLANG_VALIDATOR} --version OUTPUT_VARIABLE glslang_version COMMAND_ERROR_IS_FATAL ANY)
  string(SHA256 VKNORM_GLSLANG_ID "${GLSLANG_VALIDATOR}\n${glslang_version}")
endif()

# Sets <var> to the COMMAND of add_custom_command that compiles <src>, which may include any
# of VKNORM_SHADER_INCLUDES, with glslangValidator and the further arguments into <out>.
function(vknorm_glslang_command var out src)
  if(VKNORM_SPIRV_CACHE_DIR)
    string(REPLACE ";" "|" inputs "${src};${VKNORM_SHADER_INCLUDES}")
    set(${var} ${CMAKE_COMMAND} -DCACHE_DIR=${VKNORM_SPIRV_CACHE_DIR} -DTOOL_ID=${VKNORM_GLSLANG_ID}
        -DINPUTS=${inputs} -DOUT=${out} -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/glslang_cached.cmake
        -- ${GLSLANG_VALIDATOR} ${ARGN} ${src} PARENT_SCOPE)
  else()
    set(${var} ${GLSLANG_VALIDATOR} ${ARGN} -o ${out} ${src} PARENT_SCOPE)
  endif()
endfunction()

# The kernel list: lines "  X(<name>, SUBGROUP|PLAIN)" of VKNORM_KERNELS.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/kernels.hpp)
file(READ ${CMAKE_CURRENT_SOURCE_DIR}/src/kernels.hpp VKNORM_KERNELS_HPP)
string(REGEX MATCHALL "\n  X\\([a-z0-9_]+, (SUBGROUP|PLAIN)\\)" VKNORM_KERNEL_LINES "${VKNORM_KERNELS_HPP}")
set(VKNORM_KERNEL_NAMES)
foreach(line ${VKNORM_KERNEL_LINES})
  string(REGEX REPLACE "^\n  X\\(([a-z0-9_]+), ([A-Z]+)\\)$" "\\1;\\2" entry "${line}")
  list(GET entry 0 name)
  list(GET entry 1 kind)
  set(VKNORM_KERNEL_KIND_${name} ${kind})
  list(APPEND VKNORM_KERNEL_NAMES ${name})
endforeach()
file(GLOB VKNORM_SHADER_SOURCES CONFIGURE_DEPENDS ${VKNORM_SHADER_SOURCE_DIR}/*.comp)
foreach(src ${VKNORM_SHADER_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  if(NOT name IN_LIST VKNORM_KERNEL_NAMES)
    message(FATAL_ERROR "shaders/${name}.comp is not in VKNORM_KERNELS (src/kernels.hpp)")
  endif()
endforeach()

# Adds the custom command that writes ${VKNORM_SHADER_DIR}/<module>.inc and its wrapper.
function(vknorm_spirv_wrapper module)
  set(wrapper ${VKNORM_SHADER_DIR}/${module}.cpp)
  file(WRITE ${wrapper}.in
    "#include <cstddef>\n#include <cstdint>\n"
    "extern const uint32_t vknorm_spirv_${module}[] = {\n#include \"${module}.inc\"\n};\n"
    "extern const size_t vknorm_spirv_${module}_bytes = sizeof(vknorm_spirv_${module});\n")
  configure_file(${wrapper}.in ${wrapper} COPYONLY)
  set_source_files_properties(${wrapper} PROPERTIES OBJECT_DEPENDS ${VKNORM_SHADER_DIR}/${module}.inc)
  set(VKNORM_SHADER_SOURCES_CPP ${VKNORM_SHADER_SOURCES_CPP} ${wrapper} PARENT_SCOPE)
endfunction()

# The glslang defines of a tensor storage: f32, f16 (16-bit storage buffers) or f16p (float16
# packed two to a 32-bit word, for devices without 16-bit storage). tools/vknorm uses it too.
function(vknorm_dtype_defines dtype out)
  set(f16 0)
  set(packed 0)
  if(dtype STREQUAL "f16")
    set(f16 1)
  elseif(dtype STREQUAL "f16p")
    set(packed 1)
  endif()
  set(${out} -DDTYPE_F16=${f16} -DDTYPE_F16_PACKED=${packed} PARENT_SCOPE)
endfunction()

set(VKNORM_SHADER_SOURCES_CPP)
set(VKNORM_SPIRV_MODULE_COUNT 0)
foreach(name ${VKNORM_KERNEL_NAMES})
  set(src ${VKNORM_SHADER_SOURCE_DIR}/${name}.comp)
  if(NOT EXISTS ${src})
    message(FATAL_ERROR "VKNORM_KERNELS (src/kernels.hpp) lists ${name}, but shaders/${name}.comp does not exist")
  endif()
  foreach(dtype f32 f16 f16p)
    vknorm_dtype_defines(${dtype} dtype_defines)
    if(VKNORM_KERNEL_KIND_${name} STREQUAL "SUBGROUP")
      foreach(sg 0 1)
        set(module ${name}_sg${sg}_${dtype})
        vknorm_glslang_command(glslang ${VKNORM_SHADER_DIR}/${module}.inc ${src}
          ${VKNORM_GLSLANG_FLAGS} -DUSE_SUBGROUP=${sg} ${dtype_defines})
        add_custom_command(
          OUTPUT ${VKNORM_SHADER_DIR}/${module}.inc
          COMMAND ${glslang}
          DEPENDS ${src} ${VKNORM_SHADER_INCLUDES}
          COMMENT "glslang ${name}.comp (USE_SUBGROUP=${sg}, ${dtype})"
          VERBATIM)
        vknorm_spirv_wrapper(${module})
        math(EXPR VKNORM_SPIRV_MODULE_COUNT "${VKNORM_SPIRV_MODULE_COUNT} + 1")
      endforeach()
    else()
      set(module ${name}_${dtype})
      set(words ${VKNORM_SHADER_DIR}/${module}.inc)
      vknorm_glslang_command(glslang_sg0 ${words}.sg0 ${src} ${VKNORM_GLSLANG_FLAGS} -DUSE_SUBGROUP=0 ${dtype_defines})
      vknorm_glslang_command(glslang_sg1 ${words}.sg1 ${src} ${VKNORM_GLSLANG_FLAGS} -DUSE_SUBGROUP=1 ${dtype_defines})
      add_custom_command(
        OUTPUT ${words}
        COMMAND ${glslang_sg0}
        COMMAND ${glslang_sg1}
        COMMAND ${CMAKE_COMMAND} -DNAME=${name} -DPLAIN=${words}.sg0 -DWITH_SUBGROUP=${words}.sg1 -DOUT=${words}
                -P ${CMAKE_CURRENT_LIST_DIR}/plain_kernel.cmake
        DEPENDS ${src} ${VKNORM_SHADER_INCLUDES} ${CMAKE_CURRENT_LIST_DIR}/plain_kernel.cmake
        COMMENT "glslang ${name}.comp (PLAIN, ${dtype})"
        VERBATIM)
      vknorm_spirv_wrapper(${module})
      math(EXPR VKNORM_SPIRV_MODULE_COUNT "${VKNORM_SPIRV_MODULE_COUNT} + 1")
    endif()
  endforeach()
endforeach()
message(STATUS "vknorm: ${VKNORM_SPIRV_MODULE_COUNT} SPIR-V modules from ${CMAKE_CURRENT_SOURCE_DIR}/shaders")
