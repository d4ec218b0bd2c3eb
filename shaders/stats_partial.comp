#version 450
#extension GL_GOOGLE_include_directive : require
// Split reduction, pass 1: workgroup (chunk, group) computes Welford statistics of one
// chunk of a statistics group. Values are shifted by the group's first element (the
// pivot) so that means stay small and no precision is lost when |mean| >> std.
// Writes a statistics partial record (src/shader_contract.h) per (group, chunk).
// With FLAG_COLUMNS (channels-last, or small planes: common.glsl) it works over common.glsl's column view instead: a
// lane per column, one partial per (chunk, phase), no workgroup reduction.
#include "common.glsl"
#include "reduce.glsl"

void column_main() {
  for (uint y = gl_WorkGroupID.y; y < column_rows_y(); y += gl_NumWorkGroups.y) {
    ColumnLane c = column_lane(y);
    if (!c.live) continue;
    float pivot = stats_pivot(c.g);
    Welford w = Welford(0.0, 0.0, 0.0);
    uint count = 0u;
    for (uint o = c.o, e = c.e; o < c.o_end; o += c.o_step, e += c.e_step) {
      welford_add(w, load_x(e) - pivot);
      ++count;
    }
    if (stats_overflowed(w.n, pivot, w.mean, w.m2)) {  // the scaled path (common.glsl)
      float pivot_s = pivot * SCALE_DOWN;
      Scaled s = Scaled(Welford(0.0, 0.0, 0.0), 0.0);
      for (uint o = c.o, e = c.e; o < c.o_end; o += c.o_step, e += c.e_step) scaled_add(s, load_x(e), pivot_s);
      vec2 mean_m2 = scaled_mean_m2(s, w.n, pivot_s);
      store_stats_record(stats_record(c.g, c.partial), count | VKNORM_STATS_RECORD_SCALED, mean_m2.x, mean_m2.y);
    } else {
      store_stats_partial(c.g, c.partial, count, w);
    }
    if (c.partial == 0u) store_pivot(c.g, pivot);
  }
}

void main() {
  if (has_flag(FLAG_COLUMNS)) {
    column_main();
    return;
  }
  uint chunk = gl_WorkGroupID.x;
  uint lid = gl_LocalInvocationID.x;
  for (uint g = gl_WorkGroupID.y; g < group_count(); g += gl_NumWorkGroups.y) {
    float pivot = stats_pivot(g);
    uint begin = chunk * pc.chunk_size;
    uint end = min(group_size(), begin + pc.chunk_size);
    uint count = end > begin ? end - begin : 0u;
    Welford w = Welford(0.0, 0.0, 0.0);
    for (GroupWalk at = group_walk(g, begin + lid, gl_WorkGroupSize.x); at.m < end; walk_next(at))
      welford_add(w, load_x(walk_element(at)) - pivot);
    w = workgroup_welford(w);
    // The scaled path (common.glsl): invocation 0 reads the chunk again alone (welford.glsl's
    // scaled_walk), with no barrier for lavapipe to run when no chunk takes it.
    if (stats_overflowed(w.n, pivot, w.mean, w.m2)) {
      float pivot_s = pivot * SCALE_DOWN;
      if (lid == 0u) {
        vec2 mean_m2 = scaled_mean_m2(scaled_walk(g, begin, end, pivot_s), w.n, pivot_s);
        store_stats_record(stats_record(g, chunk), count | VKNORM_STATS_RECORD_SCALED, mean_m2.x, mean_m2.y);
      }
    } else if (lid == 0u) {
      store_stats_partial(g, chunk, count, w);
    }
    if (lid == 0u && chunk == 0u) store_pivot(g, pivot);
  }
}
