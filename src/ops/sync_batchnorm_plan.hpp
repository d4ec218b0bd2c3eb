// What SyncBatchNorm's files share (src/ops/sync_batchnorm*.cpp): the shard's plan and
// the options of the merged phases.
#pragma once

#include "ops/norm_engine.hpp"
#include "vknorm/sync_batchnorm.hpp"

namespace vknorm::sync_detail {

inline uint32_t phases(Phase phase) { return static_cast<uint32_t>(phase); }
inline uint32_t phases(Phase a, Phase b) { return phases(a) | phases(b); }

// The shard's plan. BatchNorm's checks, except the one value per channel, which holds
// for the merged batch (a shard of one sample of one value per channel is fine); and
// training only.
Result<NormPlan> sync_plan(const BatchNormParams& params);

// The options of the phases that read the merged records.
inline PlanOptions merged_options(uint64_t count) { return {.split = true, .merged = true, .merged_count = count}; }

}  // namespace vknorm::sync_detail
