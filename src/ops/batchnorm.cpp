// BatchNorm on the shared engine: statistics per channel over (N, spatial), B = 1.
#include "ops/norm_plan.hpp"
#include "vknorm/batchnorm.hpp"

namespace vknorm {
namespace {

Result<NormPlan> plan_batch_norm(const BatchNormParams& params) {
  auto checked = check_batch_norm(params);
  if (!checked) return checked.status();
  const BatchNormGeometry& b = checked.value();
  NormGeometry g;
  g.elements = b.elements;
  g.outer = b.batch;
  g.channels = b.channels;
  g.spatial = b.spatial;
  g.stat_groups = b.channels;
  g.group_size = b.count;
  g.affine_size = b.channels;
  g.uses_batch_stats = b.uses_batch_stats;
  g.updates_running = b.updates_running;
  NormPlan p = channel_plan(g, false, params.layout);
  p.has_weight = p.has_bias = params.affine;
  p.eps = params.eps;
  p.momentum = params.momentum;
  p.dtype = params.dtype;
  p.epilogue = params.epilogue;
  return p;
}

}  // namespace

Result<uint64_t> batch_norm_workspace_size(const Context& context, const BatchNormParams& params) {
  return norm_workspace_size(context, plan_batch_norm(params));
}

Status record_batch_norm_forward(CommandRecorder& recorder, const BatchNormParams& params,
                                 const BatchNormForwardBuffers& buffers) {
  return record_norm_forward(recorder, plan_batch_norm(params), buffers);
}

Status record_batch_norm_backward(CommandRecorder& recorder, const BatchNormParams& params,
                                  const BatchNormBackwardBuffers& buffers) {
  return record_norm_backward(recorder, plan_batch_norm(params), buffers);
}

Result<NormForwardResult> batch_norm_forward(Context& context, const BatchNormParams& params,
                                             const std::vector<float>& x, const std::vector<float>& weight,
                                             const std::vector<float>& bias, std::vector<float>& running_mean,
                                             std::vector<float>& running_var,
    const std::vector<float>& residual) {
  auto plan = plan_batch_norm(params);
  if (!plan) return plan.status();
  const BatchNormGeometry b = check_batch_norm(params).value();
  VKNORM_TRY(check_batch_norm_lengths(params, b, x.size(), weight.size(), bias.size(), running_mean.size(),
                                      running_var.size()));
  return host_norm_forward(context, plan.value(), x, weight, bias, running_mean, running_var, residual);
}

Result<NormBackwardResult> batch_norm_backward(Context& context, const BatchNormParams& params,
                                               const std::vector<float>& x, const std::vector<float>& dy,
                                               const std::vector<float>& weight, const std::vector<float>& save_mean,
                                               const std::vector<float>& save_invstd,
                                               const std::vector<float>& running_mean,
                                               const std::vector<float>& running_var,
    const std::vector<float>& y) {
  auto plan = plan_batch_norm(params);
  if (!plan) return plan.status();
  const BatchNormGeometry b = check_batch_norm(params).value();
  // Only the statistics the backward reads must be given.
  BatchNormParams checked = params;
  checked.track_running_stats = false;
  VKNORM_TRY(check_batch_norm_lengths(checked, b, x.size(), weight.size(), b.channels, 0, 0, dy.size()));
  const bool batch = b.uses_batch_stats;
  return host_norm_backward(context, plan.value(), x, dy, weight, batch ? save_mean : running_mean,
                            batch ? save_invstd : running_var, y);
}

}  // namespace vknorm
