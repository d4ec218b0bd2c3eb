// Eval-mode BatchNorm in two steps, for engines that run it with the same running
// statistics every frame: once per model load, fold the running statistics and the affine
// parameters into per-channel coefficients; every frame, apply them (one FMA per element).
// Also folding BatchNorm into the convolution or linear layer before it
// (torch.nn.utils.fuse_conv_bn_weights / fuse_linear_bn_weights).
//
// The coefficients, float32, one per channel c (PyTorch's CPU eval BatchNorm computes the same):
//   scale[c] = weight[c] * (1 / sqrt(running_var[c] + eps))     (weight 1 without affine)
//   shift[c] = bias[c] - running_mean[c] * scale[c]             (bias 0 without affine)
// and the apply y = x * scale[c] + shift[c], then the epilogue (residual add, ReLU).
// record_batch_norm_forward with training = false runs the same apply, computing the
// coefficients with the same float32 operations (inside the apply, or on a CPU device where
// the apply walks columns in a dispatch of their own first, into the workspace): the two
// ways give the same y.
// Against the exact (x - mean) / sqrt(var + eps) * weight + bias, y is within a few float32
// ulp of |x * scale| + |mean * scale| + |bias| (+ |residual|): folding the mean into the
// shift loses what x - mean would cancel first when |mean| >> the spread, as PyTorch's CPU
// eval BatchNorm does (it computes the same two steps).
//
// Coefficient buffer layout: 2 * C floats, all C scales, then all C shifts
// (kBatchNormCoefficientsPerChannel floats per channel, scales at [0, C), shifts at [C, 2C)).
#pragma once

#include <cstdint>
#include <vector>

#include "vknorm/batchnorm.hpp"
#include "vknorm/recorder.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

constexpr uint64_t kBatchNormCoefficientsPerChannel = 2;

// Both record calls take the eval forward's params: training false, track_running_stats
// true (the coefficients fold the running statistics). The coefficients read shape[1] (C),
// affine and eps; the apply reads shape, dims, layout, dtype and epilogue.
struct BatchNormCoefficientsBuffers {
  BufferRef running_mean, running_var;  // C floats
  BufferRef weight, bias;               // C floats, with params.affine
  BufferRef coefficients;               // written: 2 * C floats (scales, then shifts)
};

struct BatchNormApplyBuffers {
  BufferRef x, y;          // params.shape in params.layout and params.dtype
  BufferRef coefficients;  // 2 * C floats from record_batch_norm_inference_coefficients (or the host)
  BufferRef residual;      // like x, with params.epilogue.residual
};

// Floats the coefficient buffer holds: 2 * C. Refuses params the two calls refuse.
Result<uint64_t> batch_norm_inference_coefficient_count(const BatchNormParams& params);

// Records one dispatch that writes the coefficients. Everything is checked before recording.
Status record_batch_norm_inference_coefficients(CommandRecorder& recorder, const BatchNormParams& params,
                                                const BatchNormCoefficientsBuffers& buffers);

// Records one dispatch: y = x * scale + shift (+ residual, ReLU). 128-bit (4-element)
// loads and stores where the row length and the offsets of x, y and the residual are
// multiples of 4 elements, scalar otherwise.
Status record_batch_norm_inference_apply(CommandRecorder& recorder, const BatchNormParams& params,
                                         const BatchNormApplyBuffers& buffers);

// The coefficients on the host, in the layout above (2 * C floats), with the float32
// operations of the device kernel. weight and bias are read only with params.affine.
Result<std::vector<float>> batch_norm_inference_coefficients(const BatchNormParams& params,
                                                             const std::vector<float>& running_mean,
                                                             const std::vector<float>& running_var,
                                                             const std::vector<float>& weight,
                                                             const std::vector<float>& bias);

// ---- Folding into the layer before the BatchNorm ----

// The BatchNorm that follows the layer (eval mode, its running statistics). weight and
// bias may be empty (a BatchNorm without affine): 1 and 0.
struct BatchNormFoldParams {
  std::vector<float> running_mean, running_var;  // C each
  std::vector<float> weight, bias;               // C each, or empty
  float eps = 1e-5f;
};

struct FoldedWeights {
  std::vector<float> weight;  // the layer's shape
  std::vector<float> bias;    // C
};

// torch.nn.utils.fuse_conv_bn_weights: conv weight of `weight_shape` (out, in/groups, *k),
// or with `transpose` a transposed convolution's (in, out, *k) (groups 1); C = out. An
// empty conv_bias is zeros. The float32 operations follow PyTorch's:
//   r = 1 / sqrt(running_var + eps);  w' = w * (bn_w * r);  b' = (b - running_mean) * r * bn_w + bn_b.
Result<FoldedWeights> fuse_conv_bn_weights(const std::vector<float>& conv_weight,
                                           const std::vector<int64_t>& weight_shape,
                                           const std::vector<float>& conv_bias, const BatchNormFoldParams& bn,
                                           bool transpose = false);

// torch.nn.utils.fuse_linear_bn_weights: linear weight (out, in), C = out; an empty
// linear_bias is zeros.
//   s = bn_w * (1 / sqrt(running_var + eps));  w' = w * s;  b' = (b - running_mean) * s + bn_b.
Result<FoldedWeights> fuse_linear_bn_weights(const std::vector<float>& linear_weight,
                                             const std::vector<int64_t>& weight_shape,
                                             const std::vector<float>& linear_bias, const BatchNormFoldParams& bn);

}  // namespace vknorm
