// The body of team_backward_affine_vec4.comp and team_backward_channel_vec4.comp:
// team_backward.comp four elements per access (shaders/vec4.glsl), for groups whose rows
// are whole 4-element units (I % 4 == 0) with every tensor 4-element aligned (the host's
// choice: src/ops/planner.cpp), and no plane sums (GroupNorm NCHW's over several channels
// per group stay with team_backward). gamma comes
//  - with AFFINE_UNITS (team_backward_affine_vec4) four channels per load: rows of adjacent
//    channels and a weight varying along them (inner == 1 and FLAG_GAMMA_VARIES: LayerNorm,
//    RMSNorm, GroupNorm NHWC), the weight 16-byte aligned; dgamma / dbeta are then
//    param_partial's, so no sums go to the workspace;
//  - else (team_backward_channel_vec4) once per group, that of its channel g % K (gamma
//    constant in a group: BatchNorm, InstanceNorm, GroupNorm with a channel per group); the
//    group's sums go to the workspace for grad_finalize's dgamma / dbeta, as in
//    team_backward.
// On lavapipe each buffer load is a loop over the lanes: team_backward loads gamma per
// element, here 2 loads per unit or none.
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
      vec4 dy = load4_dy_through_relu(e);
#if defined(AFFINE_UNITS) && AFFINE_UNITS
      dy *= load4_weight(walk_channel(at));  // gamma varies: the sums are of gamma * dy
#endif
      vec4 xhat = (load4_x(e) - mean) * invstd;
      sums += vec2(dy.x + dy.y + dy.z + dy.w, dot(dy, xhat));
    }
    sums = team_sum2(sums);
#if defined(AFFINE_UNITS) && AFFINE_UNITS
    Coefficients k = group_coefficients(g, sums);
#else
    float gamma = gamma_of(g % pc.K);
    // grad_finalize reads them for dgamma / dbeta (pc.chunks == 1).
    if (lane == 0u && (has_flag(FLAG_WEIGHT) || has_flag(FLAG_BIAS))) store_sums(grad_sums_record(g, 0u), sums);
    Coefficients k = group_coefficients(g, sums * gamma);  // as grad_finalize: gamma multiplies the sums
    vec4 gamma4 = vec4(gamma);
#endif
    for (GroupWalk at = group_walk(g, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
      uint e = walk_element(at);
#if defined(AFFINE_UNITS) && AFFINE_UNITS
      vec4 gamma4 = load4_weight(walk_channel(at));
#endif
      // grad_element (grad.glsl) on a unit.
      vec4 dz = load4_dy_through_relu(e);
      if (has_flag(FLAG_RESIDUAL)) store4_dside(e, dz);  // d residual = dz
      vec4 dx = dz * gamma4 - k.b;
      if (has_flag(FLAG_BATCH_STATS)) dx -= (load4_x(e) - k.mean) * k.invstd * k.c;
      store4_out(e, k.invstd * dx);
    }
  }
}
