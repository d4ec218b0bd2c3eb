#version 450
#extension GL_GOOGLE_include_directive : require
// Eval BatchNorm's per-channel coefficients (include/vknorm/batchnorm_inference.hpp), one
// invocation per channel k < K:
//   scale = gamma * (1 / sqrt(running_var + eps)),  shift = beta - running_mean * scale
// into slot work: K scales, then K shifts. `precise` keeps the compiler from fusing the
// shift into an FMA, so that the device gives the host function's float32 operations.
#include "common.glsl"

void main() {
  for (uint k = gl_GlobalInvocationID.x; k < pc.K; k += invocation_count()) {
    precise float invstd = 1.0 / sqrt(load_stat(k) + pc.eps);
    precise float scale = invstd * gamma_of(k);
    precise float shift = beta_of(k) - load_mean(k) * scale;
    store_work(k, scale);
    store_work(pc.K + k, shift);
  }
}
