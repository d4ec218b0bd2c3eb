// The body of team_forward_vec4.comp, _affine_, _weight_, _channel_ and _planes_vec4.comp: team_forward.comp
// four elements per access (shaders/vec4.glsl), for groups whose rows are whole 4-element
// units (I % 4 == 0) with every tensor 4-element aligned (the host's choice:
// src/ops/planner.cpp). A lane takes unit after unit (m = 4 * lane, step 4 * lanes); the
// scaled path reads elements one at a time, as in team_forward.
//
// With AFFINE_UNITS (team_forward_affine_vec4: inner == 1, so a unit's four elements are
// four adjacent channels, and the weight given) gamma and beta come four at a time too:
// the host binds weight and bias 16-byte aligned (without a bias it runs
// team_forward_weight_vec4). On lavapipe each load is a loop over the lanes, so 2 loads per
// unit instead of 8 took LayerNorm forward from 2.84 to 1.92 (512x768) and from 5.22 to
// 2.5-2.9 (4096x1024) times the elementwise pass.
//
// With TEAM_BLOCKS as well (team_forward_affine_blocks_vec4, _weight_blocks_vec4: lavapipe,
// src/kernels.cpp's team_block_rows) a team takes blocks of up to VKNORM_TEAM_BLOCK_ROWS
// groups that share their channels, each unit's gamma and beta loaded once for all of them
// (reduce.glsl: team blocks): LayerNorm forward 512x768 from 1.84 to 1.51 and 4096x1024
// from 2.68 to 2.06, RMSNorm 2048x4096 1.89 to 1.82 (medians of 4 runs, alternating).
//
// With ONE_ROW as well (team_forward_affine_rows_vec4, team_forward_weight_vec4: groups of
// one row, O == 1: LayerNorm, RMSNorm, channels-last GroupNorm over 1x1 planes) the lanes
// walk the row by its index alone. SwiftShader runs GroupWalk's carries at a cost, and the
// walk's code compiled in beside a row path, under a branch on O, cost as much (LayerNorm
// 4096x1024's forward, f32, 4 runs each, alternating: 3.19 times the elementwise pass
// through the walk, 3.02 with both paths and the branch, 2.57 with the row path alone).
// Their normalize walk has no epilogue and no branch, the bias's select aside (the host
// takes them only for calls without a residual or ReLU): SwiftShader pays for code that no
// lane runs there too, per unit. LayerNorm 4096x1024 / 512x768's forward on SwiftShader (f32, 3 runs each): 2.36 /
// 1.53 with an epilogue walk beside the plain one under a branch on the flags, 2.10 / 1.34
// with the plain walk alone (2.63 / 1.64 with the flags tested per unit).
//
// With WEIGHT_ONLY as well (team_forward_weight_vec4: no bias), beta is zero and the bias
// slot is not read.
//
// With CHANNEL_AFFINE (team_forward_channel_vec4: gamma constant in a group, FLAG_GAMMA_VARIES
// off: BatchNorm, InstanceNorm, GroupNorm with a channel per group) gamma and beta are
// those of the group's channel g % K, loaded once per group.
//
// With PLANE_AFFINE (team_forward_planes_vec4: a group of whole planes, O == 1, each a
// multiple of 4 elements: GroupNorm NCHW) the team normalizes plane after plane, with the
// plane's gamma and beta loaded once per plane.
//
// Forward for many small groups (LayerNorm rows, small InstanceNorm planes): each
// subgroup owns a group (without subgroup operations, each invocation does), so the
// reduction needs no shared memory and no workgroup barrier. The team reads its group
// twice: for the statistics, then to normalize, the second time from cache (a group is
// at most a few KiB). Writes save_mean / save_invstd; with FLAG_UPDATE_RUNNING also the
// group's partial for stats_finalize, which updates the running statistics.
#include "common.glsl"
#include "reduce.glsl"  // Welford, teams
#include "vec4.glsl"

