#version 450
#extension GL_GOOGLE_include_directive : require
// dgamma / dbeta, pass 2: one invocation per affine channel adds its chunk sums in order.
#include "common.glsl"

void main() {
  uint c = gl_GlobalInvocationID.x;
  if (c >= pc.Kp) return;
  vec2 s = vec2(0.0);
  for (uint k = 0u; k < pc.pchunks; ++k) {
    uint at = pc.base[9] + pc.param_base + (c * pc.pchunks + k) * 2u;
    s += vec2(slot_work.data[at], slot_work.data[at + 1u]);
  }
  if (has_flag(FLAG_WEIGHT)) slot_aux0.data[pc.base[7] + c] = s.x;
  if (has_flag(FLAG_BIAS)) slot_aux1.data[pc.base[8] + c] = s.y;
}
