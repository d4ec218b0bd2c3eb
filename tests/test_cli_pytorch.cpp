// `vknorm run --op batchnorm` against values PyTorch produced (tests/fixtures/batchnorm):
// outputs, saved and running statistics, and gradients within 3e-5 relative to the
// tensor's largest magnitude (at least 1). Also: the tool's refusals.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "env.hpp"
#include "gpu_support.hpp"
#include "io/npy.hpp"
#include "process_support.hpp"
#include "reference_support.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/half.hpp"
#include "vknorm/instancenorm.hpp"

namespace fs = std::filesystem;

namespace vknorm::test {
namespace {

// VKNORM_TEST_TOOL_RUNS=sampled (the sanitizer build, and Windows under wine, where a run of
// the tool takes seconds): the fixture sweeps below run each fixture in one of its variants
// (layout and dtype; for SyncBatchNorm also the shards), taken in turn from fixture to
// fixture, so every fixture and every variant still runs, on the same host code. Unset:
// every variant of every fixture.
bool sampled_tool_runs() { return env::equals("VKNORM_TEST_TOOL_RUNS", "sampled"); }

// Which of a fixture's `count` variants run: all, or with sampled runs the one whose turn it
// is for the fixture numbered `fixture`.
bool variant_runs(int variant, int count, int fixture) {
  return !sampled_tool_runs() || variant == fixture % count;
}

// The tolerance of a case. Where |x| >> std (the large-mean cases, x = 1e4 + N(0, 1)),
// PyTorch and vknorm both round x - mean in float32, and the outputs inherit a relative
// error of about FLT_EPSILON * kappa with kappa = max|x| * invstd, the conditioning of
// normalization (PyTorch 1.13's GroupNorm is also 1e-4 off the float64 invstd there, where
// vknorm is 6e-8 off). Everywhere else kappa is small and 3e-5 applies.
double case_tolerance(const fs::path& dir, double base) {
  if (dir.filename().string().find("large_mean") == std::string::npos) return base;
  auto x = io::read_npy((dir / "x.npy").string());
  auto invstd = io::read_npy((dir / "save_invstd.npy").string());
  double max_x = 0.0, max_invstd = 0.0;
  for (float v : x->data) max_x = std::max(max_x, std::fabs(static_cast<double>(v)));
  for (float v : invstd->data) max_invstd = std::max(max_invstd, static_cast<double>(v));
  return base + 4.0 * FLT_EPSILON * max_x * max_invstd;
}

// The tool's arguments for a fixture case, from its params.txt and the files it holds.
std::string fixture_args(const fs::path& dir, std::map<std::string, std::string>& params) {
  auto file = [&](const char* name) { return (dir / name).string(); };
  std::string args = "run --op " + params["op"] + " --x " + file("x.npy") + " --dy " + file("dy.npy");
  if (params.count("training")) args += std::string(" --mode ") + (params["training"] == "1" ? "train" : "eval");
  if (params.count("eps")) args += " --eps " + params["eps"];
  if (params.count("momentum")) args += " --momentum " + params["momentum"];
  if (params.count("num_batches_tracked_in")) args += " --num-batches-tracked " + params["num_batches_tracked_in"];
  if (params.count("groups")) args += " --groups " + params["groups"];
  if (params.count("normalized_dims")) args += " --normalized-dims " + params["normalized_dims"];
  if (params.count("dims")) args += " --dims " + params["dims"];
  if (fs::exists(dir / "weight.npy")) args += " --weight " + file("weight.npy");
  if (fs::exists(dir / "bias.npy")) args += " --bias " + file("bias.npy");
  if (fs::exists(dir / "running_mean_in.npy"))
    args += " --running-mean " + file("running_mean_in.npy") + " --running-var " + file("running_var_in.npy");
  return args;
}

// x as the device holds it: in `layout` (from the logical batched (N, C, *) order) and
// `dtype`, written to a host-visible buffer of `context`.
Buffer device_tensor(Context& context, const io::NpyArray& x, Layout layout, DType dtype) {
  const size_t n = x.shape[0], c = x.shape.size() > 1 ? x.shape[1] : 1, spatial = x.data.size() / (n * c);
  auto buffer = context.create_buffer(std::max<size_t>(4, x.data.size() * (dtype == DType::f16 ? 2 : 4)));
  REQUIRE_MESSAGE(buffer.ok(), buffer.status().message());
  for (size_t i = 0; i < x.data.size(); ++i) {
    const size_t b = i / (c * spatial), ch = i / spatial % c, s = i % spatial;
    const size_t at = layout == Layout::nhwc ? (b * spatial + s) * c + ch : i;
    if (dtype == DType::f16) buffer->as<uint16_t>()[at] = float_to_half(x.data[i]);
    else buffer->as<float>()[at] = x.data[i];
  }
  return std::move(buffer.value());
}

// A host-visible buffer holding `values`, or `count` zeros.
Buffer float_buffer(Context& context, size_t count, const std::vector<float>& values = {}) {
  auto buffer = context.create_buffer(std::max<size_t>(4, count * 4));
  REQUIRE_MESSAGE(buffer.ok(), buffer.status().message());
  for (size_t i = 0; i < count; ++i) buffer->as<float>()[i] = i < values.size() ? values[i] : 0.0f;
  return std::move(buffer.value());
}

// The running statistics after vknorm's eval forward of a fixture case (BatchNorm or
// InstanceNorm with tracked statistics), read back from the device buffers the recorded
// forward was given. The tool writes running statistics only when training updates them,
// so this is how an eval run's running_mean/running_var reach the comparison.
std::pair<std::vector<float>, std::vector<float>> running_after_eval(const fs::path& dir,
                                                                     std::map<std::string, std::string>& params,
                                                                     Layout layout, DType dtype) {
  Context& context = context_for(TestDevice::subgroup);
  auto load = [&](const char* name) {
    auto array = io::read_npy((dir / name).string());
    REQUIRE_MESSAGE(array.ok(), array.status().message());
    return std::move(array.value());
  };
  const io::NpyArray x = load("x.npy");
  const std::vector<float> rm = load("running_mean_in.npy").data, rv = load("running_var_in.npy").data;
  const bool affine = fs::exists(dir / "weight.npy");
  const size_t C = rm.size(), groups = x.shape[0] * C;
  Buffer xb = device_tensor(context, x, layout, dtype), yb = device_tensor(context, x, layout, dtype);
  Buffer wb = float_buffer(context, C, affine ? load("weight.npy").data : std::vector<float>());
  Buffer bb = float_buffer(context, C, affine ? load("bias.npy").data : std::vector<float>());
  Buffer rmb = float_buffer(context, C, rm), rvb = float_buffer(context, C, rv);
  Buffer smb = float_buffer(context, groups), sib = float_buffer(context, groups);
  auto recorder = context.begin_commands();
  REQUIRE(recorder.ok());
  // BatchNormParams or InstanceNormParams: an eval forward with tracked statistics.
  auto record = [&](auto p, auto workspace_size, auto record_forward) {
    p.shape = x.shape;
    p.dims = static_cast<decltype(p.dims)>(params.count("dims") ? std::stoi(params["dims"]) : 0);  // 0: any
    p.training = false;
    p.affine = affine;
    p.track_running_stats = true;
    p.eps = std::stof(params["eps"]);
    p.layout = layout;
    p.dtype = dtype;
    auto bytes = workspace_size(context, p);
    REQUIRE_MESSAGE(bytes.ok(), bytes.status().message());
    Buffer wsb = float_buffer(context, bytes.value() / 4);
    const NormForwardBuffers buffers{ref(xb), ref(yb), ref(wb), ref(bb), ref(rmb), ref(rvb), ref(smb), ref(sib), ref(wsb)};
    const Status recorded = record_forward(*recorder.value(), p, buffers);
    REQUIRE_MESSAGE(recorded.ok(), recorded.message());
    const Status done = context.submit_and_wait(*recorder.value());
    REQUIRE_MESSAGE(done.ok(), done.message());
  };
  if (params["op"] == "batchnorm") {
    record(BatchNormParams{}, batch_norm_workspace_size, record_batch_norm_forward);
  } else {
    REQUIRE(params["op"] == "instancenorm");
    record(InstanceNormParams{}, instance_norm_workspace_size, record_instance_norm_forward);
  }
  check_no_validation_messages();
  return {std::vector<float>(rmb.as<float>(), rmb.as<float>() + C), std::vector<float>(rvb.as<float>(), rvb.as<float>() + C)};
}

// Compares what the tool wrote in `out` for a fixture case with PyTorch's files; returns
// how many tensors it compared. eval_running: the device's running statistics after an eval
// forward (the eval_with_running cases).
int compare_with_fixture(const fs::path& dir, std::map<std::string, std::string>& params, const fs::path& out, bool f16,
                         bool eval_with_running, const std::pair<std::vector<float>, std::vector<float>>& eval_running,
                         const std::string& run_name) {
  int compared = 0;
  for (const char* file : {"y", "save_mean", "save_invstd", "running_mean", "running_var", "dx", "dweight",
                           "dbias"}) {
    const std::string file_name = file;
    const fs::path want_file = dir / (file_name + ".npy");
    if (!fs::exists(want_file)) continue;
    CAPTURE(file_name);
    const fs::path got_file = out / (file_name + ".npy");
    auto want = io::read_npy(want_file.string());
    REQUIRE_MESSAGE(want.ok(), want.status().message());
    const double tolerance = case_tolerance(dir, f16 ? 3e-3 : 3e-5);
    // Eval: the tool writes no running statistics (it writes them only when it
    // updates them); the device's buffers after the same forward must hold PyTorch's.
    if (eval_with_running && file_name.rfind("running_", 0) == 0) {
      CHECK_FALSE(fs::exists(got_file));
      const std::vector<float>& got = file_name == "running_mean" ? eval_running.first : eval_running.second;
      check_close(got, want->data, tolerance, run_name + "/" + file_name + " (device buffer after eval)");
      ++compared;
      continue;
    }
    auto got = io::read_npy(got_file.string());
    REQUIRE_MESSAGE(got.ok(), got.status().message());
    CHECK(got->shape == want->shape);
    check_close(got->data, want->data, tolerance, run_name + "/" + file_name);
    ++compared;
  }
  if (fs::exists(dir / "num_batches_tracked.npy")) {
    // The tool writes the count only when it changes it: no file stands for the
    // count it was given.
    const fs::path got_file = out / "num_batches_tracked.npy";
    const int64_t got = fs::exists(got_file) ? load_int64_scalar(got_file) : std::stoll(params["num_batches_tracked_in"]);
    CHECK(got == load_int64_scalar(dir / "num_batches_tracked.npy"));
  }
  return compared;
}

}  // namespace

// Every fixture case of every op, in each device layout the op has and in both device
// dtypes. float32 storage: within 3e-5 of the largest magnitude (see case_tolerance for
// the large-mean cases). float16 storage: within 3e-3, the bound the project promises; the
// inputs are then rounded to float16 on the way to the device, which a large-mean case
// (1e4 + N(0, 1): float16 spacing 8 there) cannot survive, so those cases run in float32.
TEST_CASE("vknorm run matches PyTorch on every fixture, both layouts and both dtypes") {
  int cases = 0, runs = 0;
  std::set<std::pair<std::string, std::string>> eligible, ran;  // every variant runs somewhere
  for (const char* op : {"batchnorm", "instancenorm", "groupnorm", "layernorm", "rmsnorm"}) {
    // In name order (a directory's own order differs between file systems): the sampled
    // runs take variants in turn.
    for (const std::string& name : reftest::fixture_cases(op)) {
      const fs::path dir = fs::path(reftest::fixture_dir(op)) / name;
      auto params = read_params(dir / "params.txt");
      const bool channels = params["op"] == "batchnorm" || params["op"] == "instancenorm" || params["op"] == "groupnorm";
      const bool large_mean = name.find("large_mean") != std::string::npos;
      const bool eval_with_running = params["training"] == "0" && fs::exists(dir / "running_mean_in.npy");
      std::vector<std::pair<std::string, std::string>> variants;  // layout, dtype
      for (const char* layout : {"nchw", "nhwc"})
        for (const char* dtype : {"f32", "f16"}) {
          const bool f16 = std::string(dtype) == "f16";
          if ((!channels && std::string(layout) == "nhwc") || (f16 && large_mean)) continue;
          if (skip_if_unsupported(context_for(TestDevice::subgroup), f16 ? DType::f16 : DType::f32)) continue;
          variants.emplace_back(layout, dtype);
          eligible.emplace(op, std::string(layout) + "/" + dtype);
        }
      for (int v = 0; v < static_cast<int>(variants.size()); ++v) {
        if (!variant_runs(v, static_cast<int>(variants.size()), cases)) continue;
        const auto& [layout, dtype] = variants[v];
        ran.emplace(op, layout + "/" + dtype);
        const bool f16 = dtype == "f16";
        const std::string run_name = name + "/" + layout + "/" + dtype;
        CAPTURE(run_name);
        const fs::path out = scratch_path(name);
        fs::remove_all(out);
        std::string errors;
        const std::string args =
            fixture_args(dir, params) + " --layout " + layout + " --dtype " + dtype + " --out " + out.string();
        REQUIRE_MESSAGE(run_tool(args, &errors) == 0, errors);
        std::pair<std::vector<float>, std::vector<float>> eval_running;
        if (eval_with_running)
          eval_running = running_after_eval(dir, params, layout == "nhwc" ? Layout::nhwc : Layout::nchw,
                                            f16 ? DType::f16 : DType::f32);
        const int compared = compare_with_fixture(dir, params, out, f16, eval_with_running, eval_running, run_name);
        CHECK(compared >= 2);
        fs::remove_all(out);
        ++runs;
      }
      ++cases;
    }
  }
  MESSAGE(cases << " fixture cases, " << runs << " runs of the tool");
  CHECK(cases >= 40);
  CHECK(runs >= cases);  // every fixture, in one variant at least
  CHECK(ran == eligible);  // every op in each of its layouts and dtypes
}

// SyncBatchNorm (`--sync-shards`, one context and thread per shard) against PyTorch's
// BatchNorm on the whole batch: every training fixture, split once with an empty shard and
// once in two halves, with the plain run's tolerances (the shards' statistics are merged in
// double: no worse than one context's).
TEST_CASE("vknorm run --sync-shards matches PyTorch's BatchNorm on the whole batch") {
  int fixtures = 0, runs = 0, skipped = 0;
  // Each kind of split runs somewhere, and each variant: with sampled runs a fixture runs one
  // combination, and the split of a one-sample batch has fixtures of its own.
  std::set<std::string> eligible, ran;
  for (const std::string& name : reftest::fixture_cases("batchnorm")) {
    const fs::path dir = fs::path(reftest::fixture_dir("batchnorm")) / name;
    auto params = read_params(dir / "params.txt");
    if (params["training"] != "1") continue;  // eval runs plain (test_cli_sync.cpp)
    auto x = io::read_npy((dir / "x.npy").string());
    REQUIRE_MESSAGE(x.ok(), x.status().message());
    const int64_t n = x->shape[0];
    // The batch over two ranks, each split with its kind.
    std::vector<std::pair<std::string, std::string>> splits;  // shards, kind
    if (n >= 2)
      splits = {{"1,0," + std::to_string(n - 1), "an empty shard first"},
                {std::to_string(n / 2) + "," + std::to_string(n - n / 2), "halves"}};
    else
      splits = {{"0," + std::to_string(n), "one shard empty, one with all"}};
    const bool large_mean = name.find("large_mean") != std::string::npos;
    struct Combo {
      std::string shards, kind, variant;
    };
    std::vector<Combo> combos;
    for (const auto& [shards, kind] : splits)
      for (const char* variant : {"nchw/f32", "nhwc/f16"}) {
        const bool f16 = std::string(variant) == "nhwc/f16";
        if (f16 && large_mean) continue;  // see the test above
        if (f16 && skip_if_unsupported(context_for(TestDevice::subgroup), DType::f16)) {
          ++skipped;
          continue;
        }
        combos.push_back({shards, kind, variant});
      }
    for (int c = 0; c < static_cast<int>(combos.size()); ++c) {
      const auto& [shards, kind, variant] = combos[c];
      eligible.insert(kind);
      eligible.insert(variant);
      if (!variant_runs(c, static_cast<int>(combos.size()), fixtures)) continue;
      ran.insert(kind);
      ran.insert(variant);
      const bool f16 = variant == "nhwc/f16";
      const std::string run_name = name + "/" + variant + "/shards " + shards;
      CAPTURE(run_name);
      const fs::path out = scratch_path(name + "_sync");
      fs::remove_all(out);
      std::string errors;
      const std::string args = fixture_args(dir, params) + (f16 ? " --layout nhwc --dtype f16" : "") +
                               " --sync-shards " + shards + " --out " + out.string();
      REQUIRE_MESSAGE(run_tool(args, &errors) == 0, errors);
      CHECK(compare_with_fixture(dir, params, out, f16, false, {}, run_name) >= 2);
      fs::remove_all(out);
      ++runs;
    }
    ++fixtures;
  }
  MESSAGE(runs << " SyncBatchNorm runs of the tool on " << fixtures << " fixtures");
  CHECK(fixtures >= 8);
  CHECK(runs >= (sampled_tool_runs() ? fixtures : 30 - skipped));
  CHECK(ran == eligible);
}

// PyTorch's module keeps its momentum but reads it only where training updates running
// statistics; the tool reads --momentum (and --num-batches-tracked) there only, too.
TEST_CASE("vknorm run ignores --momentum where the mode does not use it, and accepts any finite one") {
  const fs::path dir = fs::path(VKNORM_FIXTURE_DIR) / "batchnorm" / "bn2d_train";
  const std::string x = (dir / "x.npy").string(), w = (dir / "weight.npy").string();
  const std::string running = " --running-mean " + w + " --running-var " + w;
  const fs::path out = scratch_path("unused_momentum");
  for (const std::string& args : {"run --op batchnorm --x " + x + " --momentum -1 --num-batches-tracked bad",
                                  "run --op batchnorm --x " + x + running + " --mode eval --momentum -1",
                                  "run --op instancenorm --x " + x + " --momentum nan",
                                  "run --op instancenorm --x " + x + running + " --mode eval --momentum none"}) {
    CAPTURE(args);
    std::string errors;
    CHECK_MESSAGE(run_tool(args + " --out " + out.string(), &errors) == 0, errors);
    CHECK_FALSE(fs::exists(out / "running_mean.npy"));
    fs::remove_all(out);
  }
  // Training with running statistics reads it: -1 extrapolates, as PyTorch's does.
  std::string errors;
  REQUIRE_MESSAGE(run_tool("run --op batchnorm --x " + x + running + " --momentum -1 --out " + out.string(), &errors) == 0,
                  errors);
  auto rm = io::read_npy((out / "running_mean.npy").string());
  auto saved = io::read_npy((out / "save_mean.npy").string());
  auto rm_in = io::read_npy(w);
  REQUIRE((rm.ok() && saved.ok() && rm_in.ok()));
  for (size_t c = 0; c < rm->data.size(); ++c)
    CHECK(rm->data[c] == doctest::Approx(2.0 * rm_in->data[c] - saved->data[c]).epsilon(1e-5));
  fs::remove_all(out);
}

TEST_CASE("vknorm run refuses bad input with a message and a non-zero exit") {
  const fs::path dir = fs::path(VKNORM_FIXTURE_DIR) / "batchnorm" / "bn2d_train";
  const std::string x = (dir / "x.npy").string(), w = (dir / "weight.npy").string();
  // An (N, C, 1) input: one spatial element per instance.
  const std::string one_spatial = scratch_path("one_spatial.npy").string();
  const float values[6] = {1, 2, 3, 4, 5, 6};
  REQUIRE(io::write_npy(one_spatial, {2, 3, 1}, values, 6).ok());
  // A (1, 2) input in two groups: one value per group in the whole batch.
  const std::string one_value = scratch_path("one_value.npy").string();
  REQUIRE(io::write_npy(one_value, {1, 2}, values, 2).ok());
  const std::string out = scratch_path("refusals").string();
  struct Case {
    std::string args, text;
  };
  const Case cases[] = {
      {"run --op batchnorm --out " + out, "--x is required"},
      {"run --op softmax --x " + x + " --out " + out, "--op: expected batchnorm"},
      {"run --op batchnorm --x " + x + " --out " + out + " --mode test", "--mode: expected train or eval"},
      {"run --op batchnorm --x " + x + " --out " + out + " --eps zero", "--eps: expected a number"},
      {"run --op batchnorm --x " + x + " --out " + out + " --eps -1", "eps: expected a finite value >= 0"},
      // --momentum is read where the running statistics are updated (training with them).
      {"run --op batchnorm --x " + x + " --out " + out + " --running-mean " + w + " --running-var " + w +
           " --momentum nan",
       "--momentum: expected a finite number or 'none', got 'nan'"},
      {"run --op instancenorm --x " + x + " --out " + out + " --running-mean " + w + " --running-var " + w +
           " --momentum 1e999",
       "--momentum: expected a finite number, got '1e999'"},
      {"run --op batchnorm --x " + x + " --out " + out + " --weight " + x, "--weight: expected shape (3,)"},
      {"run --op batchnorm --x " + x + " --out " + out + " --running-mean " + w, "give both or neither"},
      {"run --op batchnorm --x " + x + " --out " + out + " --dy " + w, "--dy: expected the shape of x"},
      {"run --op batchnorm --x /nonexistent.npy --out " + out, "--x: "},
      {"run --op batchnorm --x " + x + " --out " + out + " --layout nchwc", "--layout: expected nchw or nhwc"},
      {"run --op batchnorm --x " + x + " --out " + out + " --dtype f64", "--dtype: expected f32 or f16"},
      {"run --op batchnorm --x " + x + " --out " + out + " --dims 3", "expected 5D input (got 4D input)"},
      {"run --op layernorm --x " + x + " --out " + out + " --layout nhwc", "nhwc applies to batchnorm"},
      {"run --op layernorm --x " + x + " --out " + out + " --normalized-dims 5", "--normalized-dims: expected an integer in [1, 4]"},
      {"run --op layernorm --x " + x + " --out " + out + " --weight " + w, "--weight: expected shape (5,)"},
      {"run --op layernorm --x " + x + " --out " + out + " --running-mean " + w + " --running-var " + w,
       "layernorm keeps no running statistics"},
      {"run --op rmsnorm --x " + x + " --out " + out + " --bias " + w, "--bias: RMSNorm has no bias"},
      {"run --op groupnorm --x " + x + " --out " + out, "--groups: GroupNorm needs the number of groups"},
      {"run --op groupnorm --x " + x + " --out " + out + " --groups 2", "divisible by num_groups"},
      {"run --op groupnorm --x " + x + " --out " + out + " --groups 0", "--groups: expected an integer in [1,"},
      {"run --op instancenorm --x " + x + " --out " + out + " --running-mean " + w + " --running-var " + w +
           " --momentum none",
       "InstanceNorm has no momentum=None"},
      {"run --op instancenorm --x " + one_spatial + " --out " + out, "Expected more than 1 spatial element"},
      {"run --op groupnorm --x " + one_value + " --out " + out + " --groups 2", "Expected more than 1 value per channel"},
      {"run --op batchnorm --x " + x + " --out " + out + " --device 99", "device_index"},
      {"run --op batchnorm --x " + x + " --out " + out + " --bogus 1", "unknown option '--bogus'"},
      // Integer options given NaN, Inf or 2^63: refused before any conversion to int64_t
      // (which is undefined for them; UBSan's float-cast-overflow in the sanitize build).
      // --num-batches-tracked is read where running statistics are updated: give them.
      {"run --op batchnorm --x " + x + " --out " + out + " --running-mean " + w + " --running-var " + w +
           " --num-batches-tracked nan",
       "--num-batches-tracked: expected an integer in [0, 4611686018427387903], got 'nan'"},
      {"run --op batchnorm --x " + x + " --out " + out + " --running-mean " + w + " --running-var " + w +
           " --num-batches-tracked -inf", "got '-inf'"},
      {"run --op batchnorm --x " + x + " --out " + out + " --running-mean " + w + " --running-var " + w +
           " --momentum 1e39", "--momentum: expected a finite number or 'none', got '1e39'"},
      {"run --op batchnorm --x " + x + " --out " + out + " --eps 1e39", "--eps: expected a float32 value"},
      {"run --op groupnorm --x " + x + " --out " + out + " --groups nan", "--groups: expected an integer in [1,"},
      {"run --op layernorm --x " + x + " --out " + out + " --normalized-dims inf", "--normalized-dims: expected an integer"},
      {"run --op batchnorm --x " + x + " --out " + out + " --device nan", "--device: expected an integer in [0, 4294967295]"},
      {"run --op batchnorm --x " + x + " --out " + out + " --device 9223372036854775808", "--device: expected an integer"},
      {"run --op batchnorm --x " + x + " --out " + out + " --dims 1e300", "--dims: expected an integer in [1, 3]"},
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

namespace vknorm::test {

// test_main.cpp sets VKNORM_VALIDATION=1 for every tool the tests start. Prove that the
// tool then runs with the validation layer and fails on what it reports: the layer's
// best-practices checks (switched on through its VK_LAYER_ENABLES setting) warn about
// vknorm's small allocations, which are deliberate, so they make a message to catch.
TEST_CASE("vknorm run with VKNORM_VALIDATION=1 fails on a validation-layer message, printing it") {
  if (skip_without_validation_layer("vknorm run with VKNORM_VALIDATION=1 fails on a validation-layer message")) return;
  const fs::path dir = fs::path(VKNORM_FIXTURE_DIR) / "batchnorm" / "bn2d_train";
  const std::string out = scratch_path("validation").string();
  const std::string args = "run --op batchnorm --x " + (dir / "x.npy").string() + " --out " + out;
  const std::string best_practices = "VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_BEST_PRACTICES_EXT ";
  std::string errors;
  CHECK(run_tool(args, &errors) == 0);  // inherits VKNORM_VALIDATION=1: nothing to report
  CHECK_MESSAGE(errors.empty(), errors);
  const fs::path err_file = scratch_path("validation_stderr.txt");
  auto run_with = [&](const std::string& env) {
    const int code = run_shell(env + best_practices + cli_program() + " " + args + " 2> " + err_file.string());
    errors = read_file(err_file);
    return code;
  };
  CHECK(run_with("VKNORM_VALIDATION=1 ") == 1);
  CHECK_MESSAGE(errors.find("vknorm run: validation layer: ") != std::string::npos, errors);
  CHECK_MESSAGE(errors.find("validation-layer message(s) with VKNORM_VALIDATION=1") != std::string::npos, errors);
  CHECK(run_with("VKNORM_VALIDATION=0 ") == 0);  // no layer: the same setting reports nothing
  CHECK_MESSAGE(errors.empty(), errors);
  fs::remove(err_file);
  fs::remove_all(out);
}

TEST_CASE("vknorm bench refuses bad options with a message and a non-zero exit") {
  struct Case {
    std::string args, text;
  };
  const Case cases[] = {
      {"bench --runs 0", "--runs: expected a number from 1 to 1000"},
      {"bench --runs many", "--runs: expected a number from 1 to 1000"},
      {"bench --warmup -1", "--warmup: expected a number"},
      {"bench --kind softmax", "--kind: expected batch_norm, layer_norm, rms_norm, group_norm or instance_norm, got 'softmax'"},
      {"bench --dtype f64", "--dtype: expected f32 or f16, got 'f64'"},
      {"bench --pass eval", "--pass: expected train_fwd, eval_fwd, eval_cached or backward, got 'eval'"},
      {"bench --pass", "--pass: expected a pass"},
      {"bench --json", "--json: expected a file name"},
      {"bench --max-regression 0.5", "--max-regression: expected a factor >= 1"},
      {"bench --slowdown 0", "--slowdown: expected a number from 1 to 8"},
      {"bench --slowdown x", "--slowdown: expected a number from 1 to 8"},
      {"bench --reference-grids most", "--reference-grids: expected small or all, got 'most'"},
      {"bench --baseline /nonexistent.json", "--baseline /nonexistent.json: cannot read it"},
      {"bench --device 99", "device_index"},
      {"bench --bogus", "unknown option '--bogus'"},
      {"bench --host --descriptors sets", "--descriptors: expected push or pool, got 'sets'"},
      {"bench --host --frame 1", "--frame: expected a number >= 2"},
      {"bench --host --samples 0", "--samples: expected a number"},
      {"bench --host --kind softmax", "--kind: expected batch_norm, layer_norm, rms_norm, group_norm or instance_norm, got 'softmax'"},
      {"bench --host --json", "--json: expected a file name"},
      {"bench --host --bogus", "unknown option '--bogus'"},
      {"bench --sync --runs 0", "--runs: expected a number from 1 to 1000"},
      {"bench --sync --warmup x", "--warmup: expected a number from 0 to 1000"},
      {"bench --sync --device 99", "device_index"},
      {"bench --sync --json", "--json: expected a file name"},
      {"bench --sync --kind layer_norm", "unknown option '--kind'"},
      {"bench --sync --host", "--sync and --host are separate modes"},
      {"bench --host --sync", "--sync and --host are separate modes"},
      {"bench --sync --bogus", "unknown option '--bogus'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    std::string errors;
    CHECK(run_tool(c.args, &errors) != 0);
    CHECK_MESSAGE(errors.find(c.text) != std::string::npos, errors);
  }
}

TEST_CASE("vknorm devices lists the device with its reduction path, and --json parses as an object") {
  const fs::path out = scratch_path("devices.txt");
  const std::string tool = cli_program();
  REQUIRE(run_shell(tool + " devices > " + out.string()) == 0);
  const std::string listing = read_file(out);
  CHECK(listing.find("reduction path") != std::string::npos);
  CHECK(listing.find("storageBuffer16BitAccess") != std::string::npos);
  CHECK(listing.find("subgroup size") != std::string::npos);
  REQUIRE(run_shell(tool + " devices --json > " + out.string()) == 0);
  std::string first;
  std::ifstream(out) >> first;  // closed again at once: Windows removes no open file
  CHECK((first == "{" || first == "[" || first.rfind("{", 0) == 0 || first.rfind("[", 0) == 0));
  std::string errors;
  CHECK(run_tool("devices --bogus", &errors) != 0);
  CHECK(errors.find("--bogus") != std::string::npos);
  fs::remove(out);
}

}  // namespace vknorm::test
