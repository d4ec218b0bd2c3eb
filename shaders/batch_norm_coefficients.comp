#version 450
#extension GL_GOOGLE_include_directive : require
// Eval BatchNorm's per-channel coefficients (include/vknorm/batchnorm_inference.hpp), one
// invocation per channel k < K, into slot work: K scales, then K shifts.
#include "common.glsl"
#include "batch_norm_coefficients.glsl"

void main() {
  for (uint k = gl_GlobalInvocationID.x; k < pc.K; k += invocation_count()) {
    vec2 c = running_coefficients(k);
    store_work(k, c.x);
    store_work(pc.K + k, c.y);
  }
}
