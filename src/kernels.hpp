// The compute kernels vknorm embeds, and the pipelines prepared from them per context.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include <vulkan/vulkan_core.h>

#include "vknorm/status.hpp"

namespace vknorm {
struct ContextState;

enum class KernelId : uint32_t {
  stats_partial,
  stats_finalize,
  normalize,
  grad_partial,
  grad_finalize,
  grad_input,
  count_,
};
const char* kernel_name(KernelId id);

struct Capabilities;
// The workgroup size every kernel is specialized with on a device: the largest power of
// two up to 256 that its limits allow, leaving room for the reduction scratch.
uint32_t workgroup_size_for(const Capabilities& caps);

constexpr uint32_t kSlotCount = 8;

// Must match the push-constant block of shaders/common.glsl.
struct PushConstants {
  uint32_t base[kSlotCount] = {};
  uint32_t B = 1, O = 1, K = 1, I = 1;
  uint32_t groups = 0;
  uint32_t count = 0;
  uint32_t chunks = 1;
  uint32_t chunk_size = 0;
  uint32_t elements = 0;
  uint32_t flags = 0;
  float eps = 0.0f;
  float momentum = 0.0f;
};
static_assert(sizeof(PushConstants) <= 128, "Vulkan guarantees only 128 bytes of push constants");

enum Flags : uint32_t {
  kFlagWeight = 1,
  kFlagBias = 2,
  kFlagUpdateRunning = 4,
  kFlagStatsAreVar = 8,
  kFlagBatchStats = 16,
};

// A pipeline and the workgroup size it was specialized with.
struct Kernel {
  VkPipeline pipeline = VK_NULL_HANDLE;
  uint32_t workgroup_size = 0;
};

// Creates pipelines on first use (or up front through prepare_all) and keeps them; safe
// to call from several threads.
class KernelCache {
 public:
  Status init(ContextState& state);
  void destroy(ContextState& state);
  Result<Kernel> get(ContextState& state, KernelId id);
  Status prepare_all(ContextState& state);
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }

 private:
  std::mutex mutex_;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  std::map<KernelId, Kernel> kernels_;
};

}  // namespace vknorm
