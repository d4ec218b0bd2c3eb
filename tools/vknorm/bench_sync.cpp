// `vknorm bench --sync`: what SyncBatchNorm's exchange costs. For a few BatchNorm2d training
// shapes, the forward and the backward at world size 2 (two standalone Contexts, each its
// own VkDevice, driven from two threads through make_thread_communicators, each rank half
// the batch) against plain BatchNorm on the whole batch in one Context. The sync path runs
// as an engine runs it: record the partials -> submit and wait -> read the host-visible
// workspace, compact -> all_gather -> merge -> write it back -> record the apply -> submit
// and wait. Once per shape the sync results are checked against the plain ones.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench_device.hpp"
#include "commands.hpp"
#include "vknorm/communicator.hpp"
#include "vknorm/sync_batchnorm.hpp"

namespace vknorm::cli {
namespace {

using bench::BenchDevice;
using bench::DeviceBuffer;
using Clock = std::chrono::steady_clock;

constexpr int kWorld = 2;
// Normwise: max |sync - plain| <= kTolerance * max |plain|, per tensor.
constexpr double kTolerance = 1e-5;

struct SyncOptions {
  std::optional<uint32_t> device;
  int warmup = 3, runs = 15;
  bool quick = false, validate = false;
  std::string json_path;
};

// Validation messages from any of the contexts (the ranks' threads report concurrently).
std::atomic<int> validation_messages{0};

void usage(FILE* to) {
  std::fprintf(to,
      "usage: vknorm bench --sync [options]\n"
      "SyncBatchNorm's cost: the training forward and the backward of BatchNorm2d (f32 NCHW) with\n"
      "the exchange at world size 2 (two Contexts on the default device, two threads, each rank\n"
      "half the batch), against plain BatchNorm on the whole batch in one Context, and the sync\n"
      "path at world size 1 (one Context, the whole batch) between them. Per iteration\n"
      "the wall time (the slower rank), the device time of the phases and the host exchange\n"
      "(compact + all_gather + merge); the median of the timed runs. Exits 1 when the sync\n"
      "forward's y, statistics and running statistics or the backward's dx differ from the\n"
      "plain ones by more than 1e-5 relative (normwise, checked once per shape and world size),\n"
      "or when the ranks' statistics differ in any bit.\n"
      "  --quick              smaller shapes, fewer runs (1 warm-up, 5 timed): for CI\n"
      "  --runs N             timed runs per pass (default 15)\n"
      "  --warmup N           untimed runs first (default 3)\n"
      "  --device N           device index (vknorm devices); both ranks and the plain run use it\n"
      "  --validate           Khronos validation with synchronization validation on every context;\n"
      "                       any message fails the run (the times then mean nothing): for CI\n"
      "  --json FILE          also write the results as JSON ('-': stdout, instead of the table)\n");
}

int bad_usage(const std::string& message) {
  std::fprintf(stderr, "vknorm bench --sync: %s\n", message.c_str());
  usage(stderr);
  return 2;
}

std::optional<int> parse_int(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0 || v > 1000000) return std::nullopt;
  return static_cast<int>(v);
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<float> uniform(size_t count, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& f : v) f = dist(rng);
  return v;
}

std::vector<uint8_t> bytes_of(const float* data, size_t count) {
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  return std::vector<uint8_t>(p, p + count * 4);
}

std::vector<float> floats_of(const std::vector<uint8_t>& bytes) {
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

std::string shape_label(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

// One pass's figures for one iteration.
struct Sample {
  double wall = 0, device = 0, exchange = 0;
};

// One Context's tensors (device-local, as an engine's) and the workspace. The sync ranks'
// workspace is host-visible: the exchange reads and writes it directly after the fence
// (sync_batchnorm.hpp, step 2 and 5), where a device-local one would add a copy each way.
struct Rank {
  std::unique_ptr<Context> context;
  std::unique_ptr<BenchDevice> device;
  BatchNormParams params;
  std::vector<DeviceBuffer> buffers;  // x, y, dy, weight, bias, running_mean, running_var, save_mean, save_invstd, dx, dweight, dbias
  Buffer host_workspace;
  NormForwardBuffers fwd;
  NormBackwardBuffers bwd;
  SyncBatchNormExchange layout;
  SyncBatchNormGradExchange grad_layout;
  uint64_t merged_count = 0;  // values per channel in the whole batch
  std::vector<Sample> forward, backward;
  std::string error;  // the first failure; the rank then only enters the collectives
  const DeviceBuffer& buffer(int i) const { return buffers[static_cast<size_t>(i)]; }
};
enum { kX, kY, kDy, kWeight, kBias, kRunningMean, kRunningVar, kSaveMean, kSaveInvstd, kDx, kDweight, kDbias };

// `x` and `dy`: this context's part of the batch, logical order.
Status prepare(Rank& r, const StandaloneOptions& options, const BatchNormParams& params, const float* x,
               const float* dy, size_t elements, bool sync) {
  auto context = Context::create_standalone(options);
  if (!context) return context.status();
  r.context = std::move(context.value());
  auto device = BenchDevice::create(*r.context, false);
  if (!device) return device.status();
  r.device = std::move(device.value());
  r.params = params;
  const size_t C = static_cast<size_t>(params.shape[1]);
  const std::vector<float> ones(C, 1.0f), zeros(C, 0.0f), weight(C, 1.25f), bias(C, 0.5f);
  const std::vector<std::vector<uint8_t>> contents = {
      bytes_of(x, elements), {}, bytes_of(dy, elements), bytes_of(weight.data(), C), bytes_of(bias.data(), C),
      bytes_of(zeros.data(), C), bytes_of(ones.data(), C), {}, {}, {}, {}, {}};
  const std::vector<size_t> sizes = {elements, elements, elements, C, C, C, C, C, C, elements, C, C};
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto b = r.device->buffer(sizes[i] * 4, contents[i]);
    if (!b) return b.status();
    r.buffers.push_back(std::move(b.value()));
  }
  auto workspace_bytes = sync ? sync_batch_norm_workspace_size(*r.context, params)
                              : batch_norm_workspace_size(*r.context, params);
  if (!workspace_bytes) return workspace_bytes.status();
  BufferRef workspace;
  if (sync) {
    auto ws = r.context->create_buffer(std::max<uint64_t>(workspace_bytes.value(), 4));
    if (!ws) return ws.status();
    r.host_workspace = std::move(ws.value());
    workspace = {r.host_workspace.handle(), 0, r.host_workspace.size()};
    auto layout = sync_batch_norm_exchange_layout(*r.context, params);
    if (!layout) return layout.status();
    r.layout = layout.value();
    auto grad_layout = sync_batch_norm_grad_exchange_layout(*r.context, params);
    if (!grad_layout) return grad_layout.status();
    r.grad_layout = grad_layout.value();
  } else {
    auto ws = r.device->buffer(workspace_bytes.value());
    if (!ws) return ws.status();
    r.buffers.push_back(std::move(ws.value()));
    workspace = r.buffers.back().ref();
  }
  auto ref = [&](int i) { return r.buffer(i).ref(); };
  r.fwd = {};
  r.fwd.x = ref(kX);
  r.fwd.y = ref(kY);
  r.fwd.weight = ref(kWeight);
  r.fwd.bias = ref(kBias);
  r.fwd.running_mean = ref(kRunningMean);
  r.fwd.running_var = ref(kRunningVar);
  r.fwd.save_mean = ref(kSaveMean);
  r.fwd.save_invstd = ref(kSaveInvstd);
  r.fwd.workspace = workspace;
  r.bwd = {};
  r.bwd.x = ref(kX);
  r.bwd.dy = ref(kDy);
  r.bwd.dx = ref(kDx);
  r.bwd.weight = ref(kWeight);
  r.bwd.running_mean = ref(kRunningMean);
  r.bwd.running_var = ref(kRunningVar);
  r.bwd.save_mean = ref(kSaveMean);
  r.bwd.save_invstd = ref(kSaveInvstd);
  r.bwd.dweight = ref(kDweight);
  r.bwd.dbias = ref(kDbias);
  r.bwd.workspace = workspace;
  return {};
}

// Every rank enters every collective of the sequence, a failed one with nothing: the
// others' collective then fails (a count mismatch) instead of waiting for it.
void enter_empty(Communicator& comm) { (void)comm.all_gather(nullptr, 0, nullptr); }

void fail(Rank& r, const Status& s, const char* what) {
  if (r.error.empty()) r.error = std::string(what) + ": " + s.message();
}

// The start of an iteration, aligning the ranks; false (on every rank) when any failed.
bool barrier(Rank& r, Communicator& comm) {
  if (!r.error.empty()) {
    enter_empty(comm);
    return false;
  }
  const uint8_t ok = 1;
  std::vector<uint8_t> all(static_cast<size_t>(comm.size()));
  return comm.all_gather(&ok, 1, all.data()).ok();
}

// What a pass's host step between its two recorded phases did: the named failure, or the
// count the second phase records with.
struct HostStep {
  Status status;
  const char* what = "";
  uint64_t merged_count = 0;
};

// One rank's timed pass: the first recorded phase, the host step (compact, exchange, fill
// the upload), the second recorded phase. A rank that fails before the exchange still
// enters it with 0 bytes, so the others fail instead of hanging.
template <class First, class Exchange, class Second>
void sync_pass(Rank& r, Communicator& comm, std::vector<Sample>& out, const char* first_name, First first,
               Exchange exchange, const char* second_name, Second second) {
  Sample t;
  const auto start = Clock::now();
  auto device_first = r.device->submit_timed(first);
  if (!device_first) {
    fail(r, device_first.status(), first_name);
    return enter_empty(comm);
  }
  const auto exchange_start = Clock::now();
  const HostStep step = exchange(static_cast<uint8_t*>(r.host_workspace.data()));
  if (!step.status) return fail(r, step.status, step.what);
  t.exchange = ms_since(exchange_start);
  auto device_second = r.device->submit_timed([&](CommandRecorder& rec) { return second(rec, step.merged_count); });
  if (!device_second) return fail(r, device_second.status(), second_name);
  t.wall = ms_since(start);
  t.device = device_first.value() + device_second.value();
  out.push_back(t);
}

// One rank's forward: steps 1 to 6 of sync_batchnorm.hpp, one gather.
void sync_forward(Rank& r, Communicator& comm) {
  auto statistics = [&](CommandRecorder& rec) { return record_sync_batch_norm_statistics(rec, r.params, r.fwd); };
  auto exchange = [&](uint8_t* workspace) -> HostStep {
    std::vector<float> send(r.layout.send_bytes / 4), gathered(send.size() * static_cast<size_t>(comm.size()));
    Status s = compact_sync_batch_norm_statistics(r.params, r.layout, workspace + r.layout.download_offset, send.data());
    if (!s) {
      enter_empty(comm);
      return {s, "compact"};
    }
    s = comm.all_gather(send.data(), r.layout.send_bytes, gathered.data());
    if (!s) return {s, "all_gather"};
    auto merged = merge_sync_batch_norm_statistics(r.params, gathered.data(), comm.size());
    if (!merged) return {merged.status(), "merge"};
    std::memcpy(workspace + r.layout.upload_offset, merged->upload.data(), r.layout.upload_bytes);
    r.merged_count = merged->count;
    return {{}, "", merged->count};
  };
  auto apply = [&](CommandRecorder& rec, uint64_t count) { return record_sync_batch_norm_apply(rec, r.params, r.fwd, count); };
  sync_pass(r, comm, r.forward, "statistics", statistics, exchange, "apply", apply);
}

// One rank's backward: steps 1 to 5, one all-reduce (a gather).
void sync_backward(Rank& r, Communicator& comm) {
  auto sums = [&](CommandRecorder& rec) { return record_sync_batch_norm_grad_sums(rec, r.params, r.bwd); };
  auto exchange = [&](uint8_t* workspace) -> HostStep {
    std::vector<float> local(2 * static_cast<size_t>(r.params.shape[1]));
    Status s = compact_sync_batch_norm_grad_sums(r.params, r.grad_layout, workspace + r.grad_layout.download_offset,
                                                 local.data());
    if (!s) {
      enter_empty(comm);
      return {s, "compact"};
    }
    std::vector<float> global = local;
    s = all_reduce_sum(comm, global.data(), global.size());
    if (!s) return {s, "all_reduce_sum"};
    const std::vector<float> upload = sync_batch_norm_grad_upload(local, global);
    std::memcpy(workspace + r.grad_layout.upload_offset, upload.data(), r.grad_layout.upload_bytes);
    return {{}, "", r.merged_count};
  };
  auto input = [&](CommandRecorder& rec, uint64_t count) {
    return record_sync_batch_norm_grad_input(rec, r.params, r.bwd, count);
  };
  sync_pass(r, comm, r.backward, "grad sums", sums, exchange, "grad input", input);
}

void run_rank(Rank& r, Communicator& comm, int iterations) {
  for (int i = 0; i < iterations && barrier(r, comm); ++i) sync_forward(r, comm);
  for (int i = 0; i < iterations && barrier(r, comm); ++i) sync_backward(r, comm);
}

// The plain pass: record -> submit and wait, on the whole batch.
Status run_plain(Rank& r, int iterations) {
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < iterations; ++i) {
      const auto start = Clock::now();
      auto device = r.device->submit_timed([&](CommandRecorder& rec) {
        return pass == 0 ? record_batch_norm_forward(rec, r.params, r.fwd)
                         : record_batch_norm_backward(rec, r.params, r.bwd);
      });
      if (!device) return device.status();
      (pass == 0 ? r.forward : r.backward).push_back({ms_since(start), device.value(), 0});
    }
  }
  return {};
}

