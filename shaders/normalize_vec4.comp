#version 450
#extension GL_GOOGLE_include_directive : require
// normalize.comp four elements per access (shaders/vec4.glsl), for rows of whole 4-element
// units with every tensor 4-element aligned (the host's choice: src/ops/planner.cpp). A
// plane row's unit shares one set of coefficients; a vector row's unit spans 4 columns,
// each with its own channel and, where I < 4 (channels-last BatchNorm), its own group.
#include "common.glsl"
#include "rows.glsl"
#include "vec4.glsl"

// (x - mean) * invstd, then * gamma: normalize.comp says why not a precomputed product.
void normalize_unit(uint e, vec4 mean, vec4 invstd, vec4 gamma, vec4 beta) {
  store4_out(e, epilogue4(e, (load4_x(e) - mean) * invstd * gamma + beta));
}

void main() {
  RowView v = row_view_units(4u);
  if (!v.has_work) return;
  uint elements = v.L * 4u;  // per row
  if (v.plane) {
    for (uint r = v.first_row; r < v.end_row; r += v.row_step) {
      uvec2 gc = plane_group_channel(r);
      float mean = stat_mean(gc.x), invstd = stat_invstd(gc.x), gamma = gamma_of(gc.y), beta = beta_of(gc.y);
      for (uint unit = v.first_col; unit < v.L; unit += v.col_step)
        normalize_unit(r * elements + unit * 4u, vec4(mean), vec4(invstd), vec4(gamma), vec4(beta));
    }
    return;
  }
  for (uint unit = v.first_col; unit < v.L; unit += v.col_step) {
    uint col = unit * 4u;
    uvec4 k, c;
    vec4 gamma, beta;
    [[unroll]] for (uint j = 0u; j < 4u; ++j) {
      k[j] = vector_k(col + j);
      c[j] = vector_channel(col + j, k[j]);
      gamma[j] = gamma_of(c[j]);
      beta[j] = beta_of(c[j]);
    }
    // Runs of rows with one b, as in normalize.comp: statistics loaded once per run.
    for (uint r = v.first_row; r < v.end_row;) {
      uint b = r / pc.O;
      uint end = min(v.end_row, (b + 1u) * pc.O);
      vec4 mean, invstd;
      [[unroll]] for (uint j = 0u; j < 4u; ++j) {
        uint g = b * pc.K + k[j];
        mean[j] = stat_mean(g);
        invstd[j] = stat_invstd(g);
      }
      for (; r < end; r += v.row_step) normalize_unit(r * elements + col, mean, invstd, gamma, beta);
    }
  }
}
