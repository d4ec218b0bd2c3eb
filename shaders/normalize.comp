#version 450
#extension GL_GOOGLE_include_directive : require
// y = (x - mean) * invstd * gamma + beta per element (grid-stride), with the statistics
// of the element's group (batch statistics, or running ones with FLAG_STATS_ARE_VAR) and
// the parameters of its affine channel, then the epilogue (residual add, ReLU).
#include "common.glsl"

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  uint total = element_count();
  for (uint e = gl_GlobalInvocationID.x; e < total; e += stride) {
    uint g = element_group(e);
    uint c = element_channel(e);
    float y = (load_x(e) - stat_mean(g)) * stat_invstd(g) * gamma_of(c) + beta_of(c);
    store_out(e, epilogue(e, y));
  }
}