Result<std::vector<float>> read_floats(Rank& r, int which) {
  auto bytes = r.device->read(r.buffer(which));
  if (!bytes) return bytes.status();
  return floats_of(bytes.value());
}

// Normwise relative difference: max |a - b| / max |b|.
double difference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;  // NaN on one side only
    if (std::isnan(a[i])) continue;
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

std::string relative_message(const std::string& what, double d) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s: %.3g relative to the plain run's (at most %.0e)", what.c_str(), d, kTolerance);
  return buf;
}

// The sync results (y and dx concatenated over the ranks, the statistics and running
// statistics of every rank, which must also agree in every bit) against the plain ones;
// a message per mismatch.
Result<std::vector<std::string>> compare(Rank& plain, std::vector<Rank>& ranks) {
  std::vector<std::string> problems;
  for (auto [which, name, concatenated] : {std::tuple{kY, "y", true}, {kDx, "dx", true}, {kSaveMean, "save_mean", false},
                                           {kSaveInvstd, "save_invstd", false}, {kRunningMean, "running_mean", false},
                                           {kRunningVar, "running_var", false}}) {
    auto expected = read_floats(plain, which);
    if (!expected) return expected.status();
    std::vector<float> got, first;
    for (size_t r = 0; r < ranks.size(); ++r) {
      auto part = read_floats(ranks[r], which);
      if (!part) return part.status();
      if (concatenated) {
        got.insert(got.end(), part->begin(), part->end());
        continue;
      }
      const double d = difference(part.value(), expected.value());
      if (!(d <= kTolerance)) problems.push_back(relative_message(std::string(name) + " of rank " + std::to_string(r), d));
      if (r == 0) first = part.value();
      else if (first.size() != part->size() ||
               (!first.empty() && std::memcmp(first.data(), part->data(), first.size() * 4) != 0))
        problems.push_back(std::string(name) + " of rank " + std::to_string(r) + " differs in its bits from rank 0's");
    }
    if (!concatenated) continue;
    const double d = difference(got, expected.value());
    if (!(d <= kTolerance)) problems.push_back(relative_message(name, d));
  }
  return problems;
}

