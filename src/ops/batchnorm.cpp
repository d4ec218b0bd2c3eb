// BatchNorm on the device: the [B, O, K, I] = [1, N, C, spatial] view of the shared
// reduction kernels. Training forward: stats_partial -> stats_finalize -> normalize.
// Eval forward: normalize with the running statistics. Backward: grad_partial ->
// grad_finalize -> grad_input.
#include <algorithm>
#include <string>

#include "recorder_impl.hpp"
#include "vknorm/batchnorm.hpp"

namespace vknorm {
namespace {

// How a statistics group is split over workgroups.
struct SplitPlan {
  uint32_t chunks = 0;
  uint32_t chunk_size = 0;
  uint64_t forward_floats = 0;   // partials of the forward
  uint64_t backward_floats = 0;  // partials and coefficients of the backward
};

SplitPlan plan_split(const Capabilities& caps, const BatchNormGeometry& g) {
  // About eight elements per invocation per chunk; at most 1024 chunks per group so the
  // finalize pass (one invocation per group) stays short.
  const uint64_t target = uint64_t{workgroup_size_for(caps)} * 8;
  SplitPlan p;
  if (g.count > 0) {
    uint64_t chunks = std::clamp<uint64_t>((g.count + target - 1) / target, 1, 1024);
    p.chunk_size = static_cast<uint32_t>((g.count + chunks - 1) / chunks);
    p.chunks = static_cast<uint32_t>((g.count + p.chunk_size - 1) / p.chunk_size);
  }
  p.forward_floats = g.channels * p.chunks * 3;
  p.backward_floats = g.channels * p.chunks * 2 + g.channels * 3;
  return p;
}

// The device can address every element with 32-bit indices inside one binding.
Status check_device_limits(const Capabilities& caps, const BatchNormGeometry& g) {
  const uint64_t bytes = g.elements * 4;
  if (g.elements >= (uint64_t{1} << 32) || bytes > caps.max_storage_buffer_range)
    return Status::unsupported("x: " + std::to_string(g.elements) + " elements (" + std::to_string(bytes) +
                               " bytes) exceed the device's maxStorageBufferRange of " +
                               std::to_string(caps.max_storage_buffer_range) + " bytes");
  return {};
}

// A buffer the call needs: present, 4-byte aligned, and (when its size is known) large enough.
Status check_ref(const char* name, const BufferRef& r, uint64_t floats) {
  if (r.empty()) return Status::invalid_argument(std::string("buffers.") + name + ": expected a VkBuffer, got VK_NULL_HANDLE");
  if (r.offset % 4 != 0)
    return Status::invalid_argument(std::string("buffers.") + name + ": offset " + std::to_string(r.offset) +
                                    " is not a multiple of 4");
  if (r.size != VK_WHOLE_SIZE && r.size < floats * 4)
    return Status::invalid_argument(std::string("buffers.") + name + ": range of " + std::to_string(r.size) +
                                    " bytes, expected at least " + std::to_string(floats * 4) + " (" +
                                    std::to_string(floats) + " floats)");
  return {};
}

SlotBinding slot(const BufferRef& r, uint64_t floats) { return {r.buffer, r.offset, floats * 4}; }

PushConstants base_push(const BatchNormParams& p, const BatchNormGeometry& g) {
  PushConstants pc;
  pc.B = 1;
  pc.O = static_cast<uint32_t>(g.batch);
  pc.K = static_cast<uint32_t>(g.channels);
  pc.I = static_cast<uint32_t>(g.spatial);
  pc.groups = pc.K;
  pc.count = static_cast<uint32_t>(g.count);
  pc.elements = static_cast<uint32_t>(g.elements);
  pc.eps = p.eps;
  pc.momentum = p.momentum;
  if (p.affine) pc.flags |= kFlagWeight | kFlagBias;
  return pc;
}

// Grid of an elementwise kernel: grid-stride loops cover the rest.
uint32_t elementwise_groups(const Capabilities& caps, uint64_t elements) {
  const uint64_t wg = workgroup_size_for(caps);
  return static_cast<uint32_t>(std::clamp<uint64_t>((elements + wg - 1) / wg, 1, std::min(caps.max_workgroup_count_x, 65535u)));
}

uint32_t per_group_groups(const Capabilities& caps, uint64_t groups) {
  const uint64_t wg = workgroup_size_for(caps);
  return static_cast<uint32_t>(std::max<uint64_t>(1, (groups + wg - 1) / wg));
}

uint32_t split_groups_y(const Capabilities& caps, uint64_t groups) {
  return static_cast<uint32_t>(std::min<uint64_t>(groups, std::min(caps.max_workgroup_count_y, 65535u)));
}

}  // namespace

Result<uint64_t> batch_norm_workspace_size(const Context& context, const BatchNormParams& params) {
  auto g = check_batch_norm(params);
  if (!g) return g.status();
  SplitPlan plan = plan_split(context.capabilities(), g.value());
  return std::max(plan.forward_floats, plan.backward_floats) * 4;
}

Status record_batch_norm_forward(CommandRecorder& recorder, const BatchNormParams& params,
                                 const BatchNormForwardBuffers& b) {
  auto geometry = check_batch_norm(params);
  if (!geometry) return geometry.status();
  const BatchNormGeometry& g = geometry.value();
  CommandRecorder::Impl& rec = recorder.impl();
  const Capabilities& caps = rec.state->caps;
  VKNORM_TRY(check_device_limits(caps, g));
  const SplitPlan plan = plan_split(caps, g);
  const uint64_t C = g.channels, E = g.elements;
  VKNORM_TRY(check_ref("x", b.x, E));
  VKNORM_TRY(check_ref("y", b.y, E));
  if (params.affine) {
    VKNORM_TRY(check_ref("weight", b.weight, C));
    VKNORM_TRY(check_ref("bias", b.bias, C));
  }
  if (params.track_running_stats) {
    VKNORM_TRY(check_ref("running_mean", b.running_mean, C));
    VKNORM_TRY(check_ref("running_var", b.running_var, C));
  }
  if (g.uses_batch_stats) {
    VKNORM_TRY(check_ref("save_mean", b.save_mean, C));
    VKNORM_TRY(check_ref("save_invstd", b.save_invstd, C));
    VKNORM_TRY(check_ref("workspace", b.workspace, plan.forward_floats));
  }

  PushConstants pc = base_push(params, g);
  pc.chunks = plan.chunks;
  pc.chunk_size = plan.chunk_size;
  SlotBinding slots[kSlotCount] = {};
  slots[0] = slot(b.x, E);
  if (g.uses_batch_stats) {
    slots[2] = g.updates_running ? slot(b.running_mean, C) : SlotBinding{};
    slots[3] = g.updates_running ? slot(b.running_var, C) : SlotBinding{};
    slots[4] = slot(b.save_mean, C);
    slots[5] = slot(b.save_invstd, C);
    slots[6] = slot(b.workspace, plan.forward_floats);
    if (g.updates_running) pc.flags |= kFlagUpdateRunning;
    if (g.count > 0)
      VKNORM_TRY(rec.dispatch(KernelId::stats_partial, slots, pc, plan.chunks, split_groups_y(caps, C)));
    VKNORM_TRY(rec.dispatch(KernelId::stats_finalize, slots, pc, per_group_groups(caps, C)));
    pc.flags &= ~kFlagUpdateRunning;
  } else {
    slots[4] = slot(b.running_mean, C);
    slots[5] = slot(b.running_var, C);
    pc.flags |= kFlagStatsAreVar;
  }
  if (E == 0) return {};
  slots[1] = slot(b.y, E);
  slots[2] = params.affine ? slot(b.weight, C) : SlotBinding{};
  slots[3] = params.affine ? slot(b.bias, C) : SlotBinding{};
  slots[6] = SlotBinding{};
  return rec.dispatch(KernelId::normalize, slots, pc, elementwise_groups(caps, E));
}

Status record_batch_norm_backward(CommandRecorder& recorder, const BatchNormParams& params,
                                  const BatchNormBackwardBuffers& b) {
  auto geometry = check_batch_norm(params);
  if (!geometry) return geometry.status();
  const BatchNormGeometry& g = geometry.value();
  CommandRecorder::Impl& rec = recorder.impl();
  const Capabilities& caps = rec.state->caps;
  VKNORM_TRY(check_device_limits(caps, g));
  const SplitPlan plan = plan_split(caps, g);
  const uint64_t C = g.channels, E = g.elements;
  VKNORM_TRY(check_ref("x", b.x, E));
  VKNORM_TRY(check_ref("dy", b.dy, E));
  VKNORM_TRY(check_ref("dx", b.dx, E));
  if (params.affine) {
    VKNORM_TRY(check_ref("weight", b.weight, C));
    VKNORM_TRY(check_ref("dweight", b.dweight, C));
    VKNORM_TRY(check_ref("dbias", b.dbias, C));
  }
  const BufferRef& mean = g.uses_batch_stats ? b.save_mean : b.running_mean;
  const BufferRef& stat = g.uses_batch_stats ? b.save_invstd : b.running_var;
  VKNORM_TRY(check_ref(g.uses_batch_stats ? "save_mean" : "running_mean", mean, C));
  VKNORM_TRY(check_ref(g.uses_batch_stats ? "save_invstd" : "running_var", stat, C));
  VKNORM_TRY(check_ref("workspace", b.workspace, plan.backward_floats));

  PushConstants pc = base_push(params, g);
  pc.chunks = plan.chunks;
  pc.chunk_size = plan.chunk_size;
  if (g.uses_batch_stats) pc.flags |= kFlagBatchStats;
  else pc.flags |= kFlagStatsAreVar;
  const uint64_t partial_floats = C * plan.chunks * 2;
  SlotBinding slots[kSlotCount] = {};
  slots[0] = slot(b.x, E);
  slots[1] = slot(b.dy, E);
  slots[4] = slot(mean, C);
  slots[5] = slot(stat, C);
  slots[6] = slot(b.workspace, partial_floats);
  if (g.count > 0)
    VKNORM_TRY(rec.dispatch(KernelId::grad_partial, slots, pc, plan.chunks, split_groups_y(caps, C)));

  BufferRef coefficients = b.workspace;
  coefficients.offset += partial_floats * 4;
  if (coefficients.size != VK_WHOLE_SIZE) coefficients.size -= partial_floats * 4;
  SlotBinding finalize[kSlotCount] = {};
  finalize[1] = params.affine ? slot(b.dbias, C) : SlotBinding{};
  finalize[2] = params.affine ? slot(b.weight, C) : SlotBinding{};
  finalize[3] = params.affine ? slot(b.dweight, C) : SlotBinding{};
  finalize[4] = slots[4];
  finalize[5] = slots[5];
  finalize[6] = slots[6];
  finalize[7] = slot(coefficients, C * 3);
  VKNORM_TRY(rec.dispatch(KernelId::grad_finalize, finalize, pc, per_group_groups(caps, C)));
  if (E == 0) return {};

  slots[2] = slot(b.dx, E);
  slots[6] = SlotBinding{};
  slots[7] = finalize[7];
  return rec.dispatch(KernelId::grad_input, slots, pc, elementwise_groups(caps, E));
}

}  // namespace vknorm
