#version 450
#extension GL_GOOGLE_include_directive : require
// Split reduction, pass 1: workgroup (chunk, group) computes Welford statistics of one
// chunk of a statistics group. Values are shifted by the group's first element (the
// pivot) so that means stay small and no precision is lost when |mean| >> std.
// Writes a statistics partial record (src/shader_contract.h) per (group, chunk).
// With FLAG_COLUMNS (channels-last) it works over common.glsl's column view instead: a
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
      float pivot_s = pivot * SCALE_DOWN, sum = 0.0, squares = 0.0;
      if (!has_flag(FLAG_RMS))
        for (uint o = c.o, e = c.e; o < c.o_end; o += c.o_step, e += c.e_step) sum += scaled_value(load_x(e), pivot_s);
      float s_mean = has_flag(FLAG_RMS) ? -pivot_s : sum / w.n;
      float center = has_flag(FLAG_RMS) ? 0.0 : s_mean;
      for (uint o = c.o, e = c.e; o < c.o_end; o += c.o_step, e += c.e_step) {
        float d = scaled_value(load_x(e), pivot_s) - center;
        squares += d * d;
      }
      store_stats_record(stats_record(c.g, c.partial), count | VKNORM_STATS_RECORD_SCALED, s_mean, squares);
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
    // The scaled path (common.glsl), reading the chunk twice more; uniform over the
    // workgroup, as w is.
    if (stats_overflowed(w.n, pivot, w.mean, w.m2)) {
      float pivot_s = pivot * SCALE_DOWN, sum = 0.0, squares = 0.0;
      if (!has_flag(FLAG_RMS))
        for (GroupWalk at = group_walk(g, begin + lid, gl_WorkGroupSize.x); at.m < end; walk_next(at))
          sum += scaled_value(load_x(walk_element(at)), pivot_s);
      float s_mean = has_flag(FLAG_RMS) ? -pivot_s : workgroup_sum2(vec2(sum, 0.0)).x / w.n;
      float center = has_flag(FLAG_RMS) ? 0.0 : s_mean;
      for (GroupWalk at = group_walk(g, begin + lid, gl_WorkGroupSize.x); at.m < end; walk_next(at)) {
        float d = scaled_value(load_x(walk_element(at)), pivot_s) - center;
        squares += d * d;
      }
      squares = workgroup_sum2(vec2(squares, 0.0)).x;
      if (lid == 0u) store_stats_record(stats_record(g, chunk), count | VKNORM_STATS_RECORD_SCALED, s_mean, squares);
    } else if (lid == 0u) {
      store_stats_partial(g, chunk, count, w);
    }
    if (lid == 0u && chunk == 0u) store_pivot(g, pivot);
  }
}
