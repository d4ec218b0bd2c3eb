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
    float pivot = load_x(group_element(g, 0u));
    Welford w = Welford(0.0, 0.0, 0.0);
    for (GroupWalk at = group_walk(g, lane, lanes); at.m < size; walk_next(at))
      welford_add(w, load_x(walk_element(at)) - pivot);
    w = team_welford(w);
    float mean = pivot + w.mean;
    float invstd = invstd_from(w.n, mean, w.m2);
    if (lane == 0u) {
      if (!has_flag(FLAG_RMS)) store_mean(g, mean);
      store_stat(g, invstd);
      if (has_flag(FLAG_UPDATE_RUNNING)) {
        store_stats_partial(g, 0u, size, w);
        store_pivot(g, pivot);
      }
    }
    for (GroupWalk at = group_walk(g, lane, lanes); at.m < size; walk_next(at)) {
      uint e = walk_element(at);
      uint c = walk_channel(at);
      // As fused_forward: center with the pivot and the small shifted mean.
      float x = load_x(e);
      float centered = has_flag(FLAG_RMS) ? x : (x - pivot) - w.mean;
      store_out(e, epilogue(e, centered * invstd * gamma_of(c) + beta_of(c)));
    }
  }
}
