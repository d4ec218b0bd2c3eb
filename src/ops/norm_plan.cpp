// The plan rows the kinds share: channel views (BatchNorm, InstanceNorm) and row views
// (LayerNorm, RMSNorm).
#include "ops/norm_plan.hpp"

namespace vknorm {

NormPlan channel_plan(const NormGeometry& g, bool per_sample, Layout layout) {
  NormPlan p;
  p.geometry = g;
  const uint64_t N = g.outer, C = g.channels, S = g.spatial;
  p.nhwc = layout == Layout::nhwc;
  p.B = per_sample ? N : 1;
  p.K = C;
  if (p.nhwc) {
    p.O = per_sample ? S : N * S;
    p.I = 1;
    p.inner = 1;
  } else {
    p.O = per_sample ? 1 : N;
    p.I = S;
    p.inner = S;
  }
  p.Kp = C;
  return p;
}

NormPlan row_plan(const NormGeometry& g) {
  NormPlan p;
  p.geometry = g;
  p.B = g.outer;
  p.I = g.channels;
  p.Op = g.outer;
  p.Kp = g.channels;
  p.gamma_varies = true;
  return p;
}

}  // namespace vknorm
