// SyncBatchNorm (torch.nn.SyncBatchNorm): BatchNorm in training mode over a batch split
// across devices or processes (ranks). Each rank holds its own shard of the batch, an
// (N_r, C, *) tensor with the same C and * on every rank (N_r may differ, also be 0); the
// statistics are those of the whole batch, and every rank ends with bitwise-identical
// save_mean, save_invstd and running statistics (given the same driver on every rank:
// the finalize runs on each device from identical bytes).
//
// The forward, as an engine records it on each rank (every rank in the same order):
//  1. record_sync_batch_norm_statistics: this shard's partial statistics into the
//     workspace (the split plan's stats_partial).
//  2. Barrier: compute shader write -> transfer read (or host read, after the submit's
//     fence for a host-visible workspace). Download `download_bytes` bytes at
//     `download_offset` of the workspace (SyncBatchNormExchange).
//  3. compact_sync_batch_norm_statistics: those bytes -> `send_bytes` bytes, one record
//     per channel. all_gather them (Communicator, MPI_Allgather, NCCL...): every rank gets
//     world_size * send_bytes bytes, in rank order.
//  4. merge_sync_batch_norm_statistics: the gathered records -> `upload_bytes` bytes, the
//     same bits on every rank (Chan's merge in rank order, in double).
//  5. Upload them at `upload_offset` of the workspace (which may overlap what step 2
//     downloaded), then barrier: transfer write (or host write) -> compute shader read.
//  6. record_sync_batch_norm_apply with the merged count: stats_finalize (save_mean,
//     save_invstd and the running statistics, with the global count: the unbiased
//     variance divides by count - 1) and normalize (y, with the epilogue).
// A shard of N_r = 0 records nothing in step 1 and sends an empty record; in step 6 it
// still writes the statistics and updates its running statistics like every other rank.
// params.momentum is the factor for this call, as for BatchNorm: BatchNormState counts
// num_batches_tracked on each rank and gives the same factor everywhere.
//
// Bytes on the wire: 4 floats per channel and rank (count, mean and M2 relative to the
// shard's pivot, the pivot), a little more than the 3 of a (count, mean, M2) record: the
// pivot keeps the statistics exact when |mean| >> std.
#pragma once

#include <cstdint>
#include <vector>

#include "vknorm/batchnorm.hpp"
#include "vknorm/communicator.hpp"

