// The planner: what the shared kernels do for one norm call on one device, as a list of
// passes. plan_forward / plan_backward are pure functions of the device's capabilities and
// the NormPlan (no Vulkan call, no device, no global state), so tests can plan for any GPU
// without one. The recorder (norm_engine.cpp) validates the caller's buffers and walks
// the list.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "kernels.hpp"
#include "ops/norm_plan.hpp"
#include "vknorm/context.hpp"
#include "vknorm/tuning.hpp"

namespace vknorm {

// The phases of a call. A split forward is statistics -> finalize -> apply; a split
// backward is reduce -> elementwise. Between two phases an engine may stop, read or
// exchange the workspace records (WorkspaceLayout), and go on with the next phase.
enum class Phase : uint32_t {
  statistics = 1,   // stats_partial: one record per (group, chunk) into the workspace
  finalize = 2,     // stats_finalize: merge a group's records, save_mean / save_invstd, running stats
  apply = 4,        // normalize: y from the statistics
  reduce = 8,       // grad_partial: sums per (group, chunk); param_partial/finalize: dgamma, dbeta
  elementwise = 16, // grad_finalize: coefficients per group (and BatchNorm's dgamma, dbeta); grad_input: dx
  fused = 32,       // team_* / fused_forward: a whole direction's reduction and output in one pass
};
constexpr uint32_t kAllPhases = 63;
const char* to_string(Phase phase);

// The caller's buffers a pass binds to a slot.
enum class Role : uint8_t {
  none, x, y, dy, dx, weight, bias, running_mean, running_var, save_mean, save_invstd, workspace, residual,
  dweight, dbias, dresidual,
};
constexpr size_t kRoleCount = static_cast<size_t>(Role::dresidual) + 1;  // arrays indexed by Role
const char* to_string(Role role);

struct SlotUse {
  Role role = Role::none;
  uint64_t count = 0;          // elements the pass may touch
  uint32_t element_bytes = 4;  // 2 for float16 tensors
  // float16 halves packed in 32-bit words (TensorStorage::f16_packed): the pass reads and
  // writes the whole words that hold its elements, so also the half beside either end.
  bool packed = false;
  uint64_t bytes() const { return count * element_bytes; }
  // Bytes from `offset` (where the tensor starts in its buffer) to the end of what the pass
  // may touch: bytes(), or for packed halves up to the end of the last element's word.
  uint64_t bytes_from(uint64_t offset) const {
    return packed && count ? (offset + bytes() + 3) / 4 * 4 - offset : bytes();
  }
};

struct Pass {
  KernelId kernel = KernelId::count_;
  Phase phase = Phase::fused;
  uint32_t grid_x = 1, grid_y = 1;  // workgroups
  uint32_t workgroup_size = 1;      // invocations per workgroup (the kernel's specialization)
  uint32_t shared_bytes = 0;        // shared memory the kernel declares at that size
  PushConstants push;               // everything but base[] (the recorder's: it depends on offsets)
  std::array<SlotUse, kSlotCount> slots{};
  // The variant with 4 elements per access (shaders/vec4.glsl) and its grid, where the
  // shape allows it (every row it walks is whole 4-element units); count_: none. The
  // recorder takes it where the offsets allow too (pass_for_offsets).
  KernelId vec4_kernel = KernelId::count_;
  uint32_t vec4_grid_x = 1, vec4_grid_y = 1;
  // The recorder skips this pass where the pass before it runs this kernel, which does its
  // work too (param_partial after team_backward_affine_blocks_vec4 with FLAG_BLOCK_PARAMS:
  // the same records); count_: never.
  KernelId skip_after = KernelId::count_;
};

// Byte offsets of the caller's buffers, by Role (where each starts in its VkBuffer).
using RoleOffsets = std::array<uint64_t, kRoleCount>;

// Whether every tensor `pass` binds (x, y, dy, dx, residual, ...: the TENSOR slots of
// src/shader_contract.h) starts at a multiple of 4 elements (16 bytes in float32, 8 in
// float16): then each is 4-element aligned where it is bound, whatever the device's
// minStorageBufferOffsetAlignment. For team_forward_affine_vec4, team_forward_weight_vec4
// and team_backward_affine_vec4 (and their _blocks_ variants), the weight and bias slots
// too (16 bytes; where bound); with FLAG_BLOCK_PARAMS, for team_backward_affine_blocks_vec4
// and param_finalize_vec4 the workspace; for batch_norm_apply_columns_units_vec4 also the
// running statistics' slots, for its _cached_ twins the workspace (the coefficients), and
// the team _rows_ kernels the weight (and bias) as their walking twins. The _wide_ kernels
// (8 elements per access) need their tensors at multiples of 16 bytes.
bool tensors_vec4_aligned(const Pass& pass, const RoleOffsets& offsets);

// The pass as the recorder runs it with its buffers at `offsets`: its vec4 variant where
// it has one and tensors_vec4_aligned; else a _wide_ variant's 4-element twin
// (without_wide_units), or where only the per-channel buffers of a _units_ variant are
// off, that variant's per-channel twin (without_channel_units), where those are aligned;
// else `pass` unchanged.
Pass pass_for_offsets(const Pass& pass, const RoleOffsets& offsets);

// Where each kind of record sits in the workspace, in floats from its start (0 floats:
// not used by this plan). The records themselves (float32, one per group and chunk, or
// per affine channel and chunk) are laid out in src/shader_contract.h:
//  - stats: statistics partials { count as uint bits, mean - pivot, M2 } per group and
//    chunk, then the pivot of each group (x's first element of the group, as the partial
//    pass saw it; stats_finalize adds it back). Partials of the same group from several
//    devices merge exactly once rebased to one pivot (mean + their pivot - this pivot).
//  - grad: gradient sums per group { sum dy, sum dy * xhat } (gamma applied when it varies);
//  - coef: the coefficients { invstd, b, c } of shaders/grad.glsl, per group; in the eval
//    forward on a CPU device or where tuned so (eval_coefficients_first,
//    EvalCoefficients) BatchNorm's 2 * K coefficients, K scales then K shifts
//    (batch_norm_coefficients.comp);
//  - param: dgamma / dbeta's partial sums per affine channel, { sum dy, sum dy * xhat }.
struct WorkspaceLayout {
  uint64_t stats = 0, stats_floats = 0;  // the records and the pivots after them
  uint64_t grad = 0, grad_floats = 0;
  uint64_t coef = 0, coef_floats = 0;
  uint64_t param = 0, param_floats = 0;
  uint64_t floats = 0;  // all of it: the range the passes bind
};

struct ExecutionPlan {
  std::array<Pass, 6> passes{};
  uint32_t pass_count = 0;
  // Every buffer the call reads or writes, by Role, with the most any pass binds (also
  // for an empty tensor, where no pass runs: the call still names its buffers).
  std::array<SlotUse, 16> buffers{};
  WorkspaceLayout workspace;
  uint32_t chunks = 0;   // records per statistics group (0: the group is empty)
  uint32_t pchunks = 0;  // records per affine channel
  const Pass* begin() const { return passes.data(); }
  const Pass* end() const { return passes.data() + pass_count; }
};

struct PlanOptions {
  // Forces the split passes (no team or fused pass), so that every phase can be recorded
  // on its own (cross-device statistics), and so tests can compare the two strategies.
  // It also keeps the statistics off the column view over planes (planner.cpp, choose), so
  // its workspace may be smaller than the rules' plan needs, or larger.
  bool split = false;
  // SyncBatchNorm's finalize (forward) and elementwise (backward) phases: the workspace
  // holds one record per group merged over every device's part of the batch (pivots
  // after the statistics records), and merged_count elements per group in that whole
  // batch. The finalize passes read one record per group and count merged_count elements,
  // so a device whose own part is empty still finalizes. Needs split.
  bool merged = false;
  uint64_t merged_count = 0;
  // Overrides the planner's rules where valid for the shape and device, else falls back
  // to them field by field (vknorm/tuning.hpp). split above wins over choice.kernel.
  StrategyChoice choice;
};

// The device facts the planner reads: Capabilities (a real device's, or a made-up one).
using DeviceCaps = Capabilities;

// Whether the split passes may take the column view of shaders/common.glsl (a lane per
// column of a channels-last row; the planner's rules and the tuning classes ask the same).
bool has_column_view(const NormPlan& plan);
// Whether the split passes (statistics, gradient sums, the apply) may read each group as up
// to kColumnMaxPlaneColumns columns, gamma constant in a group (NCHW planes of 2 to 64
// elements; never where has_column_view holds): a CPU device's rule, and on any device
// what ColumnView::on asks for, except under forced split passes (a tuning candidate; the
// tuning classes ask the same).
bool has_plane_column_view(const NormPlan& plan);

// Refuses (unsupported) what the device cannot run: a tensor or workspace larger than
// maxStorageBufferRange, more than 2^32 elements. float16 without 16-bit storage runs
// packed (TensorStorage::f16_packed; its tensor slots are SlotUse::packed).
Result<ExecutionPlan> plan_forward(const DeviceCaps& caps, const NormPlan& plan, const PlanOptions& options = {});
Result<ExecutionPlan> plan_backward(const DeviceCaps& caps, const NormPlan& plan, const PlanOptions& options = {});

// Every kernel plan_forward (forward) or plan_backward (backward) can put in a plan of
// `kind`, on any device, for any shape, dtype, epilogue and options, and for BatchNorm's
// forward also the passes of record_batch_norm_inference_coefficients and _apply (the
// planes' cached apply is the one kernel outside the norm plans): what preparing a kind
// creates (Context::prepare_kernels).
// Empty for a value outside the enum. With `caps`, only what that device's plans can take.
std::vector<KernelId> candidate_kernels(Norm kind, Direction direction, const DeviceCaps* caps = nullptr);

// Bytes of workspace the forward and the backward need (at least 4). Refuses only a
// workspace beyond maxStorageBufferRange.
Result<uint64_t> plan_workspace_bytes(const DeviceCaps& caps, const NormPlan& plan, const PlanOptions& options = {});

}  // namespace vknorm
