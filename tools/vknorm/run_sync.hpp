// `vknorm run --op batchnorm --sync-shards 3,0,5`: SyncBatchNorm over shards of the batch,
// giving what the plain run gives on the whole batch.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vknorm/batchnorm.hpp"
#include "vknorm/communicator.hpp"
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
  bool writer = true;  // false on MPI ranks other than 0: they write nothing
};

// --comm threads: one standalone context and one thread per shard, through
// make_thread_communicators. Fails when the shards' statistics or running statistics
// differ in any bit.
Result<SyncRunResult> run_sync_batch_norm_threads(const SyncRunInputs& in);

// --comm mpi (built with vknorm::mpi only): rank r of MPI_COMM_WORLD runs shard r; the
// world size must equal the number of shards. Initializes and finalizes MPI. Rank 0 gets
// the whole batch's results; the others get writer = false.
Result<SyncRunResult> run_sync_batch_norm_mpi(const SyncRunInputs& in);

namespace detail {
// One shard's inputs and results.
struct Rank {
  std::unique_ptr<Context> context;
  BatchNormParams params;  // shape[0]: this shard's
  std::vector<float> x, dy, running_mean, running_var;
  NormForwardResult forward;
  NormBackwardResult backward;
  std::string error;
};
// Rank r's context (in.context_options), params and slices of the batch; checks its
// arguments (before any exchange: a rank refusing them would leave the others waiting).
Status prepare_rank(const SyncRunInputs& in, int r, Rank& rank);
// The forward, then with in.dy the backward, through `comm`; failures in rank.error.
void run_rank(Rank& rank, Communicator& comm, const SyncRunInputs& in);
// Every shard's statistics bit-identical, or a failure; then the whole batch's results.
Result<SyncRunResult> assemble(const std::vector<Rank>& ranks, bool backward);
}  // namespace detail

}  // namespace vknorm::cli
