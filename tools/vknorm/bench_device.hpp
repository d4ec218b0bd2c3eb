// What `vknorm bench` needs from the device beyond vknorm's public API: device-local
// buffers (an engine's tensors live there) and timing of recorded work with timestamp
// queries, or with fences where the device has no timestamps.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "vknorm/context.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm::bench {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&&) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&&) noexcept;
  ~DeviceBuffer();
  BufferRef ref() const { return {buffer_, 0, bytes_}; }
  VkDeviceSize bytes() const { return bytes_; }

 private:
  friend class BenchDevice;
  Context* context_ = nullptr;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize bytes_ = 0;
};

using RecordFn = std::function<Status(CommandRecorder&)>;

struct Timing {
  double median_ms = 0, min_ms = 0;
  double spread = 0;  // (75th - 25th percentile) / median: how steady the runs were
  int runs = 0;
};

class BenchDevice {
 public:
  // `use_fences` forces fence timing even where timestamps exist.
  static Result<std::unique_ptr<BenchDevice>> create(Context& context, bool use_fences);
  ~BenchDevice();

  bool timestamps() const { return query_pool_ != VK_NULL_HANDLE; }
  // Why fences are used, when they are.
  const std::string& timing_note() const { return timing_note_; }

  // A device-local buffer holding `contents` (bytes; zero-filled when shorter).
  Result<DeviceBuffer> buffer(VkDeviceSize bytes, const std::vector<uint8_t>& contents = {});
  // Records `fn` once, submits and waits (setup work, such as the forward a backward needs).
  Status run_once(const RecordFn& fn);
  // Records `fn` once, submits and waits, and returns the device time of the work in ms:
  // between two timestamps around it, or with fences the time from the submit to the
  // fence (SyncBatchNorm's phases, each its own submission as an engine runs them).
  Result<double> submit_timed(const RecordFn& fn);
  // The buffer's bytes, copied to the host (after the work submitted before finished).
  Result<std::vector<uint8_t>> read(const DeviceBuffer& buffer);
  // Runs `fn` `warmup` times, then `runs` timed times, each after the previous finished.
  Result<Timing> time(const RecordFn& fn, int warmup, int runs);
  // The same for several pieces of work, interleaved: run i of each, in order, then run i + 1
  // of each. Ratios of their medians then compare work that shared the same moments of a
  // shared machine, instead of one window against another.
  // `repeats`: how many plans each fn records (bench --slowdown), for the recorder's
  // descriptor capacity on the pool path.
  Result<std::vector<Timing>> time_interleaved(const std::vector<RecordFn>& fns, int warmup, int runs,
                                               uint32_t repeats = 1);

 private:
  explicit BenchDevice(Context& context) : context_(context) {}
  // The barrier that orders earlier submissions' writes before this one's reads and writes.
  void record_leading_barrier(CommandRecorder& recorder);
  Result<std::vector<Timing>> time_with_timestamps(const std::vector<RecordFn>& fns, int warmup, int runs,
                                                   uint32_t repeats);
  Result<std::vector<Timing>> time_with_fences(const std::vector<RecordFn>& fns, int warmup, int runs);
  Context& context_;
  VkQueryPool query_pool_ = VK_NULL_HANDLE;
  uint32_t query_capacity_ = 0;
  uint64_t timestamp_mask_ = ~uint64_t{0};
  std::string timing_note_;
};

}  // namespace vknorm::bench
