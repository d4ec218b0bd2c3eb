// InstanceNorm on the shared engine: statistics per (n, c), B = N; gamma is constant in a
// group, and the running statistics average the per-instance ones over the batch.
#include "ops/norm_lengths.hpp"
#include "ops/norm_plan.hpp"
#include "vknorm/instancenorm.hpp"

namespace vknorm {
namespace {

Result<NormPlan> plan_instance_norm(const InstanceNormParams& params) {
  auto checked = check_instance_norm(params);
  if (!checked) return checked.status();
  NormPlan p = channel_plan(checked.value(), true, params.layout);
  p.has_weight = p.has_bias = params.affine;
  p.eps = params.eps;
  p.momentum = params.momentum;
  p.dtype = params.dtype;
  p.epilogue = params.epilogue;
  return p;
}

}  // namespace

Result<uint64_t> instance_norm_workspace_size(const Context& context, const InstanceNormParams& params) {
  return norm_workspace_size(context, plan_instance_norm(params));
}

Status record_instance_norm_forward(CommandRecorder& recorder, const InstanceNormParams& params,
                                    const NormForwardBuffers& buffers) {
  return record_norm_forward(recorder, plan_instance_norm(params), buffers);
}

Status record_instance_norm_backward(CommandRecorder& recorder, const InstanceNormParams& params,
                                     const NormBackwardBuffers& buffers) {
  return record_norm_backward(recorder, plan_instance_norm(params), buffers);
}

Result<NormForwardResult> instance_norm_forward(Context& context, const InstanceNormParams& params,
                                                const std::vector<float>& x, const std::vector<float>& weight,
                                                const std::vector<float>& bias, std::vector<float>& running_mean,
                                                std::vector<float>& running_var,
    const std::vector<float>& residual) {
  auto plan = plan_instance_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths("instance_norm", p.geometry, x.size(), SIZE_MAX, p.has_weight, weight.size(),
                                p.has_bias, bias.size(), params.track_running_stats, running_mean.size(),
                                running_var.size()));
  return host_norm_forward(context, p, x, weight, bias, running_mean, running_var, residual);
}

Result<NormBackwardResult> instance_norm_backward(Context& context, const InstanceNormParams& params,
                                                  const std::vector<float>& x, const std::vector<float>& dy,
                                                  const std::vector<float>& weight, const std::vector<float>& mean,
                                                  const std::vector<float>& stat,
    const std::vector<float>& y) {
  auto plan = plan_instance_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths("instance_norm", p.geometry, x.size(), dy.size(), p.has_weight, weight.size(),
                                false, 0, false, 0, 0));
  return host_norm_backward(context, p, x, dy, weight, mean, stat, y);
}

}  // namespace vknorm
