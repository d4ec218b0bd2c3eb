#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 2: adds each group's chunk sums in chunk order and writes the group's
// coefficients (invstd, b, c of grad.glsl) into the workspace.
// When gamma is constant inside a group (BatchNorm, InstanceNorm), one invocation handles
// channel k for every b, applies gamma, and writes dgamma = sum(dy * xhat) and
// dbeta = sum(dy) summed over b, in order.
#include "common.glsl"
#include "grad.glsl"

vec2 group_sums(uint g) {
  vec2 s = vec2(0.0);
  for (uint c = 0u; c < pc.chunks; ++c) {
    uint at = pc.base[9] + (g * pc.chunks + c) * 2u;
    s += vec2(slot_work.data[at], slot_work.data[at + 1u]);
  }
  return s;
}

void write_coefficients(uint g, vec2 gsums) {
  Coefficients k = group_coefficients(g, gsums);
  uint at = pc.base[9] + pc.coef_base + g * 3u;
  slot_work.data[at] = k.invstd;
  slot_work.data[at + 1u] = k.b;
  slot_work.data[at + 2u] = k.c;
}

void main() {
  uint id = gl_GlobalInvocationID.x;
  if (has_flag(FLAG_GAMMA_VARIES)) {
    if (id < group_count()) write_coefficients(id, group_sums(id));
    return;
  }
  uint k = id;
  if (k >= pc.K) return;
  float gamma = gamma_of(k);
  vec2 param = vec2(0.0);
  for (uint b = 0u; b < pc.B; ++b) {
    vec2 s = group_sums(b * pc.K + k);
    param += s;
    write_coefficients(b * pc.K + k, s * gamma);
  }
  if (has_flag(FLAG_WEIGHT)) slot_aux0.data[pc.base[7] + k] = param.y;
  if (has_flag(FLAG_BIAS)) slot_aux1.data[pc.base[8] + k] = param.x;
}
