// InstanceNorm: PyTorch's checks, and its row on the shared engine: statistics per (n, c),
// B = N; gamma is constant in a group, and the running statistics average the
// per-instance ones over the batch.
#include "ops/norm_kinds.hpp"

namespace vknorm {
namespace {

// Spatial dims of InstanceNorm{1,2,3}d; 0 for F.instance_norm (any count >= 1).
size_t spatial_dims(InstanceNormDims dims) {
  switch (dims) {
    case InstanceNormDims::d1: return 1;
    case InstanceNormDims::d2: return 2;
    case InstanceNormDims::d3: return 3;
    case InstanceNormDims::any: break;
  }
  return 0;
}

}  // namespace

Result<NormGeometry> check_instance_norm(const InstanceNormParams& p) {
  const size_t rank = p.shape.size();
  const size_t k = spatial_dims(p.dims);
  const std::string got = " (got " + std::to_string(rank) + "D input)";
  if (k == 0 && rank < 3)
    return Status::invalid_argument("x: expected at least 3D input (N, C, *)" + got);
  // The modules' _check_input_dim: batched (N, C, *) or unbatched (C, *).
  if (k != 0 && rank != k + 1 && rank != k + 2)
    return Status::invalid_argument("x: expected " + std::to_string(k + 1) + "D or " + std::to_string(k + 2) +
                                    "D input" + got);
  VKNORM_TRY(detail::check_dims("x", p.shape));

  // An unbatched input is normalized as a batch of one (the module unsqueezes it).
  std::vector<int64_t> batched = p.shape;
  if (k != 0 && rank == k + 1) batched.insert(batched.begin(), 1);
  NormGeometry g;
  g.outer = static_cast<uint64_t>(batched[0]);
  g.channels = static_cast<uint64_t>(batched[1]);
  for (size_t i = 2; i < batched.size(); ++i) g.spatial *= static_cast<uint64_t>(batched[i]);
  VKNORM_TRY(detail::check_empty_channels(g, p.affine));
  g.uses_batch_stats = p.training || !p.track_running_stats;
  g.updates_running = p.training && p.track_running_stats;
  VKNORM_TRY(detail::check_eps(p.eps));
  if (g.updates_running) VKNORM_TRY(detail::check_momentum(p.momentum));
  // F.instance_norm's _verify_spatial_size, whenever input statistics are used (also
  // for N = 0); PyTorch prints the batched size.
  if (g.uses_batch_stats && g.spatial == 1)
    return Status::invalid_argument("x: Expected more than 1 spatial element when training, got input size " +
                                    detail::shape_string(batched));

  g.elements = g.outer * g.channels * g.spatial;
  g.stat_groups = g.outer * g.channels;
  g.group_size = g.spatial;
  g.affine_size = g.channels;
  return g;
}

NormPlan NormKind<InstanceNormParams>::plan(const InstanceNormParams& params, const NormGeometry& g) {
  NormPlan p = channel_plan(g, true, params.layout);
  p.has_weight = p.has_bias = params.affine;
  p.eps = params.eps;
  p.momentum = params.momentum;
  p.batch_norm_stats = true;
  return p;
}

Result<uint64_t> instance_norm_workspace_size(const Context& context, const InstanceNormParams& params) {
  return kind_workspace_size(context, params);
}

Status record_instance_norm_forward(CommandRecorder& recorder, const InstanceNormParams& params,
                                    const NormForwardBuffers& buffers) {
  return record_kind_forward(recorder, params, buffers);
}

Status record_instance_norm_backward(CommandRecorder& recorder, const InstanceNormParams& params,
                                     const NormBackwardBuffers& buffers) {
  return record_kind_backward(recorder, params, buffers);
}

Result<NormForwardResult> instance_norm_forward(Context& context, const InstanceNormParams& params,
                                                const std::vector<float>& x, const std::vector<float>& weight,
                                                const std::vector<float>& bias, std::vector<float>& running_mean,
                                                std::vector<float>& running_var,
                                                const std::vector<float>& residual) {
  return kind_forward(context, params, {x, weight, bias, running_mean, running_var, residual});
}

// The caller passes the one pair of statistics the forward normalized with: its own, or
// the running ones.
Result<NormBackwardResult> instance_norm_backward(Context& context, const InstanceNormParams& params,
                                                  const std::vector<float>& x, const std::vector<float>& dy,
                                                  const std::vector<float>& weight, const std::vector<float>& mean,
                                                  const std::vector<float>& stat, const std::vector<float>& y) {
  return kind_backward(context, params, {x, dy, weight, mean, stat, mean, stat, y});
}

}  // namespace vknorm
