#version 450
#extension GL_GOOGLE_include_directive : require
// Forward for groups that fit on-chip (group_size <= workgroup size * VALUES): one
// workgroup per group keeps the values in registers, so x is read once and y written
// once, in one dispatch. Writes save_mean / save_invstd; with FLAG_UPDATE_RUNNING also the
// group's partial for stats_finalize, which updates the running statistics.
#include "common.glsl"
#include "reduce.glsl"

const uint VALUES = 16u;

void main() {
  uint lid = gl_LocalInvocationID.x;
  uint size = group_size();
  for (uint g = gl_WorkGroupID.x; g < group_count(); g += gl_NumWorkGroups.x) {
    float pivot = stats_pivot(g);
    float v[VALUES];
    Welford w = Welford(0.0, 0.0, 0.0);
    GroupWalk at = group_walk(g, lid, gl_WorkGroupSize.x);
    [[unroll]] for (uint r = 0u; r < VALUES; ++r, walk_next(at)) {
      uint m = at.m;
      v[r] = m < size ? load_x(walk_element(at)) : 0.0;
      if (m < size) welford_add(w, v[r] - pivot);
    }
    w = workgroup_welford(w);
    GroupStats st = GroupStats(w.mean, invstd_from(w.n, pivot + w.mean, w.m2));
    // The scaled path (common.glsl), rare: every invocation reads the group again, alone
    // and in the same order (welford.glsl's scaled_walk), so that they agree with no
    // barrier and no shared memory: lavapipe runs a branch that no invocation takes
    // masked, and pays only a few instructions here.
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
    if (lid == 0u) {
      if (!has_flag(FLAG_RMS)) store_mean(g, pivot + st.mean);
      store_stat(g, invstd);
      if (has_flag(FLAG_UPDATE_RUNNING)) {
        if (scaled) store_stats_record(stats_record(g, 0u), size | VKNORM_STATS_RECORD_SCALED, s_mean, s_m2);
        else store_stats_partial(g, 0u, size, w);
        store_pivot(g, pivot);
      }
    }
    at = group_walk(g, lid, gl_WorkGroupSize.x);
    [[unroll]] for (uint r = 0u; r < VALUES; ++r, walk_next(at)) {
      if (at.m < size) {
        uint e = walk_element(at);
        uint c = walk_channel(at);
        // Center with the pivot and the small shifted mean rather than the rounded mean:
        // x - mean keeps its precision even when |mean| >> std.
        float centered = has_flag(FLAG_RMS) ? v[r] : (v[r] - pivot) - st.mean;
        store_out(e, epilogue(e, centered * invstd * gamma_of(c) + beta_of(c)));
      }
    }
  }
}
