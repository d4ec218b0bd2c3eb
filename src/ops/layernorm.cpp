// LayerNorm on the shared engine: one statistics group per row of D elements, gamma and
// beta per element of the row (their gradients are column reductions over the rows).
#include "ops/norm_lengths.hpp"
#include "ops/norm_plan.hpp"
#include "vknorm/layernorm.hpp"

namespace vknorm {
namespace {

Result<NormPlan> plan_layer_norm(const LayerNormParams& params) {
  auto checked = check_layer_norm(params);
  if (!checked) return checked.status();
  NormPlan p = row_plan(checked.value());
  p.has_weight = params.elementwise_affine;
  p.has_bias = params.elementwise_affine && params.bias;
  p.eps = params.eps;
  p.dtype = params.dtype;
  p.epilogue = params.epilogue;
  return p;
}

}  // namespace

Result<uint64_t> layer_norm_workspace_size(const Context& context, const LayerNormParams& params) {
  return norm_workspace_size(context, plan_layer_norm(params));
}

Status record_layer_norm_forward(CommandRecorder& recorder, const LayerNormParams& params,
                                 const NormForwardBuffers& buffers) {
  return record_norm_forward(recorder, plan_layer_norm(params), buffers);
}

Status record_layer_norm_backward(CommandRecorder& recorder, const LayerNormParams& params,
                                  const NormBackwardBuffers& buffers) {
  return record_norm_backward(recorder, plan_layer_norm(params), buffers);
}

Result<NormForwardResult> layer_norm_forward(Context& context, const LayerNormParams& params,
                                             const std::vector<float>& x, const std::vector<float>& weight,
                                             const std::vector<float>& bias,
    const std::vector<float>& residual) {
  auto plan = plan_layer_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths("layer_norm", p.geometry, x.size(), SIZE_MAX, p.has_weight, weight.size(),
                                p.has_bias, bias.size(), false, 0, 0));
  std::vector<float> no_running;
  return host_norm_forward(context, p, x, weight, bias, no_running, no_running, residual);
}

Result<NormBackwardResult> layer_norm_backward(Context& context, const LayerNormParams& params,
                                               const std::vector<float>& x, const std::vector<float>& dy,
                                               const std::vector<float>& weight, const std::vector<float>& save_mean,
                                               const std::vector<float>& save_invstd,
    const std::vector<float>& y) {
  auto plan = plan_layer_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths("layer_norm", p.geometry, x.size(), dy.size(), p.has_weight, weight.size(), false,
                                0, false, 0, 0));
  return host_norm_backward(context, p, x, dy, weight, save_mean, save_invstd, y);
}

}  // namespace vknorm
