// The planner test's shapes and its limit checker.
#pragma once

#include <string>
#include <vector>

#include "ops/norm_kinds.hpp"
#include "ops/planner.hpp"

namespace vknorm::test {

struct Case {
  std::string name;
  NormPlan plan;
  Norm kind = Norm::batch_norm;
};

// Every kind over shapes from tiny to past the grid and binding limits, in every mode,
// layout, dtype and epilogue.
std::vector<Case> plan_cases();

// "" when every pass of `plan` fits `caps`' limits and covers its work; else what does not.
// merged_count: a merged plan's (PlanOptions::merged): its finalize passes count that many
// elements per group (O * I) instead of the view's.
std::string fits(const Capabilities& caps, const ExecutionPlan& plan, const NormPlan& p, uint64_t merged_count = 0);

// Seven GPUs and two CPU implementations, made up from their published limits
// (planner_test.cpp).
std::vector<Capabilities> modeled_devices();
// The modeled device whose name starts with `prefix` ("lavapipe", "NVIDIA", "Baseline"); it
// fails the test case when there is none.
Capabilities modeled_device(const char* prefix);

}  // namespace vknorm::test
