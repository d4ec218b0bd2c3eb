// Standalone convenience: host vectors in, host vectors out, on the context's device.
#include <cstring>

#include "vknorm/batchnorm.hpp"

namespace vknorm {
namespace {

// A host-visible buffer holding `values` (at least 4 bytes, so empty tensors bind too).
Result<Buffer> upload(Context& context, const std::vector<float>& values, size_t floats) {
  auto buffer = context.create_buffer(std::max<size_t>(floats, 1) * 4);
  if (!buffer) return buffer.status();
  if (!values.empty()) std::memcpy(buffer->data(), values.data(), values.size() * 4);
  return buffer;
}

std::vector<float> download(const Buffer& buffer, size_t floats) {
  const float* p = buffer.as<float>();
  return std::vector<float>(p, p + floats);
}

}  // namespace

#define VKNORM_BUFFER(name, values, floats) \
  auto name = upload(context, values, floats); \
  if (!name) return name.status();

Result<reference::BatchNormForwardResult> batch_norm_forward(Context& context, const BatchNormParams& params,
                                                             const std::vector<float>& x,
                                                             const std::vector<float>& weight,
                                                             const std::vector<float>& bias,
                                                             std::vector<float>& running_mean,
                                                             std::vector<float>& running_var) {
  auto geometry = check_batch_norm(params);
  if (!geometry) return geometry.status();
  const BatchNormGeometry& g = geometry.value();
  VKNORM_TRY(check_batch_norm_lengths(params, g, x.size(), weight.size(), bias.size(), running_mean.size(),
                                      running_var.size()));
  auto workspace_bytes = batch_norm_workspace_size(context, params);
  if (!workspace_bytes) return workspace_bytes.status();
  const size_t E = g.elements, C = g.channels;
  const std::vector<float> none;
  VKNORM_BUFFER(xb, x, E)
  VKNORM_BUFFER(yb, none, E)
  VKNORM_BUFFER(wb, params.affine ? weight : none, C)
  VKNORM_BUFFER(bb, params.affine ? bias : none, C)
  VKNORM_BUFFER(rmb, params.track_running_stats ? running_mean : none, C)
  VKNORM_BUFFER(rvb, params.track_running_stats ? running_var : none, C)
  VKNORM_BUFFER(smb, none, C)
  VKNORM_BUFFER(sib, none, C)
  VKNORM_BUFFER(wsb, none, workspace_bytes.value() / 4)

  BatchNormForwardBuffers buffers{ref(*xb), ref(*yb), ref(*wb), ref(*bb), ref(*rmb),
                                  ref(*rvb), ref(*smb), ref(*sib), ref(*wsb)};
  auto recorder = context.begin_commands();
  if (!recorder) return recorder.status();
  VKNORM_TRY(record_batch_norm_forward(*recorder.value(), params, buffers));
  VKNORM_TRY(context.submit_and_wait(*recorder.value()));

  reference::BatchNormForwardResult out;
  out.y = download(*yb, E);
  if (g.uses_batch_stats) {
    out.save_mean = download(*smb, C);
    out.save_invstd = download(*sib, C);
  }
  if (g.updates_running) {
    running_mean = download(*rmb, C);
    running_var = download(*rvb, C);
  }
  return out;
}

Result<reference::BatchNormBackwardResult> batch_norm_backward(
    Context& context, const BatchNormParams& params, const std::vector<float>& x, const std::vector<float>& dy,
    const std::vector<float>& weight, const std::vector<float>& save_mean, const std::vector<float>& save_invstd,
    const std::vector<float>& running_mean, const std::vector<float>& running_var) {
  auto geometry = check_batch_norm(params);
  if (!geometry) return geometry.status();
  const BatchNormGeometry& g = geometry.value();
  const size_t E = g.elements, C = g.channels;
  // Only the statistics the backward reads must be given.
  const std::vector<float>& mean = g.uses_batch_stats ? save_mean : running_mean;
  const std::vector<float>& stat = g.uses_batch_stats ? save_invstd : running_var;
  BatchNormParams checked = params;
  checked.track_running_stats = false;
  VKNORM_TRY(check_batch_norm_lengths(checked, g, x.size(), weight.size(), C, 0, 0, dy.size()));
  if (mean.size() != C || stat.size() != C)
    return Status::invalid_argument(std::string(g.uses_batch_stats ? "save_mean/save_invstd" : "running_mean/running_var") +
                                    ": expected " + std::to_string(C) + " elements each, got " +
                                    std::to_string(mean.size()) + " and " + std::to_string(stat.size()));
  auto workspace_bytes = batch_norm_workspace_size(context, params);
  if (!workspace_bytes) return workspace_bytes.status();
  const std::vector<float> none;
  VKNORM_BUFFER(xb, x, E)
  VKNORM_BUFFER(dyb, dy, E)
  VKNORM_BUFFER(dxb, none, E)
  VKNORM_BUFFER(wb, params.affine ? weight : none, C)
  VKNORM_BUFFER(meanb, mean, C)
  VKNORM_BUFFER(statb, stat, C)
  VKNORM_BUFFER(dwb, none, C)
  VKNORM_BUFFER(dbb, none, C)
  VKNORM_BUFFER(wsb, none, workspace_bytes.value() / 4)

  BatchNormBackwardBuffers buffers{ref(*xb), ref(*dyb), ref(*dxb), ref(*wb), {}, {}, {}, {},
                                   ref(*dwb), ref(*dbb), ref(*wsb)};
  if (g.uses_batch_stats) {
    buffers.save_mean = ref(*meanb);
    buffers.save_invstd = ref(*statb);
  } else {
    buffers.running_mean = ref(*meanb);
    buffers.running_var = ref(*statb);
  }
  auto recorder = context.begin_commands();
  if (!recorder) return recorder.status();
  VKNORM_TRY(record_batch_norm_backward(*recorder.value(), params, buffers));
  VKNORM_TRY(context.submit_and_wait(*recorder.value()));

  reference::BatchNormBackwardResult out;
  out.dx = download(*dxb, E);
  if (params.affine) {
    out.dweight = download(*dwb, C);
    out.dbias = download(*dbb, C);
  }
  return out;
}

#undef VKNORM_BUFFER

}  // namespace vknorm
