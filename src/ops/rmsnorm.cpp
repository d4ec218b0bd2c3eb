// RMSNorm: its checks (PyTorch >= 2.4 checks shapes with LayerNorm's code, so the
// messages are LayerNorm's), and its row on the shared engine: LayerNorm's rows without
// the mean (FLAG_RMS) and without bias.
#include <cfloat>

#include "ops/norm_kinds.hpp"

namespace vknorm {

// torch.nn.RMSNorm's eps=None: the machine epsilon of the accumulation type, which is
// float32 also for half-precision input (at::opmath_type).
float RMSNormParams::effective_eps() const { return eps ? *eps : FLT_EPSILON; }

Result<NormGeometry> check_rms_norm(const RMSNormParams& p) {
  Result<NormGeometry> g = detail::check_trailing_norm(p.shape, p.normalized_shape);
  if (!g) return g.status();
  VKNORM_TRY(detail::check_eps(p.effective_eps()));
  return g;
}

NormPlan NormKind<RMSNormParams>::plan(const RMSNormParams& params, const NormGeometry& g) {
  NormPlan p = row_plan(g);
  p.rms = true;
  p.has_weight = params.elementwise_affine;
  p.eps = params.effective_eps();
  return p;
}

Result<uint64_t> rms_norm_workspace_size(const Context& context, const RMSNormParams& params) {
  return kind_workspace_size(context, params);
}

Status record_rms_norm_forward(CommandRecorder& recorder, const RMSNormParams& params,
                               const NormForwardBuffers& buffers) {
  return record_kind_forward(recorder, params, buffers);
}

Status record_rms_norm_backward(CommandRecorder& recorder, const RMSNormParams& params,
                                const NormBackwardBuffers& buffers) {
  return record_kind_backward(recorder, params, buffers);
}

Result<NormForwardResult> rms_norm_forward(Context& context, const RMSNormParams& params,
                                           const std::vector<float>& x, const std::vector<float>& weight,
                                           const std::vector<float>& residual) {
  std::vector<float> none;
  return kind_forward(context, params, {x, weight, none, none, none, residual});
}

Result<NormBackwardResult> rms_norm_backward(Context& context, const RMSNormParams& params,
                                             const std::vector<float>& x, const std::vector<float>& dy,
                                             const std::vector<float>& weight, const std::vector<float>& save_invstd,
                                             const std::vector<float>& y) {
  return kind_backward(context, params, {x, dy, weight, {}, save_invstd, {}, {}, y});
}

}  // namespace vknorm
