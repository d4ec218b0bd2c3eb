// samples/data_parallel: the residual CNN block of samples/cnn_block trained data-parallel
// over 2 ranks (DistributedDataParallel's pattern: the same initial parameters, each rank
// its half of every global batch, gradients averaged), first with plain per-rank
// BatchNorm, then with SyncBatchNorm; then the fine-tuning patterns around BatchNorm:
// frozen BatchNorm, recalibration with momentum=None and a gradient-checkpointing recompute.
//   data_parallel [--comm threads|mpi] [--steps K] [--batch N]
// threads: two ranks in this process, each with its own VkDevice and thread. mpi: one rank
// per process, under `mpirun -np 2`.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "runs.hpp"
#include "vk_app.hpp"

#if DATA_PARALLEL_MPI
#include <mpi.h>

#include "vknorm/mpi_communicator.hpp"
#endif

namespace {

constexpr int kWorld = 2;
const char* kUsage = "usage: data_parallel [--comm threads|mpi] [--steps K] [--batch N]\n";

struct Options {
  std::string comm = "threads";
  dp::RunOptions run;
};

Options parse(int argc, char** argv) {
  Options o;
  auto number = [&](int& i, int lo, int hi) {
    if (i + 1 >= argc) sample::fail(std::string(argv[i]) + " needs a value\n" + kUsage);
    char* end = nullptr;
    const long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < lo || v > hi)
      sample::fail(std::string(argv[i - 1]) + ": expected an integer in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "], got '" + argv[i] + "'");
    return static_cast<int>(v);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--steps") {
      o.run.steps = number(i, 1, 100000);
    } else if (a == "--batch") {
      o.run.batch = number(i, 2 * kWorld, 1024);
    } else if (a == "--comm" && i + 1 < argc) {
      o.comm = argv[++i];
      if (o.comm != "threads" && o.comm != "mpi") sample::fail("--comm: expected threads or mpi, got '" + o.comm + "'");
    } else {
      sample::fail("unknown or incomplete option '" + a + "'\n" + kUsage);
    }
  }
  // Even shards of at least 2: plain per-rank BatchNorm1d needs 2 values per channel.
  if (o.run.batch % kWorld != 0)
    sample::fail("--batch: expected a multiple of " + std::to_string(kWorld) + " (an even split over the ranks), got " +
                 std::to_string(o.run.batch));
  return o;
}

int run_threads(const Options& o) {
  auto comms = vknorm::make_thread_communicators(kWorld);
  bool ok[kWorld] = {};
  std::thread other([&] { ok[1] = dp::run_rank(*comms[1], o.run); });
  ok[0] = dp::run_rank(*comms[0], o.run);
  other.join();
  return ok[0] && ok[1] ? 0 : 1;
}

int run_mpi(const Options& o, int& argc, char**& argv) {
#if DATA_PARALLEL_MPI
  MPI_Init(&argc, &argv);
  int size = 0, rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int rc = 1;
  if (size != kWorld) {
    if (rank == 0)
      std::fprintf(stderr, "data_parallel --comm mpi: expected a world size of %d (mpirun -np %d), got %d\n", kWorld,
                   kWorld, size);
  } else {
    auto comm = vknorm::MpiCommunicator::create();
    if (!comm) {
      std::fprintf(stderr, "data_parallel: %s\n", comm.status().message().c_str());
    } else {
      rc = dp::run_rank(*comm.value(), o.run) ? 0 : 1;
      comm.value().reset();  // before MPI_Finalize
    }
  }
  MPI_Finalize();
  return rc;
#else
  (void)o, (void)argc, (void)argv;
  std::fprintf(stderr,
               "data_parallel --comm mpi: this build has no MPI communicator (vknorm::mpi is built when Open MPI is "
               "found: install libopenmpi-dev and reconfigure); use --comm threads\n");
  return 2;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  return o.comm == "mpi" ? run_mpi(o, argc, argv) : run_threads(o);
}
