// `vknorm run`: applies a norm to tensors from .npy files on a Vulkan device and writes
// the results as float32 .npy files, so a layer can be cross-checked against PyTorch.
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "io/npy.hpp"
#include "vknorm/batchnorm.hpp"

namespace vknorm::cli {
namespace {

const char* kRunUsage =
    "usage: vknorm run --op batchnorm --x x.npy --out DIR\n"
    "                  [--mode train|eval] [--weight w.npy] [--bias b.npy]\n"
    "                  [--running-mean rm.npy --running-var rv.npy] [--momentum 0.1|none]\n"
    "                  [--num-batches-tracked K] [--eps 1e-5] [--dy dy.npy]\n"
    "                  [--layout nchw] [--dtype f32] [--device N]\n"
    "Tensors are in PyTorch's logical (N, C, *) order, float32 or float16.\n"
    "Without --weight/--bias there is no affine; without running statistics none are tracked.\n"
    "Writes y.npy; save_mean.npy and save_invstd.npy when batch statistics are used;\n"
    "running_mean.npy, running_var.npy, num_batches_tracked.npy when training tracks them;\n"
    "with --dy: dx.npy, and dweight.npy / dbias.npy for the parameters given.\n";

const std::vector<std::string> kOptions = {"op", "x", "out", "mode", "weight", "bias", "running-mean",
                                           "running-var", "momentum", "num-batches-tracked", "eps",
                                           "dy", "layout", "dtype", "device"};

struct Failure {
  int code;
  std::string message;
};

// --name value pairs; every option known, none repeated.
std::optional<Failure> parse(int argc, char** argv, std::map<std::string, std::string>& out) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return Failure{0, ""};
    if (arg.rfind("--", 0) != 0) return Failure{2, "unexpected argument '" + arg + "'"};
    std::string name = arg.substr(2);
    bool known = false;
    for (const auto& o : kOptions) known = known || o == name;
    if (!known) return Failure{2, "unknown option '" + arg + "'"};
    if (i + 1 >= argc) return Failure{2, "option '" + arg + "' needs a value"};
    if (out.count(name)) return Failure{2, "option '" + arg + "' given twice"};
    out[name] = argv[++i];
  }
  return std::nullopt;
}

std::optional<double> parse_number(const std::string& s) {
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (...) {
  }
  return std::nullopt;
}

