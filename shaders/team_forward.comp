#version 450
#extension GL_GOOGLE_include_directive : require
// Forward for many small groups (LayerNorm rows, small InstanceNorm planes): each
// subgroup owns a group (without subgroup operations, each invocation does), so the
// reduction needs no shared memory and no workgroup barrier. The team reads its group
// twice: for the statistics, then to normalize, the second time from cache (a group is
// at most a few KiB). Writes save_mean / save_invstd; with FLAG_UPDATE_RUNNING also the
// group's partial for stats_finalize, which updates the running statistics.
#include "common.glsl"
#include "reduce.glsl"  // Welford, teams

void main() {
  Team t = invocation_team();
  uint lanes = t.lanes, lane = t.lane;
  uint size = group_size();
  for (uint g = t.index; g < group_count(); g += t.count) {
    float pivot = stats_pivot(g);
    Welford w = Welford(0.0, 0.0, 0.0);
    for (GroupWalk at = group_walk(g, lane, lanes); at.m < size; walk_next(at))
      welford_add(w, load_x(walk_element(at)) - pivot);
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
    float invstd = st.invstd;
    if (lane == 0u) {
      if (!has_flag(FLAG_RMS)) store_mean(g, pivot + st.mean);
      store_stat(g, invstd);
      if (has_flag(FLAG_UPDATE_RUNNING)) {
        if (scaled) store_stats_record(stats_record(g, 0u), size | VKNORM_STATS_RECORD_SCALED, s_mean, s_m2);
        else store_stats_partial(g, 0u, size, w);
        store_pivot(g, pivot);
      }
    }
    for (GroupWalk at = group_walk(g, lane, lanes); at.m < size; walk_next(at)) {
      uint e = walk_element(at);
      uint c = walk_channel(at);
      // As fused_forward: center with the pivot and the small shifted mean.
      float x = load_x(e);
      float centered = has_flag(FLAG_RMS) ? x : (x - pivot) - st.mean;
      store_out(e, epilogue(e, centered * invstd * gamma_of(c) + beta_of(c)));
    }
  }
}
