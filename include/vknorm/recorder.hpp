// Recording vknorm's work into a command buffer.
//
// Synchronization contract (engine mode):
//  - Before a vknorm call, the caller makes its inputs available to compute-shader reads
//    (a barrier with dstStageMask COMPUTE_SHADER, dstAccessMask SHADER_READ) and orders
//    earlier accesses of the outputs before compute-shader writes.
//  - vknorm inserts the barriers between its own dispatches, also between two vknorm calls
//    recorded through the same CommandRecorder.
//  - After a vknorm call, outputs are written by compute shaders (srcStageMask
//    COMPUTE_SHADER, srcAccessMask SHADER_WRITE); the caller adds the barrier its next use
//    needs, or calls close_with_barrier().
//  - The recorder owns the descriptor sets the recorded dispatches use: keep it alive until
//    the command buffer has finished executing, then reset() or destroy it.
#pragma once

#include <memory>

#include <vulkan/vulkan_core.h>

#include "vknorm/context.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

// A range of a VkBuffer. The offset must be a multiple of 4 (one float); any alignment
// beyond that is handled by vknorm. size VK_WHOLE_SIZE means "to the end of the buffer".
struct BufferRef {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;
  VkDeviceSize size = VK_WHOLE_SIZE;

  bool empty() const { return buffer == VK_NULL_HANDLE; }
};

inline BufferRef ref(const Buffer& b, VkDeviceSize offset = 0) {
  return {b.handle(), offset, b.size() - offset};
}

class CommandRecorder {
 public:
  // Records into `command_buffer`, which the caller has begun and will end and submit.
  static Result<std::unique_ptr<CommandRecorder>> create(Context& context, VkCommandBuffer command_buffer);
  ~CommandRecorder();
  CommandRecorder(const CommandRecorder&) = delete;
  CommandRecorder& operator=(const CommandRecorder&) = delete;

  VkCommandBuffer command_buffer() const;
  // A barrier from vknorm's compute-shader writes to the given stages and accesses.
  void close_with_barrier(VkPipelineStageFlags dst_stages, VkAccessFlags dst_access);
  // Call once the recorded work has finished on the GPU: frees the descriptor sets.
  Status reset();
  // Dispatches recorded since creation or the last reset() (to see what a call costs).
  uint32_t dispatch_count() const;

  struct Impl;

 private:
  // vknorm's own code (src/recorder_impl.hpp) reaches the recording state.
  friend Impl& impl_of(CommandRecorder& recorder);
  explicit CommandRecorder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vknorm
