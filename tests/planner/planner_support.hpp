// The planner test's shapes and its limit checker.
#pragma once

#include <string>
#include <vector>

#include "ops/planner.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/rmsnorm.hpp"

namespace vknorm::test {

// The plan row of each kind.
Result<NormPlan> plan_of(const BatchNormParams& p);
Result<NormPlan> plan_of(const InstanceNormParams& p);
Result<NormPlan> plan_of(const GroupNormParams& p);
Result<NormPlan> plan_of(const LayerNormParams& p);
Result<NormPlan> plan_of(const RMSNormParams& p);

struct Case {
  std::string name;
  NormPlan plan;
};

// Every kind over shapes from tiny to past the grid and binding limits, in every mode,
// layout, dtype and epilogue.
std::vector<Case> plan_cases();

// "" when every pass of `plan` fits `caps`' limits and covers its work; else what does not.
std::string fits(const Capabilities& caps, const ExecutionPlan& plan, const NormPlan& p);

}  // namespace vknorm::test
