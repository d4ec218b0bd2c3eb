// Checks shared by the layer, group, instance and RMS norm validation: array lengths
// against a geometry (also called by the GPU host code), and the small shape and eps
// rules every kind applies. Messages name the argument first ("weight: ...").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

// The host array lengths of one call; a length that is absent (nullopt) is not checked,
// because the call has no such array (no dy in a forward, no bias without affine, ...).
struct NormLengths {
  // PyTorch's wording for weight and bias: "layer_norm" and "rms_norm" (weight of
  // normalized_shape), "group_norm" (a vector of C), any other kind the per-channel
  // "weight should contain 3 elements not 4".
  std::string_view kind;
  size_t x = 0;
  std::optional<size_t> dy;
  std::optional<size_t> weight, bias;
  std::optional<size_t> running_mean, running_var;
  // The epilogue's arrays: the forward's residual (Epilogue::residual) and the forward's
  // output y that the backward's ReLU mask reads (Epilogue::relu).
  std::optional<size_t> residual, y;
};

// `length` when the call has that array, else absent: `.bias = if_given(p.affine, bias.size())`.
inline std::optional<size_t> if_given(bool given, size_t length) {
  return given ? std::optional<size_t>(length) : std::nullopt;
}

// Checks host array lengths against `g`; the message names the array first ("weight: ...").
Status check_norm_lengths(const NormGeometry& g, const NormLengths& lengths);

namespace detail {

// A shape the way PyTorch's C++ messages print one: "[2, 3, 5]".
std::string shape_string(const std::vector<int64_t>& shape);

// Refuses negative dims of `name`, and a shape whose element count overflows 64 bits.
Status check_dims(const char* name, const std::vector<int64_t>& shape);

// Every kind: eps finite and >= 0 (PyTorch accepts 0; a negative eps only makes NaN).
Status check_eps(float eps);

// BatchNorm and InstanceNorm where they update running statistics: a finite momentum.
Status check_momentum(float momentum);

// BatchNorm and InstanceNorm: C = 0 only without affine parameters, as PyTorch.
Status check_empty_channels(const NormGeometry& g, bool affine);

// The shape rules LayerNorm and RMSNorm share: a non-empty normalized_shape equal to
// x's trailing dims. Fills the geometry (rows, D) on success.
Result<NormGeometry> check_trailing_norm(const std::vector<int64_t>& shape,
                                         const std::vector<int64_t>& normalized_shape);

}  // namespace detail
}  // namespace vknorm
