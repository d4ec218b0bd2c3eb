#include "bench_device.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <tuple>

#include "context_state.hpp"
#include "ops/planner.hpp"
#include "recorder_impl.hpp"
#include "vk/buffer.hpp"

namespace vknorm::bench {
namespace {

constexpr uint32_t kMaxRuns = 1000;
// Pieces of work timed together (time_interleaved): up to every reference candidate of a pass.
constexpr size_t kMaxInterleaved = 40;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Timing summarize(const std::vector<double>& ms) {
  Timing t;
  t.runs = static_cast<int>(ms.size());
  t.median_ms = median(ms);
  t.min_ms = *std::min_element(ms.begin(), ms.end());
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double q1 = sorted[sorted.size() / 4], q3 = sorted[(3 * sorted.size()) / 4];
  t.spread = t.median_ms > 0 ? (q3 - q1) / t.median_ms : 0.0;
  return t;
}

}  // namespace

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  std::swap(context_, o.context_);
  std::swap(buffer_, o.buffer_);
  std::swap(memory_, o.memory_);
  std::swap(bytes_, o.bytes_);
  return *this;
}
DeviceBuffer::~DeviceBuffer() {
  if (!context_) return;
  ContextState& s = state_of(*context_);
  if (buffer_) s.vk.DestroyBuffer(s.device, buffer_, nullptr);
  if (memory_) s.vk.FreeMemory(s.device, memory_, nullptr);
}

Result<std::unique_ptr<BenchDevice>> BenchDevice::create(Context& context, bool use_fences) {
  std::unique_ptr<BenchDevice> d(new BenchDevice(context));
  ContextState& s = state_of(context);
  uint32_t count = 0;
  s.vk.GetPhysicalDeviceQueueFamilyProperties(s.physical_device, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  s.vk.GetPhysicalDeviceQueueFamilyProperties(s.physical_device, &count, families.data());
  const uint32_t valid_bits = s.queue_family < count ? families[s.queue_family].timestampValidBits : 0;
  if (use_fences) {
    d->timing_note_ = "fences (asked for with --fences)";
  } else if (!s.caps.timestamps || valid_bits == 0) {
    d->timing_note_ = "fences: the device has no timestamps on its compute queue (timestampComputeAndGraphics " +
                      std::string(s.caps.timestamps ? "true" : "false") +
                      ", timestampValidBits " + std::to_string(valid_bits) + ")";
  } else {
    VkQueryPoolCreateInfo info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    info.queryCount = 2 * kMaxRuns * kMaxInterleaved;
    VkResult r = s.vk.CreateQueryPool(s.device, &info, nullptr, &d->query_pool_);
    if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateQueryPool");
    d->query_capacity_ = info.queryCount;
    d->timestamp_mask_ = valid_bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << valid_bits) - 1;
    d->timing_note_ = "timestamp queries";
  }
  return d;
}

BenchDevice::~BenchDevice() {
  ContextState& s = state_of(context_);
  if (query_pool_) s.vk.DestroyQueryPool(s.device, query_pool_, nullptr);
}

Result<DeviceBuffer> BenchDevice::buffer(VkDeviceSize bytes, const std::vector<uint8_t>& contents) {
  ContextState& s = state_of(context_);
  DeviceBuffer b;
  b.context_ = &context_;
  b.bytes_ = std::max<VkDeviceSize>(bytes, 4);
  VKNORM_TRY(vk::create_device_buffer(s.vk, s.physical_device, s.device, b.bytes_, &b.buffer_, &b.memory_));
  // Fill through a host-visible staging buffer: device-local memory need not be mappable.
  auto staging = context_.create_buffer(b.bytes_);
  if (!staging) return staging.status();
  std::memset(staging.value().data(), 0, b.bytes_);
  // An empty vector's data() may be null, and memcpy from null is undefined even for 0 bytes.
  if (!contents.empty())
    std::memcpy(staging.value().data(), contents.data(), std::min<size_t>(contents.size(), b.bytes_));
  VKNORM_TRY(run_once([&](CommandRecorder& rec) -> Status {
    VkBufferCopy region{0, 0, b.bytes_};
    s.vk.CmdCopyBuffer(rec.command_buffer(), staging.value().handle(), b.buffer_, 1, &region);
    rec.close_with_barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);
    return {};
  }));
  return b;
}