struct Row {
  std::string shape, pass;
  double plain_ms = 0, plain_device_ms = 0;
  double sync1_ms = 0;  // the sync path at world size 1: one rank, the whole batch
  double sync_ms = 0, sync_device_ms = 0, exchange_ms = 0;  // world size 2
  uint64_t bytes_per_rank = 0;
  double overhead() const { return plain_ms > 0 ? sync_ms / plain_ms : 0; }
};

// The median over the timed iterations (after `warmup`) of the per-iteration maximum over
// the ranks of each figure.
Sample sync_median(const std::vector<Rank>& ranks, std::vector<Sample> Rank::*pass, int warmup) {
  std::vector<double> wall, device, exchange;
  const size_t n = (ranks[0].*pass).size();
  for (size_t i = static_cast<size_t>(warmup); i < n; ++i) {
    Sample m;
    for (const Rank& r : ranks) {
      m.wall = std::max(m.wall, (r.*pass)[i].wall);
      m.device = std::max(m.device, (r.*pass)[i].device);
      m.exchange = std::max(m.exchange, (r.*pass)[i].exchange);
    }
    wall.push_back(m.wall);
    device.push_back(m.device);
    exchange.push_back(m.exchange);
  }
  return {median(wall), median(device), median(exchange)};
}

Sample plain_median(const std::vector<Sample>& samples, int warmup) {
  std::vector<double> wall, device;
  for (size_t i = static_cast<size_t>(warmup); i < samples.size(); ++i) {
    wall.push_back(samples[i].wall);
    device.push_back(samples[i].device);
  }
  return {median(wall), median(device), 0};
}

