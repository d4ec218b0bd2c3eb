// Checks shared by the layer, group, instance and RMS norm validation: array lengths
// against a geometry (also called by the GPU host code), and the small shape and eps
// rules every kind applies. Messages name the argument first ("weight: ...").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

// Checks host array lengths against `g`. `kind` picks PyTorch's wording for weight and
// bias: "layer_norm" and "rms_norm" (weight of normalized_shape), "group_norm" (a vector
// of C), anything else ("instance_norm") the per-channel "weight should contain 3
// elements not 4". Pass dy_len = SIZE_MAX when there is no dy; lengths whose has_* flag
// is false are ignored.
Status check_norm_lengths(const char* kind, const NormGeometry& g, size_t x_len, size_t dy_len, bool has_weight,
                          size_t weight_len, bool has_bias, size_t bias_len, bool has_running, size_t rm_len,
                          size_t rv_len);

namespace detail {

// A shape the way PyTorch's C++ messages print one: "[2, 3, 5]".
std::string shape_string(const std::vector<int64_t>& shape);

// Refuses negative dims of `name`, and a shape whose element count overflows 64 bits.
Status check_dims(const char* name, const std::vector<int64_t>& shape);

// vknorm's rule for every kind: eps finite and > 0 (PyTorch 1.13 accepts eps <= 0 and
// then returns NaN or inf for a constant group).
Status check_eps(float eps);

// The shape rules LayerNorm and RMSNorm share: a non-empty normalized_shape equal to
// x's trailing dims. Fills the geometry (rows, D) on success.
Result<NormGeometry> check_trailing_norm(const std::vector<int64_t>& shape,
                                         const std::vector<int64_t>& normalized_shape);

}  // namespace detail
}  // namespace vknorm
