#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 3: dx = invstd * (gamma * dy - b - xhat * c) per element, with the
// group coefficients of grad_finalize (xhat is needed only through batch statistics).
// With the epilogue, dy is first masked by the ReLU and the residual's gradient written.
#include "common.glsl"

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  uint total = element_count();
  for (uint e = gl_GlobalInvocationID.x; e < total; e += stride) {
    uint g = element_group(e);
    uint at = pc.base[9] + pc.coef_base + g * 3u;
    float invstd = slot_work.data[at], b = slot_work.data[at + 1u], c = slot_work.data[at + 2u];
    float dz = load_dy(e);
    if (has_flag(FLAG_RESIDUAL)) slot_dside.data[pc.base[11] + e] = TENSOR_T(dz);  // d residual = dz
    float dx = dz * gamma_of(element_channel(e)) - b;
    if (has_flag(FLAG_BATCH_STATS)) dx -= (load_x(e) - stat_mean(g)) * invstd * c;
    store_out(e, invstd * dx);
  }
}
