#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>

#include "recorder_impl.hpp"

namespace vknorm {

Result<std::unique_ptr<CommandRecorder>> CommandRecorder::create(Context& context, VkCommandBuffer command_buffer,
                                                                 const RecorderOptions& options) {
  if (command_buffer == VK_NULL_HANDLE)
    return Status::invalid_argument("command_buffer: expected a command buffer in the recording state, got VK_NULL_HANDLE");
  auto impl = std::make_unique<Impl>();
  impl->state = &state_of(context);
  impl->cmd = command_buffer;
  VKNORM_TRY(impl->init(options));
  return std::unique_ptr<CommandRecorder>(new CommandRecorder(std::move(impl)));
}

CommandRecorder::CommandRecorder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CommandRecorder::Impl& impl_of(CommandRecorder& recorder) { return *recorder.impl_; }

CommandRecorder::~CommandRecorder() { impl_->destroy(); }

VkCommandBuffer CommandRecorder::command_buffer() const { return impl_->cmd; }

void CommandRecorder::close_with_barrier(VkPipelineStageFlags dst_stages, VkAccessFlags dst_access) {
  impl_->barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, dst_stages, dst_access);
}

Status CommandRecorder::close_with_barrier2(VkPipelineStageFlags2 dst_stages, VkAccessFlags2 dst_access) {
  const ContextState& s = *impl_->state;
  if (!s.caps.synchronization2 || !s.vk.CmdPipelineBarrier2)
    return Status::unsupported(
        "close_with_barrier2: needs synchronization2, which this context does not use (set "
        "EngineHandles::synchronization2_enabled when the device was created with it; standalone contexts enable "
        "it on Vulkan 1.3 devices); close_with_barrier records the same barrier without it");
  VkMemoryBarrier2 b{VK_STRUCTURE_TYPE_MEMORY_BARRIER_2};
  b.srcStageMask = VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT;
  b.srcAccessMask = VK_ACCESS_2_SHADER_WRITE_BIT;
  b.dstStageMask = dst_stages;
  b.dstAccessMask = dst_access;
  VkDependencyInfo dependency{VK_STRUCTURE_TYPE_DEPENDENCY_INFO};
  dependency.memoryBarrierCount = 1;
  dependency.pMemoryBarriers = &b;
  s.vk.CmdPipelineBarrier2(impl_->cmd, &dependency);
  return {};
}

void CommandRecorder::note_external_barrier() { impl_->needs_barrier = false; }

Status CommandRecorder::reset(VkCommandBuffer next) {
  Impl& r = *impl_;
  if (next != VK_NULL_HANDLE && r.owns_command_buffer)
    return Status::invalid_argument(
        "next: a recorder from begin_commands() records into its own command buffer; pass VK_NULL_HANDLE");
  if (r.descriptor_pool) {
    VkResult result = r.state->vk.ResetDescriptorPool(r.state->device, r.descriptor_pool, 0);
    if (result != VK_SUCCESS) return Status::vulkan(result, "vkResetDescriptorPool");
  }
  if (r.owns_command_buffer) {
    // begin_commands(): its command buffer, submitted (or still recording), starts over.
    VkResult result = r.state->vk.ResetCommandPool(r.state->device, r.command_pool, 0);
    if (result != VK_SUCCESS) return Status::vulkan(result, "vkResetCommandPool");
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    result = r.state->vk.BeginCommandBuffer(r.cmd, &begin);
    if (result != VK_SUCCESS) return Status::vulkan(result, "vkBeginCommandBuffer");
  }
  if (next != VK_NULL_HANDLE) r.cmd = next;
  r.sets_used = 0;
  r.needs_barrier = false;
  r.dispatches = 0;
  return {};
}

uint32_t CommandRecorder::dispatch_count() const { return impl_->dispatches; }

Status CommandRecorder::Impl::init(const RecorderOptions& options) {
  if (options.descriptor_capacity == 0)
    return Status::invalid_argument("options.descriptor_capacity: expected at least 1 (descriptor sets, one per "
                                    "dispatch between resets), got 0");
  if (options.descriptor_capacity > UINT32_MAX / kSlotCount)
    return Status::invalid_argument("options.descriptor_capacity: expected at most " +
                                    std::to_string(UINT32_MAX / kSlotCount) + ", got " +
                                    std::to_string(options.descriptor_capacity));
  if (state->caps.push_descriptors) return {};  // dispatches push theirs: no pool at all
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, options.descriptor_capacity * kSlotCount};
  VkDescriptorPoolCreateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  info.maxSets = options.descriptor_capacity;
  info.poolSizeCount = 1;
  info.pPoolSizes = &size;
  VkResult r = state->vk.CreateDescriptorPool(state->device, &info, state->allocator, &descriptor_pool);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateDescriptorPool");
  state->live_descriptor_pools.fetch_add(1, std::memory_order_relaxed);
  descriptor_capacity = options.descriptor_capacity;
  return {};
}

