// SyncBatchNorm's forward (include/vknorm/sync_batchnorm.hpp) on the phase seams: the
// split plan's statistics pass, a host compaction and merge of the records, and the
// merged plan's finalize and apply (PlanOptions::merged).
#include "vknorm/sync_batchnorm.hpp"

#include <cstring>
#include <limits>

#include "ops/norm_engine.hpp"
#include "ops/norm_host.hpp"
#include "ops/norm_kinds.hpp"

namespace vknorm {
namespace {

constexpr uint32_t kSendFloats = 4;  // count bits, mean - pivot, M2, pivot

uint32_t phases(Phase a, Phase b = Phase::fused, bool two = false) {
  return static_cast<uint32_t>(a) | (two ? static_cast<uint32_t>(b) : 0u);
}

// The shard's plan. BatchNorm's checks, except the one value per channel, which holds
// for the merged batch (a shard of one sample of one value per channel is fine).
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

PlanOptions merged_options(uint64_t count) { return {.split = true, .merged = true, .merged_count = count}; }

// Chan's merge of (nb, mb, m2b) into (n, mean, m2), in double.
void chan_merge(double& n, double& mean, double& m2, double nb, double mb, double m2b) {
  const double total = n + nb, delta = mb - mean;
  mean += delta * nb / total;
  m2 += m2b + delta * delta * n * nb / total;
  n = total;
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
      const float* rec = &work[(g * chunks + c) * kStatsRecordFloats];
      uint32_t nb;
      std::memcpy(&nb, &rec[VKNORM_STATS_RECORD_COUNT], 4);
      if (nb != 0) chan_merge(n, mean, m2, nb, rec[VKNORM_STATS_RECORD_MEAN], rec[VKNORM_STATS_RECORD_M2]);
    }
    if (n == 0) continue;  // an empty shard: a zero record (count 0), whatever its pivot
    const uint32_t count = static_cast<uint32_t>(n);
    float* o = &out[g * kSendFloats];
    std::memcpy(&o[0], &count, 4);
    o[1] = static_cast<float>(mean);
    o[2] = static_cast<float>(m2);
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
      uint32_t nb;
      std::memcpy(&nb, &rec[0], 4);
      if (nb == 0) continue;
      if (first) pivot = rec[3];
      first = false;
      // Rebased to the first non-empty rank's pivot: mean of x - pivot.
      const double mb = static_cast<double>(rec[1]) + (static_cast<double>(rec[3]) - pivot);
      chan_merge(n, mean, m2, nb, mb, rec[2]);
      count += nb;
    }
    if (count > std::numeric_limits<uint32_t>::max())
      return Status::unsupported("x: " + std::to_string(count) + " values per channel over all ranks; at most 2^32 - 1");
    if (g == 0) m.count = count;
    if (count != m.count)
      return Status::invalid_argument("gathered: channel " + std::to_string(g) + " has " + std::to_string(count) +
                                      " values over all ranks, channel 0 " + std::to_string(m.count) +
                                      " (the ranks' records are not of one BatchNorm call)");
    const uint32_t c32 = static_cast<uint32_t>(count);
    std::memcpy(&m.upload[g * kStatsRecordFloats + VKNORM_STATS_RECORD_COUNT], &c32, 4);
    m.upload[g * kStatsRecordFloats + VKNORM_STATS_RECORD_MEAN] = static_cast<float>(mean);
    m.upload[g * kStatsRecordFloats + VKNORM_STATS_RECORD_M2] = static_cast<float>(m2);
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
                             phases(Phase::finalize, Phase::apply, true));
}

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

#define VKNORM_TRY_BUFFER(name, expr) \
  auto name = (expr);                 \
  if (!name) return name.status();

