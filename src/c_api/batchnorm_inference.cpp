// The C API of eval BatchNorm's cached coefficients and of folding
// (vknorm/batchnorm_inference.hpp behind vknorm.h).
#include <algorithm>
#include <string>
#include <vector>

#include "c_api/c_api_internal.hpp"
#include "c_api/host_io.hpp"
#include "vknorm/batchnorm_inference.hpp"

namespace vknorm::capi {

BatchNormCoefficientsBuffers to_cxx(const vknorm_batch_norm_coefficients_buffers& b) {
  return {to_cxx(b.running_mean), to_cxx(b.running_var), to_cxx(b.weight), to_cxx(b.bias), to_cxx(b.coefficients)};
}

BatchNormApplyBuffers to_cxx(const vknorm_batch_norm_apply_buffers& b) {
  return {to_cxx(b.x), to_cxx(b.y), to_cxx(b.coefficients), to_cxx(b.residual)};
}

namespace {

// C floats from `values` (NULL refused, naming it, unless `optional`: then empty).
Result<std::vector<float>> channel_array(const float* values, size_t C, const char* name, bool optional) {
  if (!values) {
    if (optional) return std::vector<float>{};
    return Status::invalid_argument(std::string(name) + ": expected " + std::to_string(C) + " floats, got NULL");
  }
  return std::vector<float>(values, values + C);
}

// C of a fold: the weight's shape, checked before any array is read.
Result<BatchNormFoldParams> fold_params(const vknorm_batch_norm_fold& bn, const std::vector<int64_t>& shape,
                                        size_t out_dim) {
  if (shape.size() <= out_dim || shape[out_dim] < 0)
    return Status::invalid_argument("weight_shape: expected at least " + std::to_string(out_dim + 1) +
                                    " dims with a non-negative output count");
  const size_t C = static_cast<size_t>(shape[out_dim]);
  BatchNormFoldParams p;
  auto take = [C](const float* v, const char* name, bool optional, std::vector<float>& out) -> Status {
    auto a = channel_array(v, C, name, optional);
    if (!a) return a.status();
    out = std::move(a.value());
    return {};
  };
  VKNORM_TRY(take(bn.running_mean, "bn->running_mean", false, p.running_mean));
  VKNORM_TRY(take(bn.running_var, "bn->running_var", false, p.running_var));
  VKNORM_TRY(take(bn.weight, "bn->weight", true, p.weight));
  VKNORM_TRY(take(bn.bias, "bn->bias", true, p.bias));
  p.eps = bn.eps;
  return p;
}

// The weight's element count, refusing NULL dims and negative or overflowing shapes first.
Result<std::vector<int64_t>> weight_shape_of(const int64_t* dims, size_t rank) {
  if (!dims) return Status::invalid_argument("weight_shape: expected " + std::to_string(rank) + " dims, got NULL");
  std::vector<int64_t> shape(dims, dims + rank);
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > UINT64_MAX / 4 / static_cast<uint64_t>(d)))
      return Status::invalid_argument("weight_shape: expected non-negative dims of a weight that fits memory");
    count *= static_cast<uint64_t>(d);
  }
  return shape;
}

size_t element_count(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

template <class Fold>
vknorm_status fold_entry(const char* function, const char* bias_name, const float* weight, const int64_t* dims, size_t rank,
                         const float* layer_bias, const vknorm_batch_norm_fold* bn, size_t out_dim, float* out_weight,
                         float* out_bias, Fold&& fold) {
  return guard(nullptr, function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, bn);
    VKNORM_CAPI_REQUIRE(fn, out_weight);
    VKNORM_CAPI_REQUIRE(fn, out_bias);
    auto shape = weight_shape_of(dims, rank);
    if (!shape) return shape.status();
    auto params = fold_params(*bn, shape.value(), out_dim);
    if (!params) return params.status();
    const size_t count = element_count(shape.value());
    if (count > 0) VKNORM_CAPI_REQUIRE(fn, weight);
    const std::vector<float> w(weight, weight + count);
    const size_t C = params->running_mean.size();
    auto b = channel_array(layer_bias, C, bias_name, true);
    if (!b) return b.status();
    auto folded = fold(w, shape.value(), b.value(), params.value());
    if (!folded) return folded.status();
    std::copy(folded->weight.begin(), folded->weight.end(), out_weight);
    std::copy(folded->bias.begin(), folded->bias.end(), out_bias);
    return {};
  });
}

}  // namespace
}  // namespace vknorm::capi

