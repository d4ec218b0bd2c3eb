#version 450
#extension GL_GOOGLE_include_directive : require
// Backward through batch statistics for many small groups: each subgroup owns a group
// (as in team_forward), sums g and g * xhat over it without a barrier, and writes dx in
// the same dispatch, reading x and dy a second time from cache. The sums also go to the
// workspace (grad_partial's layout, one chunk per group) when grad_finalize turns them
// into dgamma / dbeta (gamma constant inside a group); param_partial computes those
// otherwise, except over GroupNorm NCHW planes (FLAG_PLANE_PARAMS, plane_sums).
#include "common.glsl"
#include "reduce.glsl"  // teams
#include "grad.glsl"

// GroupNorm NCHW (O == 1): group g is cpg planes of `inner` contiguous values, one
// channel each. Sums per plane serve dx (weighted by the plane's gamma) and, as
// param_partial's partials (one per b), dgamma / dbeta.
vec2 plane_sums(uint g, uint lane, uint lanes, float mean, float invstd) {
  uint b = g / pc.K;
  vec2 total = vec2(0.0);
  for (uint ci = 0u; ci < pc.I / pc.inner; ++ci) {
    uint start = plane_start(g, ci), end = start + pc.inner;
    vec2 sums = vec2(0.0);
    for (uint e = start + lane; e < end; e += lanes) {
      float dy = load_dy(e);
      sums += vec2(dy, dy * (load_x(e) - mean) * invstd);
    }
    sums = team_sum2(sums);
    uint c = plane_channel(g, ci);
    if (lane == 0u) store_sums(param_sums_record(c, b), sums);
    total += gamma_of(c) * sums;
  }
  return total;
}

void main() {
  Team t = invocation_team();
  uint lanes = t.lanes, lane = t.lane;
  uint size = group_size();
  bool weighted = has_flag(FLAG_GAMMA_VARIES);
  for (uint g = t.index; g < group_count(); g += t.count) {
    float mean = stat_mean(g), invstd = stat_invstd(g);
    vec2 sums = vec2(0.0);
    if (has_flag(FLAG_PLANE_PARAMS)) {
      sums = plane_sums(g, lane, lanes, mean, invstd);
    } else {
      for (GroupWalk at = group_walk(g, lane, lanes); at.m < size; walk_next(at)) {
        uint e = walk_element(at);
        float dy = load_dy(e);
        if (weighted) dy *= gamma_of(walk_channel(at));
        sums += vec2(dy, dy * (load_x(e) - mean) * invstd);
      }
      sums = team_sum2(sums);
    }
    // grad_finalize reads them only for dgamma / dbeta of a group-constant gamma.
    bool finalized = !weighted && (has_flag(FLAG_WEIGHT) || has_flag(FLAG_BIAS));
    if (lane == 0u && finalized) store_sums(grad_sums_record(g, 0u), sums);  // pc.chunks == 1
    // As grad_finalize: a group-constant gamma multiplies the sums.
    Coefficients k = group_coefficients(g, weighted ? sums : sums * gamma_of(g % pc.K));
    for (GroupWalk at = group_walk(g, lane, lanes); at.m < size; walk_next(at))
      grad_element(walk_element(at), k, gamma_of(walk_channel(at)));
  }
}
