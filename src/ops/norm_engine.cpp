// Recording of any norm on the shared kernels: the planner (planner.hpp) says which
// passes run; this file checks the caller's buffers against what those passes bind and
// records them, in order.
#include <algorithm>
#include <tuple>
#include <string>

#include "ops/norm_engine.hpp"
#include "ops/tuning.hpp"
#include "recorder_impl.hpp"

namespace vknorm {

// A buffer a pass binds: present, aligned to its element, large enough (when its size is
// known), and within one binding's range where it is bound.
Status check_buffer_ref(const Capabilities& caps, const char* role, const BufferRef* r, const SlotUse& use) {
  // Named only when something is wrong: a record call allocates nothing when all is well.
  auto name = [role] { return std::string("buffers.") + role; };
  if (!r || r->empty()) return Status::invalid_argument(name() + ": expected a VkBuffer, got VK_NULL_HANDLE");
  if (r->offset % use.element_bytes != 0)
    return Status::invalid_argument(name() + ": offset " + std::to_string(r->offset) + " is not a multiple of " +
                                    std::to_string(use.element_bytes));
  const uint64_t bytes = use.bytes_from(r->offset);
  constexpr const char* whole_words =
      "without 16-bit storage float16 is read and written as whole 32-bit words; the other half of a word the "
      "tensor shares is written back unchanged";
  if (r->size != VK_WHOLE_SIZE && r->size < bytes)
    return Status::invalid_argument(name() + ": range of " + std::to_string(r->size) + " bytes, expected at least " +
                                    std::to_string(bytes) + " (" + std::to_string(use.count) + " elements" +
                                    (bytes > use.bytes() ? ", and the 2 bytes after them: " + std::string(whole_words) : "") + ")");
  // VK_WHOLE_SIZE is trusted to cover the tensor, but not the half word after it: the buffer
  // may end right there, and binding past its end is invalid.
  if (r->size == VK_WHOLE_SIZE && bytes > use.bytes())
    return Status::invalid_argument(name() + ": range VK_WHOLE_SIZE, expected an explicit range of at least " +
                                    std::to_string(bytes) + " bytes (" + std::to_string(use.count) +
                                    " elements, and the 2 bytes after them: " + whole_words + ")");
  // The binding starts at the offset rounded down to minStorageBufferOffsetAlignment.
  const uint64_t bound = r->offset % caps.min_storage_buffer_offset_alignment + bytes;
  if (bound > caps.max_storage_buffer_range)
    return Status::unsupported(name() + ": binding " + std::to_string(bound) + " bytes (" + std::to_string(bytes) +
                               " from an offset of " + std::to_string(r->offset) +
                               ") exceeds the device's maxStorageBufferRange of " +
                               std::to_string(caps.max_storage_buffer_range) + " bytes");
  return {};
}

namespace {

// The caller's buffers, by role, and the order their checks run in (when several are
// wrong, the first of this order is reported).
struct Buffers {
  std::array<const BufferRef*, kRoleCount> by_role{};
  std::array<Role, kRoleCount> order{};
  size_t count = 0;
  const BufferRef* operator[](Role role) const { return by_role[static_cast<size_t>(role)]; }
  void set(Role role, const BufferRef& ref) {
    by_role[static_cast<size_t>(role)] = &ref;
    order[count++] = role;
  }
};

Buffers forward_buffers(const NormForwardBuffers& b) {
  Buffers r;
  r.set(Role::x, b.x);
  r.set(Role::y, b.y);
  r.set(Role::weight, b.weight);
  r.set(Role::bias, b.bias);
  r.set(Role::residual, b.residual);
  r.set(Role::running_mean, b.running_mean);
  r.set(Role::running_var, b.running_var);
  r.set(Role::save_mean, b.save_mean);
  r.set(Role::save_invstd, b.save_invstd);
  r.set(Role::workspace, b.workspace);
  return r;
}

Buffers backward_buffers(const NormBackwardBuffers& b) {
  Buffers r;
  r.set(Role::x, b.x);
  r.set(Role::dy, b.dy);
  r.set(Role::dx, b.dx);
  r.set(Role::weight, b.weight);
  r.set(Role::dweight, b.dweight);
  r.set(Role::dbias, b.dbias);
  r.set(Role::y, b.y);
  r.set(Role::dresidual, b.dresidual);
  r.set(Role::save_mean, b.save_mean);
  r.set(Role::running_mean, b.running_mean);
  r.set(Role::save_invstd, b.save_invstd);
  r.set(Role::running_var, b.running_var);
  r.set(Role::workspace, b.workspace);
  return r;
}

bool records(uint32_t phases, const Pass& pass) { return (phases & static_cast<uint32_t>(pass.phase)) != 0; }

Status check_ref(const Capabilities& caps, Role role, const BufferRef* r, const SlotUse& use) {
  return check_buffer_ref(caps, to_string(role), r, use);
}

// What the recorded phases bind: the whole call's buffers (every one it names, also
// where an empty tensor leaves no pass to run), or those of the chosen phases' passes.
std::array<SlotUse, 16> bound_buffers(const ExecutionPlan& plan, uint32_t phases) {
  if (phases == kAllPhases) return plan.buffers;
  std::array<SlotUse, 16> bound{};
  for (const Pass& pass : plan) {
    if (!records(phases, pass)) continue;
    for (const SlotUse& use : pass.slots) {
      SlotUse& b = bound[static_cast<size_t>(use.role)];
      if (use.role != Role::none && use.count >= b.count) b = use;
    }
  }
  return bound;
}

// Checks those buffers in the call's order, each with the most any pass binds.
Status check_buffers(const Capabilities& caps, const ExecutionPlan& plan, uint32_t phases, const Buffers& buffers) {
  const std::array<SlotUse, 16> bound = bound_buffers(plan, phases);
  for (const SlotUse& use : bound)
    if (use.role != Role::none && !buffers[use.role])
      return Status::internal(std::string("a pass binds ") + to_string(use.role) + ", which this direction has no buffer for");
  for (size_t i = 0; i < buffers.count; ++i) {
    const SlotUse& use = bound[static_cast<size_t>(buffers.order[i])];
    if (use.role == Role::none) continue;
    // A call that records nothing (a zero-size tensor with no statistics group) binds no
    // buffer, and needs none: Vulkan has no buffer of 0 bytes to give an empty tensor.
    const BufferRef* r = buffers[use.role];
    if (plan.pass_count == 0 && (!r || r->empty())) continue;
    VKNORM_TRY(check_ref(caps, use.role, r, use));
  }
  return {};
}

Status record(CommandRecorder& recorder, const NormPlan& p, const ExecutionPlan& plan, uint32_t phases,
              const Buffers& buffers) {
  CommandRecorder::Impl& rec = impl_of(recorder);
  if (phases != kAllPhases)
    for (const Pass& pass : plan)
      if (pass.phase == Phase::fused)
        return Status::invalid_argument(std::string("phases: this plan computes and applies the statistics in one "
                                                    "pass (") + kernel_name(pass.kernel) +
                                        "); plan with PlanOptions::split to record phases on their own");
  VKNORM_TRY(check_buffers(rec.state->caps, plan, phases, buffers));
  // Everything that can fail comes before the first dispatch, so that a refused call
  // records nothing: the pipelines (which require_prepared_kernels may refuse to create)
  // and the descriptor sets (which a recorder's pool may not have left).
  // Each pass as it runs at these offsets: its vec4 variant where they allow it.
  RoleOffsets offsets{};
  for (size_t role = 0; role < offsets.size(); ++role)
    if (const BufferRef* r = buffers.by_role[role]) offsets[role] = r->offset;
  std::array<Pass, std::tuple_size_v<decltype(plan.passes)>> passes;
  const KernelEntry* kernels[std::tuple_size_v<decltype(plan.passes)>] = {};
  uint32_t recorded = 0;
  KernelId previous = KernelId::count_;
  for (const Pass& planned : plan) {
    if (!records(phases, planned)) continue;
    if (planned.skip_after != KernelId::count_ && planned.skip_after == previous) continue;
    const Pass& pass = passes[recorded] = pass_for_offsets(planned, offsets);
    previous = pass.kernel;
    auto kernel = rec.state->kernels.get(*rec.state, pass.kernel, p.dtype);
    if (!kernel) return kernel.status();
    kernels[recorded++] = kernel.value();
  }
  VKNORM_TRY(rec.reserve(recorded));
  for (uint32_t next = 0; next < recorded; ++next) {
    const Pass& pass = passes[next];
    SlotBinding slots[kSlotCount] = {};
    for (uint32_t i = 0; i < kSlotCount; ++i) {
      const SlotUse& use = pass.slots[i];
      if (use.role == Role::none) continue;
      const BufferRef& r = *buffers[use.role];
      slots[i] = {r.buffer, r.offset, use.bytes(), use.element_bytes, use.packed};
    }
    VKNORM_TRY(rec.dispatch(*kernels[next], slots, pass.push, pass.grid_x, pass.grid_y));
  }
  return {};
}

}  // namespace

// The context's tuned choice for the call (PlanOptions::choice), else the rules.
static PlanOptions tuned_options(const TuningCache& tuning, const NormPlan& p, Direction direction) {
  PlanOptions options;
  options.choice = tuned_choice(tuning, p, direction);
  return options;
}

Result<uint64_t> norm_workspace_size(const Context& context, const NormPlan& plan) {
  // Enough for the tuned forward and the tuned backward (each a max of both directions).
  const TuningCache& tuning = context.tuning();
  auto forward = plan_workspace_bytes(context.capabilities(), plan, tuned_options(tuning, plan, Direction::forward));
  if (!forward || tuning.empty()) return forward;
  auto backward = plan_workspace_bytes(context.capabilities(), plan, tuned_options(tuning, plan, Direction::backward));
  if (!backward) return backward;
  return std::max(forward.value(), backward.value());
}

Status record_norm_forward(CommandRecorder& recorder, const NormPlan& p, const NormForwardBuffers& b,
                           const PlanOptions& options, uint32_t phases) {
  auto plan = plan_forward(impl_of(recorder).state->caps, p, options);
  if (!plan) return plan.status();
  return record(recorder, p, plan.value(), phases, forward_buffers(b));
}

Status record_norm_backward(CommandRecorder& recorder, const NormPlan& p, const NormBackwardBuffers& b,
                            const PlanOptions& options, uint32_t phases) {
  auto plan = plan_backward(impl_of(recorder).state->caps, p, options);
  if (!plan) return plan.status();
  return record(recorder, p, plan.value(), phases, backward_buffers(b));
}

Status record_norm_forward(CommandRecorder& recorder, const NormPlan& p, const NormForwardBuffers& b) {
  return record_norm_forward(recorder, p, b, tuned_options(impl_of(recorder).state->tuning, p, Direction::forward),
                             kAllPhases);
}

Status record_norm_backward(CommandRecorder& recorder, const NormPlan& p, const NormBackwardBuffers& b) {
  return record_norm_backward(recorder, p, b, tuned_options(impl_of(recorder).state->tuning, p, Direction::backward),
                              kAllPhases);
}

}  // namespace vknorm
