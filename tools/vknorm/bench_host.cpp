// `vknorm bench --host`: what recording costs the host, per kind and pass, once the
// pipelines are prepared: the time of one record call (steady_clock around it) and the
// Vulkan calls it really made (counted by thunks in the context's function table, see
// vk_call_counter.hpp). Nothing is submitted: only the recording is measured.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_cases.hpp"
#include "bench_device.hpp"
#include "commands.hpp"
#include "context_state.hpp"
#include "vk_call_counter.hpp"
#include "vknorm/context.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm::cli {
namespace {

using bench::BenchCase;
using host::CallClass;
using host::CallCounter;
using host::CallCounts;

// The kinds in the order the table lists them.
const char* const kKindOrder[] = {"batch_norm", "instance_norm", "group_norm", "layer_norm", "rms_norm"};

struct HostOptions {
  std::optional<uint32_t> device;
  int samples = 1001;  // timed calls per mode
  int frame = 16;      // calls per frame in the warm mode
  bool check = false;
  DescriptorPath descriptor_path = DescriptorPath::automatic;
  std::string json_path;
  std::vector<std::string> kinds;  // empty: all
};

void usage(FILE* to) {
  std::fprintf(to,
      "usage: vknorm bench --host [options]\n"
      "Times the host side of recording, per kind and pass (f32, one representative shape each),\n"
      "after Context::prepare_kernels() and warm-up, and counts the Vulkan calls each record\n"
      "call makes. Nothing is submitted.\n"
      "  first: the recorder is reset before each call, so every call is the first in its frame\n"
      "  warm:  calls 2..F of a frame of F calls recorded back to back without a reset\n"
      "  new:   the first call on a newly created recorder (a tenth of --samples recorders, at\n"
      "         least 10)\n"
      "  counts: the most any one first-in-frame call made (warm calls' counts are noted when\n"
      "          they differ, and the new recorders' object creations)\n"
      "  --samples N          timed calls per mode (default 1001)\n"
      "  --frame F            calls per frame in the warm mode (default 16, at least 2)\n"
      "  --kind K[,K...]      batch_norm, instance_norm, group_norm, layer_norm, rms_norm\n"
      "  --device N           device index (vknorm devices)\n"
      "  --descriptors P      push (default: push descriptors where the device has them) or pool\n"
      "  --json FILE          also write the results as JSON ('-': stdout, instead of the table)\n"
      "  --check              exit 1 when any record call after preparation allocated a\n"
      "                       descriptor set or created any Vulkan object (a count, not a time)\n");
}

int bad_usage(const std::string& message) {
  std::fprintf(stderr, "vknorm bench --host: %s\n", message.c_str());
  usage(stderr);
  return 2;
}

// One mode's figures: the timed calls' median and the most any call (timed or warm-up)
// made of each counted Vulkan function.
struct ModeFigures {
  std::vector<double> us;
  double median_us = 0;
  int calls = 0;  // counted calls, warm-up included
  uint32_t dispatches = 0;
  CallCounts per_call;
};

struct HostRow {
  BenchCase c;
  ModeFigures new_recorder, first, warm;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The command buffer every case records into, never submitted. Its pool resets buffers
// one at a time, so vkBeginCommandBuffer starts each frame afresh.
class HostCommands {
 public:
  HostCommands() = default;
  static Result<HostCommands> create(Context& context) {
    ContextState& s = state_of(context);
    HostCommands h;
    h.s_ = &s;
    VkCommandPoolCreateInfo info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    info.queueFamilyIndex = s.queue_family;
    VkResult r = s.vk.CreateCommandPool(s.device, &info, nullptr, &h.pool_);
    if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateCommandPool");
    VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = h.pool_;
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    r = s.vk.AllocateCommandBuffers(s.device, &alloc, &h.cmd_);
    if (r != VK_SUCCESS) return Status::vulkan(r, "vkAllocateCommandBuffers");
    return h;
  }
  HostCommands(HostCommands&& o) noexcept { *this = std::move(o); }
  HostCommands& operator=(HostCommands&& o) noexcept {
    std::swap(s_, o.s_);
    std::swap(pool_, o.pool_);
    std::swap(cmd_, o.cmd_);
    return *this;
  }
  ~HostCommands() {
    if (pool_) s_->vk.DestroyCommandPool(s_->device, pool_, nullptr);
  }
  VkCommandBuffer cmd() const { return cmd_; }
  Status begin() {
    VkCommandBufferBeginInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VkResult r = s_->vk.BeginCommandBuffer(cmd_, &info);
    return r == VK_SUCCESS ? Status{} : Status::vulkan(r, "vkBeginCommandBuffer");
  }
  Status end() {
    VkResult r = s_->vk.EndCommandBuffer(cmd_);
    return r == VK_SUCCESS ? Status{} : Status::vulkan(r, "vkEndCommandBuffer");
  }

