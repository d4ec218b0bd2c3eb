// Package test: an MpiCommunicator over MPI_COMM_WORLD in a singleton MPI process (run
// without mpirun): rank 0 of 1, and an all_gather that returns its own bytes.
#include <mpi.h>

#include <cstdio>
#include <cstring>

#include <vknorm/mpi_communicator.hpp>

int consumer_mpi_rank(vknorm::Communicator& comm);  // header_only.cpp

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int failed = 0;
  {
    auto comm = vknorm::MpiCommunicator::create(MPI_COMM_WORLD);
    if (!comm) {
      std::fprintf(stderr, "create: %s\n", comm.status().message().c_str());
      failed = 1;
    } else {
      const char send[] = "vknorm";
      char out[sizeof send] = {};
      vknorm::Status gathered = comm.value()->all_gather(send, sizeof send, out);
      if (!gathered) std::fprintf(stderr, "all_gather: %s\n", gathered.message().c_str());
      failed = !gathered || std::memcmp(send, out, sizeof send) != 0 || comm.value()->size() != 1 ||
               consumer_mpi_rank(*comm.value()) != 0;
    }
  }
  MPI_Finalize();
  if (failed) return 1;
  std::printf("OK\n");
  return 0;
}
