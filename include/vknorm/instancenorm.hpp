// InstanceNorm with PyTorch's semantics (torch.nn.InstanceNorm1d/2d/3d, F.instance_norm):
// statistics per (n, c) over the spatial dims; affine off by default; optional running
// statistics updated with the batch average of the per-instance statistics.
#pragma once

#include <vector>

#include "vknorm/context.hpp"
#include "vknorm/norm_buffers.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

enum class InstanceNormDims {
  any,  // F.instance_norm: batched (N, C, *) with at least one spatial dim
  d1,   // InstanceNorm1d: (N, C, L) or unbatched (C, L)
  d2,   // InstanceNorm2d: (N, C, H, W) or unbatched (C, H, W)
  d3,   // InstanceNorm3d: (N, C, D, H, W) or unbatched (C, D, H, W)
};

struct InstanceNormParams {
  std::vector<int64_t> shape;  // batched (N, C, *) or, for d1/d2/d3, unbatched (C, *)
  InstanceNormDims dims = InstanceNormDims::any;
  bool training = true;
  bool affine = false;               // weight and bias are given
  bool track_running_stats = false;  // running_mean and running_var are given
  float eps = 1e-5f;
  float momentum = 0.1f;             // momentum=None is not allowed for instance norm
  Layout layout = Layout::nchw;
  DType dtype = DType::f32;
  Epilogue epilogue;                 // residual add and/or ReLU after the affine
};

// PyTorch's refusals: wrong rank for d1/d2/d3, one spatial element when input statistics
// are used, C = 0 with affine; and vknorm's eps finite >= 0, momentum finite (where the
// running statistics are updated). An unbatched input counts as N = 1.
// Geometry: outer = N, channels = C, stat_groups = N*C, group_size = spatial, affine_size = C.
Result<NormGeometry> check_instance_norm(const InstanceNormParams& params);

namespace reference {
// save_mean / save_invstd hold N*C values (index n*C + c) when input statistics are used.
// running_mean / running_var (C values, when tracked) are updated in training with the
// mean over n of the per-(n, c) mean and unbiased variance.
Result<NormForwardResult> instance_norm_forward(const InstanceNormParams& params, const std::vector<float>& x,
                                                const std::vector<float>& weight, const std::vector<float>& bias,
                                                std::vector<float>& running_mean, std::vector<float>& running_var,
                                                const std::vector<float>& residual = {});
// running_mean / running_var as they were before the forward (used when the forward used them).
Result<NormBackwardResult> instance_norm_backward(const InstanceNormParams& params, const std::vector<float>& x,
                                                  const std::vector<float>& dy, const std::vector<float>& weight,
                                                  const std::vector<float>& running_mean,
                                                  const std::vector<float>& running_var,
                                                  const std::vector<float>& y = {});
}  // namespace reference

// ---- On the device ----
Result<uint64_t> instance_norm_workspace_size(const Context& context, const InstanceNormParams& params);
Status record_instance_norm_forward(CommandRecorder& recorder, const InstanceNormParams& params, const NormForwardBuffers& buffers);
Status record_instance_norm_backward(CommandRecorder& recorder, const InstanceNormParams& params, const NormBackwardBuffers& buffers);

// Standalone convenience: host vectors in logical order, float32, on the context's device.
Result<NormForwardResult> instance_norm_forward(Context& context, const InstanceNormParams& params, const std::vector<float>& x,
                                   const std::vector<float>& weight, const std::vector<float>& bias,
                                   std::vector<float>& running_mean, std::vector<float>& running_var,
    const std::vector<float>& residual = {});
// mean / stat: save_mean / save_invstd from the forward when it used input statistics,
// else running_mean / running_var.
Result<NormBackwardResult> instance_norm_backward(Context& context, const InstanceNormParams& params, const std::vector<float>& x,
                                     const std::vector<float>& dy, const std::vector<float>& weight,
                                     const std::vector<float>& mean, const std::vector<float>& stat,
    const std::vector<float>& y = {});

}  // namespace vknorm
