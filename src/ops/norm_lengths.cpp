// Length checks and the shape rules shared by the layer, group, instance and RMS norms,
// with PyTorch 1.13's wording where PyTorch has one.
#include "ops/norm_lengths.hpp"

#include <cmath>
#include <cstdint>
#include <string>

namespace vknorm {
namespace {

std::string count(size_t n) { return std::to_string(n); }

Status weight_length(std::string_view kind, const char* name, const NormGeometry& g, size_t length) {
  if (length == g.affine_size) return {};
  const std::string arg = std::string(name) + ": ";
  if (kind == "layer_norm" || kind == "rms_norm")
    // PyTorch prints both shapes; a host vector only has a length.
    return Status::invalid_argument(arg + "Expected " + name + " to be of same shape as normalized_shape, but got " +
                                    name + " of " + count(length) + " elements and normalized_shape of " +
                                    count(g.affine_size) + " elements");
  if (kind == "group_norm")
    return Status::invalid_argument(arg + "Expected " + name +
                                    " to be a vector of size equal to the number of channels in input, but got " +
                                    name + " of shape [" + count(length) + "] and input with " +
                                    count(g.affine_size) + " channels");
  return Status::invalid_argument(arg + name + " should contain " + count(g.affine_size) + " elements not " +
                                  count(length));
}

Status running_length(const char* name, const NormGeometry& g, size_t length) {
  if (length == g.channels) return {};
  return Status::invalid_argument(std::string(name) + ": " + name + " should contain " + count(g.channels) +
                                  " elements not " + count(length));
}

}  // namespace

Status check_norm_lengths(const NormGeometry& g, const NormLengths& n) {
  if (n.x != g.elements)
    return Status::invalid_argument("x: expected " + count(g.elements) + " elements (the product of its shape), got " +
                                    count(n.x));
  if (n.dy && *n.dy != g.elements)
    return Status::invalid_argument("dy: expected " + count(g.elements) + " elements (the shape of x), got " +
                                    count(*n.dy));
  if (n.weight) VKNORM_TRY(weight_length(n.kind, "weight", g, *n.weight));
  if (n.bias) VKNORM_TRY(weight_length(n.kind, "bias", g, *n.bias));
  if (n.running_mean) VKNORM_TRY(running_length("running_mean", g, *n.running_mean));
  if (n.running_var) VKNORM_TRY(running_length("running_var", g, *n.running_var));
  if (n.residual && *n.residual != g.elements)
    return Status::invalid_argument("residual: expected " + count(g.elements) + " elements (the shape of x), got " +
                                    count(*n.residual));
  if (n.y && *n.y != g.elements)
    return Status::invalid_argument("y: the ReLU epilogue's backward needs the forward's output, expected " +
                                    count(g.elements) + " elements, got " + count(*n.y));
  return {};
}

namespace detail {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Status check_dims(const char* name, const std::vector<int64_t>& shape) {
  uint64_t product = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0)
      return Status::invalid_argument(std::string(name) + ": dimension " + std::to_string(i) + " of shape " +
                                      shape_string(shape) + " is negative");
    // PyTorch counts elements in int64_t (numel) and refuses a shape whose count overflows
    // it. So does vknorm: every partial product then fits int64_t too, which the checks
    // that multiply dims as int64_t (GroupNorm's N*C/G) rely on.
    // product <= INT64_MAX holds before each step; the division tells, without overflow
    // (and without GCC's __builtin_mul_overflow), whether the next product would exceed it.
    const uint64_t dim = static_cast<uint64_t>(shape[i]);
    if (dim != 0 && product > static_cast<uint64_t>(INT64_MAX) / dim)
      return Status::invalid_argument(std::string(name) + ": shape " + shape_string(shape) +
                                      " has more elements than int64_t can count (" + std::to_string(INT64_MAX) + ")");
    product *= dim;
  }
  return {};
}

// PyTorch accepts eps = 0 too: a constant group then gets var + eps = 0 (BatchNorm and
// InstanceNorm save invstd 0, the other kinds normalize to NaN).
Status check_eps(float eps) {
  if (eps >= 0.0f && std::isfinite(eps)) return {};
  return Status::invalid_argument("eps: expected a finite value >= 0, got " + std::to_string(eps));
}

// Any finite factor, as PyTorch's (outside [0, 1] it extrapolates); checked only where
// the running statistics are updated, the one place it is used.
Status check_momentum(float momentum) {
  if (std::isfinite(momentum)) return {};
  return Status::invalid_argument("momentum: expected a finite factor, got " + std::to_string(momentum));
}

// PyTorch's empty-input path of batch_norm multiplies by weight[0]: C = 0 with affine
// parameters raises there, without them it returns the empty output.
Status check_empty_channels(const NormGeometry& g, bool affine) {
  if (g.channels > 0 || !affine) return {};
  return Status::invalid_argument("x: the channel dimension C is 0, which PyTorch accepts only without affine "
                                  "parameters (with them it raises IndexError: select(): index 0 out of range)");
}

Result<NormGeometry> check_trailing_norm(const std::vector<int64_t>& shape,
                                         const std::vector<int64_t>& normalized_shape) {
  if (normalized_shape.empty())
    return Status::invalid_argument(
        "normalized_shape: Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
        "element, but got normalized_shape = []");
  VKNORM_TRY(check_dims("x", shape));
  const size_t k = normalized_shape.size();
  bool matches = shape.size() >= k;
  for (size_t i = 0; matches && i < k; ++i) matches = shape[shape.size() - k + i] == normalized_shape[i];
  if (!matches) {
    // A negative normalized dim can never match x's (checked) dims, so it ends up here too.
    std::string star = "[*";
    for (int64_t d : normalized_shape) star += ", " + std::to_string(d);
    return Status::invalid_argument("x: Given normalized_shape=" + shape_string(normalized_shape) +
                                    ", expected input with shape " + star + "], but got input of size" +
                                    shape_string(shape));
  }
  NormGeometry g;
  g.outer = 1;
  g.channels = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    (i < shape.size() - k ? g.outer : g.channels) *= static_cast<uint64_t>(shape[i]);
  // A normalized_shape of no elements is PyTorch's too: an empty output, and each row an
  // empty group (mean 0, rstd NaN).
  g.elements = g.outer * g.channels;
  g.spatial = 1;
  g.stat_groups = g.outer;
  g.group_size = g.channels;
  g.affine_size = g.channels;
  g.uses_batch_stats = true;
  g.updates_running = false;
  return g;
}

}  // namespace detail
}  // namespace vknorm
