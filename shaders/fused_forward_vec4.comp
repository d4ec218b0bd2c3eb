#version 450
#extension GL_GOOGLE_include_directive : require
// fused_forward.comp four elements per access (shaders/vec4.glsl), for groups whose rows
// are whole 4-element units (I % 4 == 0) with every tensor 4-element aligned (the host's
// choice: src/ops/planner.cpp): the same VALUES per invocation, as VALUES / 4 units
// (m = 4 * lid, step 4 * workgroup size).
//
// Forward for groups that fit on-chip (group_size <= workgroup size * VALUES): one
// workgroup per group keeps the values in registers, so x is read once and y written
// once, in one dispatch. Writes save_mean / save_invstd; with FLAG_UPDATE_RUNNING also the
// group's partial for stats_finalize, which updates the running statistics.
#include "common.glsl"
#include "reduce.glsl"
#include "vec4.glsl"

const uint VALUES = 16u, UNITS = VALUES / 4u;

void main() {
  uint lid = gl_LocalInvocationID.x;
  uint size = group_size();
  for (uint g = gl_WorkGroupID.x; g < group_count(); g += gl_NumWorkGroups.x) {
    float pivot = stats_pivot(g);
    vec4 v[UNITS];
    Welford w = Welford(0.0, 0.0, 0.0);
    GroupWalk at = group_walk(g, 4u * lid, 4u * gl_WorkGroupSize.x);
    [[unroll]] for (uint r = 0u; r < UNITS; ++r, walk_next(at)) {
      uint m = at.m;
      v[r] = m < size ? load4_x(walk_element(at)) : vec4(0.0);
      if (m < size) welford_add4(w, v[r] - pivot);
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
    at = group_walk(g, 4u * lid, 4u * gl_WorkGroupSize.x);
    [[unroll]] for (uint r = 0u; r < UNITS; ++r, walk_next(at)) {
      if (at.m < size) {
        uint e = walk_element(at);
        // The unit's 4 channels: element i + j of the row is in channel ci + (ri + j) / inner.
        vec4 gamma, beta;
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
          uint c = walk_channel(at) + (at.ri + j) / pc.inner;
          gamma[j] = gamma_of(c);
          beta[j] = beta_of(c);
        }
        // Center with the pivot and the small shifted mean rather than the rounded mean:
        // x - mean keeps its precision even when |mean| >> std.
        vec4 centered = has_flag(FLAG_RMS) ? v[r] : (v[r] - pivot) - st.mean;
        store4_out(e, epilogue4(e, centered * invstd * gamma + beta));
      }
    }
  }
}
