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

struct Stats { uint n; float mean; float m2; bool any_scaled; };

uint record_count(uint at) { return stats_record_count(at) & ~VKNORM_STATS_RECORD_SCALED; }
bool record_scaled(uint at) { return (stats_record_count(at) & VKNORM_STATS_RECORD_SCALED) != 0u; }

Stats merge_chunks(uint g) {
  // Counts are merged as integers: a group may hold more than 2^24 elements.
  Stats s = Stats(0u, 0.0, 0.0, false);
  for (uint c = 0u; c < pc.chunks; ++c) {
    uint at = stats_record(g, c);
    uint nb = record_count(at);
    if (nb == 0u) continue;
    s.any_scaled = s.any_scaled || record_scaled(at);
    uint total = s.n + nb;
    float delta = stats_record_mean(at) - s.mean;
    float wb = float(nb) / float(total);
    s.mean += delta * wb;
    s.m2 += stats_record_m2(at) + delta * delta * float(s.n) * wb;
    s.n = total;
  }
  return s;
}

// The scaled path (common.glsl): the records merged as scaled statistics, each plain one
// scaled (exact, up to values far below the group's spread). The mean merges as a
// weighted sum, so that an Inf gives ±inf (or NaN) as PyTorch's sum does, not Chan's NaN.
Stats merge_chunks_scaled(uint g) {
  Stats s = Stats(0u, 0.0, 0.0, true);
  for (uint c = 0u; c < pc.chunks; ++c) {
    uint at = stats_record(g, c);
    uint nb = record_count(at);
    if (nb == 0u) continue;
    float mb = stats_record_mean(at), m2b = stats_record_m2(at);
    if (!record_scaled(at)) {
      mb *= SCALE_DOWN;
      m2b = scale_down_twice(m2b);
    }
    uint total = s.n + nb;
    float na = float(s.n), n = float(total), delta = mb - s.mean;
    s.mean = (na * s.mean + float(nb) * mb) / n;
    s.m2 += m2b + delta * delta * (na * float(nb) / n);
    s.n = total;
  }
  return s;
}

// A group's mean and unbiased variance for the running statistics; with `var_scaled` the
// variance is scaled by 2^-200 (it may pass float's range).
struct Finalized { float mean, var; bool var_scaled; };

// Writes the saved statistics of group g.
Finalized finalize_group(uint g) {
  Stats s = merge_chunks(g);
  if (s.n == 0u) {  // an empty group: PyTorch's 0/0 (batch_norm's mean is NaN too);
    // the running statistics stay untouched (update_running skips an empty batch)
    const float nan = uintBitsToFloat(0x7fc00000u);
    if (!has_flag(FLAG_RMS)) store_mean(g, has_flag(FLAG_BATCH_NORM_STATS) ? nan : 0.0);
    store_stat(g, nan);
    return Finalized(0.0, 0.0, false);
  }
  float pivot = load_pivot(g);
  if (s.any_scaled || stats_overflowed(float(s.n), pivot, s.mean, s.m2)) {
    s = merge_chunks_scaled(g);
    GroupStats st = scaled_group_stats(float(s.n), pivot, s.mean, s.m2);
    float mean = pivot + st.mean;
    if (!has_flag(FLAG_RMS)) store_mean(g, mean);
    store_stat(g, st.invstd);
    return Finalized(mean, s.n > 1u ? s.m2 / float(s.n - 1u) : 0.0, true);
  }
  float mean = pivot + s.mean;
  if (!has_flag(FLAG_RMS)) store_mean(g, mean);
  store_stat(g, invstd_from(float(s.n), mean, s.m2));
  return Finalized(mean, s.n > 1u ? s.m2 / float(s.n - 1u) : 0.0, false);
}

void update_running(uint k) {
  vec2 sum = vec2(0.0);
  float var_scaled = 0.0;
  bool any_scaled = false;
  for (uint b = 0u; b < pc.B; ++b) {
    Finalized f = finalize_group(b * pc.K + k);
    sum.x += f.mean;
    if (f.var_scaled) var_scaled += f.var;
    else sum.y += f.var;
    any_scaled = any_scaled || f.var_scaled;
  }
  if (group_size() == 0u || pc.B == 0u) return;
  vec2 batch = sum / float(pc.B);
  float f = pc.momentum;
  store_aux0(k, (1.0 - f) * load_aux0(k) + f * batch.x);
  if (!any_scaled) {
    store_aux1(k, (1.0 - f) * load_aux1(k) + f * batch.y);
    return;
  }
  // The variance may pass float's range while momentum times it does not: scale up last.
  float batch_var_s = (var_scaled + scale_down_twice(sum.y)) / float(pc.B);
  store_aux1(k, (1.0 - f) * load_aux1(k) + scale_up_twice(f * batch_var_s));
}

void main() {
  uint stride = invocation_count();
  if (!has_flag(FLAG_UPDATE_RUNNING)) {
    for (uint g = gl_GlobalInvocationID.x; g < group_count(); g += stride) finalize_group(g);
    return;
  }
  for (uint k = gl_GlobalInvocationID.x; k < pc.K; k += stride) update_running(k);
}
