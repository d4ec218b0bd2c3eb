// `vknorm run --op batchnorm --sync-shards`: SyncBatchNorm over shards of the batch (a
// context and a thread per shard, or an MPI rank per shard) writes what the plain `vknorm run`
// writes on the whole batch, within 1e-6 of max(1, max|want|) (float16 y / dx: plus one
// float16 rounding of each value), num_batches_tracked identical; eval with running
// statistics runs plain; and the tool's refusals.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "gpu_support.hpp"
#include "io/npy.hpp"
#include "process_support.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;

namespace vknorm::test {
namespace {

// x, dy, weight, bias and running statistics of an (N, C, H, W) batch as .npy files in
// `dir`, with mean ~ std (the shards then agree with the single run within 1e-6; see
// sync_batchnorm.hpp); returns the tool's arguments for them.
std::string write_inputs(const fs::path& dir, const std::vector<int64_t>& shape, bool half) {
  fs::create_directories(dir);
  std::mt19937 rng(11);
  const size_t n = product(shape), C = shape[1];
  auto as_stored = [&](std::vector<float> v) { return half ? round_to_half(v) : v; };
  auto save = [&](const char* name, const std::vector<int64_t>& s, const std::vector<float>& v) {
    const fs::path file = dir / (std::string(name) + ".npy");
    REQUIRE(io::write_npy(file.string(), s, v.data(), v.size()).ok());
    return std::string(" --") + name + " " + file.string();
  };
  const int64_t c = static_cast<int64_t>(C);
  std::string args = " --op batchnorm";
  args += save("x", shape, as_stored(random_vector(n, rng, 2.0f, 1.5f)));
  args += save("dy", shape, as_stored(random_vector(n, rng, 0.0f, 1.0f)));
  args += save("weight", {c}, random_vector(C, rng, 1.0f, 0.5f));
  args += save("bias", {c}, random_vector(C, rng, 0.0f, 0.5f));
  args += save("running-mean", {c}, std::vector<float>(C, 0.25f));
  args += save("running-var", {c}, std::vector<float>(C, 2.0f));
  return args;
}

void compare_outputs(const fs::path& want_dir, const fs::path& got_dir, bool half) {
  const double rel = half ? 2 * kHalfRounding : 0.0;
  for (const char* name : {"y", "dx", "save_mean", "save_invstd", "running_mean", "running_var", "dweight", "dbias"}) {
    CAPTURE(name);
    auto want = io::read_npy((want_dir / (std::string(name) + ".npy")).string());
    auto got = io::read_npy((got_dir / (std::string(name) + ".npy")).string());
    REQUIRE_MESSAGE(want.ok(), want.status().message());
    REQUIRE_MESSAGE(got.ok(), got.status().message());
    CHECK(got->shape == want->shape);
    const bool stored = std::string(name) == "y" || std::string(name) == "dx";
    check_close(got->data, want->data, 1e-6, name, {}, 1, stored ? rel : 0.0);
  }
  CHECK(read_file(got_dir / "num_batches_tracked.npy") == read_file(want_dir / "num_batches_tracked.npy"));
}

}  // namespace

TEST_CASE("vknorm run --sync-shards writes the plain run's outputs on the whole batch") {
  struct Case {
    std::vector<int64_t> shape;
    std::string shards, extra;
    bool half;
  };
  for (const Case& k : {Case{{5, 3, 4, 2}, "2,3", "", false},
                        Case{{5, 3, 4, 2}, "1,0,4", " --momentum none --num-batches-tracked 2", false},
                        Case{{5, 4, 3, 3}, "3,0,2", " --layout nhwc --dtype f16 --momentum 0.3", true}}) {
    CAPTURE(k.shards);
    CAPTURE(k.extra);
    if (k.half && skip_if_unsupported(context_for(TestDevice::subgroup), DType::f16)) continue;
    const fs::path dir = scratch_path("in_" + k.shards);
    const std::string args = "run" + write_inputs(dir, k.shape, k.half) + k.extra;
    std::string errors;
    REQUIRE_MESSAGE(run_tool(args + " --out " + (dir / "plain").string(), &errors) == 0, errors);
    REQUIRE_MESSAGE(run_tool(args + " --out " + (dir / "sync").string() + " --sync-shards " + k.shards, &errors) == 0,
                    errors);
    compare_outputs(dir / "plain", dir / "sync", k.half);
    // --comm threads is the default, said out loud: the same bits.
    REQUIRE_MESSAGE(run_tool(args + " --out " + (dir / "threads").string() + " --sync-shards " + k.shards +
                                " --comm threads", &errors) == 0, errors);
    for (const char* name : {"y.npy", "dx.npy", "running_var.npy", "dweight.npy"})
      CHECK(read_file(dir / "threads" / name) == read_file(dir / "sync" / name));
    fs::remove_all(dir);
  }
}

TEST_CASE("vknorm run --sync-shards in eval with running statistics runs plain: the same bits") {
  const fs::path dir = scratch_path("eval");
  const std::string args = "run" + write_inputs(dir, {5, 3, 4, 2}, false) + " --mode eval";
  std::string errors;
  REQUIRE_MESSAGE(run_tool(args + " --out " + (dir / "plain").string(), &errors) == 0, errors);
  REQUIRE_MESSAGE(run_tool(args + " --out " + (dir / "sync").string() + " --sync-shards 2,0,3", &errors) == 0, errors);
  for (const char* name : {"y.npy", "dx.npy", "dweight.npy", "dbias.npy"}) {
    CAPTURE(name);
    CHECK(!read_file(dir / "plain" / name).empty());
    CHECK(read_file(dir / "sync" / name) == read_file(dir / "plain" / name));
  }
  CHECK_FALSE(fs::exists(dir / "sync" / "running_mean.npy"));  // eval updates nothing
  fs::remove_all(dir);
}

TEST_CASE("vknorm run --sync-shards refuses bad shards, an unknown or unbuilt --comm, and other ops") {
  const fs::path dir = scratch_path("refusals");
  const std::string args = "run" + write_inputs(dir, {5, 3, 4, 2}, false) + " --out " + (dir / "out").string();
  struct Refusal {
    std::string extra, message;
  };
  for (const Refusal& r : {Refusal{" --sync-shards 2,2", "--sync-shards: the shard sizes sum to 4, expected the batch size N = 5"},
                           Refusal{" --sync-shards 2,x,3", "--sync-shards: expected comma-separated shard sizes"},
                           Refusal{" --sync-shards 2,,3", "--sync-shards: expected comma-separated shard sizes"},
                           Refusal{" --sync-shards 2,3 --comm nccl", "--comm: expected threads or mpi, got 'nccl'"},
#ifdef VKNORM_CLI_MPI  // one process: a world of 1 for 2 shards
                           Refusal{" --sync-shards 2,3 --comm mpi",
                                   "--comm mpi: the world size is 1, expected one rank per --sync-shards shard: 2"},
#else
                           Refusal{" --sync-shards 2,3 --comm mpi", "--comm mpi: MPI is not built into this vknorm"},
#endif
                           Refusal{" --comm threads", "--comm: applies with --sync-shards only"}}) {
    CAPTURE(r.extra);
    std::string errors;
    CHECK(run_tool(args + r.extra, &errors) == 1);
    CHECK_MESSAGE(errors.find(r.message) != std::string::npos, errors);
  }
  std::string errors;
  CHECK(run_tool("run --op layernorm --x " + (dir / "x.npy").string() + " --out " + (dir / "out").string() +
                    " --sync-shards 5", &errors) == 1);
  CHECK_MESSAGE(errors.find("--sync-shards: applies to batchnorm (SyncBatchNorm), not layernorm") != std::string::npos, errors);
  fs::remove_all(dir);
}

#ifdef VKNORM_CLI_MPI
// In the sanitize build (scripts/test.sh --sanitize) the ranks keep AddressSanitizer and
// UBSan but not LeakSanitizer: Open MPI leaks in MPI_Init/MPI_Finalize from components it
// has dlclosed by exit, which no suppression can name.
#if defined(__SANITIZE_ADDRESS__)  // GCC
#define VKNORM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang
#define VKNORM_TEST_ASAN 1
#endif
#endif
#ifdef VKNORM_TEST_ASAN
constexpr const char* kRankSanitizerOptions = "-x ASAN_OPTIONS=detect_leaks=0 ";
#else
constexpr const char* kRankSanitizerOptions = "";
#endif

// Under mpiexec (as CI: root, 2 cores), shared memory and self transports only; the ranks
// run with the validation layer (VKNORM_VALIDATION, set by test_main.cpp).
std::string mpiexec(int ranks) {
  return "OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none " + std::string(VKNORM_MPIEXEC) +
         " --allow-run-as-root --oversubscribe -x VKNORM_VALIDATION " + kRankSanitizerOptions + "-np " +
         std::to_string(ranks) + " ";
}

TEST_CASE("vknorm run --sync-shards --comm mpi: rank r runs shard r, rank 0 writes the plain run's outputs") {
  struct Case {
    int ranks;
    std::string shards, extra;
  };
  for (const Case& k : {Case{2, "2,3", ""}, Case{3, "1,0,4", " --momentum none"}}) {
    CAPTURE(k.shards);
    const fs::path dir = scratch_path("mpi_" + k.shards);
    const std::string args = "run" + write_inputs(dir, {5, 3, 4, 2}, false) + k.extra;
    std::string errors;
    REQUIRE_MESSAGE(run_tool(args + " --out " + (dir / "plain").string(), &errors) == 0, errors);
    const std::string command = mpiexec(k.ranks) + VKNORM_CLI_PATH + " " + args + " --out " + (dir / "mpi").string() +
                                " --sync-shards " + k.shards + " --comm mpi 2> " + (dir / "mpi_err.txt").string();
    CHECK_MESSAGE(std::system(command.c_str()) == 0, read_file(dir / "mpi_err.txt"));
    compare_outputs(dir / "plain", dir / "mpi", false);
    fs::remove_all(dir);
  }
  // A world of 2 for 3 shards: every rank refuses, the job fails.
  const fs::path dir = scratch_path("mpi_world");
  const std::string command = mpiexec(2) + VKNORM_CLI_PATH + " run" + write_inputs(dir, {5, 3, 4, 2}, false) +
                              " --out " + (dir / "out").string() + " --sync-shards 1,2,2 --comm mpi 2> " +
                              (dir / "err.txt").string();
  CHECK(std::system(command.c_str()) != 0);
  const std::string errors = read_file(dir / "err.txt");
  CHECK_MESSAGE(errors.find("--comm mpi: the world size is 2, expected one rank per --sync-shards shard: 3") !=
                    std::string::npos, errors);
  CHECK_FALSE(fs::exists(dir / "out" / "y.npy"));
  fs::remove_all(dir);
}
#endif

}  // namespace vknorm::test