// One shape: the plain run, then the two ranks, then the check. Rows appended; a message
// on failure.
Status measure_shape(const SyncOptions& o, const std::vector<int64_t>& shape, std::vector<Row>& rows,
                     std::string& device_note) {
  BatchNormParams params;
  params.shape = shape;
  params.dims = BatchNormDims::d2;
  size_t elements = 1;
  for (int64_t d : shape) elements *= static_cast<size_t>(d);
  const std::vector<float> x = uniform(elements, -1.5f, 2.5f, 1), dy = uniform(elements, -1.0f, 1.0f, 2);
  StandaloneOptions so;
  so.device_index = o.device;
  if (o.validate) {
    so.enable_validation = true;
    so.debug_callback = [](const std::string& message) {
      ++validation_messages;
      std::fprintf(stderr, "validation: %s\n", message.c_str());
    };
  }
  const int iterations = o.warmup + o.runs;

  Rank plain;
  VKNORM_TRY(prepare(plain, so, params, x.data(), dy.data(), elements, false));
  device_note = plain.context->capabilities().device_name + "; device time: " + plain.device->timing_note();
  VKNORM_TRY(run_plain(plain, iterations));

  // World size 1 first: the sync path's own cost (the split passes, the second submit,
  // the host round trip) without a second rank on the same cores.
  Sample sync[2][2];  // [world - 1][pass]
  uint64_t send_bytes = 0;
  for (int world : {1, kWorld}) {
    std::vector<Rank> ranks(static_cast<size_t>(world));
    const size_t per_rank = elements / static_cast<size_t>(world);  // N is even: the ranks hold the same count
    for (int r = 0; r < world; ++r) {
      BatchNormParams shard = params;
      shard.shape[0] = shape[0] / world;
      const size_t first = static_cast<size_t>(r) * per_rank;
      VKNORM_TRY(prepare(ranks[r], so, shard, x.data() + first, dy.data() + first, per_rank, true));
    }
    auto comms = make_thread_communicators(world);
    std::vector<std::thread> threads;
    for (int r = 0; r < world; ++r)
      threads.emplace_back(run_rank, std::ref(ranks[r]), std::ref(*comms[r]), iterations);
    for (auto& t : threads) t.join();
    const std::string at = "world size " + std::to_string(world) + ", rank ";
    for (int r = 0; r < world; ++r)
      if (!ranks[r].error.empty()) return Status::internal(at + std::to_string(r) + ": " + ranks[r].error);
    auto problems = compare(plain, ranks);
    if (!problems) return problems.status();
    if (!problems->empty()) {
      std::string all;
      for (const std::string& p : problems.value()) all += "\n  " + p;
      return Status::internal("world size " + std::to_string(world) + ": the sync results differ from the plain ones:" + all);
    }
    sync[world - 1][0] = sync_median(ranks, &Rank::forward, o.warmup);
    sync[world - 1][1] = sync_median(ranks, &Rank::backward, o.warmup);
    send_bytes = ranks[0].layout.send_bytes;
  }

  const Sample plain_pass[2] = {plain_median(plain.forward, o.warmup), plain_median(plain.backward, o.warmup)};
  const uint64_t C = static_cast<uint64_t>(shape[1]);
  for (int pass = 0; pass < 2; ++pass) {
    const Sample &p = plain_pass[pass], &one = sync[0][pass], &two = sync[kWorld - 1][pass];
    rows.push_back({shape_label(shape), pass == 0 ? "train_fwd" : "backward", p.wall, p.device, one.wall, two.wall,
                    two.device, two.exchange, pass == 0 ? send_bytes : 2 * C * 4});
  }
  return {};
}

