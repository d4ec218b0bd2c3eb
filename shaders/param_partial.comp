#version 450
#extension GL_GOOGLE_include_directive : require
// dgamma / dbeta when gamma varies inside a statistics group (GroupNorm, LayerNorm,
// RMSNorm), pass 1: workgroup (chunk, channel) sums dy * xhat and dy over one chunk of the
// elements of an affine channel, each xhat with the statistics of its own group.
#include "common.glsl"
#include "reduce.glsl"

void main() {
  uint chunk = gl_WorkGroupID.x;
  uint lid = gl_LocalInvocationID.x;
  uint size = pc.Op * pc.Ip;
  for (uint c = gl_WorkGroupID.y; c < pc.Kp; c += gl_NumWorkGroups.y) {
    uint begin = chunk * pc.pchunk_size;
    uint end = min(size, begin + pc.pchunk_size);
    vec2 sums = vec2(0.0);
    for (uint m = begin + lid; m < end; m += gl_WorkGroupSize.x) {
      uint e = channel_element(c, m);
      uint g = element_group(e);
      float dy = load_dy(e);
      sums += vec2(dy * (load_x(e) - stat_mean(g)) * stat_invstd(g), dy);
    }
    sums = workgroup_sum2(sums);
    if (lid == 0u) {
      uint at = pc.base[9] + pc.param_base + (c * pc.pchunks + chunk) * 2u;
      slot_work.data[at] = sums.x;
      slot_work.data[at + 1u] = sums.y;
    }
  }
}
