// `vknorm run --op batchnorm` against values PyTorch produced (tests/fixtures/batchnorm):
// outputs, saved and running statistics, and gradients within 3e-5 relative to the
// tensor's largest magnitude (at least 1). Also: the tool's refusals.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "gpu_support.hpp"
#include "io/npy.hpp"

namespace fs = std::filesystem;

namespace vknorm::test {
namespace {

std::map<std::string, std::string> read_params(const fs::path& file) {
  std::map<std::string, std::string> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// Runs the tool; returns its exit code and what it printed on stderr.
int run_tool(const std::string& args, std::string* errors = nullptr) {
  const fs::path err_file = fs::temp_directory_path() / "vknorm_cli_stderr.txt";
  const std::string command = std::string(VKNORM_CLI_PATH) + " " + args + " 2> " + err_file.string();
  int status = std::system(command.c_str());
  if (errors) {
    std::ifstream in(err_file);
    std::stringstream ss;
    ss << in.rdbuf();
    *errors = ss.str();
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int64_t last_int64(const fs::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  int64_t v = -1;
  in.seekg(-8, std::ios::end);
  in.read(reinterpret_cast<char*>(&v), 8);
  return v;
}

// Elements per (n, c) plane: the block that one channel's allowance covers.
size_t spatial_size(const io::NpyArray& a) {
  size_t s = 1;
  for (size_t i = 2; i < a.shape.size(); ++i) s *= static_cast<size_t>(a.shape[i]);
  return s;
}

// PyTorch and vknorm both keep the batch mean in float32, each rounded within half an
// ulp of the exact mean; y = (x - mean) * invstd * gamma then differs by up to one ulp
// of the mean times invstd * |gamma|. That matters only when |mean| >> std (the
// large-mean case: mean 1e4, ulp 9.8e-4, where PyTorch itself is 3.1e-4 off the float64
// value). Empty unless the case saved its statistics.
std::vector<double> mean_rounding_allowance(const fs::path& dir) {
  if (!fs::exists(dir / "save_mean.npy")) return {};
  auto mean = io::read_npy((dir / "save_mean.npy").string());
  auto invstd = io::read_npy((dir / "save_invstd.npy").string());
  std::vector<double> out;
  for (size_t c = 0; c < mean->data.size(); ++c) {
    double gamma = 1.0;
    if (fs::exists(dir / "weight.npy")) gamma = std::fabs(io::read_npy((dir / "weight.npy").string())->data[c]);
    int exponent = 0;
    std::frexp(static_cast<double>(mean->data[c]), &exponent);
    out.push_back(std::ldexp(1.0, exponent - 24) * invstd->data[c] * gamma);
  }
  return out;
}

}  // namespace

TEST_CASE("vknorm run --op batchnorm matches PyTorch on every fixture") {
  const fs::path root = fs::path(VKNORM_FIXTURE_DIR) / "batchnorm";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    const fs::path dir = entry.path();
    const std::string name = dir.filename().string();
    CAPTURE(name);
    auto params = read_params(dir / "params.txt");
    const fs::path out = fs::temp_directory_path() / ("vknorm_cli_" + name);
    fs::remove_all(out);
    std::string args = "run --op batchnorm --x " + (dir / "x.npy").string() + " --dy " + (dir / "dy.npy").string() +
                       " --out " + out.string() + " --mode " + (params["training"] == "1" ? "train" : "eval") +
                       " --eps " + params["eps"] + " --momentum " + params["momentum"];
    if (params.count("num_batches_tracked_in")) args += " --num-batches-tracked " + params["num_batches_tracked_in"];
    if (params["affine"] == "1")
      args += " --weight " + (dir / "weight.npy").string() + " --bias " + (dir / "bias.npy").string();
    if (params["track_running_stats"] == "1")
      args += " --running-mean " + (dir / "running_mean_in.npy").string() + " --running-var " +
              (dir / "running_var_in.npy").string();
    std::string errors;
    REQUIRE_MESSAGE(run_tool(args, &errors) == 0, errors);
    int compared = 0;
    for (const char* file : {"y", "save_mean", "save_invstd", "running_mean", "running_var", "dx", "dweight", "dbias"}) {
      const fs::path want_file = dir / (std::string(file) + ".npy");
      if (!fs::exists(want_file)) continue;
      const std::string file_name = file;
      CAPTURE(file_name);
      fs::path got_file = out / (file_name + ".npy");
      // Eval leaves the running statistics alone and the tool writes them only when it
      // updates them: PyTorch's must then equal the inputs.
      if (params["training"] == "0" && file_name.rfind("running_", 0) == 0) {
        CHECK_FALSE(fs::exists(got_file));
        got_file = dir / (file_name + "_in.npy");
      }
      auto want = io::read_npy(want_file.string());
      auto got = io::read_npy(got_file.string());
      REQUIRE_MESSAGE(want.ok(), want.status().message());
      REQUIRE_MESSAGE(got.ok(), got.status().message());
      CHECK(got->shape == want->shape);
      check_close(got->data, want->data, 3e-5, name + "/" + file_name,
                  file_name == "y" ? mean_rounding_allowance(dir) : std::vector<double>(), spatial_size(*want));
      ++compared;
    }
    if (fs::exists(dir / "num_batches_tracked.npy")) {
      const int64_t want = last_int64(dir / "num_batches_tracked.npy");
      if (params["training"] == "1") CHECK(last_int64(out / "num_batches_tracked.npy") == want);
      else CHECK(want == std::stoll(params["num_batches_tracked_in"]));  // eval: unchanged, nothing written
    }
    CHECK(compared >= 2);
    fs::remove_all(out);
    ++cases;
  }
  CHECK(cases >= 10);
}

TEST_CASE("vknorm run refuses bad input with a message and a non-zero exit") {
  const fs::path dir = fs::path(VKNORM_FIXTURE_DIR) / "batchnorm" / "bn2d_train";
  const std::string x = (dir / "x.npy").string(), w = (dir / "weight.npy").string();
  const std::string out = (fs::temp_directory_path() / "vknorm_cli_refusals").string();
  struct Case {
    std::string args, text;
  };
  const Case cases[] = {
      {"run --op batchnorm --out " + out, "--x is required"},
      {"run --op softmax --x " + x + " --out " + out, "--op: expected batchnorm"},
      {"run --op batchnorm --x " + x + " --out " + out + " --mode test", "--mode: expected train or eval"},
      {"run --op batchnorm --x " + x + " --out " + out + " --eps zero", "--eps: expected a number"},
      {"run --op batchnorm --x " + x + " --out " + out + " --eps -1", "eps: expected a finite value > 0"},
      {"run --op batchnorm --x " + x + " --out " + out + " --momentum 2", "--momentum: expected a number in [0, 1]"},
      {"run --op batchnorm --x " + x + " --out " + out + " --weight " + x, "--weight: expected shape (3,)"},
      {"run --op batchnorm --x " + x + " --out " + out + " --running-mean " + w, "give both or neither"},
      {"run --op batchnorm --x " + x + " --out " + out + " --dy " + w, "--dy: expected the shape of x"},
      {"run --op batchnorm --x /nonexistent.npy --out " + out, "--x: "},
      {"run --op batchnorm --x " + x + " --out " + out + " --layout nhwc", "--layout: expected nchw"},
      {"run --op batchnorm --x " + x + " --out " + out + " --dtype f16", "--dtype: expected f32"},
      {"run --op batchnorm --x " + x + " --out " + out + " --device 99", "device_index"},
      {"run --op batchnorm --x " + x + " --out " + out + " --bogus 1", "unknown option '--bogus'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    std::string errors;
    CHECK(run_tool(c.args, &errors) != 0);
    CHECK_MESSAGE(errors.find(c.text) != std::string::npos, errors);
  }
  fs::remove_all(out);
}

}  // namespace vknorm::test
