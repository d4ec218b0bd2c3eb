#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 3: dx = invstd * (gamma * dy - b - xhat * c) per element, with the
// group coefficients of grad_finalize (xhat is needed only through batch statistics).
// With the epilogue, dy is first masked by the ReLU and the residual's gradient written.
// Same row walk as normalize.comp.
#include "common.glsl"
#include "rows.glsl"

struct Coefficients { float mean, invstd, b, c; };

Coefficients coefficients(uint g) {
  uint at = pc.base[9] + pc.coef_base + g * 3u;
  return Coefficients(has_flag(FLAG_BATCH_STATS) ? stat_mean(g) : 0.0, slot_work.data[at], slot_work.data[at + 1u],
                      slot_work.data[at + 2u]);
}

void grad_element(uint e, Coefficients k, float gamma) {
  float dz = load_dy(e);
  if (has_flag(FLAG_RESIDUAL)) slot_dside.data[pc.base[11] + e] = TENSOR_T(dz);  // d residual = dz
  float dx = dz * gamma - k.b;
  if (has_flag(FLAG_BATCH_STATS)) dx -= (load_x(e) - k.mean) * k.invstd * k.c;
  store_out(e, k.invstd * dx);
}

void main() {
  RowView v = row_view();
  if (!v.has_work) return;
  if (v.plane) {
    for (uint r = v.first_row; r < v.R; r += v.row_step) {
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
    for (uint r = v.first_row; r < v.R;) {
      uint b = r / pc.O;
      uint end = min(v.R, (b + 1u) * pc.O);
      Coefficients k = coefficients(b * pc.K + kk);
      for (; r < end; r += v.row_step) grad_element(r * v.L + col, k, gamma);
    }
  }
}