 private:
  ContextState* s_ = nullptr;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
};

// Records `record` once into `rec`: counts it into `f` and, when `timed`, keeps its time.
Status measured_call(const bench::RecordFn& record, CommandRecorder& rec, const CallCounter& counter,
                     ModeFigures& f, bool timed) {
  const uint32_t dispatches_before = rec.dispatch_count();
  const CallCounts before = counter.now();
  const auto t0 = std::chrono::steady_clock::now();
  Status s = record(rec);
  const auto t1 = std::chrono::steady_clock::now();
  const CallCounts made = counter.now() - before;
  if (!s) return s;
  f.per_call.keep_max(made);
  f.dispatches = std::max(f.dispatches, rec.dispatch_count() - dispatches_before);
  ++f.calls;
  if (timed) f.us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  return {};
}

Status measure_case(Context& ctx, HostCommands& cmds, const CallCounter& counter, const bench::RecordFn& record,
                    const HostOptions& o, HostRow& row) {
  // New recorders: each created, one call (where a recorder may set itself up). The last
  // one records the other modes.
  const int warmup = std::max(10, o.samples / 10);
  std::unique_ptr<CommandRecorder> recorder;
  for (int i = 0; i < warmup; ++i) {
    recorder.reset();
    // On the pool path a warm frame of o.frame calls needs a set per dispatch: no plan
    // records more than 8 dispatches in one call.
    auto fresh = CommandRecorder::create(ctx, cmds.cmd(), {.descriptor_capacity = static_cast<uint32_t>(o.frame) * 8});
    if (!fresh) return fresh.status();
    recorder = std::move(fresh.value());
    VKNORM_TRY(cmds.begin());
    VKNORM_TRY(measured_call(record, *recorder, counter, row.new_recorder, true));
    VKNORM_TRY(cmds.end());
  }
  CommandRecorder& rec = *recorder;

  // First in frame: reset, begin, one call, end. The first tenth is warm-up, untimed.
  for (int i = 0; i < warmup + o.samples; ++i) {
    VKNORM_TRY(rec.reset());
    VKNORM_TRY(cmds.begin());
    VKNORM_TRY(measured_call(record, rec, counter, row.first, i >= warmup));
    VKNORM_TRY(cmds.end());
  }
  // Warm: frames of o.frame calls back to back; a frame's first call is a first-in-frame
  // call (counted there, untimed), the others are timed. The first frames are warm-up.
  int timed = 0;
  for (int frame = 0; timed < o.samples; ++frame) {
    const bool warming = frame * (o.frame - 1) < warmup;
    VKNORM_TRY(rec.reset());
    VKNORM_TRY(cmds.begin());
    VKNORM_TRY(measured_call(record, rec, counter, row.first, false));
    for (int i = 1; i < o.frame && timed < o.samples; ++i) {
      VKNORM_TRY(measured_call(record, rec, counter, row.warm, !warming));
      if (!warming) ++timed;
    }
    VKNORM_TRY(cmds.end());
  }
  VKNORM_TRY(rec.reset());
  for (ModeFigures* f : {&row.new_recorder, &row.first, &row.warm}) f->median_us = median(f->us);
  return {};
}

std::string today() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

constexpr CallClass kTableClasses[] = {CallClass::alloc, CallClass::update, CallClass::push,
                                       CallClass::barrier, CallClass::dispatch, CallClass::create};

// "vkCreateDescriptorPool 1, vkAllocateDescriptorSets 3": the functions of `classes` made.
std::string made_list(const CallCounts& c, std::initializer_list<CallClass> classes) {
  std::string out;
  for (int i = 0; i < host::kCountedCalls; ++i) {
    if (!c.by_call[i]) continue;
    if (std::find(classes.begin(), classes.end(), host::counted_class(i)) == classes.end()) continue;
    if (!out.empty()) out += ", ";
    out += host::counted_name(i);
    out += ' ';
    out += std::to_string(c.by_call[i]);
  }
  return out;
}

// "barrier 2": the table's classes where `c` differs from `base`.
std::string counts_differing(const CallCounts& c, const CallCounts& base) {
  std::string out;
  for (CallClass k : kTableClasses) {
    if (c.of(k) == base.of(k)) continue;
    if (!out.empty()) out += ", ";
    out += to_string(k);
    out += ' ';
    out += std::to_string(c.of(k));
  }
  return out;
}

double per_dispatch(double us, uint32_t dispatches) { return dispatches ? us / dispatches : 0; }

void print_table(FILE* out, const Capabilities& caps, const HostOptions& o, const std::vector<HostRow>& rows) {
  std::fprintf(out, "device: %s (%s %s), %s path, %s; %s\n", caps.device_name.c_str(), caps.driver_name.c_str(),
               caps.driver_info.c_str(), to_string(caps.reduction_path),
               caps.push_descriptors ? "push descriptors" : "descriptor sets from the recorder's pool", today().c_str());
  std::fprintf(out,
               "host cost of one record call, f32, after Context::prepare_kernels(); median of %d timed calls\n"
               "  first: recorder reset before each call (each call the first in its frame)\n"
               "  warm:  calls 2..%d of a frame of %d recorded back to back\n"
               "  new:   the first call on a new recorder (median of %d recorders)\n"
               "  /d: us per dispatch; counts: Vulkan calls made by one first-in-frame call (the most\n"
               "  any made); new create: object creations in the first call on a new recorder\n\n",
               o.samples, o.frame, o.frame, std::max(10, o.samples / 10));
  std::fprintf(out, "%-13s %-11s %-16s %4s %8s %8s %8s %7s %7s %5s %6s %4s %7s %8s %6s %6s\n", "kind", "pass",
               "shape", "disp", "first us", "warm us", "new us", "first/d", "warm/d", "alloc", "update", "push",
               "barrier", "dispatch", "create", "new cr");
  for (const HostRow& r : rows) {
    const CallCounts& c = r.first.per_call;
    std::fprintf(out, "%-13s %-11s %-16s %4u %8.2f %8.2f %8.2f %7.2f %7.2f %5llu %6llu %4llu %7llu %8llu %6llu %6llu\n",
                 r.c.kind.c_str(), bench::to_string(r.c.pass), r.c.shape_label().c_str(), r.first.dispatches,
                 r.first.median_us, r.warm.median_us, r.new_recorder.median_us, per_dispatch(r.first.median_us, r.first.dispatches),
                 per_dispatch(r.warm.median_us, r.warm.dispatches),
                 static_cast<unsigned long long>(c.of(CallClass::alloc)),
                 static_cast<unsigned long long>(c.of(CallClass::update)),
                 static_cast<unsigned long long>(c.of(CallClass::push)),
                 static_cast<unsigned long long>(c.of(CallClass::barrier)),
                 static_cast<unsigned long long>(c.of(CallClass::dispatch)),
                 static_cast<unsigned long long>(c.of(CallClass::create)),
                 static_cast<unsigned long long>(r.new_recorder.per_call.of(CallClass::create)));
  }
  // The warm calls' counts where they differ (a barrier after the previous call, a pool
  // when a long frame fills one).
  bool header = false;
  for (const HostRow& r : rows) {
    const std::string warm = counts_differing(r.warm.per_call, r.first.per_call);
    if (warm.empty()) continue;
    if (!header) std::fprintf(out, "\nwarm calls, the counts that differ from the first-in-frame call's:\n");
    header = true;
    std::fprintf(out, "  %-13s %-11s %s\n", r.c.kind.c_str(), bench::to_string(r.c.pass), warm.c_str());
  }
  header = false;
  for (const HostRow& r : rows) {
    const std::string made = made_list(r.new_recorder.per_call, {CallClass::create});
    if (made.empty()) continue;
    if (!header) std::fprintf(out, "\nobjects created by the first call on a new recorder:\n");
    header = true;
    std::fprintf(out, "  %-13s %-11s %s\n", r.c.kind.c_str(), bench::to_string(r.c.pass), made.c_str());
  }
}

void write_mode(std::ostream& out, const char* name, const ModeFigures& f, bool last) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "      \"%s\": {\"median_us\": %.3f, \"us_per_dispatch\": %.3f, \"timed_calls\": %zu, "
                "\"counted_calls\": %d, \"dispatches\": %u,\n",
                name, f.median_us, per_dispatch(f.median_us, f.dispatches), f.us.size(), f.calls, f.dispatches);
  out << buf << "        \"counts\": {";
  for (int k = 0; k < host::kCallClasses; ++k)
    out << (k ? ", " : "") << '"' << to_string(static_cast<CallClass>(k)) << "\": "
        << f.per_call.of(static_cast<CallClass>(k));
  out << "},\n        \"functions\": {";
  for (int i = 0; i < host::kCountedCalls; ++i)
    out << (i ? ", " : "") << '"' << host::counted_name(i) << "\": " << f.per_call.by_call[i];
  out << "}}" << (last ? "\n" : ",\n");
}

