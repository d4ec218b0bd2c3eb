// SyncBatchNorm's forward phases (include/vknorm/sync_batchnorm.hpp) on the phase seams:
// the split plan's statistics pass, a host compaction and merge of the records, and the
// merged plan's finalize and apply (PlanOptions::merged).
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/norm_kinds.hpp"
#include "ops/sync_batchnorm_plan.hpp"

namespace vknorm {

namespace sync_detail {

Result<NormPlan> sync_plan(const BatchNormParams& params) {
  if (!params.training)
    return Status::invalid_argument("params.training: SyncBatchNorm's phases are for training (an eval forward "
                                    "uses the running statistics: batch_norm_forward)");
  BatchNormParams probe = params;
  const bool one_sample = params.shape.size() >= 2 && params.shape[0] == 1;
  if (one_sample) probe.shape[0] = 2;
  auto g = check_batch_norm(probe);
  if (!g) return g.status();
  NormGeometry geometry = g.value();
  if (one_sample) {
    geometry.outer = 1;
    geometry.group_size = geometry.spatial;
    geometry.elements = geometry.group_size * geometry.channels;
  }
  NormPlan p = NormKind<BatchNormParams>::plan(params, geometry);
  p.dtype = params.dtype;
  p.epilogue = params.epilogue;
  return p;
}

}  // namespace sync_detail

using namespace sync_detail;

namespace {

constexpr uint32_t kSendFloats = 4;  // count bits, mean - pivot, M2, pivot

// Chan's merge of (nb, mb, m2b) into (n, mean, m2), in double.
void chan_merge(double& n, double& mean, double& m2, double nb, double mb, double m2b) {
  const double total = n + nb, delta = mb - mean;
  mean += delta * nb / total;
  m2 += m2b + delta * delta * n * nb / total;
  n = total;
}

// A statistics record (or a sent one: the same first three floats) as (count, mean, M2) in
// double, undoing the scaling of a scaled record (src/shader_contract.h).
struct RecordStats { uint32_t count; double mean, m2; };
RecordStats read_record(const float* rec) {
  uint32_t bits;
  std::memcpy(&bits, &rec[VKNORM_STATS_RECORD_COUNT], 4);
  if ((bits & VKNORM_STATS_RECORD_SCALED) == 0) return {bits, rec[VKNORM_STATS_RECORD_MEAN], rec[VKNORM_STATS_RECORD_M2]};
  const double up = std::ldexp(1.0, VKNORM_STATS_SCALE_LOG2);
  return {bits & ~VKNORM_STATS_RECORD_SCALED, rec[VKNORM_STATS_RECORD_MEAN] * up, rec[VKNORM_STATS_RECORD_M2] * up * up};
}

// Writes (count, mean, M2) as a record: scaled when M2 is past float's range or not
// finite (and the count leaves the scaled bit free), so that huge values stay finite.
void write_record(float* rec, uint32_t count, double mean, double m2) {
  const bool scaled = !(m2 <= std::numeric_limits<float>::max()) && count < VKNORM_STATS_RECORD_SCALED;
  const double down = scaled ? std::ldexp(1.0, -VKNORM_STATS_SCALE_LOG2) : 1.0;
  const uint32_t bits = scaled ? count | VKNORM_STATS_RECORD_SCALED : count;
  std::memcpy(&rec[VKNORM_STATS_RECORD_COUNT], &bits, 4);
  rec[VKNORM_STATS_RECORD_MEAN] = static_cast<float>(mean * down);
  rec[VKNORM_STATS_RECORD_M2] = static_cast<float>(m2 * down * down);
}

}  // namespace

Result<SyncBatchNormExchange> sync_batch_norm_exchange_layout(const Context& context, const BatchNormParams& params) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  auto plan = plan_forward(context.capabilities(), p.value(), {.split = true});
  if (!plan) return plan.status();
  const uint64_t C = p->geometry.channels;
  SyncBatchNormExchange x;
  x.download_offset = plan->workspace.stats * 4;
  x.download_bytes = plan->workspace.stats_floats * 4;
  x.chunks = plan->chunks;
  x.send_bytes = C * kSendFloats * 4;
  x.upload_offset = 0;  // the merged plan's records start the workspace
  x.upload_bytes = (C * kStatsRecordFloats + C) * 4;
  return x;
}

Result<uint64_t> sync_batch_norm_workspace_size(const Context& context, const BatchNormParams& params) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  auto local = plan_workspace_bytes(context.capabilities(), p.value(), {.split = true});
  if (!local) return local;
  auto merged = plan_workspace_bytes(context.capabilities(), p.value(), merged_options(1));
  if (!merged) return merged;
  return std::max(local.value(), merged.value());
}