namespace vknorm {

// Byte ranges inside the workspace of one rank's forward (they depend on the device).
struct SyncBatchNormExchange {
  uint64_t download_offset = 0, download_bytes = 0;  // after step 1: the shard's partials
  uint64_t send_bytes = 0;                           // per rank, through all_gather: 16 * C
  uint64_t upload_offset = 0, upload_bytes = 0;      // before step 6: the merged records
  uint32_t chunks = 0;  // partial records per channel in the downloaded range (0: empty shard)
};

// params: this rank's shard (shape[0] = N_r), training = true; the one-value-per-channel
// check applies to the merged batch (merge_sync_batch_norm_statistics), not the shard.
Result<SyncBatchNormExchange> sync_batch_norm_exchange_layout(const Context& context, const BatchNormParams& params);

// Bytes of workspace the sync forward (and backward) of this shard needs on this context:
// not a bound for the plain BatchNorm calls of the same shape (on a CPU device a plain
// training forward may read small planes as columns, a record per column).
Result<uint64_t> sync_batch_norm_workspace_size(const Context& context, const BatchNormParams& params);

// Step 1. Binds x and the workspace; the other buffers are checked in step 6.
Status record_sync_batch_norm_statistics(CommandRecorder& recorder, const BatchNormParams& params,
                                         const BatchNormForwardBuffers& buffers);

// Step 3, on the host: `downloaded` holds layout.download_bytes bytes; `send` receives
// layout.send_bytes bytes (C records of { count as uint32 bits, mean - pivot, M2, pivot },
// float32; the shard's chunks merged in order, in double).
Status compact_sync_batch_norm_statistics(const BatchNormParams& params, const SyncBatchNormExchange& layout,
                                          const void* downloaded, void* send);

// The merged batch: what step 4 gives step 5 and 6.
struct SyncBatchNormMerged {
  std::vector<float> upload;  // layout.upload_bytes / 4 floats: C records (count bits, mean - pivot, M2), then C pivots
  uint64_t count = 0;         // elements per channel in the whole batch (all shards)
};

// Step 4: `gathered` holds world_size records of send_bytes bytes, rank 0's first. Each
// channel merges the ranks in rank order, rebased to the pivot of its first non-empty
// rank, in double, and rounds once. Refuses a merged batch with one value per channel
// (PyTorch's "Expected more than 1 value per channel when training").
Result<SyncBatchNormMerged> merge_sync_batch_norm_statistics(const BatchNormParams& params, const void* gathered,
                                                             int world_size);

// Step 6. merged_count: SyncBatchNormMerged::count.
Status record_sync_batch_norm_apply(CommandRecorder& recorder, const BatchNormParams& params,
                                    const BatchNormForwardBuffers& buffers, uint64_t merged_count);

// One rank's whole forward, standalone (steps 1 to 6 with the context's own submits and
// `comm`'s all_gather): each rank's thread or process calls it with its shard. Host
// vectors as batch_norm_forward's (float32, logical order); running_mean / running_var
// are updated in place when tracked. The result's save_mean / save_invstd are the whole
// batch's.
Result<reference::BatchNormForwardResult> sync_batch_norm_forward(
    Context& context, Communicator& comm, const BatchNormParams& params, const std::vector<float>& x,
    const std::vector<float>& weight, const std::vector<float>& bias, std::vector<float>& running_mean,
    std::vector<float>& running_var, const std::vector<float>& residual = {});

// ---- Backward ----
// Through the forward's batch statistics (save_mean / save_invstd: the whole batch's),
// on each rank, in the same order:
//  1. record_sync_batch_norm_grad_sums: this shard's per-channel sums of dy and dy * xhat
//     into the workspace (grad_partial).
//  2. Barrier: compute shader write -> transfer (or host) read. Download download_bytes
//     at download_offset (SyncBatchNormGradExchange).
//  3. compact_sync_batch_norm_grad_sums: -> `local`, 2 * C floats (per channel sum dy,
//     sum dy * xhat; this shard's dbias and dweight). Copy them to `global` and
//     all-reduce-sum `global` over the ranks (all_reduce_sum: rank order, the same bits
//     everywhere).
//  4. sync_batch_norm_grad_upload(local, global): upload_bytes bytes; upload them at
//     upload_offset, then barrier: transfer (or host) write -> compute shader read.
//  5. record_sync_batch_norm_grad_input with the merged count (the forward's
//     SyncBatchNormMerged::count): the coefficients from the whole batch's sums and count,
//     dx (and dresidual) of this shard, and dweight / dbias = this shard's contribution
//     (PyTorch's SyncBatchNorm: their sum over the ranks is the whole batch's gradient).
// 2 * C floats per rank on the wire.
struct SyncBatchNormGradExchange {
  uint64_t download_offset = 0, download_bytes = 0;
  uint64_t upload_offset = 0, upload_bytes = 0;
  uint32_t chunks = 0;  // sum records per channel in the downloaded range
};

Result<SyncBatchNormGradExchange> sync_batch_norm_grad_exchange_layout(const Context& context,
                                                                       const BatchNormParams& params);
Status record_sync_batch_norm_grad_sums(CommandRecorder& recorder, const BatchNormParams& params,
                                        const BatchNormBackwardBuffers& buffers);
// `downloaded`: layout.download_bytes bytes; `local` receives 2 * C floats, chunks added in
// order in double, rounded once.
Status compact_sync_batch_norm_grad_sums(const BatchNormParams& params, const SyncBatchNormGradExchange& layout,
                                         const void* downloaded, float* local);
// The bytes to upload (upload_bytes / 4 floats) from this rank's sums and the all-reduced ones.
std::vector<float> sync_batch_norm_grad_upload(const std::vector<float>& local, const std::vector<float>& global);
Status record_sync_batch_norm_grad_input(CommandRecorder& recorder, const BatchNormParams& params,
                                         const BatchNormBackwardBuffers& buffers, uint64_t merged_count);

// One rank's whole backward, standalone, as batch_norm_backward's (save_mean /
// save_invstd: sync_batch_norm_forward's); merged_count: the whole batch's values per
// channel (the sum over ranks of N_r * spatial). dweight / dbias: this rank's part.
Result<reference::BatchNormBackwardResult> sync_batch_norm_backward(
    Context& context, Communicator& comm, const BatchNormParams& params, const std::vector<float>& x,
    const std::vector<float>& dy, const std::vector<float>& weight, const std::vector<float>& save_mean,
    const std::vector<float>& save_invstd, uint64_t merged_count, const std::vector<float>& y = {});

}  // namespace vknorm
