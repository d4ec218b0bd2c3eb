// `vknorm tune`: times every candidate strategy of the bench's shapes (bench_cases) on the
// device (Context::tune), prints each shape class's candidates and winner, and writes the
// tuning cache an application loads with TuningCache::load and Context::set_tuning.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "bench_cases.hpp"
#include "commands.hpp"
#include "vknorm/context.hpp"
#include "vknorm/tuning.hpp"

namespace vknorm::cli {
namespace {

struct Options {
  std::optional<uint32_t> device;
  std::vector<std::string> kinds;  // empty: all
  std::optional<DType> dtype;      // empty: f32, and f16 where the device stores it natively
  uint32_t runs = 5;
  std::string in_path, out_path;
};

void usage(FILE* to) {
  std::fprintf(to,
      "usage: vknorm tune [options]\n"
      "Times every candidate strategy (team, fused, split passes with 8/64/256 values per\n"
      "invocation, with and without the column view; in eval, blocks of 8/16/32/64 rows per\n"
      "invocation of the apply pass, and its coefficients computed first or in the apply) of\n"
      "each shape class of `vknorm bench`'s shapes (training forward, eval forward and\n"
      "backward) on the device with timestamp queries, and keeps the fastest of each class in\n"
      "a tuning cache (vknorm/tuning.hpp).\n"
      "  --kind K[,K...]   batch_norm, layer_norm, rms_norm, group_norm, instance_norm (default all)\n"
      "  --dtype f32|f16   one dtype (default f32, and f16 where the device has 16-bit storage)\n"
      "  --runs N          timed runs per candidate, after one warm-up; the median counts (default 5)\n"
      "  --in FILE         start from this cache (same device and driver), adding to it\n"
      "  --out FILE        write the cache there\n"
      "  --device N        the device index of `vknorm devices`\n");
}

int bad_usage(const std::string& message) {
  std::fprintf(stderr, "vknorm tune: %s\n", message.c_str());
  usage(stderr);
  return 2;
}

// The bench case's params: PyTorch's defaults with weight and bias, training (or eval, as
// the case's pass), tracked running statistics where the kind keeps them (as the bench
// times them).
template <class Params>
Params params_of(const bench::BenchCase& c) {
  Params p;
  if constexpr (requires { p.training; }) p.training = c.pass != bench::Pass::eval_forward;
  p.shape = c.shape;
  p.dtype = c.dtype;
  if constexpr (requires { p.layout; }) p.layout = c.layout;
  if constexpr (requires { p.affine; }) p.affine = true;
  if constexpr (requires { p.track_running_stats; }) p.track_running_stats = true;
  if constexpr (requires { p.num_groups; }) p.num_groups = c.groups;
  if constexpr (requires { p.normalized_shape; }) p.normalized_shape = {c.shape.back()};
  return p;
}

std::optional<NormParams> norm_params(const bench::BenchCase& c) {
  if (c.kind == "batch_norm") return params_of<BatchNormParams>(c);
  if (c.kind == "layer_norm") return params_of<LayerNormParams>(c);
  if (c.kind == "rms_norm") return params_of<RMSNormParams>(c);
  if (c.kind == "group_norm") return params_of<GroupNormParams>(c);
  if (c.kind == "instance_norm") return params_of<InstanceNormParams>(c);
  return std::nullopt;
}

void print_class(const TunedClass& c, const std::string& layout) {
  std::printf("%s  (%s %s)\n", to_string(c.key).c_str(), c.shape.c_str(), layout.c_str());
  double default_ms = 0, winner_ms = 0;
  for (const TunedCandidate& t : c.candidates) {
    std::printf("    %-24s %9.3f ms%s%s\n", to_string(t.choice).c_str(), t.milliseconds,
                t.is_default ? "  default" : "", t.choice == c.winner ? "  <- winner" : "");
    if (t.is_default) default_ms = t.milliseconds;
    if (t.choice == c.winner) winner_ms = t.milliseconds;
  }
  if (default_ms > 0 && winner_ms > 0)
    std::printf("  winner %s: %.2fx the default's time\n", to_string(c.winner).c_str(), winner_ms / default_ms);
}

}  // namespace

Status load_tuning_file(Context& context, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid_argument("cannot open the file");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto cache = TuningCache::load(context.capabilities(), bytes);
  if (!cache) return cache.status();
  return context.set_tuning(cache.value());
}

int tune_command(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--kind") {
      const char* v = value();
      if (!v) return bad_usage("--kind: expected a kind");
      std::string list = v;
      size_t start = 0;
      while (start <= list.size()) {
        const size_t comma = std::min(list.find(',', start), list.size());
        auto kind = bench::parse_kind(list.substr(start, comma - start));
        if (!kind) return bad_usage(kind.status().message());
        o.kinds.push_back(kind.value());
        start = comma + 1;
      }
    } else if (a == "--dtype") {
      const char* v = value();
      const std::string d = v ? v : "";
      if (d != "f32" && d != "f16") return bad_usage("--dtype: expected f32 or f16, got '" + d + "'");
      o.dtype = d == "f16" ? DType::f16 : DType::f32;
    } else if (a == "--runs") {
      const char* v = value();
      const long n = v ? std::strtol(v, nullptr, 10) : 0;
      if (n < 1 || n > 1000) return bad_usage("--runs: expected 1 to 1000");
      o.runs = static_cast<uint32_t>(n);
    } else if (a == "--in" || a == "--out") {
      const char* v = value();
      if (!v) return bad_usage(a + ": expected a file name");
      (a == "--in" ? o.in_path : o.out_path) = v;
    } else if (a == "--device") {
      const char* v = value();
      char* end = nullptr;
      const unsigned long n = v ? std::strtoul(v, &end, 10) : 0;
      if (!v || end == v || *end != '\0' || n > UINT32_MAX) return bad_usage("--device: expected an index");
      o.device = static_cast<uint32_t>(n);
    } else {
      return bad_usage("unknown option '" + a + "'");
    }
  }

  StandaloneOptions options;
  options.device_index = o.device;
  auto context = Context::create_standalone(options);
  if (!context) {
    std::fprintf(stderr, "vknorm tune: %s\n", context.status().message().c_str());
    return 1;
  }
  Context& ctx = *context.value();
  const Capabilities& caps = ctx.capabilities();
  std::printf("device: %s (%s %s), subgroup %u, workgroup %u\n", caps.device_name.c_str(), caps.driver_name.c_str(),
              caps.driver_info.c_str(), caps.subgroup_size, caps.workgroup_size);
  std::printf("timing: timestamp queries, median of %u runs after a warm-up, the candidates in turn run by run; "
              "absolute times on a shared machine are noisy\n",
              o.runs);
  if (Status s = o.in_path.empty() ? Status() : load_tuning_file(ctx, o.in_path); !s) {
    std::fprintf(stderr, "vknorm tune: --in %s: %s\n", o.in_path.c_str(), s.message().c_str());
    return 1;
  }

  size_t classes = 0, changed = 0;
  for (const bench::BenchCase& c : bench::all_cases(caps.storage_buffer_16bit || o.dtype == DType::f16)) {
    if (o.dtype && c.dtype != *o.dtype) continue;
    if (c.pass == bench::Pass::eval_cached) continue;  // the eval forward's shape class
    if (!o.kinds.empty() && std::find(o.kinds.begin(), o.kinds.end(), c.kind) == o.kinds.end()) continue;
    auto params = norm_params(c);
    if (!params) continue;
    TuneRequest request;
    request.shapes = {*params};
    request.forward = c.pass != bench::Pass::backward;
    request.backward = c.pass == bench::Pass::backward;
    request.runs = o.runs;
    auto report = ctx.tune(request);
    if (!report) {
      std::fprintf(stderr, "vknorm tune: %s %s: %s\n", c.kind.c_str(), c.shape_label().c_str(),
                   report.status().message().c_str());
      return 1;
    }
    for (const TunedClass& t : report->classes) {
      print_class(t, c.layout_label());
      ++classes;
      for (const TunedCandidate& cand : t.candidates) changed += cand.is_default && !(cand.choice == t.winner);
    }
    std::fflush(stdout);
  }
  std::printf("%zu shape classes tuned, %zu with a winner other than the default; the cache holds %zu\n", classes,
              changed, ctx.tuning().entries().size());
  if (!o.out_path.empty()) {
    const std::vector<uint8_t> bytes = ctx.tuning().serialize();
    std::ofstream out(o.out_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "vknorm tune: --out %s: cannot write the file\n", o.out_path.c_str());
      return 1;
    }
    std::printf("wrote %zu bytes to %s\n", bytes.size(), o.out_path.c_str());
  }
  return 0;
}

}  // namespace vknorm::cli
