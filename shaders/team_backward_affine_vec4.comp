#version 450
#extension GL_GOOGLE_include_directive : require
// team_backward.comp for rows of adjacent channels with a weight that varies along them
// (inner == 1 and FLAG_GAMMA_VARIES: LayerNorm, RMSNorm, GroupNorm NHWC), four elements
// per access (shaders/vec4.glsl) and gamma four channels per load. The host takes it
// where I % 4 == 0 and every tensor and the weight are 4-element aligned
// (src/ops/planner.cpp); there are no plane sums (those are GroupNorm NCHW's, inner > 1),
// and dgamma / dbeta are param_partial's (gamma varies), so no sums go to the workspace.
// On lavapipe each buffer load is a loop over the lanes: 2 loads of gamma per unit here,
// 8 in team_backward.
#include "common.glsl"
#include "reduce.glsl"  // teams
#include "grad.glsl"
#include "vec4.glsl"

void main() {
  Team t = invocation_team();
  uint lanes = t.lanes, lane = t.lane;
  uint size = group_size();
  for (uint g = t.index; g < group_count(); g += t.count) {
    float mean = stat_mean(g), invstd = stat_invstd(g);
    vec2 sums = vec2(0.0);
    for (GroupWalk at = group_walk(g, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
      uint e = walk_element(at);
      vec4 dy = load4_dy_through_relu(e) * load4_weight(walk_channel(at));
      vec4 xhat = (load4_x(e) - mean) * invstd;
      sums += vec2(dy.x + dy.y + dy.z + dy.w, dot(dy, xhat));
    }
    Coefficients k = group_coefficients(g, team_sum2(sums));
    for (GroupWalk at = group_walk(g, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
      uint e = walk_element(at);
      // grad_element (grad.glsl) on a unit.
      vec4 dz = load4_dy_through_relu(e);
      if (has_flag(FLAG_RESIDUAL)) store4_dside(e, dz);  // d residual = dz
      vec4 dx = dz * load4_weight(walk_channel(at)) - k.b;
      if (has_flag(FLAG_BATCH_STATS)) dx -= (load4_x(e) - k.mean) * k.invstd * k.c;
      store4_out(e, k.invstd * dx);
    }
  }
}
