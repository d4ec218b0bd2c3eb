// RMSNorm with PyTorch's semantics (torch.nn.RMSNorm, PyTorch >= 2.4):
// y = x / sqrt(mean(x^2) + eps) * weight over the trailing normalized_shape dims.
#pragma once

#include <optional>
#include <vector>

#include "vknorm/context.hpp"
#include "vknorm/norm_buffers.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

struct RMSNormParams {
  std::vector<int64_t> shape;
  std::vector<int64_t> normalized_shape;
  bool elementwise_affine = true;  // weight is given (RMS norm has no bias)
  std::optional<float> eps;        // nullopt: float32 machine epsilon, as PyTorch
  DType dtype = DType::f32;
  Epilogue epilogue;                 // residual add and/or ReLU after the affine

  float effective_eps() const;     // eps or FLT_EPSILON
};

// Like check_layer_norm (same refusal message). save_mean is not used by RMS norm.
Result<NormGeometry> check_rms_norm(const RMSNormParams& params);

namespace reference {
// save_mean is empty; save_invstd holds 1/sqrt(mean(x^2) + eps) per row.
Result<NormForwardResult> rms_norm_forward(const RMSNormParams& params, const std::vector<float>& x,
                                           const std::vector<float>& weight, const std::vector<float>& residual = {});
Result<NormBackwardResult> rms_norm_backward(const RMSNormParams& params, const std::vector<float>& x,
                                             const std::vector<float>& dy, const std::vector<float>& weight,
                                             const std::vector<float>& y = {});
}  // namespace reference

// ---- On the device ----
Result<uint64_t> rms_norm_workspace_size(const Context& context, const RMSNormParams& params);
Status record_rms_norm_forward(CommandRecorder& recorder, const RMSNormParams& params, const NormForwardBuffers& buffers);
Status record_rms_norm_backward(CommandRecorder& recorder, const RMSNormParams& params, const NormBackwardBuffers& buffers);

// Standalone convenience: host vectors in logical order, float32, on the context's device.
Result<NormForwardResult> rms_norm_forward(Context& context, const RMSNormParams& params, const std::vector<float>& x,
                                   const std::vector<float>& weight,
    const std::vector<float>& residual = {});
Result<NormBackwardResult> rms_norm_backward(Context& context, const RMSNormParams& params, const std::vector<float>& x,
                                     const std::vector<float>& dy, const std::vector<float>& weight,
                                     const std::vector<float>& save_invstd,
    const std::vector<float>& y = {});

}  // namespace vknorm
