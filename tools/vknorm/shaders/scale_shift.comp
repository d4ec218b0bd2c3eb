#version 450
#extension GL_GOOGLE_include_directive : require
// Reference for `vknorm bench`: the elementwise pass y = a * x + b (a and b come in the
// eps and momentum push constants), the least any forward norm must do.
#include "common.glsl"

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  uint total = element_count();
  for (uint e = gl_GlobalInvocationID.x; e < total; e += stride) store_out(e, pc.eps * load_x(e) + pc.momentum);
}
