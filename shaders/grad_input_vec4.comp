#version 450
#extension GL_GOOGLE_include_directive : require
// grad_input.comp four elements per access (shaders/vec4.glsl), for rows of whole
// 4-element units with every tensor 4-element aligned (the host's choice:
// src/ops/planner.cpp). The row walk of normalize_vec4.comp: a vector row's unit spans 4
// columns, each with its own channel and, where I < 4, its own group.
#include "common.glsl"
#include "rows.glsl"
#include "grad.glsl"
#include "vec4.glsl"
#include "grad4.glsl"

Coefficients coefficients(uint g) { return load_coefficients(g, has_flag(FLAG_BATCH_STATS) ? stat_mean(g) : 0.0); }

// Element j of a unit's coefficients.
void set_lane(inout Coefficients4 k4, uint j, Coefficients k) {
  k4.mean[j] = k.mean;
  k4.invstd[j] = k.invstd;
  k4.b[j] = k.b;
  k4.c[j] = k.c;
}

void main() {
  RowView v = row_view_units(4u);
  if (!v.has_work) return;
  uint elements = v.L * 4u;  // per row
  if (v.plane) {
    for (uint r = v.first_row; r < v.end_row; r += v.row_step) {
      uvec2 gc = plane_group_channel(r);
      Coefficients k = coefficients(gc.x);
      Coefficients4 k4 = Coefficients4(vec4(k.mean), vec4(k.invstd), vec4(k.b), vec4(k.c));
      vec4 gamma = vec4(gamma_of(gc.y));
      for (uint unit = v.first_col; unit < v.L; unit += v.col_step) grad_unit(r * elements + unit * 4u, k4, gamma);
    }
    return;
  }
  for (uint unit = v.first_col; unit < v.L; unit += v.col_step) {
    uint col = unit * 4u;
    uvec4 kk;
    vec4 gamma;
    [[unroll]] for (uint j = 0u; j < 4u; ++j) {
      kk[j] = vector_k(col + j);
      gamma[j] = gamma_of(vector_channel(col + j, kk[j]));
    }
    // Runs of rows with the same b share the groups, as in grad_input.comp.
    for (uint r = v.first_row; r < v.end_row;) {
      uint b = r / pc.O;
      uint end = min(v.end_row, (b + 1u) * pc.O);
      Coefficients4 k4;
      [[unroll]] for (uint j = 0u; j < 4u; ++j) set_lane(k4, j, coefficients(b * pc.K + kk[j]));
      for (; r < end; r += v.row_step) grad_unit(r * elements + col, k4, gamma);
    }
  }
}
