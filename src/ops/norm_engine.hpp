// Recording a planned norm phase by phase (planner.hpp): the seams between partial
// statistics, their finalize and the apply pass (forward), and between the reductions and
// the elementwise passes (backward). norm_plan.hpp's record_norm_forward/backward record
// every phase of the default plan.
#pragma once

#include "ops/norm_plan.hpp"
#include "ops/planner.hpp"

namespace vknorm {

// A buffer a pass binds, checked for `use`: present, aligned to its element, large enough
// (when its size is known) and within maxStorageBufferRange; messages name
// "buffers.<role>".
Status check_buffer_ref(const Capabilities& caps, const char* role, const BufferRef* ref, const SlotUse& use);

// Records the passes of `phases` (a mask of Phase values) of the plan `options` give.
// Buffers are checked against what those passes bind; size the workspace for these options
// with plan_workspace_bytes (norm_workspace_size is the plan of the context's tuning, which
// these record calls do not consult: `options` is the plan). A plan with a fused
// pass (team or fused kernels) can only be recorded whole: split phases need
// PlanOptions::split.
Status record_norm_forward(CommandRecorder& recorder, const NormPlan& plan, const NormForwardBuffers& buffers,
                           const PlanOptions& options, uint32_t phases);
Status record_norm_backward(CommandRecorder& recorder, const NormPlan& plan, const NormBackwardBuffers& buffers,
                            const PlanOptions& options, uint32_t phases);

}  // namespace vknorm
