# Build step of a PLAIN kernel (VKNORM_KERNELS, src/kernels.hpp): its one module serves both
# reduction paths, so building it with USE_SUBGROUP=1 must change nothing. If it does, the
# kernel uses subgroup operations (maybe through a function of shaders/reduce.glsl) and must
# be declared SUBGROUP. On success the USE_SUBGROUP=0 module becomes OUT.
# cmake -DNAME=<kernel> -DPLAIN=<sg0 .inc> -DWITH_SUBGROUP=<sg1 .inc> -DOUT=<.inc> -P plain_kernel.cmake
file(READ ${PLAIN} plain)
file(READ ${WITH_SUBGROUP} with_subgroup)
file(REMOVE ${WITH_SUBGROUP})
if(NOT plain STREQUAL with_subgroup)
  file(REMOVE ${PLAIN})
  message(FATAL_ERROR "shaders/${NAME}.comp is declared PLAIN in VKNORM_KERNELS (src/kernels.hpp), but it "
                      "compiles differently with USE_SUBGROUP=1: it uses subgroup operations. Declare it "
                      "X(${NAME}, SUBGROUP).")
endif()
file(RENAME ${PLAIN} ${OUT})
