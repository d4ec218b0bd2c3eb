#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 3: dx = a * (dy - b - xhat * c) per element, with the coefficients of
// grad_finalize. Slots: 0 x, 1 dy, 2 dx, 4 mean, 5 invstd or var, 7 coefficients.
#include "common.glsl"

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint e = gl_GlobalInvocationID.x; e < pc.elements; e += stride) {
    uint g = element_group(e);
    uint at = pc.base[7] + g * 3u;
    float a = slot7.data[at], b = slot7.data[at + 1u], c = slot7.data[at + 2u];
    float dy = slot1.data[pc.base[1] + e];
    float dx = dy - b;
    if (has_flag(FLAG_BATCH_STATS)) {
      float s = slot5.data[pc.base[5] + g];
      float invstd = has_flag(FLAG_STATS_ARE_VAR) ? 1.0 / sqrt(s + pc.eps) : s;
      dx -= (slot0.data[pc.base[0] + e] - slot4.data[pc.base[4] + g]) * invstd * c;
    }
    slot2.data[pc.base[2] + e] = a * dx;
  }
}
