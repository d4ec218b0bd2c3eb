// The in-process communicator: all_gather in rank order over many rounds from threads,
// all_reduce_sum identical on every rank, and a count mismatch refused on every rank.
#include <doctest/doctest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "vknorm/communicator.hpp"

using namespace vknorm;

namespace {

// Runs body(rank, comm) on one thread per rank.
template <class Body>
void run_ranks(std::vector<std::unique_ptr<Communicator>>& comms, Body body) {
  std::vector<std::thread> threads;
  for (auto& c : comms) threads.emplace_back([&body, &c] { body(c->rank(), *c); });
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("Thread communicators: all_gather in rank order, round after round") {
  for (int size : {1, 2, 3, 5}) {
    CAPTURE(size);
    auto comms = make_thread_communicators(size);
    REQUIRE(comms.size() == static_cast<size_t>(size));
    std::vector<int> failures(size, 0);
    run_ranks(comms, [&](int rank, Communicator& comm) {
      CHECK(comm.size() == size);
      for (int round = 0; round < 200; ++round) {
        const int words = 1 + round % 4;  // the count changes between rounds, never within one
        std::vector<int> send(words), got(static_cast<size_t>(words) * size, -1);
        for (int w = 0; w < words; ++w) send[w] = rank * 1000 + round * 10 + w;
        if (!comm.all_gather(send.data(), send.size() * sizeof(int), got.data()).ok()) ++failures[rank];
        for (int r = 0; r < size; ++r)
          for (int w = 0; w < words; ++w)
            if (got[static_cast<size_t>(r) * words + w] != r * 1000 + round * 10 + w) ++failures[rank];
      }
    });
    for (int r = 0; r < size; ++r) CHECK_MESSAGE(failures[r] == 0, "rank " << r);
  }
  CHECK(make_thread_communicators(0).empty());
}

TEST_CASE("all_reduce_sum: the same bits on every rank, summed in rank order in double") {
  auto comms = make_thread_communicators(3);
  const float values[3][2] = {{1e8f, 0.1f}, {1.0f, 0.2f}, {-1e8f, 0.3f}};
  std::vector<std::vector<float>> out(3);
  run_ranks(comms, [&](int rank, Communicator& comm) {
    std::vector<float> v(values[rank], values[rank] + 2);
    CHECK(all_reduce_sum(comm, v.data(), v.size()).ok());
    out[rank] = v;
  });
  // In float, 1e8 + 1 - 1e8 is 0; in double and rounded once it is 1.
  CHECK(out[0][0] == 1.0f);
  CHECK(out[0][1] == static_cast<float>(static_cast<double>(0.1f) + static_cast<double>(0.2f) + static_cast<double>(0.3f)));
  for (int r = 1; r < 3; ++r) {
    CHECK(std::memcmp(out[r].data(), out[0].data(), 2 * sizeof(float)) == 0);
  }
}

TEST_CASE("all_gather refuses different counts on every rank, naming bytes") {
  auto comms = make_thread_communicators(2);
  std::vector<Status> results(2);
  run_ranks(comms, [&](int rank, Communicator& comm) {
    std::vector<char> send(rank == 0 ? 4 : 8, 1), out(16);
    results[rank] = comm.all_gather(send.data(), send.size(), out.data());
  });
  for (const Status& s : results) {
    CHECK(s.code() == StatusCode::invalid_argument);
    CHECK(s.message().find("bytes: every rank must send the same count") == 0);
  }
  // The world is usable again afterwards.
  run_ranks(comms, [&](int rank, Communicator& comm) {
    int send = rank + 7, out[2] = {0, 0};
    CHECK(comm.all_gather(&send, sizeof send, out).ok());
    CHECK(out[0] == 7);
    CHECK(out[1] == 8);
  });
}
