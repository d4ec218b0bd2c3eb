#include "vknorm/communicator.hpp"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>

namespace vknorm {

Status all_reduce_sum(Communicator& comm, float* data, size_t count) {
  if (count == 0) return {};
  if (!data) return Status::invalid_argument("data: expected " + std::to_string(count) + " floats, got null");
  const size_t ranks = static_cast<size_t>(comm.size());
  std::vector<float> gathered(ranks * count);
  VKNORM_TRY(comm.all_gather(data, count * sizeof(float), gathered.data()));
  for (size_t i = 0; i < count; ++i) {
    double sum = 0.0;
    for (size_t r = 0; r < ranks; ++r) sum += gathered[r * count + i];
    data[i] = static_cast<float>(sum);
  }
  return {};
}

namespace {

// One world of in-process ranks: a generation-counted rendezvous. Each all_gather copies
// its contribution in, waits until every rank has, copies the whole out, and the last
// rank to leave opens the next round.
struct ThreadWorld {
  explicit ThreadWorld(int n) : size(n) {}
  const int size;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<unsigned char> buffer;
  size_t bytes = 0;
  int arrived = 0, left = 0;
  uint64_t round = 0;
  bool mismatch = false;

  Status all_gather(int rank, const void* send, size_t send_bytes, void* out) {
    std::unique_lock<std::mutex> lock(mutex);
    // Wait for the previous round to be fully read before writing into the buffer.
    changed.wait(lock, [&] { return left == 0; });
    const uint64_t my_round = round;
    if (arrived == 0) {
      bytes = send_bytes;
      buffer.assign(static_cast<size_t>(size) * bytes, 0);
      mismatch = false;
    } else if (send_bytes != bytes) {
      mismatch = true;
    }
    if (send_bytes == bytes && bytes) std::memcpy(buffer.data() + static_cast<size_t>(rank) * bytes, send, bytes);
    if (++arrived == size) {
      left = size;
      changed.notify_all();
    } else {
      changed.wait(lock, [&] { return left > 0 && round == my_round; });
    }
    const bool failed = mismatch;
    const size_t round_bytes = bytes;
    if (!failed && bytes) std::memcpy(out, buffer.data(), buffer.size());
    if (--left == 0) {
      arrived = 0;
      ++round;
      changed.notify_all();
    }
    if (failed)
      return Status::invalid_argument("bytes: every rank must send the same count in one all_gather; this one "
                                      "started with " + std::to_string(round_bytes) + ", rank " +
                                      std::to_string(rank) + " sent " + std::to_string(send_bytes));
    return {};
  }
};

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<ThreadWorld> world, int rank) : world_(std::move(world)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return world_->size; }
  Status all_gather(const void* send, size_t bytes, void* out) override {
    if (bytes && (!send || !out)) return Status::invalid_argument("send, out: expected buffers, got null");
    return world_->all_gather(rank_, send, bytes, out);
  }

 private:
  std::shared_ptr<ThreadWorld> world_;
  int rank_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_thread_communicators(int size) {
  std::vector<std::unique_ptr<Communicator>> out;
  if (size < 1) return out;
  auto world = std::make_shared<ThreadWorld>(size);
  for (int r = 0; r < size; ++r) out.push_back(std::make_unique<ThreadCommunicator>(world, r));
  return out;
}

}  // namespace vknorm
