# vknorm_warnings(target...): the warnings every vknorm target builds with, C and C++.
# With VKNORM_WARNINGS_AS_ERRORS=ON (scripts/build.sh and the sanitizer build turn it on,
# so CI holds GCC and Clang to it) any warning fails the build.
# -Wno-missing-field-initializers: `VkBufferCreateInfo info{VK_STRUCTURE_TYPE_...}` and
# aggregates that name their leading fields zero the rest on purpose; that is Vulkan's idiom.
option(VKNORM_WARNINGS_AS_ERRORS "Fail the build on any compiler warning" OFF)

function(vknorm_warnings)
  foreach(target IN LISTS ARGN)
    if(MSVC)
      target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${VKNORM_WARNINGS_AS_ERRORS}>:/WX>)
    else()
      target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers
                             $<$<BOOL:${VKNORM_WARNINGS_AS_ERRORS}>:-Werror>)
    endif()
  endforeach()
endfunction()
