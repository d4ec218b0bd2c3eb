// `vknorm bench`: times every norm on a fixed set of realistic shapes on the device's own
// clock and compares each with two references measured in the same run on the same
// tensor: a copy (read once, write once) and an elementwise pass (y = a * x + b), each the
// fastest of a few kernels and grids timed on the device before the tensor's first case.
#if defined(_WIN32)
#include <io.h>  // _isatty
#else
#include <unistd.h>
#endif

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "bench_cases.hpp"
#include "bench_device.hpp"
#include "commands.hpp"
#include "bench_references.hpp"
#include "validation.hpp"
#include "vknorm/context.hpp"

namespace vknorm::cli {
namespace {

using bench::BenchCase;
using bench::ReferencePass;

// How many times the regression guard measures a case again before it counts as slower.
constexpr int kGuardRetries = 2;

struct Options {
  std::optional<uint32_t> device;
  int warmup = 3, runs = 21;
  bool quick = false, fences = false;
  bool no_16bit_storage = false;  // float16 packed in words, as on a device without 16-bit storage
  std::vector<std::string> kinds;  // empty: all
  std::optional<DType> dtype;
  std::vector<bench::Pass> passes;  // empty: all
  std::string json_path;
  std::string baseline_path;
  std::string tuning_path;  // a tuning cache (vknorm tune --out) the context plans with
  double max_regression = 2.0;
  int slowdown = 1;  // records each case this many times per timed run (tests the guard)
  bool all_grids = false;         // --reference-grids all
  bool check_references = false;  // --check-references
};

void usage(FILE* to) {
  std::fprintf(to,
      "usage: vknorm bench [options]\n"
      "Times every norm (kind x shape x layout x dtype x pass) on the device with timestamp\n"
      "queries (the median of the timed runs) and compares it with a copy and an elementwise\n"
      "pass (y = a*x + b) over the same tensor, measured in the same run. Each reference is the\n"
      "fastest of a few kernels and grids (the scalar kernel; 128-bit vec4 / uvec4 of packed\n"
      "halves, or f16vec4; 1, 2 or 4 vectors per invocation, grid-stride over 1024 workgroups\n"
      "or a grid covering the tensor), timed on the device before the first case of each\n"
      "tensor size; the references table says which won.\n"
      "  --host               the host cost of recording instead (vknorm bench --host --help)\n"
      "  --sync               SyncBatchNorm's exchange at world size 2 against plain BatchNorm\n"
      "                       instead (vknorm bench --sync --help)\n"
      "  --quick              fewer runs (1 warm-up, 7 timed): for CI\n"
      "  --runs N             timed runs per case (default 21)\n"
      "  --warmup N           untimed runs first (default 3)\n"
      "  --tuning FILE        plan with this tuning cache (vknorm tune --out FILE)\n"
      "  --kind K[,K...]      batch_norm, layer_norm, rms_norm, group_norm, instance_norm (or batchnorm, ...)\n"
      "  --pass P[,P...]      train_fwd, eval_fwd, eval_cached (BatchNorm's apply of cached\n"
      "                       coefficients), backward (default: every pass)\n"
      "  --dtype f32|f16      one dtype only (default: both where the device has 16-bit storage;\n"
      "                       f16 without it runs as halves packed in 32-bit words)\n"
      "  --device N           device index (vknorm devices)\n"
      "  --fences             time with fences even where the device has timestamps\n"
      "  --no-16bit-storage   run as on a device without storageBuffer16BitAccess: f16\n"
      "                       tensors packed in 32-bit words (the f16 cases run too)\n"
      "  --json FILE          also write the results as JSON ('-': stdout, instead of the table)\n"
      "  --baseline FILE      compare with an earlier --json: exit 1 when a case's ratio to the\n"
      "                       elementwise pass is more than --max-regression (default 2) times\n"
      "                       the baseline's in its measurement and in two more, or when a\n"
      "                       baseline case was not measured. A case over the limit on a busy\n"
      "                       machine (more runnable threads of other work than cores, or the\n"
      "                       reference's runs varying by more than 25%%) is reported and not\n"
      "                       judged\n"
      "  --slowdown K         record each case K times per timed run: a K-fold regression made\n"
      "                       on purpose, to check that the guard catches it\n"
      "  --reference-grids small|all\n"
      "                       the reference grids timed per tensor: the small set (default),\n"
      "                       or every workgroup size (64, 128, 256) x vectors per invocation\n"
      "                       (1, 2, 4) x grid (covering, or at most 1024 workgroups)\n"
      "  --check-references   instead of timing: run every reference grid on lengths around the\n"
      "                       vector widths and at several offsets, and exit 1 unless each wrote\n"
      "                       exactly x or a*x + b and nothing around it\n");
}

// The key of a case's references in `refs`: its element count and dtype.
std::pair<uint64_t, int> reference_key(const BenchCase& c) {
  return std::make_pair(c.elements(), c.dtype == DType::f16 ? 1 : 0);
}

// The load other work puts on the machine: on Linux the median of 20 samples, 5 ms
// apart, of the runnable threads /proc/loadavg counts, less this thread (vknorm's own
// work is idle while the guard judges); elsewhere the 1-minute load average. Not the
// 1-minute average on Linux: it also counts this run's own device threads (lavapipe has
// one per core), which would call every run busy.
std::optional<double> other_load() {
#if defined(__linux__)
  std::vector<double> samples;
  for (int i = 0; i < 20; ++i) {
    std::ifstream in("/proc/loadavg");
    double a, b, c;
    int running = 0;
    char slash;
    if (in >> a >> b >> c >> running >> slash) samples.push_back(std::max(0, running - 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
#elif defined(__unix__) || defined(__APPLE__)
  double load = 0.0;
  if (getloadavg(&load, 1) == 1) return load;
  return std::nullopt;
#else
  return std::nullopt;
#endif
}

// Why the machine is too busy for a verdict, or "" when it held still: other work
// above the core count (other_load), or an elementwise reference that varied by more than
// 25% across its interleaved runs (interquartile range / median) or across the
// re-measurements.
std::string busy_reason(double reference_spread, double reference_min_ms, double reference_max_ms) {
  char text[160];
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (auto load = other_load(); load && *load > cores) {
    std::snprintf(text, sizeof text, "the machine is busy (%.0f other runnable threads on %u cores)", *load, cores);
    return text;
  }
  if (reference_spread > 0.25) {
    std::snprintf(text, sizeof text, "the machine is busy (the elementwise reference's runs spread by %.0f%%)",
                  100.0 * reference_spread);
    return text;
  }
  if (reference_max_ms > 1.25 * reference_min_ms) {
    std::snprintf(text, sizeof text, "the machine is busy (the elementwise reference took %.3f to %.3f ms across "
                  "the measurements)", reference_min_ms, reference_max_ms);
    return text;
  }
  return "";
}

int bad_usage(const std::string& message) {
  std::fprintf(stderr, "vknorm bench: %s\n", message.c_str());
  usage(stderr);
  return 2;
}

std::optional<int> parse_int(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0 || v > 1000000) return std::nullopt;
  return static_cast<int>(v);
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

struct Measured {
  BenchCase c;
  bench::Timing timing;
  double gbps = 0, copy_ratio = 0, elementwise_ratio = 0;
  double reference_spread = 0;  // of the elementwise reference's runs (Timing::spread)
  std::string id() const {
    return c.kind + " " + c.shape_label() + " " + c.layout_label() + " " + (c.dtype == DType::f16 ? "f16" : "f32") +
           " " + bench::to_string(c.pass);
  }
};

struct Reference {
  double copy_ms = 0, elementwise_ms = 0;
  double copy_gbps = 0, elementwise_gbps = 0;
  bench::TunedReferences tuned;
  double scalar_elementwise_gbps = 0;  // the scalar kernel's, timed with the candidates
};

std::string today() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

std::string miss_label(double ratio, double target) {
  if (ratio <= target) return "ok";
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%.0f%%", (ratio / target - 1.0) * 100.0);
  return buf;
}

// Baseline ratios by case id, read from an earlier --json (its "id" and
// "elementwise_ratio" fields, which the writer puts on one line per case).
std::optional<std::map<std::string, double>> read_baseline(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::map<std::string, double> out;
  for (std::string line; std::getline(in, line);) {
    const auto id_at = line.find("\"id\": \"");
    const auto ratio_at = line.find("\"elementwise_ratio\": ");
    if (id_at == std::string::npos || ratio_at == std::string::npos) continue;
    const auto id_begin = id_at + 7, id_end = line.find('"', id_begin);
    out[line.substr(id_begin, id_end - id_begin)] = std::atof(line.c_str() + ratio_at + 21);
  }
  return out;
}

void print_table(FILE* out, const Capabilities& caps, const std::string& timing, const Options& o,
                 const std::vector<Measured>& rows, const std::map<std::pair<uint64_t, int>, Reference>& refs) {
  std::fprintf(out, "device: %s (%s %s), subgroup size %u, workgroup size %u, %s path\n", caps.device_name.c_str(),
               caps.driver_name.c_str(), caps.driver_info.c_str(), caps.subgroup_size, caps.workgroup_size,
               to_string(caps.reduction_path));
  std::fprintf(out, "timing: %s; median of %d runs after %d warm-up; %s\n", timing.c_str(), o.runs, o.warmup,
               today().c_str());
  std::fprintf(out, "x copy / x elem: the time against a copy / an elementwise pass moving the same bytes, each the\n"
                    "fastest grid of those timed on this device (references below)\n\n");
  std::fprintf(out, "%-14s %-18s %-6s %-5s %-11s %9s %9s %8s %7s %7s %6s %6s\n", "kind", "shape", "layout", "dtype",
               "pass", "ms", "min MB", "GB/s", "x copy", "x elem", "target", "");
  for (const Measured& m : rows) {
    std::fprintf(out, "%-14s %-18s %-6s %-5s %-11s %9.3f %9.2f %8.2f %7.2f %7.2f %6.2f %6s\n", m.c.kind.c_str(),
                 m.c.shape_label().c_str(), m.c.layout_label().c_str(), m.c.dtype == DType::f16 ? "f16" : "f32",
                 bench::to_string(m.c.pass), m.timing.median_ms, m.c.min_bytes() / 1e6, m.gbps, m.copy_ratio,
                 m.elementwise_ratio, m.c.target_ratio(), miss_label(m.elementwise_ratio, m.c.target_ratio()).c_str());
  }
  std::fprintf(out, "\nreferences (measured with each case; the last of each tensor), the grid each took (the fastest\n"
                    "of %d timed per pass), and the scalar elementwise kernel's GB/s timed with them (vs scalar: how\n"
                    "much faster the chosen elementwise grid ran than it):\n",
               refs.empty() ? 0 : refs.begin()->second.tuned.candidates);
  std::fprintf(out, "%10s %-5s %8s %9s %8s %9s %-18s %-18s %11s %9s\n", "elements", "dtype", "copy ms", "copy GB/s",
               "elem ms", "elem GB/s", "copy grid", "elem grid", "scalar GB/s", "vs scalar");
  for (const auto& [key, r] : refs)
    std::fprintf(out, "%10llu %-5s %8.3f %9.2f %8.3f %9.2f %-18s %-18s %11.2f %9.2f\n",
                 static_cast<unsigned long long>(key.first), key.second ? "f16" : "f32", r.copy_ms, r.copy_gbps,
                 r.elementwise_ms, r.elementwise_gbps, r.tuned.copy.label().c_str(), r.tuned.scale_shift.label().c_str(),
                 r.scalar_elementwise_gbps, r.tuned.scalar_scale_shift_ms / r.tuned.scale_shift_ms);
}

void write_json(std::ostream& out, const Capabilities& caps, const std::string& timing, const Options& o,
                const std::vector<Measured>& rows, const std::map<std::pair<uint64_t, int>, Reference>& refs) {
  char buf[512];
  out << "{\n";
  out << "  \"device\": \"" << caps.device_name << "\",\n";
  out << "  \"driver\": \"" << caps.driver_name << " " << caps.driver_info << "\",\n";
  out << "  \"subgroup_size\": " << caps.subgroup_size << ",\n";
  out << "  \"workgroup_size\": " << caps.workgroup_size << ",\n";
  out << "  \"reduction_path\": \"" << to_string(caps.reduction_path) << "\",\n";
  out << "  \"timing\": \"" << timing << "\",\n";
  out << "  \"runs\": " << o.runs << ",\n  \"warmup\": " << o.warmup << ",\n";
  out << "  \"date\": \"" << today() << "\",\n";
  out << "  \"cases\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Measured& m = rows[i];
    std::snprintf(buf, sizeof buf,
                  "    {\"id\": \"%s\", \"ms\": %.4f, \"min_ms\": %.4f, \"min_bytes\": %llu, \"gbps\": %.3f, "
                  "\"copy_ratio\": %.4f, \"elementwise_ratio\": %.4f, \"target\": %.2f}%s\n",
                  m.id().c_str(), m.timing.median_ms, m.timing.min_ms,
                  static_cast<unsigned long long>(m.c.min_bytes()), m.gbps, m.copy_ratio, m.elementwise_ratio,
                  m.c.target_ratio(), i + 1 < rows.size() ? "," : "");
    out << buf;
  }
  out << "  ],\n";
  // The references: one line per tensor, with no "id" (read_baseline reads the cases' lines).
  out << "  \"references\": [\n";
  size_t i = 0;
  for (const auto& [key, r] : refs) {
    std::snprintf(buf, sizeof buf,
                  "    {\"elements\": %llu, \"dtype\": \"%s\", \"copy_grid\": \"%s\", \"elementwise_grid\": \"%s\", "
                  "\"copy_gbps\": %.3f, \"elementwise_gbps\": %.3f, \"scalar_elementwise_gbps\": %.3f, "
                  "\"grids_timed\": %d}%s\n",
                  static_cast<unsigned long long>(key.first), key.second ? "f16" : "f32", r.tuned.copy.label().c_str(),
                  r.tuned.scale_shift.label().c_str(), r.copy_gbps, r.elementwise_gbps, r.scalar_elementwise_gbps,
                  r.tuned.candidates, ++i < refs.size() ? "," : "");
    out << buf;
  }
  out << "  ]\n}\n";
}

// `vknorm bench --check-references`: each dtype on its own context, so that with
// VKNORM_VALIDATION=1 the validation layer's verdict comes after every context is gone.
int check_references_command(const Options& o) {
  int rc = 0;
  {
    StandaloneOptions so;
    so.device_index = o.device;
    if (o.no_16bit_storage) so.capability_override.storage_buffer_16bit = false;
    apply_validation(so);  // VKNORM_VALIDATION=1: any message fails the check
    auto context = Context::create_standalone(so);
    if (!context) {
      std::fprintf(stderr, "vknorm bench: %s\n", context.status().message().c_str());
      return 1;
    }
    Context& ctx = *context.value();
    auto device = bench::BenchDevice::create(ctx, o.fences);
    if (!device) {
      std::fprintf(stderr, "vknorm bench: %s\n", device.status().message().c_str());
      return 1;
    }
    bench::ReferencePasses references(ctx);
    const std::vector<DType> dtypes = o.dtype ? std::vector<DType>{*o.dtype} : std::vector<DType>{DType::f32, DType::f16};
    for (DType dtype : dtypes) {
      auto checked = bench::check_references(*device.value(), references, dtype);
      if (!checked) {
        std::fprintf(stderr, "vknorm bench: reference check failed: %s\n", checked.status().message().c_str());
        rc = 1;
        break;
      }
      std::printf("reference check: %s (%s): %d outputs (every grid, length and offset) as computed on the host\n",
                  dtype == DType::f16 ? "f16" : "f32", to_string(tensor_storage(dtype, ctx.capabilities())),
                  checked.value());
    }
  }
  return validation_verdict("vknorm bench", rc);
}

}  // namespace

int bench_command(int argc, char** argv) {
  // --sync first: it refuses --host with it, where --host's parser would call it unknown.
  for (int i = 0; i < argc; ++i)
    if (std::string(argv[i]) == "--sync") return bench_sync_command(argc, argv);
  for (int i = 0; i < argc; ++i)
    if (std::string(argv[i]) == "--host") return bench_host_command(argc, argv);
  Options o;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--quick") {
      o.quick = true;
      o.warmup = 1;
      o.runs = 7;
    } else if (a == "--fences") {
      o.fences = true;
    } else if (a == "--no-16bit-storage") {
      o.no_16bit_storage = true;
    } else if (a == "--runs" || a == "--warmup" || a == "--device") {
      const char* v = value();
      auto n = v ? parse_int(v) : std::nullopt;
      if (!n || (a == "--runs" && (*n < 1 || *n > 1000)))
        return bad_usage(a + ": expected a number" + (a == "--runs" ? " from 1 to 1000" : std::string()));
      if (a == "--runs") o.runs = *n;
      if (a == "--warmup") o.warmup = *n;
      if (a == "--device") o.device = static_cast<uint32_t>(*n);
    } else if (a == "--kind") {
      const char* v = value();
      if (!v) return bad_usage("--kind: expected a kind");
      for (const std::string& k : split_commas(v)) {
        auto kind = bench::parse_kind(k);  // batch_norm or batchnorm
        if (!kind) return bad_usage(kind.status().message());
        o.kinds.push_back(kind.value());
      }
    } else if (a == "--pass") {
      const char* v = value();
      if (!v) return bad_usage("--pass: expected a pass");
      for (const std::string& name : split_commas(v)) {
        auto pass = bench::parse_pass(name);
        if (!pass) return bad_usage(pass.status().message());
        o.passes.push_back(pass.value());
      }
    } else if (a == "--dtype") {
      const char* v = value();
      const std::string d = v ? v : "";
      if (d != "f32" && d != "f16") return bad_usage("--dtype: expected f32 or f16, got '" + d + "'");
      o.dtype = d == "f16" ? DType::f16 : DType::f32;
    } else if (a == "--json" || a == "--baseline" || a == "--tuning") {
      const char* v = value();
      if (!v) return bad_usage(a + ": expected a file name");
      (a == "--json" ? o.json_path : a == "--tuning" ? o.tuning_path : o.baseline_path) = v;
    } else if (a == "--slowdown") {
      const char* v = value();
      auto n = v ? parse_int(v) : std::nullopt;
      if (!n || *n < 1 || *n > 8) return bad_usage("--slowdown: expected a number from 1 to 8");
      o.slowdown = *n;
    } else if (a == "--reference-grids") {
      const char* v = value();
      const std::string g = v ? v : "";
      if (g != "small" && g != "all") return bad_usage("--reference-grids: expected small or all, got '" + g + "'");
      o.all_grids = g == "all";
    } else if (a == "--check-references") {
      o.check_references = true;
    } else if (a == "--max-regression") {
      const char* v = value();
      o.max_regression = v ? std::atof(v) : 0;
      if (!(o.max_regression >= 1.0)) return bad_usage("--max-regression: expected a factor >= 1");
    } else {
      return bad_usage("unknown option '" + a + "'");
    }
  }
  if (o.check_references) return check_references_command(o);
  std::optional<std::map<std::string, double>> baseline;
  if (!o.baseline_path.empty()) {
    baseline = read_baseline(o.baseline_path);
    if (!baseline || baseline->empty()) {
      std::fprintf(stderr, "vknorm bench: --baseline %s: cannot read it, or it holds no cases\n",
                   o.baseline_path.c_str());
      return 1;
    }
  }

