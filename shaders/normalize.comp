#version 450
#extension GL_GOOGLE_include_directive : require
// y = (x - mean) * invstd * gamma + beta, then the epilogue (residual add, ReLU), with the
// statistics of the element's group and the parameters of its affine channel: the split
// forward's apply pass (eval with running statistics runs batch_norm_apply). Rows (rows.glsl) keep
// group and channel out of the per-element work: a plane row needs one set of
// coefficients, a vector column one gamma and beta.
#include "common.glsl"
#include "rows.glsl"

// (x - mean) * invstd, then * gamma, as the fused and team kernels do, not x times a
// precomputed invstd * gamma: for a group whose spread is near float's range (invstd
// ~1e-36) and a small gamma that product is a denormal, which a device may flush to zero
// (Vulkan allows it; SwiftShader does), leaving y = beta.
void normalize_element(uint e, float mean, float invstd, float gamma, float beta) {
  store_out(e, epilogue(e, (load_x(e) - mean) * invstd * gamma + beta));
}

void main() {
  RowView v = row_view();
  if (!v.has_work) return;
  if (v.plane) {
    for (uint r = v.first_row; r < v.end_row; r += v.row_step) {
      uvec2 gc = plane_group_channel(r);
      float mean = stat_mean(gc.x), invstd = stat_invstd(gc.x), gamma = gamma_of(gc.y), beta = beta_of(gc.y);
      for (uint col = v.first_col; col < v.L; col += v.col_step)
        normalize_element(r * v.L + col, mean, invstd, gamma, beta);
    }
    return;
  }
  for (uint col = v.first_col; col < v.L; col += v.col_step) {
    uint k = vector_k(col), c = vector_channel(col, k);
    float gamma = gamma_of(c), beta = beta_of(c);
    // A run of rows with the same b shares the column's group (BatchNorm: every row;
    // LayerNorm: one row): its statistics are loaded once, and the element loop has no
    // branch (which lavapipe would execute masked for every element).
    for (uint r = v.first_row; r < v.end_row;) {
      uint b = r / pc.O, g = b * pc.K + k;
      uint end = min(v.end_row, (b + 1u) * pc.O);
      float mean = stat_mean(g), invstd = stat_invstd(g);
      for (; r < end; r += v.row_step) normalize_element(r * v.L + col, mean, invstd, gamma, beta);
    }
  }
}
