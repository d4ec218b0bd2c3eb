#version 450
#extension GL_GOOGLE_include_directive : require
// Split reduction, pass 2: merges each group's statistics partial records in chunk order
// (Chan's formula) and writes save_mean / save_invstd. With FLAG_UPDATE_RUNNING one
// invocation handles channel k for every b and updates running_mean / running_var with the
// mean over b of the per-group mean and unbiased variance (BatchNorm has B = 1;
// InstanceNorm averages over the batch, as PyTorch does); otherwise one invocation per
// group. Invocations stride over the groups (channels), so any grid covers them.
#include "common.glsl"
#include "workspace.glsl"

struct Stats { uint n; float mean; float m2; };

Stats merge_chunks(uint g) {
  // Counts are merged as integers: a group may hold more than 2^24 elements.
  Stats s = Stats(0u, 0.0, 0.0);
  for (uint c = 0u; c < pc.chunks; ++c) {
    uint at = stats_record(g, c);
    uint nb = stats_record_count(at);
    if (nb == 0u) continue;
    uint total = s.n + nb;
    float delta = stats_record_mean(at) - s.mean;
    float wb = float(nb) / float(total);
    s.mean += delta * wb;
    s.m2 += stats_record_m2(at) + delta * delta * float(s.n) * wb;
    s.n = total;
  }
  return s;
}

// Writes the saved statistics of group g; returns its (mean, unbiased variance).
vec2 finalize_group(uint g) {
  Stats s = merge_chunks(g);
  if (s.n == 0u) {  // an empty group: PyTorch's 0/0 (batch_norm's mean is NaN too);
    // the running statistics stay untouched (update_running skips an empty batch)
    const float nan = uintBitsToFloat(0x7fc00000u);
    if (!has_flag(FLAG_RMS)) store_mean(g, has_flag(FLAG_BATCH_NORM_STATS) ? nan : 0.0);
    store_stat(g, nan);
    return vec2(0.0);
  }
  float mean = load_pivot(g) + s.mean;
  if (!has_flag(FLAG_RMS)) store_mean(g, mean);
  store_stat(g, invstd_from(float(s.n), mean, s.m2));
  return vec2(mean, s.n > 1u ? s.m2 / float(s.n - 1u) : 0.0);
}

void update_running(uint k) {
  vec2 sum = vec2(0.0);
  for (uint b = 0u; b < pc.B; ++b) sum += finalize_group(b * pc.K + k);
  if (group_size() == 0u || pc.B == 0u) return;
  vec2 batch = sum / float(pc.B);
  float f = pc.momentum;
  store_aux0(k, (1.0 - f) * load_aux0(k) + f * batch.x);
  store_aux1(k, (1.0 - f) * load_aux1(k) + f * batch.y);
}

void main() {
  uint stride = invocation_count();
  if (!has_flag(FLAG_UPDATE_RUNNING)) {
    for (uint g = gl_GlobalInvocationID.x; g < group_count(); g += stride) finalize_group(g);
    return;
  }
  for (uint k = gl_GlobalInvocationID.x; k < pc.K; k += stride) update_running(k);
}
