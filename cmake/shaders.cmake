# Compiles every shaders/*.comp to SPIR-V at build time (glslangValidator -x writes the
# words as text) and wraps each in a small generated .cpp that defines
# vknorm_spirv_<name>_sg<S>_f<B>[] for src/kernels.cpp. Four variants per shader:
#  - USE_SUBGROUP=1 uses subgroup arithmetic, USE_SUBGROUP=0 only a shared-memory tree
#    (a module that merely mentions subgroup operations declares their SPIR-V capability,
#    which devices without it refuse);
#  - DTYPE_F16=0 stores tensors as float32, DTYPE_F16=1 as float16 (16-bit storage).
# SPIR-V 1.3 (Vulkan 1.1) is the target: it is Android's baseline, and the vulkan1.3 target
# would turn local_size_x_id into LocalSizeId, which needs maintenance4.
set(VKNORM_SHADER_DIR ${CMAKE_CURRENT_BINARY_DIR}/shaders)
file(MAKE_DIRECTORY ${VKNORM_SHADER_DIR})
file(GLOB VKNORM_SHADER_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/shaders/*.comp)
# The kernels include shaders/*.glsl and the host-shader contract src/shader_contract.h.
file(GLOB VKNORM_SHADER_INCLUDES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/shaders/*.glsl)
list(APPEND VKNORM_SHADER_INCLUDES ${CMAKE_CURRENT_SOURCE_DIR}/src/shader_contract.h)
set(VKNORM_SHADER_SOURCES_CPP)
foreach(src ${VKNORM_SHADER_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  foreach(sg 0 1)
    foreach(f16 0 1)
      if(f16)
        set(variant ${name}_sg${sg}_f16)
      else()
        set(variant ${name}_sg${sg}_f32)
      endif()
      set(words ${VKNORM_SHADER_DIR}/${variant}.inc)
      add_custom_command(
        OUTPUT ${words}
        COMMAND ${GLSLANG_VALIDATOR} --quiet --target-env vulkan1.1 -DUSE_SUBGROUP=${sg}
                -DDTYPE_F16=${f16} -I${CMAKE_CURRENT_SOURCE_DIR}/src -x -o ${words} ${src}
        DEPENDS ${src} ${VKNORM_SHADER_INCLUDES}
        COMMENT "glslang ${name}.comp (USE_SUBGROUP=${sg}, DTYPE_F16=${f16})"
        VERBATIM)
      set(wrapper ${VKNORM_SHADER_DIR}/${variant}.cpp)
      file(WRITE ${wrapper}.in
        "#include <cstddef>\n#include <cstdint>\n"
        "extern const uint32_t vknorm_spirv_${variant}[] = {\n#include \"${variant}.inc\"\n};\n"
        "extern const size_t vknorm_spirv_${variant}_bytes = sizeof(vknorm_spirv_${variant});\n")
      configure_file(${wrapper}.in ${wrapper} COPYONLY)
      set_source_files_properties(${wrapper} PROPERTIES OBJECT_DEPENDS ${words})
      list(APPEND VKNORM_SHADER_SOURCES_CPP ${wrapper})
    endforeach()
  endforeach()
endforeach()
