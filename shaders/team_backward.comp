#version 450
#extension GL_GOOGLE_include_directive : require
// Backward through batch statistics for many small groups: each subgroup owns a group
// (as in team_forward), sums g and g * xhat over it without a barrier, and writes dx in
// the same dispatch, reading x and dy a second time from cache. The sums also go to the
// workspace (grad_partial's layout, one chunk per group): grad_finalize turns them into
// dgamma / dbeta when gamma is constant inside a group; param_partial computes those
// otherwise.
#include "common.glsl"
#include "reduce.glsl"  // the subgroup extensions
#include "grad.glsl"

vec2 team_sum2(vec2 v) {
#if USE_SUBGROUP
  return subgroupAdd(v);
#else
  return v;
#endif
}

void main() {
#if USE_SUBGROUP
  uint lanes = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
  uint per_workgroup = gl_WorkGroupSize.x / lanes;
  uint team = gl_WorkGroupID.x * per_workgroup + gl_SubgroupID;
  uint teams = gl_NumWorkGroups.x * per_workgroup;
#else
  uint lanes = 1u, lane = 0u;
  uint team = gl_GlobalInvocationID.x, teams = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
#endif
  uint size = group_size();
  bool weighted = has_flag(FLAG_GAMMA_VARIES);
  for (uint g = team; g < group_count(); g += teams) {
    float mean = stat_mean(g), invstd = stat_invstd(g);
    vec2 sums = vec2(0.0);
    for (GroupWalk at = group_walk(g, lane, lanes); at.m < size; walk_next(at)) {
      uint e = walk_element(at);
      float dy = load_dy(e);
      if (weighted) dy *= gamma_of(walk_channel(at));
      sums += vec2(dy, dy * (load_x(e) - mean) * invstd);
    }
    sums = team_sum2(sums);
    if (lane == 0u) {
      slot_work.data[pc.base[9] + g * 2u] = sums.x;
      slot_work.data[pc.base[9] + g * 2u + 1u] = sums.y;
    }
    // As grad_finalize: a group-constant gamma multiplies the sums.
    Coefficients k = group_coefficients(g, weighted ? sums : sums * gamma_of(g % pc.K));
    for (GroupWalk at = group_walk(g, lane, lanes); at.m < size; walk_next(at))
      grad_element(walk_element(at), k, gamma_of(walk_channel(at)));
  }
}
