#version 450
#extension GL_GOOGLE_include_directive : require
// Reference for `vknorm bench`: y = x, every element read once and written once, with the
// same slots, grid and access pattern as the elementwise passes of the norms.
#include "common.glsl"

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  uint total = element_count();
  for (uint e = gl_GlobalInvocationID.x; e < total; e += stride) store_out(e, load_x(e));
}