// y of the unit at element e, through the epilogue. As fused_forward: centered with the
// pivot and the small shifted mean.
void normalize_unit(uint e, float pivot, GroupStats st, vec4 gamma, vec4 beta) {
  vec4 x = load4_x(e);
  vec4 centered = has_flag(FLAG_RMS) ? x : (x - pivot) - st.mean;
  store4_out(e, epilogue4(e, centered * st.invstd * gamma + beta));
}

// Group g's statistics from its team's Welford state w of x - pivot: saved (save_mean,
// save_invstd; with FLAG_UPDATE_RUNNING the group's partial and pivot) by the team's
// lane 0, and returned to every lane.
GroupStats group_statistics(uint g, float pivot, Welford w, uint lane, uint size) {
  w = team_welford(w);
  GroupStats st = GroupStats(w.mean, invstd_from(w.n, pivot + w.mean, w.m2));
  // The scaled path (common.glsl), rare: each lane reads the group again alone, as in
  // fused_forward, with no subgroup operation for lavapipe to run masked.
  bool scaled = stats_overflowed(w.n, pivot, w.mean, w.m2);
  float s_mean = 0.0, s_m2 = 0.0;
  if (scaled) {
    float pivot_s = pivot * SCALE_DOWN;
    vec2 mean_m2 = scaled_mean_m2(scaled_walk(g, 0u, size, pivot_s), w.n, pivot_s);
    s_mean = mean_m2.x;
    s_m2 = mean_m2.y;
    st = scaled_group_stats(w.n, pivot, s_mean, s_m2);
  }
  if (lane == 0u) {
    if (!has_flag(FLAG_RMS)) store_mean(g, pivot + st.mean);
    store_stat(g, st.invstd);
    if (has_flag(FLAG_UPDATE_RUNNING)) {
      if (scaled) store_stats_record(stats_record(g, 0u), size | VKNORM_STATS_RECORD_SCALED, s_mean, s_m2);
      else store_stats_partial(g, 0u, size, w);
      store_pivot(g, pivot);
    }
  }
  return st;
}

#if defined(AFFINE_UNITS) && AFFINE_UNITS
// gamma and beta of the four adjacent channels from `channel` on.
void affine_units_at(uint channel, out vec4 gamma, out vec4 beta) {
#if defined(WEIGHT_ONLY) && WEIGHT_ONLY
  gamma = load4_weight(channel);
  beta = vec4(0.0);
#else
  gamma = load4_weight(channel);
  vec4 bias = load4_bias(channel);
  beta = has_flag(FLAG_BIAS) ? bias : vec4(0.0);  // a select: the load is in range either way
#endif
}
void affine_units(GroupWalk at, out vec4 gamma, out vec4 beta) { affine_units_at(walk_channel(at), gamma, beta); }
#endif

