// vknorm::MpiCommunicator under mpirun (no doctest: every rank checks, prints its failures,
// and exits non-zero on any; rank 0 prints OK when all ranks passed).
//   mpirun -np N mpi_communicator_test [N]   (N: the world size expected)
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vknorm/mpi_communicator.hpp"

using namespace vknorm;

namespace {

int failures = 0;
int world_rank = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "rank %d: FAILED %s\n", world_rank, what.c_str());
}

void check_ok(const Status& status, const std::string& what) {
  check(status.ok(), what + ": " + status.message());
}

// The byte rank r sends at offset i in round k: different for every rank, round and offset.
unsigned char tag(int r, int k, size_t i) { return static_cast<unsigned char>(r * 89 + k * 31 + i * 7 + 1); }

// Rank-tagged gathers of varying sizes (0 .. about 70 KiB), round after round.
void gathers_in_rank_order(Communicator& comm) {
  const int n = comm.size();
  for (int k = 0; k < 40; ++k) {
    const size_t bytes = (static_cast<size_t>(k) * 1777) % 70001 + static_cast<size_t>(k % 3 == 0 ? 0 : 1);
    std::vector<unsigned char> send(bytes), out(bytes * n, 0xee);
    for (size_t i = 0; i < bytes; ++i) send[i] = tag(comm.rank(), k, i);
    check_ok(comm.all_gather(send.data(), bytes, out.data()), "all_gather round " + std::to_string(k));
    size_t wrong = 0;
    for (int r = 0; r < n; ++r)
      for (size_t i = 0; i < bytes; ++i) wrong += out[r * bytes + i] != tag(r, k, i);
    check(wrong == 0, "round " + std::to_string(k) + " (" + std::to_string(bytes) + " bytes): " +
                          std::to_string(wrong) + " gathered bytes not the sending rank's");
  }
}

// all_reduce_sum: values whose float sum depends on the order, so that any rank adding in
// another order would differ; each rank's result is gathered and compared bit for bit.
void reduce_gives_the_same_bits_everywhere(Communicator& comm) {
  const size_t count = 257;
  std::vector<float> data(count);
  for (size_t i = 0; i < count; ++i)
    data[i] = (comm.rank() % 2 ? 1e8f : -1e8f) + static_cast<float>(i) * 0.1f + static_cast<float>(comm.rank()) * 1e-3f;
  std::vector<float> expected(count);
  for (size_t i = 0; i < count; ++i) {
    double sum = 0.0;
    for (int r = 0; r < comm.size(); ++r)
      sum += static_cast<double>((r % 2 ? 1e8f : -1e8f) + static_cast<float>(i) * 0.1f + static_cast<float>(r) * 1e-3f);
    expected[i] = static_cast<float>(sum);
  }
  check_ok(all_reduce_sum(comm, data.data(), count), "all_reduce_sum");
  check(std::memcmp(data.data(), expected.data(), count * sizeof(float)) == 0,
        "all_reduce_sum: not the rank-order double sum");
  std::vector<float> everyone(count * comm.size());
  check_ok(comm.all_gather(data.data(), count * sizeof(float), everyone.data()), "all_gather of the sums");
  for (int r = 0; r < comm.size(); ++r)
    check(std::memcmp(everyone.data() + r * count, data.data(), count * sizeof(float)) == 0,
          "all_reduce_sum: rank " + std::to_string(r) + "'s bits differ from this rank's");
}

void zero_bytes_and_refusals(Communicator& comm) {
  check_ok(comm.all_gather(nullptr, 0, nullptr), "zero-byte all_gather");
  // Refused on every rank alike (the counts are exchanged first), so the ranks stay in step.
  unsigned char byte = 0;
  Status big = comm.all_gather(&byte, static_cast<size_t>(INT_MAX) + 1, &byte);
  check(!big.ok() && big.message().find("2147483647") != std::string::npos && big.message().find("bytes") == 0,
        "a count above INT_MAX refused naming bytes, got: " + big.message());
  Status null = comm.all_gather(nullptr, 4, &byte);
  check(!null.ok(), "a null send buffer refused");
  check_ok(comm.all_gather(&byte, 1, std::vector<unsigned char>(comm.size()).data()), "the ranks still in step");
  if (comm.size() > 1) {
    // Counts that differ between ranks (the last rank sends one byte more) fail on every
    // rank, naming the rank whose count differs; nothing is gathered.
    std::vector<unsigned char> send(5, 1), out(5 * comm.size());
    const size_t mine = comm.rank() == comm.size() - 1 ? 5 : 4;
    Status mismatch = comm.all_gather(send.data(), mine, out.data());
    check(!mismatch.ok() && mismatch.message().find("bytes: every rank must send the same count") == 0,
          "different counts refused on every rank, got: " + mismatch.message());
    check_ok(comm.all_gather(&byte, 1, std::vector<unsigned char>(comm.size()).data()), "in step after a mismatch");
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  int world_size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  const int expected_size = argc > 1 ? std::atoi(argv[1]) : world_size;
  {
    auto made = MpiCommunicator::create();
    check(made.ok(), "create() over MPI_COMM_WORLD");
    if (made.ok()) {
      Communicator& comm = *made.value();
      check(comm.rank() == world_rank, "rank() " + std::to_string(comm.rank()) + ", MPI says " + std::to_string(world_rank));
      check(comm.size() == expected_size, "size() " + std::to_string(comm.size()) + ", expected " + std::to_string(expected_size));
      gathers_in_rank_order(comm);
      reduce_gives_the_same_bits_everywhere(comm);
      zero_bytes_and_refusals(comm);
    }
    // A communicator of its own: the ranks split in reverse order, so rank() follows the key.
    MPI_Comm reversed = MPI_COMM_NULL;
    MPI_Comm_split(MPI_COMM_WORLD, 0, world_size - 1 - world_rank, &reversed);
    {  // destroyed before the communicator it duplicated is freed
      auto sub = MpiCommunicator::create(reversed);
      check(sub.ok(), "create(comm) over a split communicator");
      if (sub.ok()) {
        check(sub.value()->rank() == world_size - 1 - world_rank, "rank() over the reversed communicator");
        gathers_in_rank_order(*sub.value());
      }
    }
    MPI_Comm_free(&reversed);
    check(!MpiCommunicator::create(MPI_COMM_NULL).ok(), "MPI_COMM_NULL refused");
  }
  int all_failures = 0;
  MPI_Allreduce(&failures, &all_failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (world_rank == 0) {
    if (all_failures == 0) std::printf("OK: %d ranks, MpiCommunicator gathers, sums and refusals\n", world_size);
    else std::printf("FAILED: %d checks over %d ranks\n", all_failures, world_size);
  }
  MPI_Finalize();
  return all_failures == 0 ? 0 : 1;
}
