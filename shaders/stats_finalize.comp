#version 450
#extension GL_GOOGLE_include_directive : require
// Split reduction, pass 2: one invocation per group merges its chunks' partials in chunk
// order (Chan's formula), writes save_mean / save_invstd, and updates the running
// statistics with the unbiased variance, as torch.nn.BatchNorm does.
// Slots: 0 x (for the pivot), 2 running_mean, 3 running_var, 4 save_mean, 5 save_invstd,
// 6 partials.
#include "common.glsl"

void main() {
  uint g = gl_GlobalInvocationID.x;
  if (g >= pc.groups) return;
  // Counts are merged as integers: a group may hold more than 2^24 elements.
  uint n = 0u;
  float mean = 0.0, m2 = 0.0;
  for (uint c = 0u; c < pc.chunks; ++c) {
    uint at = pc.base[6] + (g * pc.chunks + c) * 3u;
    uint nb = floatBitsToUint(slot6.data[at]);
    if (nb == 0u) continue;
    uint total = n + nb;
    float delta = slot6.data[at + 1u] - mean;
    float wb = float(nb) / float(total);
    mean += delta * wb;
    m2 += slot6.data[at + 2u] + delta * delta * float(n) * wb;
    n = total;
  }
  if (n == 0u) {  // empty batch: nothing to normalize, running statistics untouched
    slot4.data[pc.base[4] + g] = 0.0;
    slot5.data[pc.base[5] + g] = 0.0;
    return;
  }
  float batch_mean = slot0.data[pc.base[0] + group_element(g, 0u)] + mean;
  float var = m2 / float(n);
  slot4.data[pc.base[4] + g] = batch_mean;
  slot5.data[pc.base[5] + g] = 1.0 / sqrt(var + pc.eps);
  if (has_flag(FLAG_UPDATE_RUNNING)) {
    float f = pc.momentum;
    float unbiased = m2 / float(n - 1u);
    uint k = g % pc.K;
    slot2.data[pc.base[2] + k] = (1.0 - f) * slot2.data[pc.base[2] + k] + f * batch_mean;
    slot3.data[pc.base[3] + k] = (1.0 - f) * slot3.data[pc.base[3] + k] + f * unbiased;
  }
}
