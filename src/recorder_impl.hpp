// How vknorm's ops record a dispatch: bind a kernel, the buffer slots it uses
// (src/shader_contract.h) and push constants, with a barrier after the previous vknorm
// dispatch.
#pragma once

#include "context_state.hpp"
#include "kernels.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm {

struct SlotBinding {
  VkBuffer buffer = VK_NULL_HANDLE;  // null: the slot is unbound (the pass leaves it alone)
  VkDeviceSize offset = 0;           // bytes, multiple of 4
  VkDeviceSize bytes = 0;            // bytes the kernel may touch
  uint32_t element_bytes = 4;        // 2 for float16 tensors
  bool packed = false;               // float16 halves in 32-bit words: bound as whole words
};

struct CommandRecorder::Impl {
  ContextState* state = nullptr;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  bool owns_command_buffer = false;  // standalone: allocated from command_pool below
  // Standalone: the recorder's own transient pool (a pool must be externally synchronized,
  // also while its command buffers are recorded, so recorders used in different threads
  // cannot share one). Destroyed with the recorder.
  VkCommandPool command_pool = VK_NULL_HANDLE;
  // The descriptor pool path: one pool made with the recorder, descriptor_capacity sets.
  VkDescriptorPool descriptor_pool = VK_NULL_HANDLE;
  uint32_t descriptor_capacity = 0;
  uint32_t sets_used = 0;
  bool needs_barrier = false;
  uint32_t dispatches = 0;

  // Creates the descriptor pool where the context does not push descriptors.
  Status init(const RecorderOptions& options);
  void destroy();
  // Fails, recording nothing, when `dispatches` more would pass the pool's capacity (a
  // record call asks before its first dispatch). Always ok where descriptors are pushed.
  Status reserve(uint32_t dispatches);
  // Records one dispatch of `groups_x` x `groups_y` workgroups (after reserve()).
  Status dispatch(const KernelEntry& kernel, const SlotBinding (&slots)[kSlotCount], PushConstants push,
                  uint32_t groups_x, uint32_t groups_y = 1);
  void barrier(VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
               VkAccessFlags dst_access);
};

// The recording state behind a CommandRecorder, for vknorm's own code and its tools (a
// friend of CommandRecorder).
CommandRecorder::Impl& impl_of(CommandRecorder& recorder);

}  // namespace vknorm
