#include "ops/tuning.hpp"

#include <bit>

namespace vknorm {
namespace {

uint8_t floor_log2(uint64_t v) { return v == 0 ? 0 : static_cast<uint8_t>(std::bit_width(v) - 1); }

// What makes two plans different work: each pass's kernel, grid and chunking, and those of
// its 4-element variant.
std::vector<uint64_t> signature(const ExecutionPlan& plan) {
  std::vector<uint64_t> s = {plan.workspace.floats};
  for (const Pass& pass : plan)
    s.insert(s.end(), {static_cast<uint64_t>(pass.kernel), pass.grid_x, pass.grid_y, pass.push.chunks,
                       pass.push.pchunks, pass.push.flags, static_cast<uint64_t>(pass.vec4_kernel),
                       pass.vec4_grid_x, pass.vec4_grid_y});
  return s;
}

// Whether the plan does what `choice` asks (else the planner fell back to its rule).
bool honors(const ExecutionPlan& plan, const StrategyChoice& choice, Direction direction) {
  const KernelId team = direction == Direction::forward ? KernelId::team_forward : KernelId::team_backward;
  switch (choice.kernel) {
    case OnChipKernel::team: return runs_kernel(plan, team);
    case OnChipKernel::fused: return runs_kernel(plan, KernelId::fused_forward);
    case OnChipKernel::split: return !runs_kernel(plan, team) && !runs_kernel(plan, KernelId::fused_forward);
    case OnChipKernel::automatic: return true;
  }
  return false;
}

}  // namespace

std::vector<StrategyChoice> candidate_choices(const DeviceCaps& caps, const NormPlan& p, Direction direction) {
  const bool batch = p.geometry.uses_batch_stats;
  // Without batch statistics (eval) no on-chip kernel: the rules first, so that the choices
  // that plan their work drop as duplicates of it.
  std::vector<StrategyChoice> proposals;
  if (batch)
    proposals = {{OnChipKernel::team}, {OnChipKernel::fused}};
  else
    proposals = {{}};
  // With and without either column view where the shape has one (a CPU device's rules take
  // the planes' view, so `off` is what times the walk there).
  const bool view = has_column_view(p) || has_plane_column_view(p);
  for (uint32_t vpi : {8u, 64u, 256u})
    for (ColumnView columns : {ColumnView::on, ColumnView::off}) {
      if (columns == ColumnView::off && !view) continue;
      proposals.push_back({OnChipKernel::split, vpi, view ? columns : ColumnView::automatic});
    }
  // The elementwise pass's rows per invocation are a choice too (in eval the split's
  // chunking serves the backward's dgamma / dbeta passes only); with batch statistics they
  // change the plan where its apply walks columns per sample (sample_columns.glsl), else
  // the plan drops as a duplicate of the rules'.
  for (uint32_t rows : {8u, 16u, 32u, 64u}) proposals.push_back({.rows_per_invocation = rows});
  // In eval, the coefficients computed first or in the apply (one of them plans the rules'
  // work, and drops).
  if (!batch)
    for (EvalCoefficients c : {EvalCoefficients::first, EvalCoefficients::in_apply})
      proposals.push_back({.coefficients = c});
  std::vector<StrategyChoice> out;
  std::vector<std::vector<uint64_t>> seen;
  for (const StrategyChoice& choice : proposals) {
    PlanOptions options;
    options.choice = choice;
    auto plan = direction == Direction::forward ? plan_forward(caps, p, options) : plan_backward(caps, p, options);
    if (!plan || plan->pass_count == 0) continue;
    if (batch && !honors(plan.value(), choice, direction)) continue;
    auto sig = signature(plan.value());
    bool duplicate = false;
    for (const auto& s : seen) duplicate = duplicate || s == sig;
    if (duplicate) continue;
    seen.push_back(std::move(sig));
    out.push_back(choice);
  }
  if (out.size() <= 1) return {StrategyChoice{}};
  return out;
}

bool runs_kernel(const ExecutionPlan& plan, KernelId kernel) {
  for (const Pass& pass : plan)
    if (pass.kernel == kernel) return true;
  return false;
}

bool same_work(const ExecutionPlan& a, const ExecutionPlan& b) { return signature(a) == signature(b); }

TuningKey tuning_key(const NormPlan& p, Direction direction) {
  TuningKey k;
  k.kind = p.kind;
  k.direction = direction;
  k.dtype = p.dtype;
  k.columns = has_column_view(p);
  k.plane_columns = has_plane_column_view(p);
  k.batch_stats = p.geometry.uses_batch_stats;
  k.group_size_log2 = floor_log2(p.O * p.I);
  k.groups_log2 = floor_log2(p.B * p.K);
  return k;
}

StrategyChoice tuned_choice(const TuningCache& cache, const NormPlan& p, Direction direction) {
  if (cache.empty()) return {};
  const StrategyChoice* c = cache.find(tuning_key(p, direction));
  return c ? *c : StrategyChoice{};
}

}  // namespace vknorm
