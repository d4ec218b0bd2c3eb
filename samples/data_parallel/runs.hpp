// One rank's part of samples/data_parallel: the six runs and their checks.
#pragma once

#include "vknorm/communicator.hpp"

namespace dp {

struct RunOptions {
  int steps = 40;  // training steps of runs 1 and 2
  int batch = 16;  // global batch, split evenly over the ranks
};

// Collective: every rank calls it with its communicator. Rank 0 prints. Returns true when
// every check passed on every rank (the same answer everywhere).
bool run_rank(vknorm::Communicator& comm, const RunOptions& options);

}  // namespace dp
