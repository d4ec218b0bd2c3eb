#include <algorithm>
#include <string>

#include "recorder_impl.hpp"

namespace vknorm {
namespace {
constexpr uint32_t kSetsPerPool = 64;
}

Result<std::unique_ptr<CommandRecorder>> CommandRecorder::create(Context& context,
                                                                 VkCommandBuffer command_buffer) {
  if (command_buffer == VK_NULL_HANDLE)
    return Status::invalid_argument("command_buffer: expected a command buffer in the recording state, got VK_NULL_HANDLE");
  auto impl = std::make_unique<Impl>();
  impl->state = &state_of(context);
  impl->cmd = command_buffer;
  return std::unique_ptr<CommandRecorder>(new CommandRecorder(std::move(impl)));
}

CommandRecorder::CommandRecorder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CommandRecorder::Impl& impl_of(CommandRecorder& recorder) { return *recorder.impl_; }

CommandRecorder::~CommandRecorder() {
  impl_->destroy_pools();
  if (impl_->command_pool) {  // frees the command buffer allocated from it too
    impl_->state->vk.DestroyCommandPool(impl_->state->device, impl_->command_pool, impl_->state->allocator);
    --impl_->state->live_command_pools;
  }
}

VkCommandBuffer CommandRecorder::command_buffer() const { return impl_->cmd; }

void CommandRecorder::close_with_barrier(VkPipelineStageFlags dst_stages, VkAccessFlags dst_access) {
  impl_->barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, dst_stages, dst_access);
}

Status CommandRecorder::reset() {
  for (VkDescriptorPool pool : impl_->pools) {
    VkResult r = impl_->state->vk.ResetDescriptorPool(impl_->state->device, pool, 0);
    if (r != VK_SUCCESS) return Status::vulkan(r, "vkResetDescriptorPool");
  }
  impl_->sets_in_current_pool = 0;
  // Keep the first pool for reuse; the others were only needed for a long recording.
  while (impl_->pools.size() > 1) {
    impl_->state->vk.DestroyDescriptorPool(impl_->state->device, impl_->pools.back(), impl_->state->allocator);
    --impl_->state->live_descriptor_pools;
    impl_->pools.pop_back();
  }
  impl_->needs_barrier = false;
  impl_->dispatches = 0;
  return {};
}

uint32_t CommandRecorder::dispatch_count() const { return impl_->dispatches; }

void CommandRecorder::Impl::destroy_pools() {
  for (VkDescriptorPool pool : pools) state->vk.DestroyDescriptorPool(state->device, pool, state->allocator);
  state->live_descriptor_pools -= static_cast<uint32_t>(pools.size());
  pools.clear();
}

void CommandRecorder::Impl::barrier(VkPipelineStageFlags src, VkAccessFlags src_access,
                                    VkPipelineStageFlags dst, VkAccessFlags dst_access) {
  VkMemoryBarrier b{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  b.srcAccessMask = src_access;
  b.dstAccessMask = dst_access;
  state->vk.CmdPipelineBarrier(cmd, src, dst, 0, 1, &b, 0, nullptr, 0, nullptr);
}

Status CommandRecorder::Impl::dispatch(KernelId id, DType dtype, const SlotBinding (&slots)[kSlotCount],
                                       PushConstants push, uint32_t groups_x, uint32_t groups_y) {
  auto kernel = state->kernels.get(*state, id, dtype);
  if (!kernel) return kernel.status();
  return dispatch_pipeline(kernel->pipeline, slots, push, groups_x, groups_y);
}

Status CommandRecorder::Impl::dispatch_pipeline(VkPipeline pipeline, const SlotBinding (&slots)[kSlotCount],
                                                PushConstants push, uint32_t groups_x, uint32_t groups_y) {
  if (pools.empty() || sets_in_current_pool == kSetsPerPool) {
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kSlotCount};
    VkDescriptorPoolCreateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    info.maxSets = kSetsPerPool;
    info.poolSizeCount = 1;
    info.pPoolSizes = &size;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    VkResult r = state->vk.CreateDescriptorPool(state->device, &info, state->allocator, &pool);
    if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateDescriptorPool");
    ++state->live_descriptor_pools;
    pools.push_back(pool);
    sets_in_current_pool = 0;
  }
  VkDescriptorSetLayout layout = state->kernels.set_layout();
  VkDescriptorSetAllocateInfo alloc{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  alloc.descriptorPool = pools.back();
  alloc.descriptorSetCount = 1;
  alloc.pSetLayouts = &layout;
  VkDescriptorSet set = VK_NULL_HANDLE;
  VkResult r = state->vk.AllocateDescriptorSets(state->device, &alloc, &set);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkAllocateDescriptorSets");
  ++sets_in_current_pool;

  // Storage-buffer offsets must be multiples of minStorageBufferOffsetAlignment: bind at
  // the aligned offset below and tell the kernel how many elements to skip.
  const VkDeviceSize align = state->caps.min_storage_buffer_offset_alignment;
  VkDescriptorBufferInfo infos[kSlotCount];
  VkWriteDescriptorSet writes[kSlotCount];
  for (uint32_t i = 0; i < kSlotCount; ++i) {
    const SlotBinding& s = slots[i];
    if (s.buffer == VK_NULL_HANDLE) {
      infos[i] = {state->dummy_buffer, 0, VK_WHOLE_SIZE};
      push.base[i] = 0;
    } else {
      VkDeviceSize aligned = s.offset / align * align;
      infos[i] = {s.buffer, aligned, std::max<VkDeviceSize>(4, s.offset - aligned + s.bytes)};
      push.base[i] = static_cast<uint32_t>((s.offset - aligned) / s.element_bytes);
    }
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = i;
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  state->vk.UpdateDescriptorSets(state->device, kSlotCount, writes, 0, nullptr);

  if (needs_barrier)
    barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  needs_barrier = true;
  VkPipelineLayout pl = state->kernels.layout();
  state->vk.CmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
  state->vk.CmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pl, 0, 1, &set, 0, nullptr);
  state->vk.CmdPushConstants(cmd, pl, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(PushConstants), &push);
  state->vk.CmdDispatch(cmd, groups_x, groups_y, 1);
  ++dispatches;
  return {};
}

}  // namespace vknorm
