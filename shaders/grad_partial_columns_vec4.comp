#version 450
#extension GL_GOOGLE_include_directive : require
// grad_partial.comp's column view (FLAG_COLUMNS) four columns per access
// (shaders/vec4.glsl): a lane per unit of 4 adjacent columns, each column with its own
// group, channel and partial (columns_vec4.glsl: the scalar kernel's partials, so
// grad_finalize reads the same records). The host runs it where rows are whole units
// (K * I % 4 == 0) and x, dy (and the ReLU's y) are 4-element aligned (src/ops/planner.cpp).
#include "common.glsl"
#include "workspace.glsl"
#include "vec4.glsl"
#include "columns_vec4.glsl"

void main() {
  ColumnGeometry geo = column_vec4_geometry();
  ColumnSlot slot = column_vec4_slot(geo);
  if (!slot.live) return;
  for (uint y = gl_WorkGroupID.y; y < pc.B * geo.blocks; y += gl_NumWorkGroups.y) {
    ColumnUnit c = column_vec4_unit(geo, slot, y);
    if (!c.live) continue;
    // Per column: its group's statistics, and as in grad_partial.comp its gamma applied to
    // its sums, which are dgamma / dbeta's partials before it (FLAG_COLUMN_PARAMS).
    vec4 mean, invstd;
    for (uint j = 0u; j < 4u; ++j) {
      mean[j] = stat_mean(c.g[j]);
      invstd[j] = stat_invstd(c.g[j]);
    }
    vec4 dys = vec4(0.0), dy_xhat = vec4(0.0);
    for (uint o = c.o_begin, e = c.e; o < c.o_end; o += c.o_step, e += c.e_step) {
      vec4 dy = load4_dy_through_relu(e);
      dys += dy;
      dy_xhat += dy * (load4_x(e) - mean) * invstd;
    }
    for (uint j = 0u; j < 4u; ++j) {
      vec2 sums = vec2(dys[j], dy_xhat[j]);
      if (has_flag(FLAG_COLUMN_PARAMS))
        store_sums(param_sums_record(c.channel[j], column_param_partial(c.g[j], c.partial[j])), sums);
      if (has_flag(FLAG_GAMMA_VARIES)) sums *= gamma_of(c.channel[j]);
      store_sums(grad_sums_record(c.g[j], c.partial[j]), sums);
    }
  }
}
