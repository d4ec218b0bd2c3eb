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
    float pivot = load_x(group_element(c.g, 0u));
    Welford w = Welford(0.0, 0.0, 0.0);
    uint count = 0u;
    for (uint o = c.o, e = c.e; o < c.o_end; o += c.o_step, e += c.e_step) {
      welford_add(w, load_x(e) - pivot);
      ++count;
    }
    store_stats_partial(c.g, c.partial, count, w);
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
    float pivot = load_x(group_element(g, 0u));
    uint begin = chunk * pc.chunk_size;
    uint end = min(group_size(), begin + pc.chunk_size);
    Welford w = Welford(0.0, 0.0, 0.0);
    for (GroupWalk at = group_walk(g, begin + lid, gl_WorkGroupSize.x); at.m < end; walk_next(at))
      welford_add(w, load_x(walk_element(at)) - pivot);
    w = workgroup_welford(w);
    if (lid == 0u) store_stats_partial(g, chunk, end > begin ? end - begin : 0u, w);
    if (lid == 0u && chunk == 0u) store_pivot(g, pivot);
  }
}
