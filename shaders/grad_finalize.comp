#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 2: adds each group's chunk sums in chunk order and writes the group's
// coefficients of   dx = invstd * (gamma * dy - b - xhat * c)   into the workspace:
// b = sum(g)/M and c = sum(g * xhat)/M through batch statistics (b = 0 for RMSNorm),
// b = c = 0 with fixed running statistics.
// When gamma is constant inside a group (BatchNorm, InstanceNorm), one invocation handles
// channel k for every b, applies gamma, and writes dgamma = sum(dy * xhat) and
// dbeta = sum(dy) summed over b, in order.
#include "common.glsl"

vec2 group_sums(uint g) {
  vec2 s = vec2(0.0);
  for (uint c = 0u; c < pc.chunks; ++c) {
    uint at = pc.base[9] + (g * pc.chunks + c) * 2u;
    s += vec2(slot_work.data[at], slot_work.data[at + 1u]);
  }
  return s;
}

void write_coefficients(uint g, vec2 gsums) {
  bool batch = has_flag(FLAG_BATCH_STATS) && group_size() > 0u;
  float inv_m = batch ? 1.0 / float(group_size()) : 0.0;
  uint at = pc.base[9] + pc.coef_base + g * 3u;
  slot_work.data[at] = stat_invstd(g);
  slot_work.data[at + 1u] = has_flag(FLAG_RMS) ? 0.0 : gsums.x * inv_m;
  slot_work.data[at + 2u] = gsums.y * inv_m;
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
