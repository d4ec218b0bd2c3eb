// Validation of BatchNorm calls, shared by the GPU path and the CPU reference, with
// PyTorch's messages where PyTorch has one.
#include <cmath>
#include <string>

#include "vknorm/batchnorm.hpp"

namespace vknorm {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

Status check_rank(BatchNormDims dims, size_t rank) {
  const std::string got = " (got " + std::to_string(rank) + "D input)";
  switch (dims) {
    case BatchNormDims::d1:
      if (rank != 2 && rank != 3) return Status::invalid_argument("x: expected 2D or 3D input" + got);
      break;
    case BatchNormDims::d2:
      if (rank != 4) return Status::invalid_argument("x: expected 4D input" + got);
      break;
    case BatchNormDims::d3:
      if (rank != 5) return Status::invalid_argument("x: expected 5D input" + got);
      break;
    case BatchNormDims::any:
      if (rank < 2) return Status::invalid_argument("x: expected at least 2D input (N, C, *)" + got);
      break;
  }
  return {};
}

}  // namespace

Result<BatchNormGeometry> check_batch_norm(const BatchNormParams& p) {
  VKNORM_TRY(check_rank(p.dims, p.shape.size()));
  BatchNormGeometry g;
  for (size_t i = 0; i < p.shape.size(); ++i) {
    if (p.shape[i] < 0)
      return Status::invalid_argument("x: dimension " + std::to_string(i) + " of shape " +
                                      shape_string(p.shape) + " is negative");
  }
  g.batch = static_cast<uint64_t>(p.shape[0]);
  g.channels = static_cast<uint64_t>(p.shape[1]);
  for (size_t i = 2; i < p.shape.size(); ++i) g.spatial *= static_cast<uint64_t>(p.shape[i]);
  if (g.channels == 0) return Status::invalid_argument("x: the channel dimension C is 0");
  g.count = g.batch * g.spatial;
  g.elements = g.count * g.channels;
  g.uses_batch_stats = p.training || !p.track_running_stats;
  g.updates_running = p.training && p.track_running_stats;
  if (!(p.eps > 0.0f) || !std::isfinite(p.eps))
    return Status::invalid_argument("eps: expected a finite value > 0, got " + std::to_string(p.eps));
  if (g.updates_running && !(p.momentum >= 0.0f && p.momentum <= 1.0f))
    return Status::invalid_argument("momentum: expected a factor in [0, 1], got " +
                                    std::to_string(p.momentum));
  if (g.uses_batch_stats && g.count == 1)
    return Status::invalid_argument(
        "x: Expected more than 1 value per channel when training, got input size " +
        shape_string(p.shape));
  return g;
}

Status check_batch_norm_lengths(const BatchNormParams& p, const BatchNormGeometry& g, size_t x_length,
                                size_t weight_length, size_t bias_length, size_t running_mean_length,
                                size_t running_var_length, size_t dy_length) {
  if (x_length != g.elements)
    return Status::invalid_argument("x: expected " + std::to_string(g.elements) + " elements for shape " +
                                    shape_string(p.shape) + ", got " + std::to_string(x_length));
  if (dy_length != SIZE_MAX && dy_length != g.elements)
    return Status::invalid_argument("dy: expected " + std::to_string(g.elements) + " elements for shape " +
                                    shape_string(p.shape) + ", got " + std::to_string(dy_length));
  auto per_channel = [&](const char* name, size_t length) -> Status {
    if (length == g.channels) return {};
    return Status::invalid_argument(std::string(name) + ": " + name + " should contain " + std::to_string(g.channels) +
                                    " elements not " + std::to_string(length));
  };
  if (p.affine) {
    VKNORM_TRY(per_channel("weight", weight_length));
    VKNORM_TRY(per_channel("bias", bias_length));
  }
  if (p.track_running_stats) {
    VKNORM_TRY(per_channel("running_mean", running_mean_length));
    VKNORM_TRY(per_channel("running_var", running_var_length));
  }
  return {};
}

float BatchNormState::next_training_factor() {
  ++num_batches_tracked;
  if (momentum) return *momentum;
  return 1.0f / static_cast<float>(num_batches_tracked);
}

}  // namespace vknorm
