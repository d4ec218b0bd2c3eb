#version 450
#extension GL_GOOGLE_include_directive : require
// stats_partial.comp's column view (FLAG_COLUMNS: channels-last groups of at most 16
// columns, common.glsl) four columns per access (shaders/vec4.glsl): a lane per unit of 4
// adjacent columns instead of per column, each column with its own group, pivot and
// partial. The host runs it where rows are whole units (K * I % 4 == 0) and x is 4-element
// aligned (src/ops/planner.cpp), with the scalar kernel's partials: the same chunks of rows
// and phases, so stats_finalize reads the same records. A row of L columns has L / 4 units;
// where those need fewer lanes than the scalar kernel's phases do, a workgroup takes
// several chunks (column_vec4_geometry below; the planner's grid divides by the same).
// On lavapipe each buffer load is a loop over the lanes: a quarter of the loads.
#include "common.glsl"
#include "welford.glsl"
#include "vec4.glsl"

// The scalar column view's phases (common.glsl), and this kernel's: `width` lanes per row
// of units, `chunks_per_workgroup` chunks of `phases` phases each.
struct ColumnGeometry { uint phases, width, chunks_per_workgroup, blocks, column_chunks; };
ColumnGeometry column_vec4_geometry() {
  uint units = pc.K * pc.I / 4u, wg = gl_WorkGroupSize.x;
  uint phases = wg / column_width();
  uint width = min(units, wg);
  uint chunks_per_workgroup = max(1u, (wg / width) / phases);
  return ColumnGeometry(phases, width, chunks_per_workgroup, (units + width - 1u) / width, pc.chunks / (phases * pc.I));
}

void main() {
  ColumnGeometry geo = column_vec4_geometry();
  uint L = pc.K * pc.I, lid = gl_LocalInvocationID.x;
  uint slot = lid / geo.width, q = lid - slot * geo.width;
  uint local_chunk = slot / geo.phases, phase = slot - local_chunk * geo.phases;
  uint chunk = gl_WorkGroupID.x * geo.chunks_per_workgroup + local_chunk;
  if (local_chunk >= geo.chunks_per_workgroup || chunk >= geo.column_chunks) return;
  uint begin = chunk * pc.chunk_size, o_end = min(pc.O, begin + pc.chunk_size);
  for (uint y = gl_WorkGroupID.y; y < pc.B * geo.blocks; y += gl_NumWorkGroups.y) {
    uint b = y / geo.blocks, col = 4u * ((y - b * geo.blocks) * geo.width + q);
    if (col >= L) continue;
    // Column col + j: group g[j] (its channel k[j], column i[j] of the group), partial p[j].
    uvec4 k = (uvec4(col) + uvec4(0u, 1u, 2u, 3u)) / pc.I;
    uvec4 i = uvec4(col) + uvec4(0u, 1u, 2u, 3u) - k * pc.I;
    uvec4 g = b * pc.K + k, p = (chunk * geo.phases + phase) * pc.I + i;
    vec4 pivot;
    for (uint j = 0u; j < 4u; ++j) pivot[j] = stats_pivot(g[j]);
    // Welford's update on four columns at once: they share the count, one division per row.
    float n = 0.0;
    vec4 mean = vec4(0.0), m2 = vec4(0.0);
    uint e0 = (b * pc.O + begin + phase) * L + col, e_step = geo.phases * L;
    for (uint o = begin + phase, e = e0; o < o_end; o += geo.phases, e += e_step) {
      vec4 v = load4_x(e) - pivot;
      n += 1.0;
      vec4 delta = v - mean;
      mean += delta * (1.0 / n);
      m2 += delta * (v - mean);
    }
    uint count = uint(n);
    for (uint j = 0u; j < 4u; ++j) {
      if (stats_overflowed(n, pivot[j], mean[j], m2[j])) {  // the scaled path (common.glsl), per column
        float pivot_s = pivot[j] * SCALE_DOWN;
        Scaled s = Scaled(Welford(0.0, 0.0, 0.0), 0.0);
        for (uint o = begin + phase, e = e0 + j; o < o_end; o += geo.phases, e += e_step) scaled_add(s, load_x(e), pivot_s);
        vec2 mean_m2 = scaled_mean_m2(s, n, pivot_s);
        store_stats_record(stats_record(g[j], p[j]), count | VKNORM_STATS_RECORD_SCALED, mean_m2.x, mean_m2.y);
      } else {
        store_stats_partial(g[j], p[j], count, Welford(n, mean[j], m2[j]));
      }
      if (p[j] == 0u) store_pivot(g[j], pivot[j]);
    }
  }
}
