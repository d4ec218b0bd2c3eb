// GroupNorm on the shared engine: statistics per (n, group of C/G channels); gamma and
// beta per channel, so they vary inside a group unless every group is one channel.
#include "ops/norm_lengths.hpp"
#include "ops/norm_plan.hpp"
#include "vknorm/groupnorm.hpp"

namespace vknorm {
namespace {

Result<NormPlan> plan_group_norm(const GroupNormParams& params) {
  auto checked = check_group_norm(params);
  if (!checked) return checked.status();
  const NormGeometry& g = checked.value();
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
  p.dtype = params.dtype;
  p.epilogue = params.epilogue;
  return p;
}

}  // namespace

Result<uint64_t> group_norm_workspace_size(const Context& context, const GroupNormParams& params) {
  return norm_workspace_size(context, plan_group_norm(params));
}

Status record_group_norm_forward(CommandRecorder& recorder, const GroupNormParams& params,
                                 const NormForwardBuffers& buffers) {
  return record_norm_forward(recorder, plan_group_norm(params), buffers);
}

Status record_group_norm_backward(CommandRecorder& recorder, const GroupNormParams& params,
                                  const NormBackwardBuffers& buffers) {
  return record_norm_backward(recorder, plan_group_norm(params), buffers);
}

Result<NormForwardResult> group_norm_forward(Context& context, const GroupNormParams& params,
                                             const std::vector<float>& x, const std::vector<float>& weight,
                                             const std::vector<float>& bias,
    const std::vector<float>& residual) {
  auto plan = plan_group_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths("group_norm", p.geometry, x.size(), SIZE_MAX, p.has_weight, weight.size(),
                                p.has_bias, bias.size(), false, 0, 0));
  std::vector<float> no_running;
  return host_norm_forward(context, p, x, weight, bias, no_running, no_running, residual);
}

Result<NormBackwardResult> group_norm_backward(Context& context, const GroupNormParams& params,
                                               const std::vector<float>& x, const std::vector<float>& dy,
                                               const std::vector<float>& weight, const std::vector<float>& save_mean,
                                               const std::vector<float>& save_invstd,
    const std::vector<float>& y) {
  auto plan = plan_group_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths("group_norm", p.geometry, x.size(), dy.size(), p.has_weight, weight.size(), false,
                                0, false, 0, 0));
  return host_norm_backward(context, p, x, dy, weight, save_mean, save_invstd, y);
}

}  // namespace vknorm
