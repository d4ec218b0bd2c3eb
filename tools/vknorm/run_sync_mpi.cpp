// `vknorm run --sync-shards ... --comm mpi`: rank r of MPI_COMM_WORLD runs shard r through
// vknorm::MpiCommunicator; rank 0 gathers every shard's results and puts them together as
// the threads do. Built only with vknorm::mpi (VKNORM_CLI_MPI).
#include <mpi.h>

#include "run_sync.hpp"
#include "vknorm/mpi_communicator.hpp"

namespace vknorm::cli {
namespace {

// MPI_Init unless already initialized; MPI_Finalize at the end of the scope if it did.
struct MpiSession {
  bool owned = false;
  MpiSession() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) owned = MPI_Init(nullptr, nullptr) == MPI_SUCCESS;
  }
  ~MpiSession() {
    if (owned) MPI_Finalize();
  }
};

// Whether every rank succeeded (a collective: each rank learns of the others' failures, so
// none waits in a gather another has left).
bool all_ok(bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

// This rank's results, one after another; their lengths in `sizes`.
std::vector<float> pack(const detail::Rank& rank, std::vector<int>& sizes) {
  std::vector<float> out;
  sizes.clear();
  for (const std::vector<float>* v : {&rank.forward.y, &rank.forward.save_mean, &rank.forward.save_invstd,
                                      &rank.running_mean, &rank.running_var, &rank.backward.dx,
                                      &rank.backward.dweight, &rank.backward.dbias}) {
    sizes.push_back(static_cast<int>(v->size()));
    out.insert(out.end(), v->begin(), v->end());
  }
  return out;
}

void unpack(const float* data, const int* sizes, detail::Rank& rank) {
  for (std::vector<float>* v : {&rank.forward.y, &rank.forward.save_mean, &rank.forward.save_invstd,
                                &rank.running_mean, &rank.running_var, &rank.backward.dx, &rank.backward.dweight,
                                &rank.backward.dbias}) {
    v->assign(data, data + *sizes);
    data += *sizes++;
  }
}

}  // namespace

Result<SyncRunResult> run_sync_batch_norm_mpi(const SyncRunInputs& in) {
  MpiSession session;
  if (!session.owned) return Status::invalid_argument("--comm mpi: MPI_Init failed");
  int rank_index = 0, world = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_index);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  const int shards = static_cast<int>(in.shards.size());
  if (world != shards)
    return Status::invalid_argument("--comm mpi: the world size is " + std::to_string(world) +
                                    ", expected one rank per --sync-shards shard: " + std::to_string(shards) +
                                    " (mpirun -np " + std::to_string(shards) + ")");
  detail::Rank rank;
  Status prepared = detail::prepare_rank(in, rank_index, rank);
  if (!all_ok(prepared.ok()))
    return prepared.ok() ? Status::invalid_argument("--comm mpi: another rank failed") : prepared;
  {
    auto comm = MpiCommunicator::create();
    if (!comm) return comm.status();  // collective: every rank gets the same outcome
    detail::run_rank(rank, **comm, in);
  }
  if (!all_ok(rank.error.empty()))
    return Status::invalid_argument(rank.error.empty() ? "--comm mpi: another rank failed" : "shard " +
                                    std::to_string(rank_index) + ": " + rank.error);

  std::vector<int> sizes;
  const std::vector<float> mine = pack(rank, sizes);
  const int fields = static_cast<int>(sizes.size());
  std::vector<int> all_sizes(static_cast<size_t>(fields) * world), counts(world), offsets(world);
  MPI_Gather(sizes.data(), fields, MPI_INT, all_sizes.data(), fields, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < world; ++r) {
    counts[r] = 0;
    for (int f = 0; f < fields; ++f) counts[r] += all_sizes[r * fields + f];
    offsets[r] = total;
    total += counts[r];
  }
  std::vector<float> gathered(rank_index == 0 ? total : 0);
  MPI_Gatherv(mine.data(), static_cast<int>(mine.size()), MPI_FLOAT, gathered.data(), counts.data(), offsets.data(),
              MPI_FLOAT, 0, MPI_COMM_WORLD);
  if (rank_index != 0) {
    SyncRunResult out;
    out.writer = false;
    return out;
  }
  std::vector<detail::Rank> ranks(world);
  for (int r = 0; r < world; ++r) unpack(gathered.data() + offsets[r], all_sizes.data() + r * fields, ranks[r]);
  return detail::assemble(ranks, in.dy != nullptr);
}

}  // namespace vknorm::cli