Status BenchDevice::run_once(const RecordFn& fn) {
  auto rec = context_.begin_commands();
  if (!rec) return rec.status();
  record_leading_barrier(*rec.value());
  VKNORM_TRY(fn(*rec.value()));
  return context_.submit_and_wait(*rec.value());
}

// Transfers and shaders of earlier submissions (the staging copies, the previous phase)
// must land before this work's shaders and transfers touch the same buffers.
void BenchDevice::record_leading_barrier(CommandRecorder& recorder) {
  ContextState& s = state_of(context_);
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT;
  s.vk.CmdPipelineBarrier(recorder.command_buffer(),
                          VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0,
                          nullptr, 0, nullptr);
}

Result<double> BenchDevice::submit_timed(const RecordFn& fn) {
  ContextState& s = state_of(context_);
  auto rec = context_.begin_commands();
  if (!rec) return rec.status();
  CommandRecorder& r = *rec.value();
  VkCommandBuffer cmd = r.command_buffer();
  if (timestamps()) s.vk.CmdResetQueryPool(cmd, query_pool_, 0, 2);
  record_leading_barrier(r);
  if (timestamps()) s.vk.CmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, query_pool_, 0);
  VKNORM_TRY(fn(r));
  if (timestamps()) s.vk.CmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, query_pool_, 1);
  const auto start = std::chrono::steady_clock::now();
  VKNORM_TRY(context_.submit_and_wait(r));
  const double fence_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!timestamps()) return fence_ms;
  uint64_t ticks[2] = {};
  VkResult res = s.vk.GetQueryPoolResults(s.device, query_pool_, 0, 2, sizeof ticks, ticks, sizeof(uint64_t),
                                          VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  if (res != VK_SUCCESS) return Status::vulkan(res, "vkGetQueryPoolResults");
  return static_cast<double>((ticks[1] - ticks[0]) & timestamp_mask_) * s.caps.timestamp_period_ns * 1e-6;
}

Result<std::vector<uint8_t>> BenchDevice::read(const DeviceBuffer& buffer) {
  ContextState& s = state_of(context_);
  auto staging = context_.create_buffer(buffer.bytes());
  if (!staging) return staging.status();
  VKNORM_TRY(run_once([&](CommandRecorder& rec) -> Status {
    VkBufferCopy region{0, 0, buffer.bytes()};
    s.vk.CmdCopyBuffer(rec.command_buffer(), buffer.buffer_, staging.value().handle(), 1, &region);
    // submit_and_wait's own barrier covers shader writes only: the copy's, for the host.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    s.vk.CmdPipelineBarrier(rec.command_buffer(), VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                            &mb, 0, nullptr, 0, nullptr);
    return {};
  }));
  const auto* bytes = static_cast<const uint8_t*>(staging.value().data());
  return std::vector<uint8_t>(bytes, bytes + buffer.bytes());
}

Result<Timing> BenchDevice::time(const RecordFn& fn, int warmup, int runs) {
  auto timings = time_interleaved({fn}, warmup, runs);
  if (!timings) return timings.status();
  return timings.value()[0];
}

Result<std::vector<Timing>> BenchDevice::time_interleaved(const std::vector<RecordFn>& fns, int warmup, int runs,
                                                          uint32_t repeats) {
  if (runs < 1 || runs > static_cast<int>(kMaxRuns))
    return Status::invalid_argument("runs: expected 1 to " + std::to_string(kMaxRuns) + ", got " +
                                    std::to_string(runs));
  if (fns.empty() || fns.size() > kMaxInterleaved)
    return Status::internal("time_interleaved: 1 to " + std::to_string(kMaxInterleaved) + " pieces of work, got " +
                            std::to_string(fns.size()));
  return timestamps() ? time_with_timestamps(fns, warmup, runs, std::max(repeats, 1u))
                      : time_with_fences(fns, warmup, runs);
}