void write_json(std::ostream& out, const Capabilities& caps, const HostOptions& o, const std::vector<HostRow>& rows) {
  out << "{\n";
  out << "  \"device\": \"" << caps.device_name << "\",\n";
  out << "  \"driver\": \"" << caps.driver_name << " " << caps.driver_info << "\",\n";
  out << "  \"reduction_path\": \"" << to_string(caps.reduction_path) << "\",\n";
  out << "  \"push_descriptors\": " << (caps.push_descriptors ? "true" : "false") << ",\n";
  out << "  \"samples\": " << o.samples << ",\n  \"frame\": " << o.frame << ",\n";
  out << "  \"date\": \"" << today() << "\",\n";
  out << "  \"note\": \"counts are the most one record call made; first: recorder reset before each call; "
         "warm: calls 2..frame recorded back to back; new_recorder: the first call on a new recorder\",\n";
  out << "  \"cases\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const HostRow& r = rows[i];
    out << "    {\"kind\": \"" << r.c.kind << "\", \"pass\": \"" << bench::to_string(r.c.pass) << "\", \"shape\": \""
        << r.c.shape_label() << "\", \"layout\": \"" << r.c.layout_label() << "\", \"dtype\": \"f32\",\n";
    write_mode(out, "first_in_frame", r.first, false);
    write_mode(out, "warm", r.warm, false);
    write_mode(out, "new_recorder", r.new_recorder, true);
    out << "    }" << (i + 1 < rows.size() ? ",\n" : "\n");
  }
  out << "  ]\n}\n";
}

