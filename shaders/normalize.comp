#version 450
#extension GL_GOOGLE_include_directive : require
// y = (x - mean) * invstd * gamma + beta, then the epilogue (residual add, ReLU), with the
// statistics of the element's group (batch statistics, or running ones with
// FLAG_STATS_ARE_VAR) and the parameters of its affine channel. Rows (rows.glsl) keep
// group and channel out of the per-element work: a plane row needs one set of
// coefficients, a vector column one gamma and beta.
#include "common.glsl"
#include "rows.glsl"

void normalize_element(uint e, float mean, float scale, float beta) {
  store_out(e, epilogue(e, (load_x(e) - mean) * scale + beta));
}

void main() {
  RowView v = row_view();
  if (!v.has_work) return;
  if (v.plane) {
    for (uint r = v.first_row; r < v.R; r += v.row_step) {
      uvec2 gc = plane_group_channel(r);
      float mean = stat_mean(gc.x), scale = stat_invstd(gc.x) * gamma_of(gc.y), beta = beta_of(gc.y);
      for (uint col = v.first_col; col < v.L; col += v.col_step) normalize_element(r * v.L + col, mean, scale, beta);
    }
    return;
  }
  for (uint col = v.first_col; col < v.L; col += v.col_step) {
    uint k = vector_k(col), c = vector_channel(col, k);
    float gamma = gamma_of(c), beta = beta_of(c);
    uint cached = 0xffffffffu;
    float mean = 0.0, scale = 0.0;
    for (RowWalk w = row_walk(v); w.r < v.R; row_next(w, v)) {
      uint g = w.b * pc.K + k;
      if (g != cached) {  // BatchNorm: one group per column; LayerNorm: one per row
        cached = g;
        mean = stat_mean(g);
        scale = stat_invstd(g) * gamma;
      }
      normalize_element(w.r * v.L + col, mean, scale, beta);
    }
  }
}