std::string today() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

void print_table(FILE* out, const SyncOptions& o, const std::string& device_note, const std::vector<Row>& rows) {
  std::fprintf(out, "SyncBatchNorm at world size %d (threads, one Context per rank, each half the batch) against\n"
                    "plain BatchNorm on the whole batch; BatchNorm2d f32 NCHW, training\n", kWorld);
  std::fprintf(out, "device: %s\n", device_note.c_str());
  std::fprintf(out, "median of %d runs after %d warm-up; %s\n", o.runs, o.warmup, today().c_str());
  std::fprintf(out, "exchanged per rank and layer: forward 4 floats per channel (16*C bytes: count, mean and M2\n"
                    "  about the shard's pivot, the pivot; the issue's figure is 3*C floats, the pivot keeps the\n"
                    "  statistics exact when |mean| >> std), backward 2*C floats (8*C bytes, as the issue's)\n");
  std::fprintf(out, "ms: wall time per iteration (sync: the slower rank); dev ms: the device time of its\n"
                    "  submissions (sync: both phases); exchange ms: compact + all_gather + merge on the host,\n"
                    "  including the wait at the gather for the slower rank; sync w1 ms: the sync path at world\n"
                    "  size 1 (one Context, the whole batch): the split passes, the second submit and the host\n"
                    "  round trip, without a second rank\n");
  std::fprintf(out, "on a CPU device both ranks share the same cores: sync's device time is not halved as on\n"
                    "  two GPUs; the overhead (sync w2 ms / plain ms) is what the sync path (w1) and the second\n"
                    "  rank on the same cores add\n\n");
  std::fprintf(out, "%-12s %-9s %9s %9s %10s %10s %9s %11s %8s %10s\n", "shape", "pass", "plain ms", "dev ms",
               "sync w1 ms", "sync w2 ms", "dev ms", "exchange ms", "overhead", "bytes/rank");
  for (const Row& r : rows)
    std::fprintf(out, "%-12s %-9s %9.3f %9.3f %10.3f %10.3f %9.3f %11.3f %7.2fx %10llu\n", r.shape.c_str(),
                 r.pass.c_str(), r.plain_ms, r.plain_device_ms, r.sync1_ms, r.sync_ms, r.sync_device_ms,
                 r.exchange_ms, r.overhead(), static_cast<unsigned long long>(r.bytes_per_rank));
  std::fprintf(out, "\nchecked: the sync forward's y, statistics and running statistics and the backward's dx equal\n"
                    "  the plain ones within 1e-5 relative (normwise), for every shape; the ranks' statistics\n"
                    "  and running statistics agree in every bit\n");
}