// --check: descriptor-set allocations and object creations in any record call.
// --check: no record call creates a Vulkan object, and none allocates a descriptor set
// beyond one per dispatch from its recorder's own pool (the pool path; with push
// descriptors, none at all).
int check(const std::vector<HostRow>& rows, bool push_descriptors) {
  int failures = 0, calls = 0;
  for (const HostRow& r : rows) {
    const std::pair<const char*, const ModeFigures*> modes[] = {
        {"the first call on a new recorder", &r.new_recorder},
        {"a first-in-frame call", &r.first},
        {"a warm call", &r.warm}};
    for (const auto& [name, f] : modes) {
      calls += f->calls;
      const uint64_t sets_allowed = push_descriptors ? 0 : f->dispatches;
      std::string made = made_list(f->per_call, {CallClass::create});
      if (f->per_call.of(CallClass::alloc) > sets_allowed) {
        if (!made.empty()) made += ", ";
        made += made_list(f->per_call, {CallClass::alloc}) + " (at most " + std::to_string(sets_allowed) +
                " allowed: " + (push_descriptors ? "descriptors are pushed" : "one set per dispatch") + ")";
      }
      if (made.empty()) continue;
      std::fprintf(stderr, "vknorm bench --host --check FAILED: %s %s: %s made %s\n", r.c.kind.c_str(),
                   bench::to_string(r.c.pass), name, made.c_str());
      ++failures;
    }
  }
  if (failures) return 1;
  std::fprintf(stderr,
               "vknorm bench --host --check: passed: none of %d record calls after preparation created a Vulkan "
               "object or allocated a descriptor set %s\n",
               calls, push_descriptors ? "(push descriptors)" : "beyond one per dispatch from its recorder's pool");
  return 0;
}

std::optional<int> parse_int(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 1 || v > 1000000) return std::nullopt;
  return static_cast<int>(v);
}

}  // namespace

