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
    float pivot = load_x(group_element(g, 0u));
    float v[VALUES];
    Welford w = Welford(0.0, 0.0, 0.0);
    GroupWalk at = group_walk(g, lid, gl_WorkGroupSize.x);
    [[unroll]] for (uint r = 0u; r < VALUES; ++r, walk_next(at)) {
      uint m = at.m;
      v[r] = m < size ? load_x(walk_element(at)) : 0.0;
      if (m < size) welford_add(w, v[r] - pivot);
    }
    w = workgroup_welford(w);
    float mean = pivot + w.mean;
    float invstd = invstd_from(w.n, mean, w.m2);
    if (lid == 0u) {
      if (!has_flag(FLAG_RMS)) store_mean(g, mean);
      store_stat(g, invstd);
      if (has_flag(FLAG_UPDATE_RUNNING)) {
        store_stats_partial(g, 0u, size, w);
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
        float centered = has_flag(FLAG_RMS) ? v[r] : (v[r] - pivot) - w.mean;
        store_out(e, epilogue(e, centered * invstd * gamma_of(c) + beta_of(c)));
      }
    }
  }
}
