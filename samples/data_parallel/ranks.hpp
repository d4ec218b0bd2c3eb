// What the ranks of samples/data_parallel share besides SyncBatchNorm: DDP's gradient
// average, the batch split and the printing in rank order, all over a vknorm::Communicator.
#pragma once

#include <cstdarg>
#include <string>
#include <vector>

#include "model.hpp"
#include "vknorm/communicator.hpp"

namespace dp {

// Rank `rank`'s shard of a global batch: samples [rank * n / world, (rank + 1) * n / world).
cnn::Batch shard(const cnn::Batch& global, int rank, int world);

// DDP's all-reduce: every non-empty gradient summed over the ranks (rank order, the same
// bits everywhere) and divided by the world size. Each rank's loss is the mean over its
// shard, so its gradients are world_size times its share of the whole batch's mean loss;
// the average is the whole batch's gradient. That holds for BatchNorm's weight and bias
// under SyncBatchNorm too (each rank's dweight / dbias is its contribution, computed from a
// dy that is world_size times the whole batch's).
vknorm::Status average_gradients(vknorm::Communicator& comm, cnn::Grads& g);

// The same float (a loss) averaged over the ranks.
double average(vknorm::Communicator& comm, double value);

// Every rank's copy of `values`, rank 0's first.
std::vector<float> gather(vknorm::Communicator& comm, const std::vector<float>& values);

// Lines each rank writes; flush() (collective) prints every rank's, in rank order, on rank 0.
class Printer {
 public:
  explicit Printer(vknorm::Communicator& comm) : comm_(comm) {}
  [[gnu::format(printf, 2, 3)]] void line(const char* format, ...);
  // Prefixed with "[rank r] ".
  [[gnu::format(printf, 2, 3)]] void rank_line(const char* format, ...);
  void flush();

 private:
  void append(const char* format, va_list args);
  vknorm::Communicator& comm_;
  std::string text_;
};

}  // namespace dp
