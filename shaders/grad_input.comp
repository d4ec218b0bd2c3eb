#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 3: dx per element (grad.glsl) with the group coefficients of
// grad_finalize. Same row walk as normalize.comp.
#include "common.glsl"
#include "rows.glsl"
#include "grad.glsl"

Coefficients coefficients(uint g) { return load_coefficients(g, has_flag(FLAG_BATCH_STATS) ? stat_mean(g) : 0.0); }

void main() {
  RowView v = row_view();
  if (!v.has_work) return;
  if (v.plane) {
    for (uint r = v.first_row; r < v.end_row; r += v.row_step) {
      uvec2 gc = plane_group_channel(r);
      Coefficients k = coefficients(gc.x);
      float gamma = gamma_of(gc.y);
      for (uint col = v.first_col; col < v.L; col += v.col_step) grad_element(r * v.L + col, k, gamma);
    }
    return;
  }
  for (uint col = v.first_col; col < v.L; col += v.col_step) {
    uint kk = vector_k(col);
    float gamma = gamma_of(vector_channel(col, kk));
    // Runs of rows with the same b share the group, as in normalize.comp.
    for (uint r = v.first_row; r < v.end_row;) {
      uint b = r / pc.O;
      uint end = min(v.end_row, (b + 1u) * pc.O);
      Coefficients k = coefficients(b * pc.K + kk);
      for (; r < end; r += v.row_step) grad_element(r * v.L + col, k, gamma);
    }
  }
}
