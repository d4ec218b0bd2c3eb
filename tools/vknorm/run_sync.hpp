// `vknorm run --op batchnorm --sync-shards 3,0,5`: SyncBatchNorm over shards of the batch,
// giving what the plain run gives on the whole batch.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vknorm/batchnorm.hpp"
#include "vknorm/context.hpp"

namespace vknorm::cli {

// The shard sizes of --sync-shards ("3,0,5"): non-negative integers that sum to `batch`.
Result<std::vector<int64_t>> parse_sync_shards(const std::string& text, int64_t batch);

// --comm: "threads" (the default), or "mpi" where it is built in.
Status check_sync_comm(const std::string& comm);

struct SyncRunInputs {
  BatchNormParams params;       // the whole batch; training (batch statistics)
  std::vector<int64_t> shards;  // sizes along N, summing to params.shape[0]
  const std::vector<float>* x = nullptr;  // the whole batch, logical order
  const std::vector<float>* weight = nullptr;
  const std::vector<float>* bias = nullptr;
  const std::vector<float>* running_mean = nullptr;  // empty when not tracked
  const std::vector<float>* running_var = nullptr;
  const std::vector<float>* dy = nullptr;  // null: forward only
  StandaloneOptions context_options;       // every shard's context (the same --device)
};

// The whole batch's results, as the plain run's forward and backward give them.
struct SyncRunResult {
  NormForwardResult forward;                   // y concatenated along N; the shared statistics
  std::optional<NormBackwardResult> backward;  // dx concatenated; dweight / dbias summed over shards
  std::vector<float> running_mean, running_var;
};

// --comm threads: one standalone context and one thread per shard, through
// make_thread_communicators. Fails when the shards' statistics or running statistics
// differ in any bit.
Result<SyncRunResult> run_sync_batch_norm_threads(const SyncRunInputs& in);

}  // namespace vknorm::cli
