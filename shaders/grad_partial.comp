#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 1: workgroup (chunk, group) sums g and g * xhat over one chunk of a
// statistics group, xhat = (x - mean) * invstd. g = gamma * dy when gamma varies inside
// the group (GroupNorm, LayerNorm, RMSNorm); otherwise g = dy and grad_finalize applies
// the group's gamma (and also has the sums it needs for dgamma / dbeta).
#include "common.glsl"
#include "reduce.glsl"

void main() {
  uint chunk = gl_WorkGroupID.x;
  uint lid = gl_LocalInvocationID.x;
  bool weighted = has_flag(FLAG_GAMMA_VARIES);
  for (uint g = gl_WorkGroupID.y; g < group_count(); g += gl_NumWorkGroups.y) {
    float mean = stat_mean(g);
    float invstd = stat_invstd(g);
    uint begin = chunk * pc.chunk_size;
    uint end = min(group_size(), begin + pc.chunk_size);
    vec2 sums = vec2(0.0);
    for (GroupWalk at = group_walk(g, begin + lid, gl_WorkGroupSize.x); at.m < end; walk_next(at)) {
      uint e = walk_element(at);
      float dy = load_dy(e);
      if (weighted) dy *= gamma_of(walk_channel(at));
      sums += vec2(dy, dy * (load_x(e) - mean) * invstd);
    }
    sums = workgroup_sum2(sums);
    if (lid == 0u) {
      uint at = pc.base[9] + (g * pc.chunks + chunk) * 2u;
      slot_work.data[at] = sums.x;
      slot_work.data[at + 1u] = sums.y;
    }
  }
}
