#version 450
#extension GL_GOOGLE_include_directive : require
// param_finalize.comp four channels per invocation, for records laid out partial after
// partial (FLAG_BLOCK_PARAMS: a partial's records of channels c .. c + 3 are two vec4s,
// shaders/vec4.glsl), the workspace 16-byte aligned and Kp % 4 == 0 (src/ops/planner.cpp).
// On lavapipe each buffer load is a loop over the lanes: LayerNorm 4096x1024's backward
// spent 3.1 of its 16.7 ms in param_finalize, adding 1024 partials per channel.
#include "common.glsl"
#include "workspace.glsl"
#include "vec4.glsl"

void main() {
  for (uint u = gl_GlobalInvocationID.x; u < pc.Kp / 4u; u += invocation_count()) {
    uint c = 4u * u;
    // (dbeta, dgamma) of channels c, c + 1 in `lo`, of c + 2, c + 3 in `hi`: the order in
    // which param_finalize adds them, partial after partial.
    vec4 lo = vec4(0.0), hi = vec4(0.0);
    for (uint k = 0u; k < pc.pchunks; ++k) {
      uint at = block_param_record(c, k);
      lo += load4_work(at);
      hi += load4_work(at + 4u);
    }
    for (uint j = 0u; j < 4u; ++j) {
      vec2 s = j < 2u ? (j == 0u ? lo.xy : lo.zw) : (j == 2u ? hi.xy : hi.zw);
      if (has_flag(FLAG_WEIGHT)) store_aux0(c + j, s.y);
      if (has_flag(FLAG_BIAS)) store_aux1(c + j, s.x);
    }
  }
}
