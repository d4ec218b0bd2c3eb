// LayerNorm: PyTorch's checks, and its row on the shared engine: one statistics group per
// row of D elements, gamma and beta per element of the row (their gradients are column
// reductions over the rows).
#include "ops/norm_kinds.hpp"

namespace vknorm {

Result<NormGeometry> check_layer_norm(const LayerNormParams& p) {
  Result<NormGeometry> g = detail::check_trailing_norm(p.shape, p.normalized_shape);
  if (!g) return g.status();
  // torch.nn.LayerNorm (bias= since 2.1) has no bias without elementwise_affine; a bias
  // alone is F.layer_norm only, and vknorm does not offer it.
  if (p.bias && !p.elementwise_affine)
    return Status::invalid_argument("bias: bias=true needs elementwise_affine=true (LayerNorm has a bias only "
                                    "together with its weight)");
  VKNORM_TRY(detail::check_eps(p.eps));
  return g;
}

NormPlan NormKind<LayerNormParams>::plan(const LayerNormParams& params, const NormGeometry& g) {
  NormPlan p = row_plan(g);
  p.has_weight = params.elementwise_affine;
  p.has_bias = params.elementwise_affine && params.bias;
  p.eps = params.eps;
  p.welford_mean = true;
  return p;
}

Result<uint64_t> layer_norm_workspace_size(const Context& context, const LayerNormParams& params) {
  return kind_workspace_size(context, params);
}

Status record_layer_norm_forward(CommandRecorder& recorder, const LayerNormParams& params,
                                 const NormForwardBuffers& buffers) {
  return record_kind_forward(recorder, params, buffers);
}

Status record_layer_norm_backward(CommandRecorder& recorder, const LayerNormParams& params,
                                  const NormBackwardBuffers& buffers) {
  return record_kind_backward(recorder, params, buffers);
}

Result<NormForwardResult> layer_norm_forward(Context& context, const LayerNormParams& params,
                                             const std::vector<float>& x, const std::vector<float>& weight,
                                             const std::vector<float>& bias, const std::vector<float>& residual) {
  std::vector<float> no_running;
  return kind_forward(context, params, {x, weight, bias, no_running, no_running, residual});
}

Result<NormBackwardResult> layer_norm_backward(Context& context, const LayerNormParams& params,
                                               const std::vector<float>& x, const std::vector<float>& dy,
                                               const std::vector<float>& weight, const std::vector<float>& save_mean,
                                               const std::vector<float>& save_invstd, const std::vector<float>& y) {
  return kind_backward(context, params, {x, dy, weight, save_mean, save_invstd, {}, {}, y});
}

}  // namespace vknorm
