#version 450
#extension GL_GOOGLE_include_directive : require
// grad_input.comp through columns (shaders/sample_columns.glsl, the walk of
// normalize_channel_columns_vec4): a lane per column unit of one sample loads its four
// elements' coefficients and gamma once and walks that sample's rows `step` apart, where
// grad_input_vec4 walks blocks of rows and loads the coefficients again per sample in a
// block. For rows of whole 4-element units, every tensor 4-element aligned, a group per
// channel or the channel the column (src/ops/planner.cpp says where).
#include "common.glsl"
#include "sample_columns.glsl"
#include "grad.glsl"
#include "vec4.glsl"
#include "grad4.glsl"

Coefficients coefficients(uint g) { return load_coefficients(g, has_flag(FLAG_BATCH_STATS) ? stat_mean(g) : 0.0); }

void main() {
  SampleColumn lane = sample_column(4u);
  if (!lane.live) return;
  uint L = pc.K * pc.I, col = 4u * lane.c, k0 = col / pc.I, r0 = col - k0 * pc.I;
  Coefficients4 k4;
  vec4 gamma;
  [[unroll]] for (uint j = 0u; j < 4u; ++j) {
    uint k = k0 + spans(r0 + j);
    Coefficients one = coefficients(lane.b * pc.K + k);
    k4.mean[j] = one.mean;
    k4.invstd[j] = one.invstd;
    k4.b[j] = one.b;
    k4.c[j] = one.c;
    gamma[j] = gamma_of(column_channel(k, col + j));
  }
  uint e = lane.first_row * L + col, e_step = lane.row_step * L;
  for (uint r = lane.first_row; r < lane.end_row; r += lane.row_step) {
    grad_unit(e, k4, gamma);
    e += e_step;
  }
}