// One command buffer: the warm-up runs, then each timed run between two timestamps.
// A BOTTOM_OF_PIPE timestamp is written once all earlier commands have finished, so the
// interval holds exactly one run; vknorm's own barriers order the runs' memory accesses.
Result<std::vector<Timing>> BenchDevice::time_with_timestamps(const std::vector<RecordFn>& fns, int warmup, int runs,
                                                              uint32_t repeats) {
  ContextState& s = state_of(context_);
  const uint32_t n = static_cast<uint32_t>(fns.size());
  // On the descriptor pool path the recorder's pool needs a set per dispatch: every run
  // here, of at most an ExecutionPlan's 6 passes.
  const uint32_t dispatches =
      static_cast<uint32_t>(warmup + runs) * n * repeats * std::tuple_size_v<decltype(ExecutionPlan::passes)>;
  auto rec = context_.begin_commands({.descriptor_capacity = dispatches});
  if (!rec) return rec.status();
  CommandRecorder& r = *rec.value();
  VkCommandBuffer cmd = r.command_buffer();
  const uint32_t queries = 2 * static_cast<uint32_t>(runs) * n;
  s.vk.CmdResetQueryPool(cmd, query_pool_, 0, queries);
  for (int i = 0; i < warmup; ++i)
    for (const RecordFn& fn : fns) VKNORM_TRY(fn(r));
  for (uint32_t i = 0; i < static_cast<uint32_t>(runs); ++i)
    for (uint32_t j = 0; j < n; ++j) {
      const uint32_t q = 2 * (i * n + j);
      s.vk.CmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, query_pool_, q);
      VKNORM_TRY(fns[j](r));
      s.vk.CmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, query_pool_, q + 1);
    }
  VKNORM_TRY(context_.submit_and_wait(r));
  std::vector<uint64_t> ticks(queries);
  VkResult res = s.vk.GetQueryPoolResults(s.device, query_pool_, 0, queries, ticks.size() * sizeof(uint64_t),
                                          ticks.data(), sizeof(uint64_t),
                                          VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  if (res != VK_SUCCESS) return Status::vulkan(res, "vkGetQueryPoolResults");
  std::vector<Timing> out;
  for (uint32_t j = 0; j < n; ++j) {
    std::vector<double> ms(runs);
    for (uint32_t i = 0; i < static_cast<uint32_t>(runs); ++i) {
      const uint32_t q = 2 * (i * n + j);
      const uint64_t dt = (ticks[q + 1] - ticks[q]) & timestamp_mask_;
      ms[i] = static_cast<double>(dt) * s.caps.timestamp_period_ns * 1e-6;
    }
    out.push_back(summarize(ms));
  }
  return out;
}

// One submission per run, recorded beforehand; the time from vkQueueSubmit to the fence
// also holds the submission and wake-up latency.
Result<std::vector<Timing>> BenchDevice::time_with_fences(const std::vector<RecordFn>& fns, int warmup, int runs) {
  for (int i = 0; i < warmup; ++i)
    for (const RecordFn& fn : fns) VKNORM_TRY(run_once(fn));
  std::vector<std::vector<double>> ms(fns.size(), std::vector<double>(runs));
  for (int i = 0; i < runs; ++i)
    for (size_t j = 0; j < fns.size(); ++j) {
      auto rec = context_.begin_commands();
      if (!rec) return rec.status();
      VKNORM_TRY(fns[j](*rec.value()));
      const auto start = std::chrono::steady_clock::now();
      VKNORM_TRY(context_.submit_and_wait(*rec.value()));
      ms[j][i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    }
  std::vector<Timing> out;
  for (const auto& m : ms) out.push_back(summarize(m));
  return out;
}

}  // namespace vknorm::bench