using namespace vknorm;
using namespace vknorm::capi;

extern "C" {

vknorm_status vknorm_batch_norm_record_inference_coefficients(vknorm_recorder* recorder,
                                                              const vknorm_batch_norm_params* params,
                                                              const vknorm_batch_norm_coefficients_buffers* buffers) {
  return checked_record(__func__, recorder, params, buffers, [](auto& r, const auto& p, const auto& b) {
    return record_batch_norm_inference_coefficients(r, p, b);
  });
}

vknorm_status vknorm_batch_norm_record_inference_apply(vknorm_recorder* recorder,
                                                       const vknorm_batch_norm_params* params,
                                                       const vknorm_batch_norm_apply_buffers* buffers) {
  return checked_record(__func__, recorder, params, buffers, [](auto& r, const auto& p, const auto& b) {
    return record_batch_norm_inference_apply(r, p, b);
  });
}

vknorm_status vknorm_batch_norm_inference_coefficients_host(const vknorm_batch_norm_params* params,
                                                           const float* running_mean, const float* running_var,
                                                           const float* weight, const float* bias,
                                                           float* out_coefficients, size_t out_capacity) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, params);
    auto p = convert(*params);
    if (!p) return p.status();
    auto count = batch_norm_inference_coefficient_count(p.value());
    if (!count) return count.status();
    const size_t C = static_cast<size_t>(count.value() / kBatchNormCoefficientsPerChannel);
    if (out_capacity < count.value())
      return Status::invalid_argument("out_capacity: expected at least " + std::to_string(count.value()) +
                                      " floats (2 * C), got " + std::to_string(out_capacity));
    if (C > 0) VKNORM_CAPI_REQUIRE(fn, out_coefficients);
    auto mean = channel_array(running_mean, C, "running_mean", C == 0);
    if (!mean) return mean.status();
    auto var = channel_array(running_var, C, "running_var", C == 0);
    if (!var) return var.status();
    const bool affine = p->affine && C > 0;
    auto w = channel_array(weight, C, "weight", !affine);
    if (!w) return w.status();
    auto b = channel_array(bias, C, "bias", !affine);
    if (!b) return b.status();
    auto coefficients = batch_norm_inference_coefficients(p.value(), mean.value(), var.value(), w.value(), b.value());
    if (!coefficients) return coefficients.status();
    std::copy(coefficients->begin(), coefficients->end(), out_coefficients);
    return {};
  });
}

vknorm_status vknorm_fuse_conv_bn_weights(const float* conv_weight, const int64_t* weight_shape, size_t rank,
                                          const float* conv_bias, const vknorm_batch_norm_fold* bn, int transpose,
                                          float* out_weight, float* out_bias) {
  return fold_entry(__func__, "conv_bias", conv_weight, weight_shape, rank, conv_bias, bn, transpose ? 1 : 0, out_weight, out_bias,
                    [&](const std::vector<float>& w, const std::vector<int64_t>& shape, const std::vector<float>& b,
                        const BatchNormFoldParams& p) { return fuse_conv_bn_weights(w, shape, b, p, transpose != 0); });
}

vknorm_status vknorm_fuse_linear_bn_weights(const float* linear_weight, const int64_t* weight_shape, size_t rank,
                                            const float* linear_bias, const vknorm_batch_norm_fold* bn,
                                            float* out_weight, float* out_bias) {
  return fold_entry(__func__, "linear_bias", linear_weight, weight_shape, rank, linear_bias, bn, 0, out_weight, out_bias,
                    [](const std::vector<float>& w, const std::vector<int64_t>& shape, const std::vector<float>& b,
                       const BatchNormFoldParams& p) { return fuse_linear_bn_weights(w, shape, b, p); });
}

}  // extern "C"