struct Loaded {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

Status load(const std::map<std::string, std::string>& opts, const std::string& name, std::optional<Loaded>& out) {
  auto it = opts.find(name);
  if (it == opts.end()) return {};
  auto array = io::read_npy(it->second);
  if (!array) return Status::invalid_argument("--" + name + ": " + array.status().message());
  out = Loaded{array->shape, std::move(array->data)};
  return {};
}

// A per-channel file must be 1-D with C values (PyTorch's parameter and buffer shape).
Status check_vector(const std::string& name, const std::optional<Loaded>& v, int64_t channels) {
  if (!v) return {};
  if (v->shape.size() != 1 || v->shape[0] != channels) {
    std::string shape;
    for (size_t i = 0; i < v->shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(v->shape[i]);
    return Status::invalid_argument("--" + name + ": expected shape (" + std::to_string(channels) + ",), got (" +
                                    shape + ")");
  }
  return {};
}

Status write(const std::filesystem::path& dir, const char* name, const std::vector<int64_t>& shape,
             const std::vector<float>& data) {
  return io::write_npy((dir / name).string(), shape, data.data(), data.size());
}

Status run_batchnorm(const std::map<std::string, std::string>& opts) {
  std::optional<Loaded> x, weight, bias, rm, rv, dy;
  VKNORM_TRY(load(opts, "x", x));
  VKNORM_TRY(load(opts, "weight", weight));
  VKNORM_TRY(load(opts, "bias", bias));
  VKNORM_TRY(load(opts, "running-mean", rm));
  VKNORM_TRY(load(opts, "running-var", rv));
  VKNORM_TRY(load(opts, "dy", dy));
  if (rm.has_value() != rv.has_value())
    return Status::invalid_argument("--running-mean and --running-var: give both or neither");

  BatchNormParams params;
  params.shape = x->shape;
  const std::string mode = opts.count("mode") ? opts.at("mode") : "train";
  if (mode != "train" && mode != "eval")
    return Status::invalid_argument("--mode: expected train or eval, got '" + mode + "'");
  params.training = mode == "train";
  params.affine = weight || bias;
  params.track_running_stats = rm.has_value();
  if (opts.count("eps")) {
    auto eps = parse_number(opts.at("eps"));
    if (!eps) return Status::invalid_argument("--eps: expected a number, got '" + opts.at("eps") + "'");
    params.eps = static_cast<float>(*eps);
  }
  BatchNormState state;
  if (opts.count("momentum")) {
    const std::string& m = opts.at("momentum");
    if (m == "none") state.momentum = std::nullopt;
    else if (auto v = parse_number(m); v && *v >= 0.0 && *v <= 1.0) state.momentum = static_cast<float>(*v);
    else return Status::invalid_argument("--momentum: expected a number in [0, 1] or 'none', got '" + m + "'");
  }
  if (opts.count("num-batches-tracked")) {
    auto n = parse_number(opts.at("num-batches-tracked"));
    if (!n || *n < 0 || *n != static_cast<double>(static_cast<int64_t>(*n)))
      return Status::invalid_argument("--num-batches-tracked: expected an integer >= 0, got '" +
                                      opts.at("num-batches-tracked") + "'");
    state.num_batches_tracked = static_cast<int64_t>(*n);
  }
  auto geometry = check_batch_norm(params);
  if (!geometry) return geometry.status();
  const BatchNormGeometry& g = geometry.value();
  const int64_t C = params.shape[1];
  VKNORM_TRY(check_vector("weight", weight, C));
  VKNORM_TRY(check_vector("bias", bias, C));
  VKNORM_TRY(check_vector("running-mean", rm, C));
  VKNORM_TRY(check_vector("running-var", rv, C));
  if (dy && dy->shape != x->shape) return Status::invalid_argument("--dy: expected the shape of x");
  // One parameter alone is the identity for the other (F.batch_norm allows either).
  std::vector<float> w = weight ? weight->data : std::vector<float>(params.affine ? C : 0, 1.0f);
  std::vector<float> b = bias ? bias->data : std::vector<float>(params.affine ? C : 0, 0.0f);
  std::vector<float> running_mean = rm ? rm->data : std::vector<float>();
  std::vector<float> running_var = rv ? rv->data : std::vector<float>();
  const std::vector<float> running_mean_before = running_mean, running_var_before = running_var;
  if (g.updates_running) params.momentum = state.next_training_factor();

  StandaloneOptions options;
  if (opts.count("device")) {
    auto d = parse_number(opts.at("device"));
    if (!d || *d < 0 || *d != static_cast<double>(static_cast<uint32_t>(*d)))
      return Status::invalid_argument("--device: expected a device index >= 0, got '" + opts.at("device") + "'");
    options.device_index = static_cast<uint32_t>(*d);
  }
  auto context = Context::create_standalone(options);
  if (!context) return context.status();
  auto forward = batch_norm_forward(*context.value(), params, x->data, w, b, running_mean, running_var);
  if (!forward) return forward.status();

  const std::filesystem::path dir = opts.at("out");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::invalid_argument("--out: cannot create directory '" + dir.string() + "': " + ec.message());
  const std::vector<int64_t> per_channel = {C};
  VKNORM_TRY(write(dir, "y.npy", x->shape, forward->y));
  if (g.uses_batch_stats) {
    VKNORM_TRY(write(dir, "save_mean.npy", per_channel, forward->save_mean));
    VKNORM_TRY(write(dir, "save_invstd.npy", per_channel, forward->save_invstd));
  }
  if (g.updates_running) {
    VKNORM_TRY(write(dir, "running_mean.npy", per_channel, running_mean));
    VKNORM_TRY(write(dir, "running_var.npy", per_channel, running_var));
    VKNORM_TRY(io::write_npy_int64((dir / "num_batches_tracked.npy").string(), {}, &state.num_batches_tracked, 1));
  }
  if (!dy) return {};
  auto backward = batch_norm_backward(*context.value(), params, x->data, dy->data, w, forward->save_mean,
                                      forward->save_invstd, running_mean_before, running_var_before);
  if (!backward) return backward.status();
  VKNORM_TRY(write(dir, "dx.npy", x->shape, backward->dx));
  if (weight) VKNORM_TRY(write(dir, "dweight.npy", per_channel, backward->dweight));
  if (bias) VKNORM_TRY(write(dir, "dbias.npy", per_channel, backward->dbias));
  return {};
}

}  // namespace

int run_command(int argc, char** argv) {
  std::map<std::string, std::string> opts;
  if (auto failure = parse(argc, argv, opts)) {
    if (failure->code == 0) {
      std::fputs(kRunUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "vknorm run: %s\n%s", failure->message.c_str(), kRunUsage);
    return failure->code;
  }
  for (const char* required : {"op", "x", "out"}) {
    if (!opts.count(required)) {
      std::fprintf(stderr, "vknorm run: --%s is required\n%s", required, kRunUsage);
      return 2;
    }
  }
  const std::string layout = opts.count("layout") ? opts.at("layout") : "nchw";
  const std::string dtype = opts.count("dtype") ? opts.at("dtype") : "f32";
  Status status;
  if (opts.at("op") != "batchnorm")
    status = Status::invalid_argument("--op: expected batchnorm, got '" + opts.at("op") + "'");
  else if (layout != "nchw")
    status = Status::invalid_argument("--layout: expected nchw, got '" + layout + "'");
  else if (dtype != "f32")
    status = Status::invalid_argument("--dtype: expected f32, got '" + dtype + "'");
  else
    status = run_batchnorm(opts);
  if (!status.ok()) {
    std::fprintf(stderr, "vknorm run: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace vknorm::cli
