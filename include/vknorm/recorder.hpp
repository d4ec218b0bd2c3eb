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
//    needs, or calls close_with_barrier() / close_with_barrier2().
//  - When the caller records its own barrier after vknorm's last writes (one that also
//    makes them visible to compute-shader reads and writes), note_external_barrier() tells
//    the recorder, and its next dispatch records none of its own before it.
//  - Several calls on one recorder may share one workspace: the barrier between their
//    dispatches orders one call's use of it before the next.
//
// Descriptors (Capabilities::push_descriptors): where the device's VK_KHR_push_descriptor
// is enabled, each dispatch pushes its descriptors into the command buffer and the
// recorder holds no descriptor pool. Otherwise the recorder creates one descriptor pool
// with itself, sized by RecorderOptions::descriptor_capacity (one set per dispatch); it
// never grows, and a record call that would pass it fails before recording anything. The
// sets belong to the recorder: keep it alive until the command buffer has finished
// executing, then reset() or destroy it.
//
// Command buffers: the one given may be primary or secondary (a secondary one begun with
// inheritance info, executed from a primary with vkCmdExecuteCommands). vknorm records only
// compute work (bind, push, barrier, dispatch), none of it inside a render pass.
//
// Frames in flight: one recorder per frame, each re-targeted at that frame's command
// buffer with reset(cmd) once the frame's previous submission has finished. It allocates
// nothing then: its pool is reset, not recreated.
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
  // On the descriptor pool path this creates the recorder's one descriptor pool.
  static Result<std::unique_ptr<CommandRecorder>> create(Context& context, VkCommandBuffer command_buffer,
                                                         const RecorderOptions& options = {});
  ~CommandRecorder();
  CommandRecorder(const CommandRecorder&) = delete;
  CommandRecorder& operator=(const CommandRecorder&) = delete;

  VkCommandBuffer command_buffer() const;
  // A barrier from vknorm's compute-shader writes to the given stages and accesses.
  void close_with_barrier(VkPipelineStageFlags dst_stages, VkAccessFlags dst_access);
  // The same as a vkCmdPipelineBarrier2 memory barrier. Needs synchronization2
  // (Capabilities::synchronization2: standalone contexts enable it on Vulkan 1.3 devices;
  // engines set EngineHandles::synchronization2_enabled); unsupported otherwise.
  Status close_with_barrier2(VkPipelineStageFlags2 dst_stages, VkAccessFlags2 dst_access);
  // The caller has recorded its own barrier after vknorm's last dispatch, covering
  // compute-shader reads and writes: the next dispatch on this recorder records none.
  void note_external_barrier();
  // Call once the recorded work has finished on the GPU: resets the descriptor pool (its
  // sets are free again) and the dispatch count, and with `next` records into that command
  // buffer from now on (begun by the caller, primary or secondary). A recorder from
  // begin_commands() keeps its own command buffer (`next` must be VK_NULL_HANDLE), which
  // reset() begins again, so it records new work after submit_and_wait().
  Status reset(VkCommandBuffer next = VK_NULL_HANDLE);
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
