// What a Context holds. Internal: the public header keeps it opaque.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "kernels.hpp"
#include "vk/dispatch.hpp"
#include "vk/loader.hpp"
#include "vknorm/context.hpp"
#include "vknorm/tuning.hpp"

namespace vknorm {

struct ContextState {
  // Standalone mode without get_instance_proc_addr: the Vulkan loader library the context
  // opened, closed (in ~Context) after its instance is destroyed. Engine mode: not open.
  vk::LoaderLibrary loader;
  vk::Dispatch vk;
  Capabilities caps;
  bool standalone = false;
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  VkPipelineCache pipeline_cache = VK_NULL_HANDLE;
  // The caller's VkAllocationCallbacks (or null), passed to every vkCreate*/vkDestroy*,
  // vkAllocateMemory/vkFreeMemory vknorm calls.
  const VkAllocationCallbacks* allocator = nullptr;
  KernelCache kernels;
  // A record call fails instead of creating a missing pipeline.
  bool require_prepared_kernels = false;
  // The strategy choices record calls take (Context::set_tuning, Context::tune).
  TuningCache tuning;

  // Standalone mode only: the objects vknorm created and destroys. Vulkan requires the
  // queue to be externally synchronized: every vkQueue* call holds queue_mutex. There is
  // no shared command pool: each recorder from begin_commands() owns a transient pool, so
  // recorders can be recorded, submitted and freed in different threads without a lock.
  VkQueue queue = VK_NULL_HANDLE;
  std::mutex queue_mutex;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  std::unique_ptr<DebugCallback> debug_callback;
  // A submit or wait returned VK_ERROR_DEVICE_LOST: nothing more is submitted.
  std::atomic<bool> lost{false};

  // What Context::footprint() reports besides the kernel cache: kept where the objects
  // are created and destroyed (recorders and buffers may be in any thread): a descriptor
  // pool per recorder on the pool path, a command pool per recorder from begin_commands().
  std::atomic<uint32_t> live_descriptor_pools{0}, live_command_pools{0};
  std::atomic<uint32_t> live_buffers{0}, live_memory_allocations{0};
  std::atomic<uint64_t> live_memory_bytes{0};
};

// The state behind a Context, for vknorm's own code and its tools (a friend of Context).
ContextState& state_of(Context& context);

}  // namespace vknorm
