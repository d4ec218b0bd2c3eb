// Standalone convenience for every norm: host vectors in PyTorch's logical order and
// float32 in and out; the device tensors are in the plan's layout and dtype.
#include <cstring>

#include "context_state.hpp"
#include "ops/norm_host.hpp"
#include "ops/planner.hpp"
#include "vknorm/half.hpp"

namespace vknorm {
namespace host_io {

// (N, C, S) -> (N, S, C) when to_device, the inverse otherwise; NCHW plans keep the order.
std::vector<float> reorder(const NormPlan& p, const std::vector<float>& v, bool to_device) {
  if (!p.nhwc) return v;
  const NormGeometry& g = p.geometry;
  std::vector<float> out(v.size());
  for (uint64_t n = 0; n < g.outer; ++n)
    for (uint64_t c = 0; c < g.channels; ++c)
      for (uint64_t s = 0; s < g.spatial; ++s) {
        const uint64_t logical = (n * g.channels + c) * g.spatial + s, device = (n * g.spatial + s) * g.channels + c;
        if (to_device) out[device] = v[logical];
        else out[logical] = v[device];
      }
  return out;
}

// A host-visible buffer of `count` elements, in whole 32-bit words: at least one, so that
// empty ones bind too, and the last one whole, which float16 packed in words accesses.
Result<Buffer> make_buffer(Context& context, size_t count, bool half) {
  return context.create_buffer(std::max<size_t>((count * (half ? 2 : 4) + 3) / 4 * 4, 4));
}

Result<Buffer> upload_floats(Context& context, const std::vector<float>& values, size_t count) {
  auto buffer = make_buffer(context, count, false);
  if (buffer && !values.empty()) std::memcpy(buffer->data(), values.data(), values.size() * 4);
  return buffer;
}

Result<Buffer> upload_tensor(Context& context, const NormPlan& p, const std::vector<float>& logical) {
  std::vector<float> v = reorder(p, logical, true);
  const bool half = p.dtype == DType::f16;
  auto buffer = make_buffer(context, v.size(), half);
  if (!buffer) return buffer;
  if (half) {
    auto* out = buffer->as<uint16_t>();
    for (size_t i = 0; i < v.size(); ++i) out[i] = float_to_half(v[i]);
  } else if (!v.empty()) {
    std::memcpy(buffer->data(), v.data(), v.size() * 4);
  }
  return buffer;
}

std::vector<float> download_floats(const Buffer& b, size_t count) {
  const float* p = b.as<float>();
  return std::vector<float>(p, p + count);
}

std::vector<float> download_tensor(const NormPlan& p, const Buffer& b) {
  const size_t count = p.geometry.elements;
  std::vector<float> v(count);
  if (p.dtype == DType::f16)
    for (size_t i = 0; i < count; ++i) v[i] = half_to_float(b.as<uint16_t>()[i]);
  else
    v = download_floats(b, count);
  return reorder(p, v, false);
}

#define VKNORM_TRY_BUFFER(member, expr) \
  if (auto made = (expr)) {             \
    out.member = std::move(made.value()); \
  } else {                              \
    return made.status();               \
  }

Result<ForwardDeviceBuffers> upload_forward(Context& context, const NormPlan& p, const std::vector<float>& x,
                                            const std::vector<float>& weight, const std::vector<float>& bias,
                                            const std::vector<float>& running_mean,
                                            const std::vector<float>& running_var,
                                            const std::vector<float>& residual, uint64_t workspace_bytes) {
  const NormGeometry& g = p.geometry;
  const size_t A = g.affine_size, C = g.channels, G = g.stat_groups;
  const bool running = !g.uses_batch_stats || g.updates_running;
  const std::vector<float> none;
  ForwardDeviceBuffers out;
  VKNORM_TRY_BUFFER(x, upload_tensor(context, p, x))
  VKNORM_TRY_BUFFER(y, make_buffer(context, g.elements, p.dtype == DType::f16))
  VKNORM_TRY_BUFFER(weight, upload_floats(context, p.has_weight ? weight : none, A))
  VKNORM_TRY_BUFFER(bias, upload_floats(context, p.has_bias ? bias : none, A))
  VKNORM_TRY_BUFFER(running_mean, upload_floats(context, running ? running_mean : none, C))
  VKNORM_TRY_BUFFER(running_var, upload_floats(context, running ? running_var : none, C))
  VKNORM_TRY_BUFFER(save_mean, make_buffer(context, G, false))
  VKNORM_TRY_BUFFER(save_invstd, make_buffer(context, G, false))
  VKNORM_TRY_BUFFER(workspace, make_buffer(context, workspace_bytes / 4, false))
  VKNORM_TRY_BUFFER(residual,
                    p.epilogue.residual ? upload_tensor(context, p, residual) : make_buffer(context, 1, false))
  return out;
}

NormForwardBuffers ForwardDeviceBuffers::refs() const {
  return {ref(x),           ref(y),           ref(weight),      ref(bias),      ref(running_mean),
          ref(running_var), ref(save_mean),   ref(save_invstd), ref(workspace), ref(residual)};
}

NormForwardResult download_forward(const NormPlan& p, const ForwardDeviceBuffers& b, std::vector<float>& running_mean,
                                   std::vector<float>& running_var) {
  const NormGeometry& g = p.geometry;
  NormForwardResult out;
  out.y = download_tensor(p, b.y);
  if (g.uses_batch_stats) {
    if (!p.rms) out.save_mean = download_floats(b.save_mean, g.stat_groups);
    out.save_invstd = download_floats(b.save_invstd, g.stat_groups);
  }
  if (g.updates_running) {
    running_mean = download_floats(b.running_mean, g.channels);
    running_var = download_floats(b.running_var, g.channels);
  }
  return out;
}

Result<BackwardDeviceBuffers> upload_backward(Context& context, const NormPlan& p, const std::vector<float>& x,
                                              const std::vector<float>& dy, const std::vector<float>& weight,
                                              const std::vector<float>& mean, const std::vector<float>& stat,
                                              const std::vector<float>& y, uint64_t workspace_bytes) {
  const NormGeometry& g = p.geometry;
  const size_t A = g.affine_size;
  const size_t stat_count = g.uses_batch_stats ? g.stat_groups : g.channels;
  const bool half = p.dtype == DType::f16;
  const std::vector<float> none;
  BackwardDeviceBuffers out;
  VKNORM_TRY_BUFFER(x, upload_tensor(context, p, x))
  VKNORM_TRY_BUFFER(dy, upload_tensor(context, p, dy))
  VKNORM_TRY_BUFFER(dx, make_buffer(context, g.elements, half))
  VKNORM_TRY_BUFFER(weight, upload_floats(context, p.has_weight ? weight : none, A))
  VKNORM_TRY_BUFFER(mean, upload_floats(context, p.rms ? none : mean, stat_count))
  VKNORM_TRY_BUFFER(stat, upload_floats(context, stat, stat_count))
  VKNORM_TRY_BUFFER(dweight, make_buffer(context, A, false))
  VKNORM_TRY_BUFFER(dbias, make_buffer(context, A, false))
  VKNORM_TRY_BUFFER(workspace, make_buffer(context, workspace_bytes / 4, false))
  VKNORM_TRY_BUFFER(y, p.epilogue.relu ? upload_tensor(context, p, y) : make_buffer(context, 1, false))
  VKNORM_TRY_BUFFER(dresidual, make_buffer(context, g.elements, half))
  return out;
}

#undef VKNORM_TRY_BUFFER

NormBackwardBuffers BackwardDeviceBuffers::refs(const NormPlan& p) const {
  NormBackwardBuffers b{ref(x),       ref(dy),    ref(dx),        ref(weight), {},          {}, {}, {},
                        ref(dweight), ref(dbias), ref(workspace), ref(y),      ref(dresidual)};
  if (p.geometry.uses_batch_stats) {
    b.save_mean = ref(mean);
    b.save_invstd = ref(stat);
  } else {
    b.running_mean = ref(mean);
    b.running_var = ref(stat);
  }
  return b;
}

NormBackwardResult download_backward(const NormPlan& p, const BackwardDeviceBuffers& b) {
  const size_t A = p.geometry.affine_size;
  NormBackwardResult out;
  out.dx = download_tensor(p, b.dx);
  if (p.has_weight) out.dweight = download_floats(b.dweight, A);
  if (p.has_bias) out.dbias = download_floats(b.dbias, A);
  if (p.epilogue.residual) out.dresidual = download_tensor(p, b.dresidual);
  return out;
}

}  // namespace host_io

using namespace host_io;

Result<NormForwardResult> host_norm_forward(Context& context, const NormPlan& p, const std::vector<float>& x,
                                            const std::vector<float>& weight, const std::vector<float>& bias,
                                            std::vector<float>& running_mean, std::vector<float>& running_var,
                                            const std::vector<float>& residual) {
  auto workspace_bytes = norm_workspace_size(context, p);
  if (!workspace_bytes) return workspace_bytes.status();
  auto buffers = upload_forward(context, p, x, weight, bias, running_mean, running_var, residual, workspace_bytes.value());
  if (!buffers) return buffers.status();
  // A zero-size call with no statistics group has no pass: nothing to record or submit.
  auto passes = plan_forward(state_of(context).caps, p);
  if (!passes) return passes.status();
  if (passes->pass_count == 0) return download_forward(p, buffers.value(), running_mean, running_var);
  auto recorder = context.begin_commands();
  if (!recorder) return recorder.status();
  VKNORM_TRY(record_norm_forward(*recorder.value(), p, buffers->refs()));
  VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  return download_forward(p, buffers.value(), running_mean, running_var);
}

Result<NormBackwardResult> host_norm_backward(Context& context, const NormPlan& p, const std::vector<float>& x,
                                              const std::vector<float>& dy, const std::vector<float>& weight,
                                              const std::vector<float>& mean, const std::vector<float>& stat,
                                              const std::vector<float>& y) {
  const NormGeometry& g = p.geometry;
  auto workspace_bytes = norm_workspace_size(context, p);
  if (!workspace_bytes) return workspace_bytes.status();
  const size_t stat_count = g.uses_batch_stats ? g.stat_groups : g.channels;
  const std::string names = g.uses_batch_stats ? "save_mean/save_invstd" : "running_mean/running_var";
  if ((!p.rms && mean.size() != stat_count) || stat.size() != stat_count)
    return Status::invalid_argument(names + ": expected " + std::to_string(stat_count) + " elements each, got " +
                                    std::to_string(mean.size()) + " and " + std::to_string(stat.size()));
  auto buffers = upload_backward(context, p, x, dy, weight, mean, stat, y, workspace_bytes.value());
  if (!buffers) return buffers.status();
  auto passes = plan_backward(state_of(context).caps, p);  // none: nothing to submit (see the forward)
  if (!passes) return passes.status();
  if (passes->pass_count == 0) return download_backward(p, buffers.value());
  auto recorder = context.begin_commands();
  if (!recorder) return recorder.status();
  VKNORM_TRY(record_norm_backward(*recorder.value(), p, buffers->refs(p)));
  VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  return download_backward(p, buffers.value());
}

}  // namespace vknorm
