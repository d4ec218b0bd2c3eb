// GroupNorm: PyTorch's checks, and its row on the shared engine: statistics per (n, group
// of C/G channels); gamma and beta per channel, so they vary inside a group unless every
// group is one channel.
#include "ops/norm_kinds.hpp"

namespace vknorm {

Result<NormGeometry> check_group_norm(const GroupNormParams& p) {
  const std::vector<int64_t>& s = p.shape;
  if (s.size() < 2)  // PyTorch: an IndexError on input.size(1)
    return Status::invalid_argument("x: expected at least 2D input (N, C, *) (got " + std::to_string(s.size()) +
                                    "D input)");
  VKNORM_TRY(detail::check_dims("x", s));
  if (p.num_groups <= 0)  // PyTorch: ZeroDivisionError for 0, this message for < 0
    return Status::invalid_argument("num_groups: Expected num groups to be greater than 0, got " +
                                    std::to_string(p.num_groups));
  NormGeometry g;
  g.outer = static_cast<uint64_t>(s[0]);
  g.channels = static_cast<uint64_t>(s[1]);
  for (size_t i = 2; i < s.size(); ++i) g.spatial *= static_cast<uint64_t>(s[i]);
  const uint64_t groups = static_cast<uint64_t>(p.num_groups);

  // F.group_norm runs _verify_batch_size on [N*C//G, G, *spatial] before the divisibility
  // check: it refuses when N*C//G * spatial == 1 (one value per group in the whole
  // batch), and reports that list as the input size.
  if (g.outer * g.channels / groups * g.spatial == 1) {
    std::vector<int64_t> viewed = {s[0] * s[1] / p.num_groups, p.num_groups};
    viewed.insert(viewed.end(), s.begin() + 2, s.end());
    return Status::invalid_argument("x: Expected more than 1 value per channel when training, got input size " +
                                    detail::shape_string(viewed) + " (x of shape " + detail::shape_string(s) +
                                    " seen as (N*C/num_groups, num_groups, *))");
  }
  if (g.channels % groups != 0)
    return Status::invalid_argument(
        "num_groups: Expected number of channels in input to be divisible by num_groups, but got input of shape " +
        detail::shape_string(s) + " and num_groups=" + std::to_string(p.num_groups));
  // C = 0 is PyTorch's too: an empty output, and G empty groups (mean 0, rstd NaN).
  VKNORM_TRY(detail::check_eps(p.eps));

  g.elements = g.outer * g.channels * g.spatial;
  g.stat_groups = g.outer * groups;
  g.group_size = g.channels / groups * g.spatial;
  g.affine_size = g.channels;
  g.uses_batch_stats = true;
  g.updates_running = false;
  return g;
}

NormPlan NormKind<GroupNormParams>::plan(const GroupNormParams& params, const NormGeometry& g) {
  const uint64_t N = g.outer, C = g.channels, S = g.spatial;
  const uint64_t G = static_cast<uint64_t>(params.num_groups), cpg = C / G;
  NormPlan p;
  p.geometry = g;
  p.nhwc = params.layout == Layout::nhwc;
  p.B = N;
  p.K = G;
  p.cpg = cpg;
  p.Kp = C;
  if (p.nhwc) {  // x[n][s][c]: a group is S rows of cpg adjacent channels
    p.O = S;
    p.I = cpg;
    p.inner = 1;
    p.Op = N * S;
    p.Ip = 1;
  } else {  // x[n][c][s]: a group is cpg adjacent planes
    p.O = 1;
    p.I = cpg * S;
    p.inner = S;
    p.Op = N;
    p.Ip = S;
  }
  p.gamma_varies = cpg > 1;
  p.has_weight = p.has_bias = params.affine;
  p.eps = params.eps;
  p.welford_mean = true;
  return p;
}

Result<uint64_t> group_norm_workspace_size(const Context& context, const GroupNormParams& params) {
  return kind_workspace_size(context, params);
}

Status record_group_norm_forward(CommandRecorder& recorder, const GroupNormParams& params,
                                 const NormForwardBuffers& buffers) {
  return record_kind_forward(recorder, params, buffers);
}

Status record_group_norm_backward(CommandRecorder& recorder, const GroupNormParams& params,
                                  const NormBackwardBuffers& buffers) {
  return record_kind_backward(recorder, params, buffers);
}

Result<NormForwardResult> group_norm_forward(Context& context, const GroupNormParams& params,
                                             const std::vector<float>& x, const std::vector<float>& weight,
                                             const std::vector<float>& bias, const std::vector<float>& residual) {
  std::vector<float> no_running;
  return kind_forward(context, params, {x, weight, bias, no_running, no_running, residual});
}

Result<NormBackwardResult> group_norm_backward(Context& context, const GroupNormParams& params,
                                               const std::vector<float>& x, const std::vector<float>& dy,
                                               const std::vector<float>& weight, const std::vector<float>& save_mean,
                                               const std::vector<float>& save_invstd, const std::vector<float>& y) {
  return kind_backward(context, params, {x, dy, weight, save_mean, save_invstd, {}, {}, y});
}

}  // namespace vknorm
