// How vknorm's ops record a dispatch: bind a kernel, its kSlotCount buffer slots
// (src/shader_contract.h) and push constants, with a barrier after the previous vknorm
// dispatch.
#pragma once

#include <vector>

#include "context_state.hpp"
#include "kernels.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm {

struct SlotBinding {
  VkBuffer buffer = VK_NULL_HANDLE;  // null: the context's dummy buffer
  VkDeviceSize offset = 0;           // bytes, multiple of 4
  VkDeviceSize bytes = 0;            // bytes the kernel may touch
  uint32_t element_bytes = 4;        // 2 for float16 tensors
};

struct CommandRecorder::Impl {
  ContextState* state = nullptr;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  bool owns_command_buffer = false;  // standalone: allocated from command_pool below
  // Standalone: the recorder's own transient pool (a pool must be externally synchronized,
  // also while its command buffers are recorded, so recorders used in different threads
  // cannot share one). Destroyed with the recorder.
  VkCommandPool command_pool = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> pools;
  size_t sets_in_current_pool = 0;
  bool needs_barrier = false;
  uint32_t dispatches = 0;

  // Records one dispatch of `groups_x` x `groups_y` workgroups.
  Status dispatch(KernelId id, DType dtype, const SlotBinding (&slots)[kSlotCount], PushConstants push,
                  uint32_t groups_x, uint32_t groups_y = 1);
  // The same for a pipeline made outside the kernel cache with its pipeline layout (the
  // bench's reference passes, tools/vknorm/bench_references.cpp).
  Status dispatch_pipeline(VkPipeline pipeline, const SlotBinding (&slots)[kSlotCount], PushConstants push,
                           uint32_t groups_x, uint32_t groups_y = 1);
  void barrier(VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
               VkAccessFlags dst_access);
  void destroy_pools();
};

// The recording state behind a CommandRecorder, for vknorm's own code and its tools (a
// friend of CommandRecorder).
CommandRecorder::Impl& impl_of(CommandRecorder& recorder);

}  // namespace vknorm
