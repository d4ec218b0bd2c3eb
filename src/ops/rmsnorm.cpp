// RMSNorm on the shared engine: LayerNorm's rows without the mean (FLAG_RMS) and without bias.
#include "ops/norm_lengths.hpp"
#include "ops/norm_plan.hpp"
#include "vknorm/rmsnorm.hpp"

namespace vknorm {
namespace {

Result<NormPlan> plan_rms_norm(const RMSNormParams& params) {
  auto checked = check_rms_norm(params);
  if (!checked) return checked.status();
  NormPlan p = row_plan(checked.value());
  p.rms = true;
  p.has_weight = params.elementwise_affine;
  p.eps = params.effective_eps();
  p.dtype = params.dtype;
  p.epilogue = params.epilogue;
  return p;
}

}  // namespace

Result<uint64_t> rms_norm_workspace_size(const Context& context, const RMSNormParams& params) {
  return norm_workspace_size(context, plan_rms_norm(params));
}

Status record_rms_norm_forward(CommandRecorder& recorder, const RMSNormParams& params,
                               const NormForwardBuffers& buffers) {
  return record_norm_forward(recorder, plan_rms_norm(params), buffers);
}

Status record_rms_norm_backward(CommandRecorder& recorder, const RMSNormParams& params,
                                const NormBackwardBuffers& buffers) {
  return record_norm_backward(recorder, plan_rms_norm(params), buffers);
}

Result<NormForwardResult> rms_norm_forward(Context& context, const RMSNormParams& params,
                                           const std::vector<float>& x, const std::vector<float>& weight,
    const std::vector<float>& residual) {
  auto plan = plan_rms_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths("rms_norm", p.geometry, x.size(), SIZE_MAX, p.has_weight, weight.size(), false, 0,
                                false, 0, 0));
  std::vector<float> none;
  return host_norm_forward(context, p, x, weight, none, none, none, residual);
}

Result<NormBackwardResult> rms_norm_backward(Context& context, const RMSNormParams& params,
                                             const std::vector<float>& x, const std::vector<float>& dy,
                                             const std::vector<float>& weight,
                                             const std::vector<float>& save_invstd,
    const std::vector<float>& y) {
  auto plan = plan_rms_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths("rms_norm", p.geometry, x.size(), dy.size(), p.has_weight, weight.size(), false, 0,
                                false, 0, 0));
  return host_norm_backward(context, p, x, dy, weight, {}, save_invstd, y);
}

}  // namespace vknorm
