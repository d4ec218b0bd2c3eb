// The planner's side of tuning (vknorm/tuning.hpp): the candidate strategies of a call,
// the shape class a call belongs to, and the choice a context's tuning cache makes for it.
#pragma once

#include <vector>

#include "ops/planner.hpp"

namespace vknorm {

// The strategies that give a different plan for this call on this device, each valid
// (the plan runs what the choice asks for): a team, fused (forward), and the split passes
// with 8, 64 or 256 values per invocation, with and without the column view where the
// shape has one (has_column_view, has_plane_column_view); without batch statistics (eval)
// the rules, the split's chunking (the backward's dgamma / dbeta passes) and blocks of 8,
// 16, 32 or 64 rows per invocation of the elementwise pass, and the eval coefficients
// computed first or in the apply (EvalCoefficients). Choices that plan the same
// passes, grids and chunks as an earlier one are left out. A call with nothing to choose
// (an eval forward whose apply walks no rows, an empty tensor) has one candidate:
// StrategyChoice{} (the rules).
std::vector<StrategyChoice> candidate_choices(const DeviceCaps& caps, const NormPlan& plan, Direction direction);

// Whether `plan` has a pass of `kernel`.
bool runs_kernel(const ExecutionPlan& plan, KernelId kernel);

// Whether two plans do the same work: the same passes, grids, chunks and flags.
bool same_work(const ExecutionPlan& a, const ExecutionPlan& b);

// The shape class of a call (vknorm/tuning.hpp's TuningKey).
TuningKey tuning_key(const NormPlan& plan, Direction direction);

// The choice the cache holds for the call's class, or the rules' (StrategyChoice{}).
// Allocates nothing: record calls ask.
StrategyChoice tuned_choice(const TuningCache& cache, const NormPlan& plan, Direction direction);

}  // namespace vknorm
