// The body of team_backward_affine_vec4.comp, its _blocks_ and _rows_ twins, _planes_vec4.comp
// and _channel_vec4.comp:
// team_backward.comp four elements per access (shaders/vec4.glsl), for groups whose rows
// are whole 4-element units (I % 4 == 0) with every tensor 4-element aligned (the host's
// choice: src/ops/planner.cpp). gamma comes
//  - with AFFINE_UNITS (team_backward_affine_vec4) four channels per load: rows of adjacent
//    channels and a weight varying along them (inner == 1 and FLAG_GAMMA_VARIES: LayerNorm,
//    RMSNorm, GroupNorm NHWC), the weight 16-byte aligned; dgamma / dbeta are then
//    param_partial's, or with TEAM_BLOCKS and FLAG_BLOCK_PARAMS the blocks' own partials;
//  - with PLANE_AFFINE (team_backward_planes_vec4) once per plane: a group of whole planes
//    (O == 1), each a multiple of 4 elements (GroupNorm NCHW); the team sums plane after
//    plane, and with FLAG_PLANE_PARAMS stores each plane's sums as dgamma / dbeta's
//    partials, as team_backward's plane_sums;
//  - else (team_backward_channel_vec4) once per group, that of its channel g % K (gamma
//    constant in a group: BatchNorm, InstanceNorm, GroupNorm with a channel per group); the
//    group's sums go to the workspace for grad_finalize's dgamma / dbeta, as in
//    team_backward.
// On lavapipe each buffer load is a loop over the lanes: team_backward loads gamma per
// element, here 2 loads per unit or none.
//
// With TEAM_BLOCKS as well (team_backward_affine_blocks_vec4: lavapipe, src/kernels.cpp's
// team_block_rows) a team takes blocks of up to VKNORM_TEAM_BLOCK_ROWS groups that share
// their channels, each unit's gamma loaded once for all of them (reduce.glsl: team
// blocks): LayerNorm backward 512x768 from 2.75 to 2.29 times the elementwise pass,
// 4096x1024 from 4.06 to 3.67, RMSNorm 2048x4096 from 4.18 to 3.23 (medians of 4 runs).
#include "common.glsl"
#include "reduce.glsl"  // teams
#include "grad.glsl"
#include "vec4.glsl"
#include "grad4.glsl"

// Sum of dy and of dy * xhat over the unit at element e.
vec2 unit_sums(vec4 dy, uint e, float mean, float invstd) {
  vec4 xhat = (load4_x(e) - mean) * invstd;
  return vec2(dy.x + dy.y + dy.z + dy.w, dot(dy, xhat));
}


#if defined(TEAM_BLOCKS) && TEAM_BLOCKS
// The workspace's units to store to (vec4.glsl's float units are read-only): at, a float
// offset, a multiple of 4 with the slot 16-byte aligned (FLAG_BLOCK_PARAMS's records:
// tensors_vec4_aligned in src/ops/planner.cpp). Here only, not in every _vec4 kernel.
layout(std430, set = 0, binding = VKNORM_WORK_BINDING) writeonly buffer SlotWorkUnitsOut { vec4 data[]; } slot4_work_out;
void store4_work(uint at, vec4 v) { slot4_work_out.data[(work_base() + at) >> 2u] = v; }

// grad_unit (grad4.glsl) that also adds the unit's dy and dy * xhat to a block's dbeta and
// dgamma partials, channel by channel.
void grad_unit_params(uint e, Coefficients4 k, vec4 gamma, inout vec4 dbeta, inout vec4 dgamma) {
  vec4 dz = load4_dy_through_relu(e);
  if (has_flag(FLAG_RESIDUAL)) store4_dside(e, dz);  // d residual = dz
  vec4 xhat = (load4_x(e) - k.mean) * k.invstd;
  vec4 dx = dz * gamma - k.b;
  if (has_flag(FLAG_BATCH_STATS)) dx -= xhat * k.c;
  store4_out(e, k.invstd * dx);
  dbeta += dz;
  dgamma += dz * xhat;
}