  StandaloneOptions so;
  so.device_index = o.device;
  if (o.no_16bit_storage) so.capability_override.storage_buffer_16bit = false;
  auto context = Context::create_standalone(so);
  if (!context) {
    std::fprintf(stderr, "vknorm bench: %s\n", context.status().message().c_str());
    return 1;
  }
  Context& ctx = *context.value();
  const Capabilities& caps = ctx.capabilities();
  if (Status s = o.tuning_path.empty() ? Status() : load_tuning_file(ctx, o.tuning_path); !s) {
    std::fprintf(stderr, "vknorm bench: --tuning %s: %s\n", o.tuning_path.c_str(), s.message().c_str());
    return 1;
  }
  auto device = bench::BenchDevice::create(ctx, o.fences);
  if (!device) {
    std::fprintf(stderr, "vknorm bench: %s\n", device.status().message().c_str());
    return 1;
  }
  bench::BenchDevice& dev = *device.value();
  bench::ReferencePasses references(ctx);
  if (!dev.timestamps()) std::fprintf(stderr, "vknorm bench: timing with %s\n", dev.timing_note().c_str());

  std::vector<BenchCase> cases;
  // float16 by default only where it is native; asked for, it runs packed elsewhere.
  // float16 cases: where the device stores halves natively, when asked for, and with
  // --no-16bit-storage (whose whole point is the packed float16 path).
  const bool with_f16 = caps.storage_buffer_16bit || o.dtype == DType::f16 || o.no_16bit_storage;
  for (const BenchCase& c : bench::all_cases(with_f16)) {
    if (!o.kinds.empty() && std::find(o.kinds.begin(), o.kinds.end(), c.kind) == o.kinds.end()) continue;
    if (o.dtype && c.dtype != *o.dtype) continue;
    if (!o.passes.empty() && std::find(o.passes.begin(), o.passes.end(), c.pass) == o.passes.end()) continue;
    cases.push_back(c);
  }

#if defined(_WIN32)
  const bool tty = _isatty(_fileno(stderr));
#else
  const bool tty = isatty(fileno(stderr));
#endif
  std::map<std::pair<uint64_t, int>, Reference> refs;
  // The grids each tensor's references run with, chosen before its first case.
  std::map<std::pair<uint64_t, int>, bench::TunedReferences> tuned;
  // One case: its references, measured again right before it (on a shared machine the
  // speed drifts, and a ratio is only as good as the time window its two sides share),
  // then the case. Errors are printed; nullopt then.
  auto measure = [&](const BenchCase& c) -> std::optional<Measured> {
    Measured m;
    m.c = c;
    const uint32_t eb = c.dtype == DType::f16 ? 2 : 4;
    const auto key = reference_key(c);
    // Whole 16-byte vectors: the references' vector grids bind whole words (record()).
    const uint64_t reference_bytes = (c.elements() * eb + 15) / 16 * 16;
    const std::vector<uint8_t> input = bench::reference_input(c.dtype, c.elements());
    auto x = dev.buffer(reference_bytes, input);
    auto y = dev.buffer(reference_bytes);
    // The copy's own pair: each timed pass then starts with its buffers last touched two
    // passes before, over other buffers, as the case's are. The elementwise pass right after
    // a copy of its own x ran warm: 4-8% faster on lavapipe (2026-12-04), a ratio's bias.
    auto copy_x = dev.buffer(reference_bytes, input);
    auto copy_y = dev.buffer(reference_bytes);
    for (const auto* b : {&x, &y, &copy_x, &copy_y})
      if (!*b) {
        std::fprintf(stderr, "\nvknorm bench: %s\n", b->status().message().c_str());
        return std::nullopt;
      }
    if (!tuned.count(key)) {
      // Few runs: the candidates differ by tens of percent where they differ at all.
      auto t = references.tune(dev, c.dtype, c.elements(), x.value().ref(), y.value().ref(), 1, o.quick ? 3 : 7,
                               o.all_grids);
      if (!t) {
        std::fprintf(stderr, "\nvknorm bench: %s: references: %s\n", m.id().c_str(), t.status().message().c_str());
        return std::nullopt;
      }
      // The chosen grids' output, once: a reference that computed garbage fast would make
      // every ratio a lie (bench --check-references runs every grid on harder lengths).
      // Not a structured binding: the lambda below captures them, which clang before 16
      // (the sanitize build's Debian clang 14) refuses.
      for (const auto& chosen : {std::make_pair(ReferencePass::copy, t.value().copy),
                                 std::make_pair(ReferencePass::scale_shift, t.value().scale_shift)}) {
        const ReferencePass pass = chosen.first;
        const auto& grid = chosen.second;
        Status st = dev.run_once([&](CommandRecorder& rec) {
          return references.record(rec, pass, c.dtype, grid, c.elements(), x.value().ref(), y.value().ref());
        });
        auto out = st.ok() ? dev.read(y.value()) : Result<std::vector<uint8_t>>(st);
        const std::string wrong =
            out ? bench::check_reference_output(pass, c.dtype, c.elements(), out.value(), 0) : out.status().message();
        if (!wrong.empty()) {
          std::fprintf(stderr, "\nvknorm bench: reference %s: %s\n", grid.label().c_str(), wrong.c_str());
          return std::nullopt;
        }
      }
      tuned[key] = t.value();
    }
    const bench::TunedReferences& grids = tuned[key];
    auto prepared = bench::prepare_case(ctx, dev, c);
    if (!prepared) {
      std::fprintf(stderr, "\nvknorm bench: %s: %s\n", m.id().c_str(), prepared.status().message().c_str());
      return std::nullopt;
    }
    auto reference = [&](ReferencePass pass) -> bench::RecordFn {
      return [&, pass](CommandRecorder& rec) {
        if (pass == ReferencePass::copy)
          return references.record(rec, pass, c.dtype, grids.copy, c.elements(), copy_x.value().ref(),
                                   copy_y.value().ref());
        return references.record(rec, pass, c.dtype, grids.scale_shift, c.elements(), x.value().ref(),
                                 y.value().ref());
      };
    };
    // --slowdown K: the case K times per timed run, a K-fold regression made on purpose.
    bench::RecordFn record = prepared.value().record;
    if (o.slowdown > 1)
      record = [inner = record, k = o.slowdown](CommandRecorder& rec) {
        for (int i = 0; i < k; ++i) VKNORM_TRY(inner(rec));
        return Status{};
      };
    // The case and its references interleaved, run by run: on a shared machine the speed
    // drifts, and a ratio is only as good as the moments its two sides share.
    auto t = dev.time_interleaved({reference(ReferencePass::copy), reference(ReferencePass::scale_shift),
                                   record}, o.warmup, o.runs, static_cast<uint32_t>(o.slowdown));
    if (!t) {
      std::fprintf(stderr, "\nvknorm bench: %s: %s\n", m.id().c_str(), t.status().message().c_str());
      return std::nullopt;
    }
    Reference r;
    r.copy_ms = t.value()[0].median_ms;
    r.elementwise_ms = t.value()[1].median_ms;
    r.copy_gbps = 2.0 * c.elements() * eb / (r.copy_ms * 1e6);
    r.elementwise_gbps = 2.0 * c.elements() * eb / (r.elementwise_ms * 1e6);
    r.tuned = grids;
    r.scalar_elementwise_gbps = 2.0 * c.elements() * eb / (grids.scalar_scale_shift_ms * 1e6);
    m.reference_spread = t.value()[1].spread;
    refs[key] = r;
    m.timing = t.value()[2];
    const double bytes = static_cast<double>(c.min_bytes());
    m.gbps = bytes / (m.timing.median_ms * 1e6);
    m.copy_ratio = r.copy_gbps / m.gbps;
    m.elementwise_ratio = r.elementwise_gbps / m.gbps;
    return m;
  };

