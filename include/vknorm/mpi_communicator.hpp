// The MPI transport for vknorm::Communicator (target vknorm::mpi, built when Open MPI is
// found; the core library never links MPI).
//
// This header does not include <mpi.h>: Open MPI's MPI_Comm is `ompi_communicator_t*`, so
// vknorm::MpiComm names that type and a caller passes its MPI_Comm (MPI_COMM_WORLD or its
// own) as it is. A consumer therefore needs no MPI include path to use this header, only
// to include <mpi.h> itself; the target links MPI for it.
#pragma once

#include <memory>

#include "vknorm/communicator.hpp"

struct ompi_communicator_t;

namespace vknorm {

using MpiComm = ::ompi_communicator_t*;  // Open MPI's MPI_Comm

class MpiCommunicator final : public Communicator {
 public:
  // A communicator over a duplicate of `comm` (MPI_Comm_dup): vknorm's collectives then
  // never match the caller's own messages, and MPI errors on it come back as Status instead
  // of aborting (MPI_ERRORS_RETURN on the duplicate only). Collective: every rank of `comm`
  // calls it. MPI must already be initialized; vknorm never calls MPI_Init or MPI_Finalize.
  static Result<std::unique_ptr<MpiCommunicator>> create(MpiComm comm);
  // The same over MPI_COMM_WORLD.
  static Result<std::unique_ptr<MpiCommunicator>> create();
  // Frees the duplicate (destroy it on every rank before MPI_Finalize; after it, nothing
  // is freed).
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override;
  int size() const override;
  // MPI_Allgather of `bytes` MPI_BYTEs, after one MPI_Allgather of every rank's count: a
  // rank whose count differs, or which refused its arguments (null buffers, a count above
  // INT_MAX, MPI's count type), makes the call fail on every rank, naming that rank.
  Status all_gather(const void* send, size_t bytes, void* out) override;

 private:
  struct State;
  explicit MpiCommunicator(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace vknorm
