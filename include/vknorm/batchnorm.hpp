// BatchNorm with PyTorch's semantics (torch.nn.BatchNorm1d/2d/3d and F.batch_norm).
// Tensors are contiguous in PyTorch's logical (N, C, *) order (NCHW for 2-D).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "vknorm/context.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/norm_buffers.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

// Which torch.nn class the call stands for; it decides the ranks that are accepted.
enum class BatchNormDims {
  any,  // F.batch_norm: rank >= 2
  d1,   // BatchNorm1d: (N, C) or (N, C, L)
  d2,   // BatchNorm2d: (N, C, H, W)
  d3,   // BatchNorm3d: (N, C, D, H, W)
};

// One call of F.batch_norm. `momentum` is the exponential-average factor for this call,
// as PyTorch's module passes it: the momentum, or 1/num_batches_tracked when the module's
// momentum is None (BatchNormState computes it).
struct BatchNormParams {
  std::vector<int64_t> shape;        // logical (N, C, *) shape of x
  BatchNormDims dims = BatchNormDims::any;
  bool training = true;
  bool affine = true;                // weight and bias are given
  bool track_running_stats = true;   // running_mean and running_var are given
  float eps = 1e-5f;
  float momentum = 0.1f;
  Layout layout = Layout::nchw;      // device storage of x, y, dy, dx
  DType dtype = DType::f32;
  Epilogue epilogue;                 // residual add and/or ReLU after the affine
};

// Validates `params` the way PyTorch does (rank, one value per channel in training,
// eps and momentum), and derives the geometry: outer = N, channels = C, stat_groups = C,
// group_size = N * spatial, affine_size = C. The message names the bad argument.
Result<NormGeometry> check_batch_norm(const BatchNormParams& params);

// The host-side part of torch.nn.BatchNorm*d's state: num_batches_tracked and the
// momentum (nullopt = cumulative moving average). Running buffers live with the caller.
struct BatchNormState {
  std::optional<float> momentum = 0.1f;
  int64_t num_batches_tracked = 0;

  // Call once per training forward with tracked statistics, before the forward: counts
  // the batch (also an empty one) and returns the factor for BatchNormParams::momentum.
  // The count stops at INT64_MAX (it would overflow; PyTorch's wraps negative).
  float next_training_factor();
};

namespace reference {

// CPU reference with double accumulation, for tests and for users who want to check
// a device. Arguments follow F.batch_norm; spans that the params say are absent are
// ignored (weight/bias when !affine, running_* when !track_running_stats). Every kind's
// reference applies params.epilogue as the device does: the forward takes the residual
// (with epilogue.residual), the backward the forward's output y (with epilogue.relu; dy
// passes where y > 0) and returns dresidual (with epilogue.residual).
using BatchNormForwardResult = NormForwardResult;

// Updates running_mean/running_var in place when geometry.updates_running.
Result<BatchNormForwardResult> batch_norm_forward(const BatchNormParams& params,
                                                  const std::vector<float>& x,
                                                  const std::vector<float>& weight,
                                                  const std::vector<float>& bias,
                                                  std::vector<float>& running_mean,
                                                  std::vector<float>& running_var,
                                                  const std::vector<float>& residual = {});

using BatchNormBackwardResult = NormBackwardResult;

// Gradients of the forward described by `params`. Batch statistics are recomputed from x
// in double; running_mean / running_var (as they were before the forward) are read only
// when the forward normalized with them, and may be empty otherwise.
Result<BatchNormBackwardResult> batch_norm_backward(const BatchNormParams& params,
                                                    const std::vector<float>& x,
                                                    const std::vector<float>& dy,
                                                    const std::vector<float>& weight,
                                                    const std::vector<float>& running_mean,
                                                    const std::vector<float>& running_var,
                                                    const std::vector<float>& y = {});

}  // namespace reference

// ---- Recording on the device (engine mode and standalone) ----

// Tensors in params.layout and params.dtype; save_mean / save_invstd hold C floats.
using BatchNormForwardBuffers = NormForwardBuffers;
using BatchNormBackwardBuffers = NormBackwardBuffers;

// Bytes of scratch memory the forward and backward of these params need on this context.
// Training and eval plan differently (so may the same shape in SyncBatchNorm's phases):
// a workspace shared by several kinds of call is sized by asking for each.
Result<uint64_t> batch_norm_workspace_size(const Context& context, const BatchNormParams& params);

// Checks everything (params, buffers, device limits) before recording anything.
Status record_batch_norm_forward(CommandRecorder& recorder, const BatchNormParams& params,
                                 const BatchNormForwardBuffers& buffers);
Status record_batch_norm_backward(CommandRecorder& recorder, const BatchNormParams& params,
                                  const BatchNormBackwardBuffers& buffers);

// Standalone convenience: the reference's signatures, computed on the context's device
// (uploads, records, submits, waits, downloads). Host vectors are float32 in logical
// (N, C, *) order whatever params.layout and params.dtype say about the device.
Result<reference::BatchNormForwardResult> batch_norm_forward(Context& context, const BatchNormParams& params,
                                                             const std::vector<float>& x,
                                                             const std::vector<float>& weight,
                                                             const std::vector<float>& bias,
                                                             std::vector<float>& running_mean,
                                                             std::vector<float>& running_var,
    const std::vector<float>& residual = {});
Result<reference::BatchNormBackwardResult> batch_norm_backward(
    Context& context, const BatchNormParams& params, const std::vector<float>& x, const std::vector<float>& dy,
    const std::vector<float>& weight, const std::vector<float>& save_mean, const std::vector<float>& save_invstd,
    const std::vector<float>& running_mean, const std::vector<float>& running_var,
    const std::vector<float>& y = {});

}  // namespace vknorm