  std::vector<Measured> rows;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::fprintf(stderr, "%s[%zu/%zu] %-60s%s", tty ? "\r" : "", i + 1, cases.size(),
                 Measured{cases[i]}.id().c_str(), tty ? "" : "\n");
    std::fflush(stderr);
    auto m = measure(cases[i]);
    if (!m) return 1;
    rows.push_back(*m);
  }
  if (tty) std::fprintf(stderr, "\r%80s\r", "");

  const std::string timing = dev.timing_note();
  if (o.json_path != "-") print_table(stdout, caps, timing, o, rows, refs);
  if (!o.json_path.empty()) {
    if (o.json_path == "-") {
      write_json(std::cout, caps, timing, o, rows, refs);
    } else {
      std::ofstream out(o.json_path);
      write_json(out, caps, timing, o, rows, refs);
      if (!out) {
        std::fprintf(stderr, "vknorm bench: --json %s: cannot write it\n", o.json_path.c_str());
        return 1;
      }
    }
  }
  if (!baseline) return 0;
  int regressions = 0, compared = 0, unjudged = 0;
  std::map<std::string, const Measured*> by_id;
  for (const Measured& m : rows) by_id[m.id()] = &m;
  for (const auto& [id, base] : *baseline) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      if (!o.kinds.empty() || o.dtype || !o.passes.empty()) continue;  // filtered out on purpose
      std::fprintf(stderr, "regression guard: baseline case '%s' was not measured\n", id.c_str());
      ++regressions;
      continue;
    }
    ++compared;
    double now = it->second->elementwise_ratio;
    double spread = it->second->reference_spread;
    double reference_min = refs[reference_key(it->second->c)].elementwise_ms, reference_max = reference_min;
    // A regression must reproduce: a case over the limit is measured again (twice at
    // most) and fails only if every measurement is; one slow run on a shared machine
    // is noise.
    for (int retry = 0; retry < kGuardRetries && now > o.max_regression * base; ++retry) {
      std::fprintf(stderr, "regression guard: %s: ratio %.2f is over %.1fx the baseline's %.2f; measuring again\n",
                   id.c_str(), now, o.max_regression, base);
      auto again = measure(it->second->c);
      if (!again) return 1;
      now = std::min(now, again->elementwise_ratio);
      spread = std::max(spread, again->reference_spread);
      const double ms = refs[reference_key(again->c)].elementwise_ms;
      reference_min = std::min(reference_min, ms);
      reference_max = std::max(reference_max, ms);
    }
    if (now <= o.max_regression * base) continue;
    // Over the limit every time; judged only where the machine held still.
    const std::string busy = busy_reason(spread, reference_min, reference_max);
    if (!busy.empty()) {
      std::fprintf(stderr, "regression guard: %s: ratio %.2f is more than %.1fx the baseline's %.2f, but %s: not judged\n",
                   id.c_str(), now, o.max_regression, base, busy.c_str());
      ++unjudged;
      continue;
    }
    std::fprintf(stderr, "regression guard: %s: ratio %.2f is more than %.1fx the baseline's %.2f\n", id.c_str(),
                 now, o.max_regression, base);
    ++regressions;
  }
  std::fprintf(stderr, "regression guard: %d of %d cases within %.1fx of the baseline %s", compared - regressions - unjudged,
               compared, o.max_regression, o.baseline_path.c_str());
  if (unjudged) std::fprintf(stderr, "; %d over it on a busy machine, not judged", unjudged);
  std::fprintf(stderr, "\n");
  return regressions ? 1 : 0;
}

}  // namespace vknorm::cli