Status record_sync_batch_norm_statistics(CommandRecorder& recorder, const BatchNormParams& params,
                                         const BatchNormForwardBuffers& buffers) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  return record_norm_forward(recorder, p.value(), buffers, {.split = true}, phases(Phase::statistics));
}

Status compact_sync_batch_norm_statistics(const BatchNormParams& params, const SyncBatchNormExchange& layout,
                                          const void* downloaded, void* send) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  const uint64_t C = p->geometry.channels, chunks = layout.chunks;
  if (layout.download_bytes != (C * chunks * kStatsRecordFloats + C) * 4 || layout.send_bytes != C * kSendFloats * 4)
    return Status::invalid_argument("layout: not sync_batch_norm_exchange_layout's for these params");
  const float* work = static_cast<const float*>(downloaded);
  std::vector<float> out(C * kSendFloats, 0.0f);
  for (uint64_t g = 0; g < C; ++g) {
    double n = 0, mean = 0, m2 = 0;
    for (uint64_t c = 0; c < chunks; ++c) {
      const RecordStats r = read_record(&work[(g * chunks + c) * kStatsRecordFloats]);
      if (r.count != 0) chan_merge(n, mean, m2, r.count, r.mean, r.m2);
    }
    if (n == 0) continue;  // an empty shard: a zero record (count 0), whatever its pivot
    float* o = &out[g * kSendFloats];
    write_record(o, static_cast<uint32_t>(n), mean, m2);
    o[3] = work[C * chunks * kStatsRecordFloats + g];
  }
  std::memcpy(send, out.data(), out.size() * 4);
  return {};
}

Result<SyncBatchNormMerged> merge_sync_batch_norm_statistics(const BatchNormParams& params, const void* gathered,
                                                             int world_size) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  if (world_size < 1) return Status::invalid_argument("world_size: expected at least 1, got " + std::to_string(world_size));
  const uint64_t C = p->geometry.channels;
  const float* in = static_cast<const float*>(gathered);
  SyncBatchNormMerged m;
  m.upload.assign(C * kStatsRecordFloats + C, 0.0f);
  for (uint64_t g = 0; g < C; ++g) {
    double n = 0, mean = 0, m2 = 0;
    uint64_t count = 0;
    float pivot = 0.0f;
    bool first = true;
    for (int r = 0; r < world_size; ++r) {
      const float* rec = &in[(static_cast<uint64_t>(r) * C + g) * kSendFloats];
      const RecordStats rs = read_record(rec);
      if (rs.count == 0) continue;
      if (first) pivot = rec[3];
      first = false;
      // Rebased to the first non-empty rank's pivot: mean of x - pivot.
      const double mb = rs.mean + (static_cast<double>(rec[3]) - pivot);
      chan_merge(n, mean, m2, rs.count, mb, rs.m2);
      count += rs.count;
    }
    if (count > std::numeric_limits<uint32_t>::max())
      return Status::unsupported("x: " + std::to_string(count) + " values per channel over all ranks; at most 2^32 - 1");
    if (g == 0) m.count = count;
    if (count != m.count)
      return Status::invalid_argument("gathered: channel " + std::to_string(g) + " has " + std::to_string(count) +
                                      " values over all ranks, channel 0 " + std::to_string(m.count) +
                                      " (the ranks' records are not of one BatchNorm call)");
    write_record(&m.upload[g * kStatsRecordFloats], static_cast<uint32_t>(count), mean, m2);
    m.upload[C * kStatsRecordFloats + g] = pivot;
  }
  if (m.count == 1)
    return Status::invalid_argument("x: Expected more than 1 value per channel when training, got 1 over all ranks");
  return m;
}

Status record_sync_batch_norm_apply(CommandRecorder& recorder, const BatchNormParams& params,
                                    const BatchNormForwardBuffers& buffers, uint64_t merged_count) {
  auto p = sync_plan(params);
  if (!p) return p.status();
  if (merged_count < p->geometry.group_size)
    return Status::invalid_argument("merged_count: expected at least this shard's " +
                                    std::to_string(p->geometry.group_size) + " values per channel, got " +
                                    std::to_string(merged_count));
  return record_norm_forward(recorder, p.value(), buffers, merged_options(merged_count),
                             phases(Phase::finalize, Phase::apply));
}

}  // namespace vknorm
