# The bench's reference kernels (tools/vknorm/shaders/*.comp): compiled as
# cmake/shaders.cmake compiles the library's, against shaders/common.glsl, in the variants
# the bench uses. They use no subgroup operations (the library's USE_SUBGROUP=0 and =1
# builds of them were byte-identical), so USE_SUBGROUP=0 serves every device.
# tools/vknorm/bench_references.cpp includes the words from VKNORM_TOOL_SHADER_DIR.
set(VKNORM_TOOL_SHADER_DIR ${CMAKE_CURRENT_BINARY_DIR}/tool_shaders)
file(MAKE_DIRECTORY ${VKNORM_TOOL_SHADER_DIR})
set(VKNORM_TOOL_SHADER_WORDS)
foreach(name copy scale_shift)
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/tools/vknorm/shaders/${name}.comp)
  foreach(dtype f32 f16 f16p)  # as cmake/shaders.cmake: f16p packs halves in 32-bit words
    vknorm_dtype_defines(${dtype} dtype_defines)
    set(words ${VKNORM_TOOL_SHADER_DIR}/${name}_${dtype}.inc)
    vknorm_glslang_command(glslang ${words} ${src} --quiet --target-env vulkan1.1 -DUSE_SUBGROUP=0 ${dtype_defines}
      -I${CMAKE_CURRENT_SOURCE_DIR}/shaders -I${CMAKE_CURRENT_SOURCE_DIR}/src -x)
    add_custom_command(
      OUTPUT ${words}
      COMMAND ${glslang}
      DEPENDS ${src} ${VKNORM_SHADER_INCLUDES}
      COMMENT "glslang tools/vknorm/shaders/${name}.comp (${dtype})"
      VERBATIM)
    list(APPEND VKNORM_TOOL_SHADER_WORDS ${words})
  endforeach()
endforeach()
# The vector references (stream_vec4.comp): copy and scale_shift, ITEMS vectors per
# invocation per step of the grid-stride loop, in each storage. The bench times them on the
# device and takes the fastest (bench_references.cpp).
foreach(pass copy scale_shift)
  set(scale_shift 0)
  if(pass STREQUAL "scale_shift")
    set(scale_shift 1)
  endif()
  foreach(dtype f32 f16 f16p)
    vknorm_dtype_defines(${dtype} dtype_defines)
    foreach(items 1 2 4)
      set(src ${CMAKE_CURRENT_SOURCE_DIR}/tools/vknorm/shaders/stream_vec4.comp)
      set(words ${VKNORM_TOOL_SHADER_DIR}/vec4_${pass}_${dtype}_i${items}.inc)
      vknorm_glslang_command(glslang ${words} ${src} --quiet --target-env vulkan1.1 -DSCALE_SHIFT=${scale_shift}
        -DITEMS=${items} ${dtype_defines} -I${CMAKE_CURRENT_SOURCE_DIR}/src -x)
      add_custom_command(
        OUTPUT ${words}
        COMMAND ${glslang}
        DEPENDS ${src} ${CMAKE_CURRENT_SOURCE_DIR}/src/shader_contract.h
        COMMENT "glslang tools/vknorm/shaders/stream_vec4.comp (${pass} ${dtype} x${items})"
        VERBATIM)
      list(APPEND VKNORM_TOOL_SHADER_WORDS ${words})
    endforeach()
  endforeach()
endforeach()
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/tools/vknorm/bench_references.cpp
                            PROPERTIES OBJECT_DEPENDS "${VKNORM_TOOL_SHADER_WORDS}")
