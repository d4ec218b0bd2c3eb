// `vknorm tune` and `vknorm bench --tuning`: the cache files they read are checked before
// any timing (a file that is not a cache, a cache of another device), and the tool's
// usage errors. Timing itself is Context::tune's test (test_tuning_gpu.cpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "gpu_support.hpp"
#include "process_support.hpp"
#include "test_support.hpp"
#include "vknorm/tuning.hpp"

namespace fs = std::filesystem;

namespace vknorm::test {
namespace {

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("vknorm tune and bench --tuning refuse a file that is not a cache of this device") {
  std::string errors;
  const fs::path garbage = scratch_path("garbage.bin"), foreign = scratch_path("foreign.bin");
  write_bytes(garbage, {1, 2, 3});
  Capabilities elsewhere = context_for(TestDevice::subgroup).capabilities();
  elsewhere.vendor_id ^= 0x1000;
  TuningCache cache(tuning_device(elsewhere));
  cache.set({Norm::layer_norm}, {OnChipKernel::team});
  write_bytes(foreign, cache.serialize());
  // What the tool prints before it refuses (device, timing) goes to a file, not the log.
  const fs::path printed = scratch_path("tune_stdout.txt");
  const std::string quiet = " > " + shell_path(printed);

  CHECK(run_tool("tune --in " + shell_path(garbage) + quiet, &errors) == 1);
  CHECK_MESSAGE(errors.find("3 bytes that do not start with a tuning cache") != std::string::npos, errors);
  CHECK(run_tool("bench --quick --kind layer_norm --tuning " + shell_path(foreign) + quiet, &errors) == 1);
  CHECK_MESSAGE(errors.find("another device or driver (vendorID") != std::string::npos, errors);
  CHECK(run_tool("tune --kind nonorm", &errors) == 2);
  CHECK_MESSAGE(errors.find("nonorm") != std::string::npos, errors);
  CHECK(run_tool("tune --runs 0", &errors) == 2);
  CHECK(run_tool("tune --device abc", &errors) == 2);
  CHECK_MESSAGE(errors.find("--device: expected an index") != std::string::npos, errors);
  fs::remove(garbage);
  fs::remove(foreign);
  fs::remove(printed);
  fs::remove(scratch_path("tool_stderr.txt"));
}

}  // namespace vknorm::test
