#version 450
#extension GL_GOOGLE_include_directive : require
// stats_partial.comp's column view (FLAG_COLUMNS: channels-last groups of at most 16
// columns, or a CPU device's forward over planes of up to 64, common.glsl) four columns
// per access (shaders/vec4.glsl): a lane per unit of 4 adjacent columns instead of per column, each column with its own group, pivot and
// partial (columns_vec4.glsl: the scalar kernel's partials, so stats_finalize reads the
// same records). The host runs it where rows are whole units (K * I % 4 == 0) and x is
// 4-element aligned (src/ops/planner.cpp). On lavapipe each buffer load is a loop over the
// lanes: a quarter of the loads.
#include "common.glsl"
#include "welford.glsl"
#include "vec4.glsl"
#include "columns_vec4.glsl"

void main() {
  ColumnGeometry geo = column_vec4_geometry();
  ColumnSlot slot = column_vec4_slot(geo);
  if (!slot.live) return;
  for (uint y = gl_WorkGroupID.y; y < pc.B * geo.blocks; y += gl_NumWorkGroups.y) {
    ColumnUnit c = column_vec4_unit(geo, slot, y);
    if (!c.live) continue;
    vec4 pivot;
    for (uint j = 0u; j < 4u; ++j) pivot[j] = stats_pivot(c.g[j]);
    // Welford's update on four columns at once: they share the count, one division per row.
    float n = 0.0;
    vec4 mean = vec4(0.0), m2 = vec4(0.0);
    for (uint o = c.o_begin, e = c.e; o < c.o_end; o += c.o_step, e += c.e_step) {
      vec4 v = load4_x(e) - pivot;
      n += 1.0;
      vec4 delta = v - mean;
      mean += delta * (1.0 / n);
      m2 += delta * (v - mean);
    }
    uint count = uint(n);
    for (uint j = 0u; j < 4u; ++j) {
      uint g = c.g[j], p = c.partial[j];
      if (stats_overflowed(n, pivot[j], mean[j], m2[j])) {  // the scaled path (common.glsl), per column
        float pivot_s = pivot[j] * SCALE_DOWN;
        Scaled s = Scaled(Welford(0.0, 0.0, 0.0), 0.0);
        for (uint o = c.o_begin, e = c.e + j; o < c.o_end; o += c.o_step, e += c.e_step) scaled_add(s, load_x(e), pivot_s);
        vec2 mean_m2 = scaled_mean_m2(s, n, pivot_s);
        store_stats_record(stats_record(g, p), count | VKNORM_STATS_RECORD_SCALED, mean_m2.x, mean_m2.y);
      } else {
        store_stats_partial(g, p, count, Welford(n, mean[j], m2[j]));
      }
      if (p == 0u) store_pivot(g, pivot[j]);
    }
  }
}
