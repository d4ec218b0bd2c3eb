// BatchNorm: PyTorch's checks, and its row on the shared engine: statistics per channel
// over (N, spatial), B = 1.
#include "ops/norm_kinds.hpp"

namespace vknorm {
namespace {

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

Result<NormGeometry> check_batch_norm(const BatchNormParams& p) {
  VKNORM_TRY(check_rank(p.dims, p.shape.size()));
  VKNORM_TRY(detail::check_dims("x", p.shape));
  NormGeometry g;
  g.outer = static_cast<uint64_t>(p.shape[0]);
  g.channels = static_cast<uint64_t>(p.shape[1]);
  for (size_t i = 2; i < p.shape.size(); ++i) g.spatial *= static_cast<uint64_t>(p.shape[i]);
  g.group_size = g.outer * g.spatial;
  g.elements = g.group_size * g.channels;
  g.stat_groups = g.channels;
  g.affine_size = g.channels;
  g.uses_batch_stats = p.training || !p.track_running_stats;
  g.updates_running = p.training && p.track_running_stats;
  VKNORM_TRY(detail::check_empty_channels(g, p.affine));
  VKNORM_TRY(detail::check_eps(p.eps));
  if (g.updates_running) VKNORM_TRY(detail::check_momentum(p.momentum));
  if (g.uses_batch_stats && g.group_size == 1)
    return Status::invalid_argument("x: Expected more than 1 value per channel when training, got input size " +
                                    detail::shape_string(p.shape));
  return g;
}

float BatchNormState::next_training_factor() {
  // The count saturates at INT64_MAX: PyTorch's int64 tensor would wrap to a negative count
  // (and a negative factor), and ++ past INT64_MAX is undefined in C++. At 2^63 batches
  // the cumulative factor 1/n is ~1e-19 either way.
  if (num_batches_tracked < INT64_MAX) ++num_batches_tracked;
  if (momentum) return *momentum;
  return 1.0f / static_cast<float>(num_batches_tracked);
}

NormPlan NormKind<BatchNormParams>::plan(const BatchNormParams& params, const NormGeometry& g) {
  NormPlan p = channel_plan(g, false, params.layout);
  p.has_weight = p.has_bias = params.affine;
  p.eps = params.eps;
  p.momentum = params.momentum;
  p.batch_norm_stats = true;
  return p;
}

Result<uint64_t> batch_norm_workspace_size(const Context& context, const BatchNormParams& params) {
  return kind_workspace_size(context, params);
}

Status record_batch_norm_forward(CommandRecorder& recorder, const BatchNormParams& params,
                                 const BatchNormForwardBuffers& buffers) {
  return record_kind_forward(recorder, params, buffers);
}

Status record_batch_norm_backward(CommandRecorder& recorder, const BatchNormParams& params,
                                  const BatchNormBackwardBuffers& buffers) {
  return record_kind_backward(recorder, params, buffers);
}

Result<NormForwardResult> batch_norm_forward(Context& context, const BatchNormParams& params,
                                             const std::vector<float>& x, const std::vector<float>& weight,
                                             const std::vector<float>& bias, std::vector<float>& running_mean,
                                             std::vector<float>& running_var, const std::vector<float>& residual) {
  return kind_forward(context, params, {x, weight, bias, running_mean, running_var, residual});
}

Result<NormBackwardResult> batch_norm_backward(Context& context, const BatchNormParams& params,
                                               const std::vector<float>& x, const std::vector<float>& dy,
                                               const std::vector<float>& weight, const std::vector<float>& save_mean,
                                               const std::vector<float>& save_invstd,
                                               const std::vector<float>& running_mean,
                                               const std::vector<float>& running_var, const std::vector<float>& y) {
  return kind_backward(context, params, {x, dy, weight, save_mean, save_invstd, running_mean, running_var, y});
}

}  // namespace vknorm
