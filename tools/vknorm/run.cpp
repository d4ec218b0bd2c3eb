// `vknorm run`: applies a norm to tensors from .npy files on a Vulkan device and writes
// the results as float32 .npy files, so a layer can be cross-checked against PyTorch.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "commands.hpp"
#include "io/npy.hpp"
#include "ops/norm_kinds.hpp"
#include "run.hpp"
#include "run_sync.hpp"
#include "validation.hpp"

namespace vknorm::cli {
namespace {

std::string run_usage() {
  return "usage: vknorm run --op KIND --x x.npy --out DIR\n"
    "                  [--mode train|eval] [--weight w.npy] [--bias b.npy]\n"
    "                  [--running-mean rm.npy --running-var rv.npy] [--momentum 0.1|none]\n"
    "                  [--num-batches-tracked K] [--eps 1e-5|none] [--dy dy.npy]\n"
    "                  [--groups G] [--normalized-dims K] [--dims 1|2|3]\n"
    "                  [--layout nchw|nhwc] [--dtype f32|f16] [--device N]\n"
    "                  [--sync-shards N0,N1,... [--comm threads|mpi]]\n"
         "KIND: " + kind_names(true) + ",\n"
         "or PyTorch's names " + kind_names(false, " and ") + ".\n"
    "Tensors are in PyTorch's logical order, float32 or float16 files. --layout and --dtype\n"
    "say how the device stores them (nhwc: batchnorm, instancenorm, groupnorm).\n"
    "Without --weight/--bias there is no affine; without running statistics none are tracked.\n"
    "--groups: GroupNorm's G. --normalized-dims: how many trailing dims LayerNorm/RMSNorm\n"
    "normalize (default 1; weight/bias files hold that trailing shape). --dims: the rank rule\n"
    "of BatchNorm1d/2d/3d or InstanceNorm1d/2d/3d (InstanceNorm then accepts unbatched input).\n"
    "--eps none (RMSNorm): float32 machine epsilon.\n"
    "Writes y.npy; save_mean.npy and save_invstd.npy when input statistics are used (one per\n"
    "statistics group; RMSNorm: save_invstd only); running_mean.npy, running_var.npy and\n"
    "(batchnorm) num_batches_tracked.npy when training updates them; with --dy: dx.npy, and\n"
    "dweight.npy / dbias.npy for the parameters given.\n"
    "--sync-shards (batchnorm): SyncBatchNorm over the batch split along N into shards of\n"
    "these sizes (summing to N; 0 allowed), one rank each; the files are those of the plain run\n"
    "on the whole batch (y/dx concatenated, dweight/dbias summed over shards). --comm threads\n"
    "(the default): one context (on --device) and one thread per shard. --comm mpi (when\n"
    "built with Open MPI), under mpirun -np K with K shards: rank r runs shard r, rank 0 writes.\n"
    "An eval run with running statistics uses no batch statistics and runs plain.\n"
    "Environment: VKNORM_VALIDATION=1 runs with the Khronos validation layer (and\n"
    "synchronization validation) and exits 1, printing each message on stderr, if it reports\n"
    "anything (the CLI tests set it).\n";
}

const std::vector<std::string> kOptions = {"op",  "x",      "out",    "mode",   "weight", "bias", "running-mean",
                                           "running-var", "momentum", "num-batches-tracked", "eps", "dy",
                                           "layout", "dtype", "device", "groups", "normalized-dims", "dims",
                                           "sync-shards", "comm"};

using Options = std::map<std::string, std::string>;

struct Failure {
  int code;
  std::string message;
};

// --name value pairs; every option known, none repeated.
std::optional<Failure> parse(int argc, char** argv, Options& out) {
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

std::string get(const Options& o, const std::string& name, const std::string& fallback = "") {
  auto it = o.find(name);
  return it == o.end() ? fallback : it->second;
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

// An integer option in [lo, hi], or `fallback` when absent.
Result<int64_t> integer(const Options& o, const std::string& name, int64_t lo, int64_t hi, int64_t fallback) {
  if (!o.count(name)) return fallback;
  auto v = parse_number(o.at(name));
  // Range-check in double before converting: the cast of NaN, Inf or anything outside
  // int64_t is undefined. The negated comparisons refuse NaN; 2^63 (INT64_MAX rounded to
  // double) is itself out of range, hence the strict bound.
  constexpr double kTwoTo63 = 9223372036854775808.0;
  const bool in_range = v && !(*v < static_cast<double>(lo)) && !(*v > static_cast<double>(hi)) &&
                        *v >= -kTwoTo63 && *v < kTwoTo63 && *v == std::trunc(*v);
  if (!in_range || static_cast<int64_t>(*v) < lo || static_cast<int64_t>(*v) > hi)
    return Status::invalid_argument("--" + name + ": expected an integer in [" + std::to_string(lo) + ", " +
                                    std::to_string(hi) + "], got '" + o.at(name) + "'");
  return static_cast<int64_t>(*v);
}

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

Status load(const Options& o, const std::string& name, const NpyReader& read, std::optional<Tensor>& out) {
  if (!o.count(name)) return {};
  auto array = read(o.at(name));
  if (!array) return Status::invalid_argument("--" + name + ": " + array.status().message());
  out = Tensor{array->shape, std::move(array->data)};
  return {};
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return "(" + s + (shape.size() == 1 ? ",)" : ")");
}

Status check_shape(const std::string& name, const std::optional<Tensor>& t, const std::vector<int64_t>& want) {
  if (!t || t->shape == want) return {};
  return Status::invalid_argument("--" + name + ": expected shape " + shape_text(want) + ", got " + shape_text(t->shape));
}

// Everything every op reads: tensors, flags, the device.
struct Call {
  Options opts;
  std::optional<Tensor> x, weight, bias, rm, rv, dy;
  bool training = true;
  Layout layout = Layout::nchw;
  DType dtype = DType::f32;
  std::filesystem::path out;
  std::unique_ptr<Context> context;  // null with --sync-shards until a plain run needs it
  StandaloneOptions context_options;  // --device
  std::vector<int64_t> sync_shards;   // --sync-shards: empty for a plain run
  std::optional<BatchNormState> batch_norm_state;  // BatchNorm's module state (--momentum, --num-batches-tracked)
  bool execute = true;  // false: check everything a run checks before it needs the device, then stop

  // Parameters as the op needs them: a missing one of weight/bias is the identity.
  std::vector<float> weight_or(size_t n) const { return weight ? weight->data : std::vector<float>(n, 1.0f); }
  std::vector<float> bias_or(size_t n) const { return bias ? bias->data : std::vector<float>(n, 0.0f); }

  Status write(const char* name, const std::vector<int64_t>& shape, const std::vector<float>& data) const {
    return io::write_npy((out / name).string(), shape, data.data(), data.size());
  }
};

Result<float> eps_option(const Call& c, float fallback) {
  if (!c.opts.count("eps")) return fallback;
  auto eps = parse_number(c.opts.at("eps"));
  if (!eps) return Status::invalid_argument("--eps: expected a number, got '" + c.opts.at("eps") + "'");
  if (std::isfinite(*eps) && std::fabs(*eps) > FLT_MAX)  // the float cast would be undefined
    return Status::invalid_argument("--eps: expected a float32 value (at most " + std::to_string(FLT_MAX) + "), got '" +
                                    c.opts.at("eps") + "'");
  return static_cast<float>(*eps);
}

// What the forward saved: whether it used input statistics, and whether they have a mean.
enum class Saved { none, invstd, mean_and_invstd };

// Writes what every op writes after its forward and optional backward.
Status write_results(const Call& c, const NormForwardResult& f, Saved saved, const Result<NormBackwardResult>* b,
                     const std::vector<int64_t>& param_shape) {
  VKNORM_TRY(c.write("y.npy", c.x->shape, f.y));
  if (saved == Saved::mean_and_invstd)
    VKNORM_TRY(c.write("save_mean.npy", {static_cast<int64_t>(f.save_mean.size())}, f.save_mean));
  if (saved != Saved::none)
    VKNORM_TRY(c.write("save_invstd.npy", {static_cast<int64_t>(f.save_invstd.size())}, f.save_invstd));
  if (!b) return {};
  if (!b->ok()) return b->status();
  VKNORM_TRY(c.write("dx.npy", c.x->shape, (*b)->dx));
  if (c.weight) VKNORM_TRY(c.write("dweight.npy", param_shape, (*b)->dweight));
  if (c.bias) VKNORM_TRY(c.write("dbias.npy", param_shape, (*b)->dbias));
  return {};
}

// ---- The params of any kind, field by field, from the options ----

// LayerNorm and RMSNorm: the trailing --normalized-dims dims of x.
Result<std::vector<int64_t>> normalized_shape(const Call& c) {
  auto k = integer(c.opts, "normalized-dims", 1, static_cast<int64_t>(c.x->shape.size()), 1);
  if (!k) return k.status();
  if (c.x->shape.empty()) return Status::invalid_argument("--x: expected at least one dimension, got a scalar");
  return std::vector<int64_t>(c.x->shape.end() - k.value(), c.x->shape.end());
}

// Whether this run updates running statistics, the one use of --momentum (and of
// BatchNorm's --num-batches-tracked): elsewhere they are ignored, as a PyTorch module
// ignores its momentum in eval or without running statistics. A shape the kind refuses
// reads as no: the run then fails with the kind's own message.
template <class Params>
bool updates_running(const Params& p) {
  auto geometry = NormKind<Params>::check(p);
  return geometry && geometry->updates_running;
}

Result<double> momentum_option(const Call& c, const std::string& m) {
  auto v = parse_number(m);
  if (!v || !std::isfinite(*v) || std::fabs(*v) > FLT_MAX)  // past FLT_MAX (a float's) the cast is undefined
    return Status::invalid_argument("--momentum: expected a finite number" +
                                    std::string(c.batch_norm_state ? " or 'none'" : "") + ", got '" + m + "'");
  return *v;
}

// BatchNorm's momentum is its module's (a number or none) with its batch counter.
Status batch_norm_momentum(Call& c, BatchNormParams& p) {
  if (!updates_running(p)) return {};
  BatchNormState& state = c.batch_norm_state.emplace();
  const std::string m = get(c.opts, "momentum", "0.1");
  if (m == "none") {
    state.momentum = std::nullopt;
  } else {
    auto v = momentum_option(c, m);
    if (!v) return v.status();
    state.momentum = static_cast<float>(v.value());
  }
  auto tracked = integer(c.opts, "num-batches-tracked", 0, INT64_MAX / 2, 0);
  if (!tracked) return tracked.status();
  state.num_batches_tracked = tracked.value();
  p.momentum = state.next_training_factor();
  return {};
}

// Every field the kind's params have, from its option: a new kind with the usual fields
// needs nothing here. Affine params are on when --weight or --bias is given, running
// statistics are tracked when they are given.
template <class Params>
Status fill(Call& c, Params& p) {
  const std::string_view module = NormKind<Params>::info.module;
  p.shape = c.x->shape;
  p.dtype = c.dtype;
  if constexpr (requires { p.layout; }) p.layout = c.layout;
  if constexpr (requires { p.training; }) p.training = c.training;
  if constexpr (requires { p.affine; }) p.affine = c.weight || c.bias;
  if constexpr (requires { p.elementwise_affine; }) p.elementwise_affine = c.weight || c.bias;
  if constexpr (requires { p.bias; }) p.bias = c.bias.has_value();
  if constexpr (requires { p.track_running_stats; }) p.track_running_stats = c.rm.has_value();
  if constexpr (requires { p.dims; }) {  // the 1d/2d/3d rank rule; absent = any
    auto dims = integer(c.opts, "dims", 1, 3, 0);
    if (!dims) return dims.status();
    p.dims = static_cast<decltype(p.dims)>(dims.value());
  }
  if constexpr (requires { p.num_groups; }) {
    if (!c.opts.count("groups"))
      return Status::invalid_argument("--groups: " + std::string(module) + " needs the number of groups G");
    auto groups = integer(c.opts, "groups", 1, INT32_MAX, 1);
    if (!groups) return groups.status();
    p.num_groups = groups.value();
  }
  if constexpr (requires { p.normalized_shape; }) {
    auto trailing = normalized_shape(c);
    if (!trailing) return trailing.status();
    p.normalized_shape = trailing.value();
  }
  if constexpr (std::is_same_v<decltype(p.eps), std::optional<float>>) {  // --eps none: the kind's default
    if (get(c.opts, "eps", "none") != "none") {
      auto eps = eps_option(c, 0.0f);
      if (!eps) return eps.status();
      p.eps = eps.value();
    }
  } else {
    auto eps = eps_option(c, p.eps);
    if (!eps) return eps.status();
    p.eps = eps.value();
  }
  if constexpr (std::is_same_v<Params, BatchNormParams>) {
    VKNORM_TRY(batch_norm_momentum(c, p));
  } else if constexpr (requires { p.momentum; }) {
    if (updates_running(p)) {
      const std::string m = get(c.opts, "momentum", "0.1");
      if (m == "none")
        return Status::invalid_argument("--momentum: " + std::string(module) + " has no momentum=None");
      auto momentum = momentum_option(c, m);
      if (!momentum) return momentum.status();
      p.momentum = static_cast<float>(momentum.value());
    }
  }
  return {};
}

// ---- Every kind the same way, through its row of the kind table ----

// The shape of weight and bias files: normalized_shape, or (C,).
template <class Params>
std::vector<int64_t> param_shape(const Params& p, const NormGeometry& g) {
  if constexpr (requires { p.normalized_shape; }) return p.normalized_shape;
  else return {static_cast<int64_t>(g.channels)};
}

Status write_running(const Call& c, int64_t C, const std::vector<float>& rm, const std::vector<float>& rv) {
  VKNORM_TRY(c.write("running_mean.npy", {C}, rm));
  VKNORM_TRY(c.write("running_var.npy", {C}, rv));
  if (const auto& state = c.batch_norm_state)
    VKNORM_TRY(io::write_npy_int64((c.out / "num_batches_tracked.npy").string(), {}, &state->num_batches_tracked, 1));
  return {};
}

Status ensure_context(Call& c) {
  if (c.context) return {};
  auto context = Context::create_standalone(c.context_options);
  if (!context) return context.status();
  c.context = std::move(context.value());
  return {};
}

// --sync-shards with batch statistics: the shards' SyncBatchNorm, written as the plain run's.
Status run_sync(Call& c, BatchNormParams p, const NormGeometry& g, const std::vector<int64_t>& shape,
                const std::vector<float>& w, const std::vector<float>& b, const std::vector<float>& rm,
                const std::vector<float>& rv) {
  p.training = true;  // eval without running statistics normalizes with the batch's, as training does
  const SyncRunInputs in{.params = p, .shards = c.sync_shards, .x = &c.x->data, .weight = &w, .bias = &b,
                         .running_mean = &rm, .running_var = &rv, .dy = c.dy ? &c.dy->data : nullptr,
                         .context_options = c.context_options};
  auto r = get(c.opts, "comm", "threads") == "mpi" ? run_sync_batch_norm_mpi(in) : run_sync_batch_norm_threads(in);
  if (!r) return r.status();
  if (!r->writer) return {};  // an MPI rank other than 0
  if (g.updates_running) VKNORM_TRY(write_running(c, static_cast<int64_t>(g.channels), r->running_mean, r->running_var));
  if (!r->backward) return write_results(c, r->forward, Saved::mean_and_invstd, nullptr, shape);
  const Result<NormBackwardResult> back = std::move(*r->backward);
  return write_results(c, r->forward, Saved::mean_and_invstd, &back, shape);
}

template <class Params>
Status run_kind(Call& c) {
  const KindInfo& kind = NormKind<Params>::info;
  Params p;
  VKNORM_TRY(fill(c, p));
  auto plan = plan_norm(p);
  if (!plan) return plan.status();
  const NormGeometry& g = plan->geometry;
  const std::vector<int64_t> shape = param_shape(p, g);
  const int64_t C = static_cast<int64_t>(g.channels);
  VKNORM_TRY(check_shape("weight", c.weight, shape));
  VKNORM_TRY(check_shape("bias", c.bias, shape));
  VKNORM_TRY(check_shape("running-mean", c.rm, {C}));
  VKNORM_TRY(check_shape("running-var", c.rv, {C}));
  const size_t A = g.affine_size;
  const std::vector<float> w = plan->has_weight ? c.weight_or(A) : std::vector<float>();
  const std::vector<float> b = plan->has_bias ? c.bias_or(A) : std::vector<float>();
  std::vector<float> rm = c.rm ? c.rm->data : std::vector<float>(), rv = c.rv ? c.rv->data : std::vector<float>();
  if (!c.execute) return {};
  if constexpr (std::is_same_v<Params, BatchNormParams>)
    if (!c.sync_shards.empty() && g.uses_batch_stats) return run_sync(c, p, g, shape, w, b, rm, rv);
  VKNORM_TRY(ensure_context(c));
  const std::vector<float> rm_before = rm, rv_before = rv;
  auto f = kind_forward(*c.context, p, {c.x->data, w, b, rm, rv, {}});
  if (!f) return f.status();
  if (g.updates_running) VKNORM_TRY(write_running(c, C, rm, rv));
  const Saved saved = !g.uses_batch_stats ? Saved::none : kind.saves_mean ? Saved::mean_and_invstd : Saved::invstd;
  if (!c.dy) return write_results(c, f.value(), saved, nullptr, shape);
  auto back = kind_backward(*c.context, p, {c.x->data, c.dy->data, w, f->save_mean, f->save_invstd, rm_before, rv_before, {}});
  return write_results(c, f.value(), saved, &back, shape);
}

// The names of the kinds whose input can be stored NHWC: "batchnorm, groupnorm and instancenorm".
std::string channel_kind_names() {
  std::vector<std::string_view> names;
  for (const KindInfo& k : kNormKinds)
    if (k.channel_layouts) names.push_back(k.cli_name);
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += std::string(i ? (i + 1 == names.size() ? " and " : ", ") : "") += names[i];
  return s;
}

// The run the options ask for; with `execute` false, only its checks (no device, no files
// written: `read` supplies the tensors).
Status run(const Options& opts, const NpyReader& read, bool execute) {
  Call c;
  c.opts = opts;
  c.execute = execute;
  const std::string op = get(opts, "op");
  auto parsed = parse_kind("--op", op, true);
  if (!parsed) return parsed.status();
  const KindInfo& kind = *parsed.value();
  const std::string mode = get(opts, "mode", "train"), layout = get(opts, "layout", "nchw"),
                    dtype = get(opts, "dtype", "f32");
  if (mode != "train" && mode != "eval")
    return Status::invalid_argument("--mode: expected train or eval, got '" + mode + "'");
  if (layout != "nchw" && layout != "nhwc")
    return Status::invalid_argument("--layout: expected nchw or nhwc, got '" + layout + "'");
  if (layout == "nhwc" && !kind.channel_layouts)
    return Status::invalid_argument("--layout: nhwc applies to " + channel_kind_names() + ", not " + op);
  if (dtype != "f32" && dtype != "f16") return Status::invalid_argument("--dtype: expected f32 or f16, got '" + dtype + "'");
  c.training = mode == "train";
  c.layout = layout == "nhwc" ? Layout::nhwc : Layout::nchw;
  c.dtype = dtype == "f16" ? DType::f16 : DType::f32;
  for (auto [name, slot] : {std::pair{"x", &c.x}, {"weight", &c.weight}, {"bias", &c.bias}, {"running-mean", &c.rm},
                            {"running-var", &c.rv}, {"dy", &c.dy}})
    VKNORM_TRY(load(opts, name, read, *slot));
  if (c.rm.has_value() != c.rv.has_value())
    return Status::invalid_argument("--running-mean and --running-var: give both or neither");
  if ((c.rm || c.rv) && !kind.running_stats)
    return Status::invalid_argument("--running-mean/--running-var: " + op + " keeps no running statistics");
  if (c.bias && !kind.has_bias) return Status::invalid_argument("--bias: " + std::string(kind.module) + " has no bias");
  if (c.dy && c.dy->shape != c.x->shape)
    return Status::invalid_argument("--dy: expected the shape of x " + shape_text(c.x->shape) + ", got " +
                                    shape_text(c.dy->shape));

  if (opts.count("comm") && !opts.count("sync-shards"))
    return Status::invalid_argument("--comm: applies with --sync-shards only");
  if (opts.count("sync-shards")) {
    if (kind.name != NormKind<BatchNormParams>::info.name)
      return Status::invalid_argument("--sync-shards: applies to batchnorm (SyncBatchNorm), not " + op);
    VKNORM_TRY(check_sync_comm(get(opts, "comm", "threads")));
    if (c.x->shape.size() < 2)
      return Status::invalid_argument("--sync-shards: expected x of shape (N, C, *), got " + shape_text(c.x->shape));
    auto shards = parse_sync_shards(opts.at("sync-shards"), c.x->shape[0]);
    if (!shards) return shards.status();
    c.sync_shards = std::move(shards.value());
  }

  auto device = integer(opts, "device", 0, UINT32_MAX, -1);
  if (!device) return device.status();
  if (device.value() >= 0) c.context_options.device_index = static_cast<uint32_t>(device.value());
  c.out = get(opts, "out");
  if (execute) {
    apply_validation(c.context_options);  // VKNORM_VALIDATION=1
    if (c.sync_shards.empty()) VKNORM_TRY(ensure_context(c));
    std::error_code ec;
    std::filesystem::create_directories(c.out, ec);
    if (ec) return Status::invalid_argument("--out: cannot create directory '" + c.out.string() + "': " + ec.message());
  }
  return visit_kind<Status>(kind, [&](auto k) { return run_kind<typename decltype(k)::type>(c); });
}

// --name value pairs, every option known, none repeated, the required ones there.
std::optional<Failure> parse_arguments(int argc, char** argv, Options& out) {
  if (auto failure = parse(argc, argv, out)) return failure;
  for (const char* required : {"op", "x", "out"})
    if (!out.count(required)) return Failure{2, std::string("--") + required + " is required"};
  return std::nullopt;
}

}  // namespace

Status check_run_arguments(int argc, char** argv, const NpyReader& read) {
  Options opts;
  if (auto failure = parse_arguments(argc, argv, opts))
    return failure->code == 0 ? Status{} : Status::invalid_argument(failure->message);
  return run(opts, read, false);
}

int run_command(int argc, char** argv) {
  Options opts;
  if (auto failure = parse_arguments(argc, argv, opts)) {
    if (failure->code == 0) {
      std::fputs(run_usage().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "vknorm run: %s\n%s", failure->message.c_str(), run_usage().c_str());
    return failure->code;
  }
  // run() has destroyed its contexts when it returns: every validation message is in.
  Status status = run(opts, io::read_npy, true);
  if (!status.ok()) std::fprintf(stderr, "vknorm run: %s\n", status.message().c_str());
  return validation_verdict("vknorm run", status.ok() ? 0 : 1);
}

}  // namespace vknorm::cli
