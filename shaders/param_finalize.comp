#version 450
#extension GL_GOOGLE_include_directive : require
// dgamma / dbeta, pass 2: one invocation per affine channel adds its chunk sums in order;
// invocations stride over the channels, so any grid covers them.
#include "common.glsl"
#include "workspace.glsl"

void main() {
  for (uint c = gl_GlobalInvocationID.x; c < pc.Kp; c += invocation_count()) {
    vec2 s = vec2(0.0);
    for (uint k = 0u; k < pc.pchunks; ++k) s += load_sums(param_record(c, k));
    if (has_flag(FLAG_WEIGHT)) store_aux0(c, s.y);
    if (has_flag(FLAG_BIAS)) store_aux1(c, s.x);
  }
}