void write_json(std::ostream& out, const SyncOptions& o, const std::string& device_note,
                const std::vector<Row>& rows) {
  char buf[512];
  out << "{\n  \"device\": \"" << device_note << "\",\n  \"world_size\": " << kWorld << ",\n";
  out << "  \"runs\": " << o.runs << ",\n  \"warmup\": " << o.warmup << ",\n  \"date\": \"" << today() << "\",\n";
  out << "  \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::snprintf(buf, sizeof buf,
                  "    {\"shape\": \"%s\", \"pass\": \"%s\", \"plain_ms\": %.4f, \"plain_device_ms\": %.4f, "
                  "\"sync_world1_ms\": %.4f, \"sync_ms\": %.4f, \"sync_device_ms\": %.4f, \"exchange_ms\": %.4f, "
                  "\"overhead\": %.4f, \"bytes_per_rank\": %llu}%s\n",
                  r.shape.c_str(), r.pass.c_str(), r.plain_ms, r.plain_device_ms, r.sync1_ms, r.sync_ms, r.sync_device_ms,
                  r.exchange_ms, r.overhead(), static_cast<unsigned long long>(r.bytes_per_rank),
                  i + 1 < rows.size() ? "," : "");
    out << buf;
  }
  out << "  ]\n}\n";
}

}  // namespace

