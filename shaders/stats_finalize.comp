#version 450
#extension GL_GOOGLE_include_directive : require
// Split reduction, pass 2: merges each group's chunk partials in chunk order (Chan's
// formula) and writes save_mean / save_invstd. With FLAG_UPDATE_RUNNING one invocation
// handles channel k for every b and updates running_mean / running_var with the mean
// over b of the per-group mean and unbiased variance (BatchNorm has B = 1; InstanceNorm
// averages over the batch, as PyTorch does); otherwise one invocation per group.
#include "common.glsl"

struct Stats { uint n; float mean; float m2; };

Stats merge_chunks(uint g) {
  // Counts are merged as integers: a group may hold more than 2^24 elements.
  Stats s = Stats(0u, 0.0, 0.0);
  for (uint c = 0u; c < pc.chunks; ++c) {
    uint at = pc.base[9] + (g * pc.chunks + c) * 3u;
    uint nb = floatBitsToUint(slot_work.data[at]);
    if (nb == 0u) continue;
    uint total = s.n + nb;
    float delta = slot_work.data[at + 1u] - s.mean;
    float wb = float(nb) / float(total);
    s.mean += delta * wb;
    s.m2 += slot_work.data[at + 2u] + delta * delta * float(s.n) * wb;
    s.n = total;
  }
  return s;
}

// Writes the saved statistics of group g; returns its (mean, unbiased variance).
vec2 finalize_group(uint g) {
  Stats s = merge_chunks(g);
  if (s.n == 0u) {  // empty input: nothing to normalize, running statistics untouched
    if (!has_flag(FLAG_RMS)) slot_mean.data[pc.base[5] + g] = 0.0;
    slot_stat.data[pc.base[6] + g] = 0.0;
    return vec2(0.0);
  }
  float mean = load_x(group_element(g, 0u)) + s.mean;
  if (!has_flag(FLAG_RMS)) slot_mean.data[pc.base[5] + g] = mean;
  slot_stat.data[pc.base[6] + g] = invstd_from(float(s.n), mean, s.m2);
  return vec2(mean, s.n > 1u ? s.m2 / float(s.n - 1u) : 0.0);
}

void main() {
  uint id = gl_GlobalInvocationID.x;
  if (!has_flag(FLAG_UPDATE_RUNNING)) {
    if (id < group_count()) finalize_group(id);
    return;
  }
  uint k = id;
  if (k >= pc.K) return;
  vec2 sum = vec2(0.0);
  for (uint b = 0u; b < pc.B; ++b) sum += finalize_group(b * pc.K + k);
  if (group_size() == 0u || pc.B == 0u) return;
  vec2 batch = sum / float(pc.B);
  float f = pc.momentum;
  slot_aux0.data[pc.base[7] + k] = (1.0 - f) * slot_aux0.data[pc.base[7] + k] + f * batch.x;
  slot_aux1.data[pc.base[8] + k] = (1.0 - f) * slot_aux1.data[pc.base[8] + k] + f * batch.y;
}
