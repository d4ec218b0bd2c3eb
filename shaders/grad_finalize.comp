#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 2: one invocation per group adds its chunks' sums in chunk order, writes
// dgamma = sum(dy * xhat) and dbeta = sum(dy), and the three coefficients of
//   dx = a * (dy - b - xhat * c)
// with a = gamma * invstd, and b = sum(dy)/M, c = sum(dy * xhat)/M through batch
// statistics (FLAG_BATCH_STATS), or b = c = 0 with fixed running statistics.
// Slots: 2 weight, 3 dweight, 4 mean, 5 invstd or var, 6 partials, 7 coefficients.
// With FLAG_BIAS, slot 1 holds dbias.
#include "common.glsl"

void main() {
  uint g = gl_GlobalInvocationID.x;
  if (g >= pc.groups) return;
  uint k = g % pc.K;
  float sum_dy = 0.0, sum_dy_xhat = 0.0;
  for (uint c = 0u; c < pc.chunks; ++c) {
    uint at = pc.base[6] + (g * pc.chunks + c) * 2u;
    sum_dy += slot6.data[at];
    sum_dy_xhat += slot6.data[at + 1u];
  }
  if (has_flag(FLAG_WEIGHT)) slot3.data[pc.base[3] + k] = sum_dy_xhat;
  if (has_flag(FLAG_BIAS)) slot1.data[pc.base[1] + k] = sum_dy;
  float s = slot5.data[pc.base[5] + g];
  float invstd = has_flag(FLAG_STATS_ARE_VAR) ? 1.0 / sqrt(s + pc.eps) : s;
  float a = invstd;
  if (has_flag(FLAG_WEIGHT)) a *= slot2.data[pc.base[2] + k];
  bool batch = has_flag(FLAG_BATCH_STATS) && pc.count > 0u;
  float inv_count = batch ? 1.0 / float(pc.count) : 0.0;
  uint at = pc.base[7] + g * 3u;
  slot7.data[at] = a;
  slot7.data[at + 1u] = sum_dy * inv_count;
  slot7.data[at + 2u] = sum_dy_xhat * inv_count;
}