int bench_sync_command(int argc, char** argv) {
  SyncOptions o;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--sync") {
      continue;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--host") {
      return bad_usage("--host: --sync and --host are separate modes; run them one at a time");
    } else if (a == "--validate") {
      o.validate = true;
    } else if (a == "--quick") {
      o.quick = true;
      o.warmup = 1;
      o.runs = 5;
    } else if (a == "--runs" || a == "--warmup" || a == "--device") {
      const char* v = value();
      auto n = v ? parse_int(v) : std::nullopt;
      if (!n || (a == "--runs" && (*n < 1 || *n > 1000)) || (a == "--warmup" && *n > 1000))
        return bad_usage(a + ": expected a number" + (a == "--device" ? std::string() : " from " +
                         std::string(a == "--runs" ? "1" : "0") + " to 1000"));
      if (a == "--runs") o.runs = *n;
      if (a == "--warmup") o.warmup = *n;
      if (a == "--device") o.device = static_cast<uint32_t>(*n);
    } else if (a == "--json") {
      const char* v = value();
      if (!v) return bad_usage("--json: expected a file name");
      o.json_path = v;
    } else {
      return bad_usage("unknown option '" + a + "' (--sync takes --quick, --runs, --warmup, --device, --json, --validate)");
    }
  }
  // Quick: the same channel counts on a quarter of the batch, for CI on a CPU device.
  const std::vector<std::vector<int64_t>> shapes =
      o.quick ? std::vector<std::vector<int64_t>>{{8, 64, 28, 28}, {2, 256, 14, 14}, {16, 512, 7, 7}}
              : std::vector<std::vector<int64_t>>{{32, 64, 28, 28}, {8, 256, 14, 14}, {64, 512, 7, 7}};
  std::vector<Row> rows;
  std::string device_note;
  for (const auto& shape : shapes) {
    std::fprintf(stderr, "[sync] %s\n", shape_label(shape).c_str());
    Status s = measure_shape(o, shape, rows, device_note);
    if (!s) {
      std::fprintf(stderr, "vknorm bench --sync: %s: %s\n", shape_label(shape).c_str(), s.message().c_str());
      return 1;
    }
  }
  if (validation_messages > 0) {
    std::fprintf(stderr, "vknorm bench --sync: %d validation messages\n", validation_messages.load());
    return 1;
  }
  if (o.json_path != "-") print_table(stdout, o, device_note, rows);
  if (o.json_path.empty()) return 0;
  if (o.json_path == "-") {
    write_json(std::cout, o, device_note, rows);
    return 0;
  }
  std::ofstream out(o.json_path);
  write_json(out, o, device_note, rows);
  if (!out) {
    std::fprintf(stderr, "vknorm bench --sync: --json %s: cannot write it\n", o.json_path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace vknorm::cli
