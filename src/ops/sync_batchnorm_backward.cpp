// SyncBatchNorm's backward phases (include/vknorm/sync_batchnorm.hpp): the shard's
// gradient sums, their all-reduce by the caller, and grad_finalize over the merged records
// (FLAG_MERGED_SUMS) with grad_input.
#include <algorithm>

#include "ops/sync_batchnorm_plan.hpp"

namespace vknorm {

using namespace sync_detail;

Result<SyncBatchNormGradExchange> sync_batch_norm_grad_exchange_layout(const Context& context,
                                                                       const BatchNormParams& params) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  auto plan = plan_backward(context.capabilities(), p.value(), {.split = true});
  if (!plan) return plan.status();
  const uint64_t C = p->geometry.channels;
  SyncBatchNormGradExchange x;
  x.download_offset = plan->workspace.grad * 4;
  x.download_bytes = plan->workspace.grad_floats * 4;
  x.chunks = plan->chunks;
  x.upload_offset = 0;  // the merged plan's two records per channel start the workspace
  x.upload_bytes = C * 2 * kSumsRecordFloats * 4;
  return x;
}

Status record_sync_batch_norm_grad_sums(CommandRecorder& recorder, const BatchNormParams& params,
                                        const BatchNormBackwardBuffers& buffers) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  return record_norm_backward(recorder, p.value(), buffers, {.split = true}, phases(Phase::reduce));
}

Status compact_sync_batch_norm_grad_sums(const BatchNormParams& params, const SyncBatchNormGradExchange& layout,
                                         const void* downloaded, float* local) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  const uint64_t C = p->geometry.channels, chunks = layout.chunks;
  if (layout.download_bytes != C * chunks * kSumsRecordFloats * 4)
    return Status::invalid_argument("layout: not sync_batch_norm_grad_exchange_layout's for these params");
  const float* work = static_cast<const float*>(downloaded);
  for (uint64_t g = 0; g < C; ++g) {
    double dy = 0, dy_xhat = 0;
    for (uint64_t c = 0; c < chunks; ++c) {
      dy += work[(g * chunks + c) * kSumsRecordFloats + VKNORM_SUMS_RECORD_DY];
      dy_xhat += work[(g * chunks + c) * kSumsRecordFloats + VKNORM_SUMS_RECORD_DY_XHAT];
    }
    local[g * 2 + VKNORM_SUMS_RECORD_DY] = static_cast<float>(dy);
    local[g * 2 + VKNORM_SUMS_RECORD_DY_XHAT] = static_cast<float>(dy_xhat);
  }
  return {};
}

std::vector<float> sync_batch_norm_grad_upload(const std::vector<float>& local, const std::vector<float>& global) {
  const size_t C = std::min(local.size(), global.size()) / 2;
  std::vector<float> out(C * 4);
  for (size_t g = 0; g < C; ++g) {  // record (g, 0): the whole batch's; (g, 1): this rank's
    out[g * 4 + 0] = global[g * 2];
    out[g * 4 + 1] = global[g * 2 + 1];
    out[g * 4 + 2] = local[g * 2];
    out[g * 4 + 3] = local[g * 2 + 1];
  }
  return out;
}

Status record_sync_batch_norm_grad_input(CommandRecorder& recorder, const BatchNormParams& params,
                                         const BatchNormBackwardBuffers& buffers, uint64_t merged_count) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  if (merged_count < p->geometry.group_size)
    return Status::invalid_argument("merged_count: expected at least this shard's " +
                                    std::to_string(p->geometry.group_size) + " values per channel, got " +
                                    std::to_string(merged_count));
  return record_norm_backward(recorder, p.value(), buffers, merged_options(merged_count), phases(Phase::elementwise));
}

}  // namespace vknorm