// gamma in units (AFFINE_UNITS): the sums are of gamma * dy. dgamma / dbeta: with
// FLAG_BLOCK_PARAMS (groups of one row each, O == 1: LayerNorm, RMSNorm) each block's
// partials, its rows' sums per channel, at the block's record j / K, the blocks pchunk_size
// rows each; else param_partial's.
void main() {
  const uint MOST = VKNORM_TEAM_BLOCK_ROWS;
  Team t = invocation_team();
  uint lanes = t.lanes, lane = t.lane;
  uint size = group_size();
  uint row_stride = team_row_stride();
  bool params = has_flag(FLAG_BLOCK_PARAMS);
  for (TeamBlocks blk = params ? team_blocks_of(t, pc.pchunk_size) : team_blocks(t); team_blocks_more(blk);
       team_blocks_next(blk, t)) {
    uint g0 = blk.g0, n = blk.n;  // groups g0 + r * K, r < n (the team's: its lanes branch together)
    float mean[MOST], invstd[MOST];
    vec2 sums[MOST];
    [[unroll]] for (uint r = 0u; r < MOST; ++r) {
      mean[r] = in_block(r, n) ? stat_mean(g0 + r * pc.K) : 0.0;
      invstd[r] = in_block(r, n) ? stat_invstd(g0 + r * pc.K) : 0.0;
      sums[r] = vec2(0.0);
    }
    for (GroupWalk at = group_walk(g0, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
      vec4 gamma4 = load4_weight(walk_channel(at));
      uint e = walk_element(at);
      [[unroll]] for (uint r = 0u; r < MOST; ++r) {
        uint er = e + r * row_stride;
        if (in_block(r, n)) sums[r] += unit_sums(load4_dy_through_relu(er) * gamma4, er, mean[r], invstd[r]);
      }
    }
    Coefficients4 co[MOST];
    [[unroll]] for (uint r = 0u; r < MOST; ++r) {
      if (in_block(r, n)) sums[r] = team_sum2(sums[r]);
      co[r] = coefficients4(group_coefficients(in_block(r, n) ? g0 + r * pc.K : g0, sums[r]));
    }
    // (The branch outside the walks: lavapipe runs the body of a branch no lane takes, but
    // a walk no lane takes ends at once.)
    if (params) {
      for (GroupWalk at = group_walk(g0, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
        uint c = walk_channel(at), e = walk_element(at);
        vec4 gamma4 = load4_weight(c), dbeta = vec4(0.0), dgamma = vec4(0.0);
        [[unroll]] for (uint r = 0u; r < MOST; ++r)
          if (in_block(r, n)) grad_unit_params(e + r * row_stride, co[r], gamma4, dbeta, dgamma);
        // Channels c .. c + 3's records of the block, each (dbeta, dgamma): 8 adjacent floats.
        uint record = block_param_record(c, blk.j / pc.K);
        store4_work(record, vec4(dbeta.x, dgamma.x, dbeta.y, dgamma.y));
        store4_work(record + 4u, vec4(dbeta.z, dgamma.z, dbeta.w, dgamma.w));
      }
    } else {
      for (GroupWalk at = group_walk(g0, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
        vec4 gamma4 = load4_weight(walk_channel(at));
        uint e = walk_element(at);
        [[unroll]] for (uint r = 0u; r < MOST; ++r)
          if (in_block(r, n)) grad_unit(e + r * row_stride, co[r], gamma4);
      }
    }
  }
}
#if VKNORM_SUMS_RECORD_FLOATS != 2 || VKNORM_SUMS_RECORD_DY != 0 || VKNORM_SUMS_RECORD_DY_XHAT != 1
#error "FLAG_BLOCK_PARAMS stores records as (dbeta, dgamma) pairs"
#endif
#else
void main() {
  Team t = invocation_team();
  uint lanes = t.lanes, lane = t.lane;
  uint size = group_size();
  for (uint g = t.index; g < group_count(); g += t.count) {
    float mean = stat_mean(g), invstd = stat_invstd(g);
    vec2 sums = vec2(0.0);
#if defined(PLANE_AFFINE) && PLANE_AFFINE
    // Each plane's sums, weighted by its gamma for dx; unweighted, one record per b, they
    // are dgamma / dbeta's partials (param_finalize adds them).
    for (uint ci = 0u; ci < pc.I / pc.inner; ++ci) {
      uint start = plane_start(g, ci);
      vec2 plane = vec2(0.0);
      for (uint e = start + 4u * lane; e < start + pc.inner; e += 4u * lanes)
        plane += unit_sums(load4_dy_through_relu(e), e, mean, invstd);
      plane = team_sum2(plane);
      uint c = plane_channel(g, ci);
      if (lane == 0u && has_flag(FLAG_PLANE_PARAMS)) store_sums(param_sums_record(c, g / pc.K), plane);
      sums += gamma_of(c) * plane;
    }
    Coefficients4 k = coefficients4(group_coefficients(g, sums));
    for (uint ci = 0u; ci < pc.I / pc.inner; ++ci) {
      uint start = plane_start(g, ci);
      vec4 gamma4 = vec4(gamma_of(plane_channel(g, ci)));
      for (uint e = start + 4u * lane; e < start + pc.inner; e += 4u * lanes) grad_unit(e, k, gamma4);
    }
#elif defined(ONE_ROW) && ONE_ROW
#if !(defined(AFFINE_UNITS) && AFFINE_UNITS)
#error "ONE_ROW: the gamma-in-units kernel only"
#endif
    // Groups of one row (team_backward_affine_rows_vec4: O == 1, the batch's statistics, no
    // epilogue, the host's choice), walked by the row's index alone, with no flag tested in
    // the walks: team_forward_vec4.glsl's ONE_ROW says why (SwiftShader). grad_unit's
    // operations without the epilogue; dgamma / dbeta are param_partial's.
    uint base = g * size, channel_base = (g % pc.K) * pc.cpg;
    for (uint m = 4u * lane; m < size; m += 4u * lanes)
      sums += unit_sums(load4_dy(base + m) * load4_weight(channel_base + m), base + m, mean, invstd);
    Coefficients4 k = coefficients4(group_coefficients(g, team_sum2(sums)));
    for (uint m = 4u * lane; m < size; m += 4u * lanes) {
      uint e = base + m;
      vec4 dx = load4_dy(e) * load4_weight(channel_base + m) - k.b;
      dx -= (load4_x(e) - k.mean) * k.invstd * k.c;
      store4_out(e, k.invstd * dx);
    }
#else
    for (GroupWalk at = group_walk(g, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
      uint e = walk_element(at);
      vec4 dy = load4_dy_through_relu(e);
#if defined(AFFINE_UNITS) && AFFINE_UNITS
      dy *= load4_weight(walk_channel(at));  // gamma varies: the sums are of gamma * dy
#endif
      sums += unit_sums(dy, e, mean, invstd);
    }
    sums = team_sum2(sums);
#if defined(AFFINE_UNITS) && AFFINE_UNITS
    Coefficients4 k = coefficients4(group_coefficients(g, sums));
#else
    float gamma = gamma_of(g % pc.K);
    // grad_finalize reads them for dgamma / dbeta (pc.chunks == 1).
    if (lane == 0u && (has_flag(FLAG_WEIGHT) || has_flag(FLAG_BIAS))) store_sums(grad_sums_record(g, 0u), sums);
    Coefficients4 k = coefficients4(group_coefficients(g, sums * gamma));  // as grad_finalize: gamma multiplies the sums
    vec4 gamma4 = vec4(gamma);
#endif
    for (GroupWalk at = group_walk(g, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
#if defined(AFFINE_UNITS) && AFFINE_UNITS
      vec4 gamma4 = load4_weight(walk_channel(at));
#endif
      grad_unit(walk_element(at), k, gamma4);
    }
#endif
  }
}
#endif
