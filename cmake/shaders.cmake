# Compiles every shaders/*.comp to SPIR-V at build time and turns it into a header of
# 32-bit words (glslangValidator -x) that src/kernels.cpp embeds. Each shader is built
# twice: with subgroup arithmetic (USE_SUBGROUP=1) and with the shared-memory tree only
# (USE_SUBGROUP=0), because a module that merely mentions subgroup operations declares
# their SPIR-V capability, which devices without it refuse.
# SPIR-V 1.3 (Vulkan 1.1) is the target: it is Android's baseline, and the vulkan1.3 target
# would turn local_size_x_id into LocalSizeId, which needs maintenance4.
set(VKNORM_SHADER_DIR ${CMAKE_CURRENT_BINARY_DIR}/shaders)
file(MAKE_DIRECTORY ${VKNORM_SHADER_DIR})
file(GLOB VKNORM_SHADER_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/shaders/*.comp)
file(GLOB VKNORM_SHADER_INCLUDES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/shaders/*.glsl)
set(VKNORM_SHADER_HEADERS)
foreach(src ${VKNORM_SHADER_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  foreach(sg 0 1)
    set(out ${VKNORM_SHADER_DIR}/${name}_sg${sg}.inc)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${GLSLANG_VALIDATOR} --quiet --target-env vulkan1.1 -DUSE_SUBGROUP=${sg}
              -x -o ${out} ${src}
      DEPENDS ${src} ${VKNORM_SHADER_INCLUDES}
      COMMENT "glslang ${name}.comp (USE_SUBGROUP=${sg})"
      VERBATIM)
    list(APPEND VKNORM_SHADER_HEADERS ${out})
  endforeach()
endforeach()
