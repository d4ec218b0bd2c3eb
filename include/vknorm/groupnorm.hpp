// GroupNorm with PyTorch's semantics (torch.nn.GroupNorm, F.group_norm): statistics per
// (n, group of C/G channels) over those channels and all spatial positions; weight and
// bias per channel.
#pragma once

#include <vector>

#include "vknorm/context.hpp"
#include "vknorm/norm_buffers.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

struct GroupNormParams {
  std::vector<int64_t> shape;  // (N, C, *)
  int64_t num_groups = 1;
  bool affine = true;          // weight and bias are given
  float eps = 1e-5f;
  Layout layout = Layout::nchw;
  DType dtype = DType::f32;
  Epilogue epilogue;                 // residual add and/or ReLU after the affine
};

// PyTorch's refusals: C % num_groups != 0; a single value in all of [N*C/G, G, *spatial]
// (PyTorch 1.13's check: (1, 2) with G = 2 is refused, (2, 2) with G = 2 is not);
// num_groups <= 0; rank < 2; and vknorm's eps finite >= 0.
// Geometry: outer = N, channels = C, stat_groups = N*G, group_size = (C/G)*spatial,
// affine_size = C.
Result<NormGeometry> check_group_norm(const GroupNormParams& params);

namespace reference {
// save_mean / save_invstd hold N*G values, index n*G + g.
Result<NormForwardResult> group_norm_forward(const GroupNormParams& params, const std::vector<float>& x,
                                             const std::vector<float>& weight, const std::vector<float>& bias,
                                             const std::vector<float>& residual = {});
Result<NormBackwardResult> group_norm_backward(const GroupNormParams& params, const std::vector<float>& x,
                                               const std::vector<float>& dy, const std::vector<float>& weight,
                                               const std::vector<float>& y = {});
}  // namespace reference

// ---- On the device ----
Result<uint64_t> group_norm_workspace_size(const Context& context, const GroupNormParams& params);
Status record_group_norm_forward(CommandRecorder& recorder, const GroupNormParams& params, const NormForwardBuffers& buffers);
Status record_group_norm_backward(CommandRecorder& recorder, const GroupNormParams& params, const NormBackwardBuffers& buffers);

// Standalone convenience: host vectors in logical order, float32, on the context's device.
Result<NormForwardResult> group_norm_forward(Context& context, const GroupNormParams& params, const std::vector<float>& x,
                                   const std::vector<float>& weight, const std::vector<float>& bias,
    const std::vector<float>& residual = {});
Result<NormBackwardResult> group_norm_backward(Context& context, const GroupNormParams& params, const std::vector<float>& x,
                                     const std::vector<float>& dy, const std::vector<float>& weight,
                                     const std::vector<float>& save_mean, const std::vector<float>& save_invstd,
    const std::vector<float>& y = {});

}  // namespace vknorm
