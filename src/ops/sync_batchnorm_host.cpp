// SyncBatchNorm standalone, one rank's forward and backward: uploads, the phases with the
// context's own submits, the exchange through the Communicator, downloads.
#include <cstring>

#include "ops/norm_host.hpp"
#include "ops/norm_lengths.hpp"
#include "ops/sync_batchnorm_plan.hpp"

namespace vknorm {

using namespace sync_detail;

namespace {

// The exchange, always entered once by every rank: a rank that failed before it sends
// nothing, which makes the gather refuse on every rank (a count mismatch), instead of
// leaving the others waiting.
Status gather(Communicator& comm, const std::vector<float>& send, std::vector<float>& gathered) {
  gathered.assign(send.size() * static_cast<size_t>(comm.size()), 0.0f);
  return comm.all_gather(send.data(), send.size() * 4, gathered.data());
}

// Runs one rank's phases, `run(exchanged)`; if it failed before reaching the exchange,
// enters it with nothing so that the other ranks fail too rather than wait.
template <class Run>
auto entering_the_exchange(Communicator& comm, Run run) {
  bool exchanged = false;
  auto result = run(exchanged);
  if (!exchanged) {
    std::vector<float> gathered;
    (void)gather(comm, {}, gathered);
  }
  return result;
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
  auto device = upload_forward(context, p, x, weight, bias, running_mean, running_var, residual,
                               workspace_bytes.value());
  if (!device) return device.status();
  const NormForwardBuffers buffers = device->refs();
  void* workspace = device->workspace.data();
  {
    auto recorder = context.begin_commands();
    if (!recorder) return recorder.status();
    VKNORM_TRY(record_sync_batch_norm_statistics(*recorder.value(), params, buffers));
    VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  }
  // The workspace is host-visible and the submit waited: the host reads it directly.
  std::vector<float> send(layout->send_bytes / 4), gathered;
  VKNORM_TRY(compact_sync_batch_norm_statistics(
      params, layout.value(), static_cast<const uint8_t*>(workspace) + layout->download_offset, send.data()));
  exchanged = true;
  VKNORM_TRY(gather(comm, send, gathered));
  auto merged = merge_sync_batch_norm_statistics(params, gathered.data(), comm.size());
  if (!merged) return merged.status();
  std::memcpy(static_cast<uint8_t*>(workspace) + layout->upload_offset, merged->upload.data(), layout->upload_bytes);
  {
    auto recorder = context.begin_commands();
    if (!recorder) return recorder.status();
    VKNORM_TRY(record_sync_batch_norm_apply(*recorder.value(), params, buffers, merged->count));
    VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  }
  return download_forward(p, device.value(), running_mean, running_var);
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
  auto device = upload_backward(context, p, x, dy, weight, save_mean, save_invstd, y, workspace_bytes.value());
  if (!device) return device.status();
  const NormBackwardBuffers buffers = device->refs(p);
  void* workspace = device->workspace.data();
  {
    auto recorder = context.begin_commands();
    if (!recorder) return recorder.status();
    VKNORM_TRY(record_sync_batch_norm_grad_sums(*recorder.value(), params, buffers));
    VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  }
  std::vector<float> local(C * 2);
  VKNORM_TRY(compact_sync_batch_norm_grad_sums(
      params, layout.value(), static_cast<const uint8_t*>(workspace) + layout->download_offset, local.data()));
  std::vector<float> global = local;
  exchanged = true;
  VKNORM_TRY(all_reduce_sum(comm, global.data(), global.size()));
  const std::vector<float> upload = sync_batch_norm_grad_upload(local, global);
  std::memcpy(static_cast<uint8_t*>(workspace) + layout->upload_offset, upload.data(), layout->upload_bytes);
  {
    auto recorder = context.begin_commands();
    if (!recorder) return recorder.status();
    VKNORM_TRY(record_sync_batch_norm_grad_input(*recorder.value(), params, buffers, merged_count));
    VKNORM_TRY(context.submit_and_wait(*recorder.value()));
  }
  return download_backward(p, device.value());
}

}  // namespace

Result<NormBackwardResult> sync_batch_norm_backward(Context& context, Communicator& comm,
                                                    const BatchNormParams& params, const std::vector<float>& x,
                                                    const std::vector<float>& dy, const std::vector<float>& weight,
                                                    const std::vector<float>& save_mean,
                                                    const std::vector<float>& save_invstd, uint64_t merged_count,
                                                    const std::vector<float>& y) {
  return entering_the_exchange(comm, [&](bool& exchanged) {
    return sync_backward(context, comm, params, x, dy, weight, save_mean, save_invstd, merged_count, y, exchanged);
  });
}

Result<NormForwardResult> sync_batch_norm_forward(Context& context, Communicator& comm, const BatchNormParams& params,
                                                  const std::vector<float>& x, const std::vector<float>& weight,
                                                  const std::vector<float>& bias, std::vector<float>& running_mean,
                                                  std::vector<float>& running_var, const std::vector<float>& residual) {
  return entering_the_exchange(comm, [&](bool& exchanged) {
    return sync_forward(context, comm, params, x, weight, bias, running_mean, running_var, residual, exchanged);
  });
}

}  // namespace vknorm

