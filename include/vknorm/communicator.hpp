// How the ranks of a data-parallel job exchange what SyncBatchNorm needs: the per-channel
// statistics records of the forward and the gradient sums of the backward.
//
// Every rank calls the same collectives in the same order. vknorm only ever gathers: each
// rank then combines the gathered contributions itself, in rank order, so every rank holds
// bitwise-identical results whatever the transport (no reduction order left to the
// transport, no float atomics).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "vknorm/status.hpp"

namespace vknorm {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // 0 .. size() - 1
  virtual int size() const = 0;  // the world size, at least 1
  // Every rank sends `bytes` bytes (the same count on every rank); `out` receives
  // size() * bytes bytes: rank 0's, then rank 1's, ... Blocks until every rank has sent.
  virtual Status all_gather(const void* send, size_t bytes, void* out) = 0;
};

// The sum over ranks of `count` floats, added in rank order in double and rounded once:
// every rank gets the same bits. Built on all_gather.
Status all_reduce_sum(Communicator& comm, float* data, size_t count);

// In-process ranks, for several Contexts (several VkDevices) driven from threads: the
// communicators of one world, one per rank; rank i's must be used by one thread at a
// time. They share state and must all outlive their use. size < 1 gives none.
std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int size);

}  // namespace vknorm
