#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 1: workgroup (chunk, group) sums dy and dy * xhat over one chunk of a
// statistics group, xhat = (x - mean) * invstd.
// Slots: 0 x, 1 dy, 4 mean, 5 invstd or var, 6 partials (per group and chunk: two sums).
#include "common.glsl"
#include "reduce.glsl"

void main() {
  uint chunk = gl_WorkGroupID.x;
  uint lid = gl_LocalInvocationID.x;
  for (uint g = gl_WorkGroupID.y; g < pc.groups; g += gl_NumWorkGroups.y) {
    float mean = slot4.data[pc.base[4] + g];
    float s = slot5.data[pc.base[5] + g];
    float invstd = has_flag(FLAG_STATS_ARE_VAR) ? 1.0 / sqrt(s + pc.eps) : s;
    uint begin = chunk * pc.chunk_size;
    uint end = min(pc.count, begin + pc.chunk_size);
    vec2 sums = vec2(0.0);
    for (uint m = begin + lid; m < end; m += gl_WorkGroupSize.x) {
      uint e = group_element(g, m);
      float dy = slot1.data[pc.base[1] + e];
      float xhat = (slot0.data[pc.base[0] + e] - mean) * invstd;
      sums += vec2(dy, dy * xhat);
    }
    sums = workgroup_sum2(sums);
    if (lid == 0u) {
      uint at = pc.base[6] + (g * pc.chunks + chunk) * 2u;
      slot6.data[at] = sums.x;
      slot6.data[at + 1u] = sums.y;
    }
  }
}