int bench_host_command(int argc, char** argv) {
  HostOptions o;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--host") {
      continue;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--check") {
      o.check = true;
    } else if (a == "--samples" || a == "--frame" || a == "--device") {
      const char* v = value();
      auto n = v ? parse_int(v) : std::nullopt;
      if (!n || (a == "--frame" && *n < 2)) return bad_usage(a + ": expected a number" + (a == "--frame" ? " >= 2" : ""));
      if (a == "--samples") o.samples = *n;
      if (a == "--frame") o.frame = *n;
      if (a == "--device") o.device = static_cast<uint32_t>(*n);
    } else if (a == "--kind") {
      const char* v = value();
      if (!v) return bad_usage("--kind: expected a kind");
      std::stringstream in(v);
      for (std::string k; std::getline(in, k, ',');) {
        auto kind = bench::parse_kind(k);
        if (!kind) return bad_usage(kind.status().message());
        o.kinds.push_back(kind.value());
      }
    } else if (a == "--descriptors") {
      const char* v = value();
      const std::string p = v ? v : "";
      if (p != "push" && p != "pool") return bad_usage("--descriptors: expected push or pool, got '" + p + "'");
      o.descriptor_path = p == "pool" ? DescriptorPath::pool : DescriptorPath::automatic;
    } else if (a == "--json") {
      const char* v = value();
      if (!v) return bad_usage("--json: expected a file name");
      o.json_path = v;
    } else {
      return bad_usage("unknown option '" + a + "'");
    }
  }

  StandaloneOptions so;
  so.device_index = o.device;
  so.descriptor_path = o.descriptor_path;
  auto context = Context::create_standalone(so);
  if (!context) {
    std::fprintf(stderr, "vknorm bench --host: %s\n", context.status().message().c_str());
    return 1;
  }
  Context& ctx = *context.value();
  const Capabilities& caps = ctx.capabilities();
  if (Status s = ctx.prepare_kernels(); !s) {
    std::fprintf(stderr, "vknorm bench --host: prepare_kernels: %s\n", s.message().c_str());
    return 1;
  }
  auto device = bench::BenchDevice::create(ctx, true);
  auto cmds = HostCommands::create(ctx);
  if (!device || !cmds) {
    std::fprintf(stderr, "vknorm bench --host: %s\n",
                 (!device ? device.status() : cmds.status()).message().c_str());
    return 1;
  }

  // One representative case per kind and pass: the bench's first shape of the kind, f32,
  // NCHW (rows for layer and RMS norm).
  std::vector<BenchCase> cases;
  for (const char* kind : kKindOrder) {
    if (!o.kinds.empty() && std::find(o.kinds.begin(), o.kinds.end(), kind) == o.kinds.end()) continue;
    std::optional<std::vector<int64_t>> shape;
    for (const BenchCase& c : bench::all_cases(false)) {
      if (c.kind != kind || c.dtype != DType::f32 || c.layout != Layout::nchw) continue;
      if (!shape) shape = c.shape;
      if (c.shape == *shape) cases.push_back(c);
    }
  }

  std::vector<HostRow> rows;
  for (const BenchCase& c : cases) {
    HostRow row;
    row.c = c;
    const std::string id = c.kind + " " + bench::to_string(c.pass);
    auto prepared = bench::prepare_case(ctx, *device.value(), c);
    if (!prepared) {
      std::fprintf(stderr, "vknorm bench --host: %s: %s\n", id.c_str(), prepared.status().message().c_str());
      return 1;
    }
    // Counted only around the record calls; setting up the case creates buffers.
    CallCounter counter(state_of(ctx).vk);
    if (Status s = measure_case(ctx, cmds.value(), counter, prepared.value().record, o, row); !s) {
      std::fprintf(stderr, "vknorm bench --host: %s: %s\n", id.c_str(), s.message().c_str());
      return 1;
    }
    rows.push_back(std::move(row));
  }

  if (o.json_path != "-") print_table(stdout, caps, o, rows);
  if (!o.json_path.empty()) {
    if (o.json_path == "-") {
      write_json(std::cout, caps, o, rows);
    } else {
      std::ofstream out(o.json_path);
      write_json(out, caps, o, rows);
      if (!out) {
        std::fprintf(stderr, "vknorm bench --host: --json %s: cannot write it\n", o.json_path.c_str());
        return 1;
      }
    }
  }
  return o.check ? check(rows, caps.push_descriptors) : 0;
}

}  // namespace vknorm::cli