void CommandRecorder::Impl::destroy() {
  if (descriptor_pool) {
    state->vk.DestroyDescriptorPool(state->device, descriptor_pool, state->allocator);
    state->live_descriptor_pools.fetch_sub(1, std::memory_order_relaxed);
    descriptor_pool = VK_NULL_HANDLE;
  }
  if (command_pool) {  // frees the command buffer allocated from it too
    state->vk.DestroyCommandPool(state->device, command_pool, state->allocator);
    state->live_command_pools.fetch_sub(1, std::memory_order_relaxed);
    command_pool = VK_NULL_HANDLE;
  }
}

Status CommandRecorder::Impl::reserve(uint32_t count) {
  if (!descriptor_pool || count <= descriptor_capacity - sets_used) return {};
  return Status::invalid_argument(
      "RecorderOptions::descriptor_capacity (C: vknorm_recorder_options.descriptor_capacity): this call records " + std::to_string(count) +
      " dispatches, each needing a descriptor set, and the recorder's pool has " +
      std::to_string(descriptor_capacity - sets_used) + " of its " + std::to_string(descriptor_capacity) +
      " left since the last reset(); create the recorder with a larger descriptor_capacity, or reset() it "
      "once the GPU has finished the work recorded so far");
}

void CommandRecorder::Impl::barrier(VkPipelineStageFlags src, VkAccessFlags src_access,
                                    VkPipelineStageFlags dst, VkAccessFlags dst_access) {
  VkMemoryBarrier b{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  b.srcAccessMask = src_access;
  b.dstAccessMask = dst_access;
  state->vk.CmdPipelineBarrier(cmd, src, dst, 0, 1, &b, 0, nullptr, 0, nullptr);
}

Status CommandRecorder::Impl::dispatch(const KernelEntry& kernel, const SlotBinding (&slots)[kSlotCount],
                                       PushConstants push, uint32_t groups_x, uint32_t groups_y) {
  VKNORM_TRY(reserve(1));
  // Storage-buffer offsets must be multiples of minStorageBufferOffsetAlignment: bind at
  // the aligned offset below and tell the kernel how many elements to skip. Only the
  // slots of the kernel's set layout are written (the update template reads those). The
  // alignment is at least 4 (capabilities.cpp), so packed float16 words start there too.
  const VkDeviceSize align = state->caps.min_storage_buffer_offset_alignment;
  VkDescriptorBufferInfo infos[kSlotCount];
  uint32_t bound = 0;
  for (uint32_t mask = kernel.slots; mask != 0; mask &= mask - 1) {
    const uint32_t i = static_cast<uint32_t>(std::countr_zero(mask));
    const SlotBinding& s = slots[i];
    if (s.buffer == VK_NULL_HANDLE) continue;
    const VkDeviceSize aligned = s.offset / align * align;
    // Packed float16 is read and written as whole words: the range ends with the word of
    // the last element (check_ref made sure the caller's range has it).
    const VkDeviceSize end = s.packed ? (s.offset + s.bytes + 3) / 4 * 4 : s.offset + s.bytes;
    infos[i] = {s.buffer, aligned, std::max<VkDeviceSize>(4, end - aligned)};
    push.base[i] = static_cast<uint32_t>((s.offset - aligned) / s.element_bytes);
    bound |= 1u << i;
  }
  // Every slot of the layout needs a valid descriptor, but a pass leaves unbound the slots
  // its flags keep the kernel away from (no weight, no residual, ...): the kernel
  // references them, in code this configuration never runs. They get a buffer this
  // dispatch already binds, with the access the kernel declares for the slot (a written
  // slot one the dispatch writes, a read-only slot one it only reads), so that the
  // validation layer's synchronization checks see no access the dispatch does not make.
  for (uint32_t missing = kernel.slots & ~bound; missing != 0; missing &= missing - 1) {
    const uint32_t i = static_cast<uint32_t>(std::countr_zero(missing));
    const int source = stand_in_slot(i, kernel.slots, kernel.written_slots, bound);
    if (source < 0)
      return Status::internal(std::string(kernel.name) + ": slot " + std::to_string(i) +
                              " is unbound, and the dispatch binds no other slot the kernel accesses the same way");
    infos[i] = infos[source];
    push.base[i] = 0;
  }

  VkDescriptorSet set = VK_NULL_HANDLE;
  if (descriptor_pool && kernel.update_template) {
    VkDescriptorSetAllocateInfo alloc{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    alloc.descriptorPool = descriptor_pool;
    alloc.descriptorSetCount = 1;
    alloc.pSetLayouts = &kernel.set_layout;
    VkResult r = state->vk.AllocateDescriptorSets(state->device, &alloc, &set);
    if (r != VK_SUCCESS) return Status::vulkan(r, "vkAllocateDescriptorSets");
    ++sets_used;
    state->vk.UpdateDescriptorSetWithTemplate(state->device, set, kernel.update_template, infos);
  }

  if (needs_barrier)
    barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  needs_barrier = true;
  state->vk.CmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.pipeline);
  if (set)
    state->vk.CmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.layout, 0, 1, &set, 0, nullptr);
  else if (kernel.update_template)
    state->vk.CmdPushDescriptorSetWithTemplateKHR(cmd, kernel.update_template, kernel.layout, 0, infos);
  state->vk.CmdPushConstants(cmd, kernel.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(PushConstants), &push);
  state->vk.CmdDispatch(cmd, groups_x, groups_y, 1);
  ++dispatches;
  return {};
}

}  // namespace vknorm
