// Welford's statistics of one invocation's values, Chan's merge, the scaled path's state,
// and the statistics partial records: what the statistics kernels share, with or without
// a reduction (shaders/reduce.glsl adds those). Needs common.glsl.
#ifndef VKNORM_WELFORD_GLSL
#define VKNORM_WELFORD_GLSL

#include "workspace.glsl"

// Welford state of a set of values: count, mean, sum of squared deviations (M2).
struct Welford { float n; float mean; float m2; };

// Adds value v (Welford's update).
void welford_add(inout Welford w, float v) {
  w.n += 1.0;
  float delta = v - w.mean;
  w.mean += delta / w.n;
  w.m2 += delta * (v - w.mean);
}

// Adds the four values of a unit: their own mean and M2, merged by Chan's formula (below),
// one division per unit instead of welford_add's one per value.
void welford_add4(inout Welford w, vec4 v) {
  float unit_mean = (v.x + v.y + v.z + v.w) * 0.25;
  vec4 d = v - unit_mean;
  float n = w.n + 4.0, share = 4.0 / n, delta = unit_mean - w.mean;
  w.mean += delta * share;
  w.m2 += dot(d, d) + delta * delta * w.n * share;
  w.n = n;
}

// The scaled path's state (common.glsl): Welford's of the scaled values, and in `extra`
// their plain sum (the mean PyTorch's sum gives: ±inf or NaN with an Inf) or, for RMSNorm,
// the sum of their squares.
struct Scaled { Welford w; float extra; };

void scaled_add(inout Scaled s, float x, float pivot_s) {
  float v = scaled_value(x, pivot_s);
  welford_add(s.w, v);
  s.extra += has_flag(FLAG_RMS) ? v * v : v;
}

// One invocation's walk over elements [begin, end) of group g, the scaled path's: the
// kernels take it in one invocation (stats_partial) or in each alone (fused_forward,
// team_forward), with no reduction, so that lavapipe, which runs a branch no invocation
// takes masked, pays no barrier or subgroup operation for it.
Scaled scaled_walk(uint g, uint begin, uint end, float pivot_s) {
  Scaled s = Scaled(Welford(0.0, 0.0, 0.0), 0.0);
  for (GroupWalk at = group_walk(g, begin, 1u); at.m < end; walk_next(at)) scaled_add(s, load_x(walk_element(at)), pivot_s);
  return s;
}

// Chan's merge of two states.
Welford welford_merge(Welford a, Welford b) {
  float n = a.n + b.n;
  if (n == 0.0) return a;
  float delta = b.mean - a.mean;
  float wb = b.n / n;
  return Welford(n, a.mean + delta * wb, a.m2 + b.m2 + delta * delta * a.n * wb);
}

// Stores the statistics partial record of partial p of group g for stats_finalize; w holds
// the statistics of x - pivot.
void store_stats_partial(uint g, uint p, uint count, Welford w) {
  store_stats_record(stats_record(g, p), count, w.mean, w.m2);
}

// The scaled statistics of a reduced Scaled state over n values (common.glsl's
// scaled_group_stats and the scaled records take them): mean and M2.
// The mean is Welford's (more precise than a one-invocation sum) unless an Inf or NaN made
// it NaN: then the sum's, ±inf or NaN as PyTorch's.
vec2 scaled_mean_m2(Scaled s, float n, float pivot_s) {
  if (has_flag(FLAG_RMS)) return vec2(-pivot_s, s.extra);
  return vec2(is_finite(s.w.mean) ? s.w.mean : s.extra / n, s.w.m2);
}

#endif  // VKNORM_WELFORD_GLSL
