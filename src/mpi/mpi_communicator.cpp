#include "vknorm/mpi_communicator.hpp"

#include <mpi.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>
#include <type_traits>

namespace vknorm {

// The header names MPI_Comm without <mpi.h>; this is where that is checked.
static_assert(std::is_same_v<MPI_Comm, MpiComm>, "vknorm::MpiComm must be this MPI's MPI_Comm (Open MPI)");

struct MpiCommunicator::State {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
};

namespace {

Status mpi_error(const char* call, int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return Status::internal(std::string(call) + " failed: " +
                          (length ? std::string(text, static_cast<size_t>(length)) : "MPI error " + std::to_string(code)));
}

}  // namespace

Result<std::unique_ptr<MpiCommunicator>> MpiCommunicator::create(MpiComm comm) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    return Status::invalid_argument("MPI: expected an initialized MPI (MPI_Init before, MPI_Finalize after), got " +
                                    std::string(finalized ? "a finalized one" : "none initialized"));
  if (comm == MPI_COMM_NULL) return Status::invalid_argument("comm: expected an MPI communicator, got MPI_COMM_NULL");
  auto state = std::make_unique<State>();
  // The duplicate is made under the caller's error handler (MPI_Comm_dup copies it); only
  // then is ours set to return errors.
  if (int rc = MPI_Comm_dup(comm, &state->comm); rc != MPI_SUCCESS) return mpi_error("MPI_Comm_dup", rc);
  std::unique_ptr<MpiCommunicator> out(new MpiCommunicator(std::move(state)));
  MPI_Comm mine = out->state_->comm;
  if (int rc = MPI_Comm_set_errhandler(mine, MPI_ERRORS_RETURN); rc != MPI_SUCCESS)
    return mpi_error("MPI_Comm_set_errhandler", rc);
  if (int rc = MPI_Comm_rank(mine, &out->state_->rank); rc != MPI_SUCCESS) return mpi_error("MPI_Comm_rank", rc);
  if (int rc = MPI_Comm_size(mine, &out->state_->size); rc != MPI_SUCCESS) return mpi_error("MPI_Comm_size", rc);
  return out;
}

Result<std::unique_ptr<MpiCommunicator>> MpiCommunicator::create() { return create(MPI_COMM_WORLD); }

MpiCommunicator::MpiCommunicator(std::unique_ptr<State> state) : state_(std::move(state)) {}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && state_->comm != MPI_COMM_NULL) MPI_Comm_free(&state_->comm);
}

int MpiCommunicator::rank() const { return state_->rank; }
int MpiCommunicator::size() const { return state_->size; }

Status MpiCommunicator::all_gather(const void* send, size_t bytes, void* out) {
  Status local;
  if (bytes > static_cast<size_t>(INT_MAX))
    local = Status::invalid_argument("bytes: expected at most " + std::to_string(INT_MAX) +
                                     " (MPI_Allgather's int count) per rank, got " + std::to_string(bytes));
  else if (bytes && (!send || !out))
    local = Status::invalid_argument("send, out: expected buffers, got null");
  // Every rank first shares its count: MPI_Allgather with counts that differ between ranks
  // is erroneous (it may hang or overrun), so a mismatch, or a rank that refused its own
  // arguments (it sends UINT64_MAX), fails on every rank instead.
  const int ranks = size();
  const uint64_t mine = local.ok() ? static_cast<uint64_t>(bytes) : UINT64_MAX;
  std::vector<uint64_t> counts(static_cast<size_t>(ranks));
  if (int rc = MPI_Allgather(&mine, 1, MPI_UINT64_T, counts.data(), 1, MPI_UINT64_T, state_->comm); rc != MPI_SUCCESS)
    return mpi_error("MPI_Allgather (counts)", rc);
  if (!local.ok()) return local;
  for (int r = 0; r < ranks; ++r)
    if (counts[static_cast<size_t>(r)] != bytes)
      return Status::invalid_argument(
          "bytes: every rank must send the same count in one all_gather; rank " + std::to_string(rank()) + " sends " +
          std::to_string(bytes) + ", rank " + std::to_string(r) +
          (counts[static_cast<size_t>(r)] == UINT64_MAX ? " refused its arguments"
                                                         : " sends " + std::to_string(counts[static_cast<size_t>(r)])));
  // A zero-byte gather is still a collective every rank takes part in: the ranks stay in
  // step. MPI wants buffers even then.
  unsigned char unused = 0;
  const void* send_buffer = bytes ? send : &unused;
  void* out_buffer = bytes ? out : &unused;
  const int count = static_cast<int>(bytes);
  if (int rc = MPI_Allgather(send_buffer, count, MPI_BYTE, out_buffer, count, MPI_BYTE, state_->comm); rc != MPI_SUCCESS)
    return mpi_error("MPI_Allgather", rc);
  return {};
}

}  // namespace vknorm
