// Folding eval BatchNorm into the convolution or linear layer before it, with the float32
// operations of torch.nn.utils.fuse_conv_bn_weights / fuse_linear_bn_weights.
#include <cmath>
#include <string>

#include "ops/norm_lengths.hpp"
#include "vknorm/batchnorm_inference.hpp"

namespace vknorm {
namespace {

// The shape's element count, with the checks every fold shares; `out_dim` is the dim that
// holds C (the layer's outputs).
Result<uint64_t> check_layer(const char* layer, const std::vector<float>& weight, const std::vector<int64_t>& shape,
                             size_t min_rank, size_t out_dim, const std::vector<float>& bias,
                             const BatchNormFoldParams& bn) {
  const std::string w = std::string(layer) + "_weight";
  if (shape.size() < min_rank)
    return Status::invalid_argument("weight_shape: expected at least " + std::to_string(min_rank) + " dims for " +
                                    w + ", got " + detail::shape_string(shape));
  VKNORM_TRY(detail::check_dims("weight_shape", shape));
  uint64_t count = 1;
  for (int64_t d : shape) count *= static_cast<uint64_t>(d);
  if (weight.size() != count)
    return Status::invalid_argument(w + ": expected " + std::to_string(count) + " values (weight_shape " +
                                    detail::shape_string(shape) + "), got " + std::to_string(weight.size()));
  const size_t C = static_cast<size_t>(shape[out_dim]);
  auto per_channel = [C](const std::string& name, size_t size, bool optional) -> Status {
    if (size == C || (optional && size == 0)) return {};
    return Status::invalid_argument(name + ": expected " + std::to_string(C) + " values (the layer's " +
                                    std::to_string(C) + " outputs" + (optional ? ", or none" : "") + "), got " +
                                    std::to_string(size));
  };
  VKNORM_TRY(per_channel(std::string(layer) + "_bias", bias.size(), true));
  VKNORM_TRY(per_channel("bn.running_mean", bn.running_mean.size(), false));
  VKNORM_TRY(per_channel("bn.running_var", bn.running_var.size(), false));
  VKNORM_TRY(per_channel("bn.weight", bn.weight.size(), true));
  VKNORM_TRY(per_channel("bn.bias", bn.bias.size(), true));
  VKNORM_TRY(detail::check_eps(bn.eps));
  return count;
}

float at_or(const std::vector<float>& v, size_t i, float otherwise) { return v.empty() ? otherwise : v[i]; }

// torch.rsqrt(running_var + eps) on the CPU: a float32 sqrt, then a float32 division.
float var_rsqrt(const BatchNormFoldParams& bn, size_t c) { return 1.0f / std::sqrt(bn.running_var[c] + bn.eps); }

}  // namespace

Result<FoldedWeights> fuse_conv_bn_weights(const std::vector<float>& conv_weight,
                                           const std::vector<int64_t>& weight_shape,
                                           const std::vector<float>& conv_bias, const BatchNormFoldParams& bn,
                                           bool transpose) {
  const size_t out_dim = transpose ? 1 : 0;
  auto count = check_layer("conv", conv_weight, weight_shape, 2, out_dim, conv_bias, bn);
  if (!count) return count.status();
  const size_t C = static_cast<size_t>(weight_shape[out_dim]);
  // (out, in/groups, *k): channel c owns a run of `inner` values; transposed (in, out, *k):
  // runs of `inner` values cycle through the C channels.
  size_t inner = 1;
  for (size_t d = out_dim + 1; d < weight_shape.size(); ++d) inner *= static_cast<size_t>(weight_shape[d]);
  FoldedWeights out;
  out.weight.resize(conv_weight.size());
  out.bias.resize(C);
  std::vector<float> factor(C);
  for (size_t c = 0; c < C; ++c) {
    const float r = var_rsqrt(bn, c), w = at_or(bn.weight, c, 1.0f);
    factor[c] = w * r;
    // (conv_b - bn_rm) * bn_var_rsqrt * bn_w + bn_b, left to right.
    const float centered = at_or(conv_bias, c, 0.0f) - bn.running_mean[c];
    const float scaled = centered * r;
    const float weighted = scaled * w;
    out.bias[c] = weighted + at_or(bn.bias, c, 0.0f);
  }
  for (size_t i = 0; i < conv_weight.size(); ++i) out.weight[i] = conv_weight[i] * factor[(i / inner) % C];
  return out;
}

Result<FoldedWeights> fuse_linear_bn_weights(const std::vector<float>& linear_weight,
                                             const std::vector<int64_t>& weight_shape,
                                             const std::vector<float>& linear_bias, const BatchNormFoldParams& bn) {
  if (weight_shape.size() != 2)
    return Status::invalid_argument("weight_shape: expected 2 dims (out, in) for linear_weight, got " +
                                    detail::shape_string(weight_shape));
  auto count = check_layer("linear", linear_weight, weight_shape, 2, 0, linear_bias, bn);
  if (!count) return count.status();
  const size_t C = static_cast<size_t>(weight_shape[0]), in = static_cast<size_t>(weight_shape[1]);
  FoldedWeights out;
  out.weight.resize(linear_weight.size());
  out.bias.resize(C);
  for (size_t c = 0; c < C; ++c) {
    const float scale = at_or(bn.weight, c, 1.0f) * var_rsqrt(bn, c);
    for (size_t i = 0; i < in; ++i) out.weight[c * in + i] = linear_weight[c * in + i] * scale;
    // (linear_b - bn_rm) * bn_scale + bn_b.
    const float scaled = (at_or(linear_bias, c, 0.0f) - bn.running_mean[c]) * scale;
    out.bias[c] = scaled + at_or(bn.bias, c, 0.0f);
  }
  return out;
}

}  // namespace vknorm
