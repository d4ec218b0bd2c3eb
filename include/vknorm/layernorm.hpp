// LayerNorm with PyTorch's semantics (torch.nn.LayerNorm, F.layer_norm): statistics per
// leading index over the trailing normalized_shape dims; weight and bias of that shape.
#pragma once

#include <vector>

#include "vknorm/context.hpp"
#include "vknorm/norm_buffers.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

struct LayerNormParams {
  std::vector<int64_t> shape;             // x
  std::vector<int64_t> normalized_shape;  // the trailing dims of x that are normalized
  bool elementwise_affine = true;         // weight is given
  bool bias = true;                       // bias is given (needs elementwise_affine)
  float eps = 1e-5f;
  DType dtype = DType::f32;               // device storage of x, y, dy, dx
  Epilogue epilogue;                      // residual add and/or ReLU after the affine
};

// PyTorch's refusals ("Given normalized_shape=[4], expected input with shape [*, 4], but
// got input of size[2, 3, 5]"), eps finite >= 0. Geometry: outer = rows, channels = D (0 too),
// stat_groups = rows, group_size = D, affine_size = D.
Result<NormGeometry> check_layer_norm(const LayerNormParams& params);

namespace reference {
// save_mean / save_invstd hold one value per row. weight and bias are ignored when the
// params say they are absent.
Result<NormForwardResult> layer_norm_forward(const LayerNormParams& params, const std::vector<float>& x,
                                             const std::vector<float>& weight, const std::vector<float>& bias,
                                             const std::vector<float>& residual = {});
Result<NormBackwardResult> layer_norm_backward(const LayerNormParams& params, const std::vector<float>& x,
                                               const std::vector<float>& dy, const std::vector<float>& weight,
                                               const std::vector<float>& y = {});
}  // namespace reference

// ---- On the device ----
Result<uint64_t> layer_norm_workspace_size(const Context& context, const LayerNormParams& params);
Status record_layer_norm_forward(CommandRecorder& recorder, const LayerNormParams& params, const NormForwardBuffers& buffers);
Status record_layer_norm_backward(CommandRecorder& recorder, const LayerNormParams& params, const NormBackwardBuffers& buffers);

// Standalone convenience: host vectors in logical order, float32, on the context's device.
Result<NormForwardResult> layer_norm_forward(Context& context, const LayerNormParams& params, const std::vector<float>& x,
                                   const std::vector<float>& weight, const std::vector<float>& bias,
    const std::vector<float>& residual = {});
Result<NormBackwardResult> layer_norm_backward(Context& context, const LayerNormParams& params, const std::vector<float>& x,
                                     const std::vector<float>& dy, const std::vector<float>& weight,
                                     const std::vector<float>& save_mean, const std::vector<float>& save_invstd,
    const std::vector<float>& y = {});

}  // namespace vknorm