namespace {

// The exchange, always entered once by every rank: a rank that failed before it sends
// nothing, which makes the gather refuse on every rank (a count mismatch), instead of
// leaving the others waiting.
Status gather(Communicator& comm, const std::vector<float>& send, std::vector<float>& gathered) {
  gathered.assign(send.size() * static_cast<size_t>(comm.size()), 0.0f);
  return comm.all_gather(send.data(), send.size() * 4, gathered.data());
}

Result<NormForwardResult> sync_forward(Context& context, Communicator& comm, const BatchNormParams& params,
                                       const std::vector<float>& x, const std::vector<float>& weight,
                                       const std::vector<float>& bias, std::vector<float>& running_mean,
                                       std::vector<float>& running_var, const std::vector<float>& residual,
                                       bool& exchanged) {
  using namespace host_io;
  auto plan = sync_plan(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  const NormGeometry& g = p.geometry;
  const bool running = params.track_running_stats;
  VKNORM_TRY(check_norm_lengths(g, {.kind = "batch_norm",
                                    .x = x.size(),
                                    .weight = if_given(p.has_weight, weight.size()),
                                    .bias = if_given(p.has_bias, bias.size()),
                                    .running_mean = if_given(running, running_mean.size()),
                                    .running_var = if_given(running, running_var.size()),
                                    .residual = if_given(p.epilogue.residual, residual.size())}));
  auto layout = sync_batch_norm_exchange_layout(context, params);
  if (!layout) return layout.status();
  auto workspace_bytes = sync_batch_norm_workspace_size(context, params);
  if (!workspace_bytes) return workspace_bytes.status();
  const size_t C = g.channels;
  const std::vector<float> none;
  VKNORM_TRY_BUFFER(xb, upload_tensor(context, p, x))
  VKNORM_TRY_BUFFER(yb, make_buffer(context, g.elements, p.dtype == DType::f16))
  VKNORM_TRY_BUFFER(wb, upload_floats(context, p.has_weight ? weight : none, C))
  VKNORM_TRY_BUFFER(bb, upload_floats(context, p.has_bias ? bias : none, C))
  VKNORM_TRY_BUFFER(rmb, upload_floats(context, running ? running_mean : none, C))
  VKNORM_TRY_BUFFER(rvb, upload_floats(context, running ? running_var : none, C))
  VKNORM_TRY_BUFFER(smb, make_buffer(context, C, false))
  VKNORM_TRY_BUFFER(sib, make_buffer(context, C, false))
  VKNORM_TRY_BUFFER(wsb, make_buffer(context, workspace_bytes.value() / 4, false))
  VKNORM_TRY_BUFFER(resb, p.epilogue.residual ? upload_tensor(context, p, residual) : make_buffer(context, 1, false))
  const NormForwardBuffers buffers{ref(*xb),  ref(*yb),  ref(*wb),  ref(*bb),  ref(*rmb),
                                   ref(*rvb), ref(*smb), ref(*sib), ref(*wsb), ref(*resb)};
  {
    auto recorder = context.begin_commands();
    if (!recorder) return recorder.status();
    VKNORM_TRY(record_sync_batch_norm_statistics(*recorder.value(), params, buffers));
    VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  }
  // The workspace is host-visible and the submit waited: the host reads it directly.
  std::vector<float> send(layout->send_bytes / 4), gathered;
  VKNORM_TRY(compact_sync_batch_norm_statistics(
      params, layout.value(), static_cast<const uint8_t*>(wsb->data()) + layout->download_offset, send.data()));
  exchanged = true;
  VKNORM_TRY(gather(comm, send, gathered));
  auto merged = merge_sync_batch_norm_statistics(params, gathered.data(), comm.size());
  if (!merged) return merged.status();
  std::memcpy(static_cast<uint8_t*>(wsb->data()) + layout->upload_offset, merged->upload.data(),
              layout->upload_bytes);
  {
    auto recorder = context.begin_commands();
    if (!recorder) return recorder.status();
    VKNORM_TRY(record_sync_batch_norm_apply(*recorder.value(), params, buffers, merged->count));
    VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  }
  NormForwardResult out;
  out.y = download_tensor(p, *yb);
  out.save_mean = download_floats(*smb, C);
  out.save_invstd = download_floats(*sib, C);
  if (running) {
    running_mean = download_floats(*rmb, C);
    running_var = download_floats(*rvb, C);
  }
  return out;
}

Result<NormBackwardResult> sync_backward(Context& context, Communicator& comm, const BatchNormParams& params,
                                         const std::vector<float>& x, const std::vector<float>& dy,
                                         const std::vector<float>& weight, const std::vector<float>& save_mean,
                                         const std::vector<float>& save_invstd, uint64_t merged_count,
                                         const std::vector<float>& y, bool& exchanged) {
  using namespace host_io;
  auto plan = sync_plan(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  const NormGeometry& g = p.geometry;
  const size_t C = g.channels;
  VKNORM_TRY(check_norm_lengths(g, {.kind = "batch_norm",
                                    .x = x.size(),
                                    .dy = dy.size(),
                                    .weight = if_given(p.has_weight, weight.size()),
                                    .y = if_given(p.epilogue.relu, y.size())}));
  if (save_mean.size() != C || save_invstd.size() != C)
    return Status::invalid_argument("save_mean/save_invstd: expected " + std::to_string(C) + " elements each, got " +
                                    std::to_string(save_mean.size()) + " and " + std::to_string(save_invstd.size()));
  auto layout = sync_batch_norm_grad_exchange_layout(context, params);
  if (!layout) return layout.status();
  auto workspace_bytes = sync_batch_norm_workspace_size(context, params);
  if (!workspace_bytes) return workspace_bytes.status();
  const std::vector<float> none;
  const bool half = p.dtype == DType::f16;
  VKNORM_TRY_BUFFER(xb, upload_tensor(context, p, x))
  VKNORM_TRY_BUFFER(dyb, upload_tensor(context, p, dy))
  VKNORM_TRY_BUFFER(dxb, make_buffer(context, g.elements, half))
  VKNORM_TRY_BUFFER(wb, upload_floats(context, p.has_weight ? weight : none, C))
  VKNORM_TRY_BUFFER(meanb, upload_floats(context, save_mean, C))
  VKNORM_TRY_BUFFER(statb, upload_floats(context, save_invstd, C))
  VKNORM_TRY_BUFFER(dwb, make_buffer(context, C, false))
  VKNORM_TRY_BUFFER(dbb, make_buffer(context, C, false))
  VKNORM_TRY_BUFFER(wsb, make_buffer(context, workspace_bytes.value() / 4, false))
  VKNORM_TRY_BUFFER(yb, p.epilogue.relu ? upload_tensor(context, p, y) : make_buffer(context, 1, false))
  VKNORM_TRY_BUFFER(drb, make_buffer(context, g.elements, half))
  const NormBackwardBuffers buffers{ref(*xb), ref(*dyb), ref(*dxb), ref(*wb),  ref(*meanb), ref(*statb), {},
                                    {},        ref(*dwb), ref(*dbb), ref(*wsb), ref(*yb),    ref(*drb)};
  {
    auto recorder = context.begin_commands();
    if (!recorder) return recorder.status();
    VKNORM_TRY(record_sync_batch_norm_grad_sums(*recorder.value(), params, buffers));
    VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  }
  std::vector<float> local(C * 2);
  VKNORM_TRY(compact_sync_batch_norm_grad_sums(
      params, layout.value(), static_cast<const uint8_t*>(wsb->data()) + layout->download_offset, local.data()));
  std::vector<float> global = local;
  exchanged = true;
  VKNORM_TRY(all_reduce_sum(comm, global.data(), global.size()));
  const std::vector<float> upload = sync_batch_norm_grad_upload(local, global);
  std::memcpy(static_cast<uint8_t*>(wsb->data()) + layout->upload_offset, upload.data(), layout->upload_bytes);
  {
    auto recorder = context.begin_commands();
    if (!recorder) return recorder.status();
    VKNORM_TRY(record_sync_batch_norm_grad_input(*recorder.value(), params, buffers, merged_count));
    VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  }
  NormBackwardResult out;
  out.dx = download_tensor(p, *dxb);
  if (p.has_weight) out.dweight = download_floats(*dwb, C);
  if (p.has_bias) out.dbias = download_floats(*dbb, C);
  if (p.epilogue.residual) out.dresidual = download_tensor(p, *drb);
  return out;
}

}  // namespace

#undef VKNORM_TRY_BUFFER

Result<NormBackwardResult> sync_batch_norm_backward(Context& context, Communicator& comm,
                                                    const BatchNormParams& params, const std::vector<float>& x,
                                                    const std::vector<float>& dy, const std::vector<float>& weight,
                                                    const std::vector<float>& save_mean,
                                                    const std::vector<float>& save_invstd, uint64_t merged_count,
                                                    const std::vector<float>& y) {
  bool exchanged = false;
  auto result = sync_backward(context, comm, params, x, dy, weight, save_mean, save_invstd, merged_count, y, exchanged);
  if (!exchanged) {
    std::vector<float> gathered;
    (void)gather(comm, {}, gathered);  // let the other ranks fail too
  }
  return result;
}

Result<NormForwardResult> sync_batch_norm_forward(Context& context, Communicator& comm, const BatchNormParams& params,
                                                  const std::vector<float>& x, const std::vector<float>& weight,
                                                  const std::vector<float>& bias, std::vector<float>& running_mean,
                                                  std::vector<float>& running_var, const std::vector<float>& residual) {
  bool exchanged = false;
  auto result = sync_forward(context, comm, params, x, weight, bias, running_mean, running_var, residual, exchanged);
  if (!exchanged) {
    std::vector<float> gathered;
    (void)gather(comm, {}, gathered);  // let the other ranks fail too
  }
  return result;
}

}  // namespace vknorm
