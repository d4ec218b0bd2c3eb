// The kind table (src/ops/norm_kinds.hpp): every kind has two names, PyTorch's and the
// command line's, both accepted wherever a kind is named; a bad name gets a message that
// lists the valid ones. `vknorm run --op` is checked end to end with both spellings.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "gpu_support.hpp"
#include "io/npy.hpp"
#include "ops/norm_kinds.hpp"
#include "process_support.hpp"

namespace fs = std::filesystem;

namespace vknorm::test {
namespace {

std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("Kind table: each kind is found by PyTorch's name and by the command-line spelling") {
  std::set<std::string_view> names;
  for (const KindInfo& kind : kNormKinds) {
    CAPTURE(std::string(kind.name));
    CHECK(find_kind(kind.name) == &kind);
    CHECK(find_kind(kind.cli_name) == &kind);
    CHECK(names.insert(kind.name).second);  // no spelling names two kinds
    CHECK(names.insert(kind.cli_name).second);
  }
  CHECK(names.size() == 2 * kNormKinds.size());
  const KindInfo* batch = find_kind("batch_norm");
  const KindInfo* rms = find_kind("rmsnorm");
  REQUIRE(batch != nullptr);
  REQUIRE(rms != nullptr);
  CHECK(batch->cli_name == "batchnorm");
  CHECK(rms->name == "rms_norm");
  for (const char* bad : {"", "softmax", "BatchNorm", "batch-norm", "batch_norm "}) CHECK(find_kind(bad) == nullptr);

  auto refused = parse_kind("--op", "softmax", true);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::invalid_argument);
  CHECK(refused.status().message() ==
        "--op: expected batchnorm, layernorm, rmsnorm, groupnorm or instancenorm, got 'softmax' (PyTorch's names "
        "batch_norm, layer_norm, rms_norm, group_norm and instance_norm work too)");
  auto pytorch_first = parse_kind("--kind", "softmax", false);
  REQUIRE_FALSE(pytorch_first.ok());
  CHECK(pytorch_first.status().message().rfind(
            "--kind: expected batch_norm, layer_norm, rms_norm, group_norm or instance_norm, got 'softmax'", 0) == 0);
  auto found = parse_kind("--kind", "groupnorm", false);
  REQUIRE(found.ok());
  CHECK(found.value()->name == "group_norm");
}

TEST_CASE("Kind table: rows whose statistics can come from running buffers are the kinds that keep them") {
  for_each_kind([](auto kind) {
    using Params = typename decltype(kind)::type;
    const KindInfo& info = NormKind<Params>::info;
    CAPTURE(std::string(info.name));
    CHECK((info.backward_stats == BackwardStats::saved_or_running) == info.running_stats);
    CHECK(!info.module.empty());
  });
}

TEST_CASE("vknorm run --op takes both spellings of every kind, with the same result, and refuses others") {
  const fs::path x = scratch_path("x.npy");
  std::vector<float> values(24);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((i * 7) % 11) - 3.0f;
  REQUIRE(io::write_npy(x.string(), {2, 4, 3}, values.data(), values.size()).ok());
  for_each_kind([&](auto row) {
    using Params = typename decltype(row)::type;
    const KindInfo& kind = NormKind<Params>::info;
    CAPTURE(std::string(kind.name));
    const std::string extra = requires(Params p) { p.num_groups; } ? " --groups 2" : "";
    std::string y[2];
    int i = 0;
    for (std::string_view spelling : {kind.name, kind.cli_name}) {
      const fs::path out = scratch_path(std::string(spelling));
      std::string errors;
      CHECK_MESSAGE(run_tool("run --op " + std::string(spelling) + " --x " + x.string() + " --out " + out.string() + extra,
                             &errors) == 0,
                    errors);
      y[i++] = file_bytes(out / "y.npy");
      fs::remove_all(out);
    }
    CHECK(!y[0].empty());
    CHECK(y[0] == y[1]);
  });
  std::string errors;
  CHECK(run_tool("run --op batch-norm --x " + x.string() + " --out " + scratch_path("bad").string(), &errors) != 0);
  CHECK_MESSAGE(errors.find("--op: expected batchnorm, layernorm, rmsnorm, groupnorm or instancenorm, got "
                            "'batch-norm' (PyTorch's names batch_norm, layer_norm, rms_norm, group_norm and "
                            "instance_norm work too)") != std::string::npos,
                errors);
  fs::remove(x);
  fs::remove(scratch_path("tool_stderr.txt"));
}

TEST_CASE("vknorm bench --kind takes both spellings") {
  for (const char* spelling : {"rmsnorm", "rms_norm"}) {
    CAPTURE(spelling);
    const fs::path json = scratch_path(std::string(spelling) + ".json");
    std::string errors;
    // One pass of one tensor is enough to name the kind, at half a whole bench's time.
    CHECK_MESSAGE(run_tool(std::string("bench --kind ") + spelling +
                               " --pass train_fwd --dtype f32 --runs 1 --warmup 0 --json " +
                               json.string() + " > /dev/null",
                           &errors) == 0,
                  errors);
    const std::string report = file_bytes(json);
    CHECK(report.find("\"id\": \"rms_norm ") != std::string::npos);
    CHECK(report.find("\"id\": \"layer_norm ") == std::string::npos);
    fs::remove(json);
  }
  std::string errors;
  CHECK(run_tool("bench --kind rms-norm > /dev/null", &errors) != 0);
  CHECK_MESSAGE(errors.find("--kind: expected batch_norm, layer_norm, rms_norm, group_norm or instance_norm, got "
                            "'rms-norm'") != std::string::npos,
                errors);
}

}  // namespace vknorm::test