#if defined(ONE_ROW) && ONE_ROW
#if !(defined(AFFINE_UNITS) && AFFINE_UNITS) || (defined(TEAM_BLOCKS) && TEAM_BLOCKS)
#error "ONE_ROW: the gamma-in-units kernels without blocks only"
#endif
// Groups of one row (O == 1: the host's choice): group g's elements g * size + m, their
// channels (g % K) * cpg + m, walked by m alone, with no GroupWalk and its carries.
void main() {
  Team t = invocation_team();
  uint lanes = t.lanes, lane = t.lane;
  uint size = group_size();
  for (uint g = t.index; g < group_count(); g += t.count) {
    float pivot = stats_pivot(g);
    uint base = g * size, channel_base = (g % pc.K) * pc.cpg;
    Welford w = Welford(0.0, 0.0, 0.0);
    for (uint m = 4u * lane; m < size; m += 4u * lanes) welford_add4(w, load4_x(base + m) - pivot);
    GroupStats st = group_statistics(g, pivot, w, lane, size);
    // normalize_unit's operations, RMSNorm's without a branch: (x - 0) - 0 is x exactly.
    float shift = has_flag(FLAG_RMS) ? 0.0 : pivot, mean = has_flag(FLAG_RMS) ? 0.0 : st.mean;
    for (uint m = 4u * lane; m < size; m += 4u * lanes) {
      vec4 gamma, beta;
      affine_units_at(channel_base + m, gamma, beta);
      uint e = base + m;
      store4_out(e, ((load4_x(e) - shift) - mean) * st.invstd * gamma + beta);
    }
  }
}
#elif defined(TEAM_BLOCKS) && TEAM_BLOCKS
void main() {
  const uint MOST = VKNORM_TEAM_BLOCK_ROWS;
  Team t = invocation_team();
  uint lanes = t.lanes, lane = t.lane;
  uint size = group_size();
  uint row_stride = team_row_stride();
  for (TeamBlocks blk = team_blocks(t); team_blocks_more(blk); team_blocks_next(blk, t)) {
    uint g0 = blk.g0, n = blk.n;  // groups g0 + r * K, r < n (the team's: its lanes branch together)
    float pivot[MOST];
    Welford w[MOST];
    [[unroll]] for (uint r = 0u; r < MOST; ++r) {
      pivot[r] = in_block(r, n) ? stats_pivot(g0 + r * pc.K) : 0.0;
      w[r] = Welford(0.0, 0.0, 0.0);
    }
    for (GroupWalk at = group_walk(g0, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
      uint e = walk_element(at);
      [[unroll]] for (uint r = 0u; r < MOST; ++r)
        if (in_block(r, n)) welford_add4(w[r], load4_x(e + r * row_stride) - pivot[r]);
    }
    GroupStats st[MOST];
    [[unroll]] for (uint r = 0u; r < MOST; ++r)
      st[r] = in_block(r, n) ? group_statistics(g0 + r * pc.K, pivot[r], w[r], lane, size) : GroupStats(0.0, 0.0);
    for (GroupWalk at = group_walk(g0, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
      vec4 gamma, beta;
      affine_units(at, gamma, beta);
      uint e = walk_element(at);
      [[unroll]] for (uint r = 0u; r < MOST; ++r)
        if (in_block(r, n)) normalize_unit(e + r * row_stride, pivot[r], st[r], gamma, beta);
    }
  }
}
#else
void main() {
  Team t = invocation_team();
  uint lanes = t.lanes, lane = t.lane;
  uint size = group_size();
  for (uint g = t.index; g < group_count(); g += t.count) {
    float pivot = stats_pivot(g);
    Welford w = Welford(0.0, 0.0, 0.0);
    for (GroupWalk at = group_walk(g, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
      vec4 x = load4_x(walk_element(at));
      welford_add4(w, x - pivot);
    }
    GroupStats st = group_statistics(g, pivot, w, lane, size);
#if defined(PLANE_AFFINE) && PLANE_AFFINE
    for (uint ci = 0u; ci < pc.I / pc.inner; ++ci) {
      uint c = plane_channel(g, ci), start = plane_start(g, ci);
      vec4 gamma = vec4(gamma_of(c)), beta = vec4(beta_of(c));
      for (uint e = start + 4u * lane; e < start + pc.inner; e += 4u * lanes) normalize_unit(e, pivot, st, gamma, beta);
    }
#else
#if defined(CHANNEL_AFFINE) && CHANNEL_AFFINE
    // One channel per group: its gamma and beta once, not per unit.
    vec4 gamma = vec4(gamma_of(g % pc.K)), beta = vec4(beta_of(g % pc.K));
#endif
    for (GroupWalk at = group_walk(g, 4u * lane, 4u * lanes); at.m < size; walk_next(at)) {
#if defined(AFFINE_UNITS) && AFFINE_UNITS
      vec4 gamma, beta;
      affine_units(at, gamma, beta);
#elif defined(CHANNEL_AFFINE) && CHANNEL_AFFINE
      // gamma and beta: the group's, loaded before the loop.
#else
      // The unit's 4 channels: element i + j of the row is in channel ci + (ri + j) / inner.
      vec4 gamma, beta;
      [[unroll]] for (uint j = 0u; j < 4u; ++j) {
        uint c = walk_channel(at) + (at.ri + j) / pc.inner;
        gamma[j] = gamma_of(c);
        beta[j] = beta_of(c);
      }
#endif
      normalize_unit(walk_element(at), pivot, st, gamma, beta);
    }
#endif
  }
}
#endif
