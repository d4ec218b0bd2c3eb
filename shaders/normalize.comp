#version 450
#extension GL_GOOGLE_include_directive : require
// y = (x - mean) * invstd * gamma + beta, one invocation per element (grid-stride).
// Statistics come per group: batch statistics (invstd) or running statistics (variance,
// FLAG_STATS_ARE_VAR). gamma and beta follow the group's channel k.
// Slots: 0 x, 1 y, 2 weight, 3 bias, 4 mean, 5 invstd or var.
#include "common.glsl"

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint e = gl_GlobalInvocationID.x; e < pc.elements; e += stride) {
    uint g = element_group(e);
    uint k = g % pc.K;
    float s = slot5.data[pc.base[5] + g];
    float invstd = has_flag(FLAG_STATS_ARE_VAR) ? 1.0 / sqrt(s + pc.eps) : s;
    float scale = invstd;
    if (has_flag(FLAG_WEIGHT)) scale *= slot2.data[pc.base[2] + k];
    float y = (slot0.data[pc.base[0] + e] - slot4.data[pc.base[4] + g]) * scale;
    if (has_flag(FLAG_BIAS)) y += slot3.data[pc.base[3] + k];
    slot1.data[pc.base[1] + e] = y;
  }
}
