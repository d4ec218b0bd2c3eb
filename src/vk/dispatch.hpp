// The Vulkan functions vknorm calls, loaded through vkGet*ProcAddr: the engine's own in
// engine mode (engines often route Vulkan through their own loader), else that of the
// loader library the context opened (vk/loader.hpp). One table per context: vknorm has
// no global function table and is built with VK_NO_PROTOTYPES.
#pragma once

#include <vulkan/vulkan_core.h>

#include "vknorm/status.hpp"

namespace vknorm::vk {

#define VKNORM_INSTANCE_FUNCTIONS(X)          \
  X(DestroyInstance)                          \
  X(EnumeratePhysicalDevices)                 \
  X(GetPhysicalDeviceProperties)              \
  X(GetPhysicalDeviceProperties2)             \
  X(GetPhysicalDeviceFeatures2)               \
  X(GetPhysicalDeviceMemoryProperties)        \
  X(GetPhysicalDeviceQueueFamilyProperties)   \
  X(EnumerateDeviceExtensionProperties)       \
  X(CreateDevice)                             \
  X(GetDeviceProcAddr)

#define VKNORM_DEVICE_FUNCTIONS(X) \
  X(DestroyDevice)                 \
  X(GetDeviceQueue)                \
  X(QueueSubmit)                   \
  X(QueueWaitIdle)                 \
  X(CreateBuffer)                  \
  X(DestroyBuffer)                 \
  X(GetBufferMemoryRequirements)   \
  X(AllocateMemory)                \
  X(FreeMemory)                    \
  X(BindBufferMemory)              \
  X(MapMemory)                     \
  X(UnmapMemory)                   \
  X(CreateShaderModule)            \
  X(DestroyShaderModule)           \
  X(CreateDescriptorSetLayout)     \
  X(DestroyDescriptorSetLayout)    \
  X(CreatePipelineLayout)          \
  X(DestroyPipelineLayout)         \
  X(CreateComputePipelines)        \
  X(DestroyPipeline)               \
  X(CreatePipelineCache)           \
  X(DestroyPipelineCache)          \
  X(CreateDescriptorPool)          \
  X(DestroyDescriptorPool)         \
  X(ResetDescriptorPool)           \
  X(AllocateDescriptorSets)        \
  X(CreateDescriptorUpdateTemplate) \
  X(DestroyDescriptorUpdateTemplate) \
  X(UpdateDescriptorSetWithTemplate) \
  X(ResetCommandPool)              \
  X(CreateCommandPool)             \
  X(DestroyCommandPool)            \
  X(AllocateCommandBuffers)        \
  X(FreeCommandBuffers)            \
  X(BeginCommandBuffer)            \
  X(EndCommandBuffer)              \
  X(CreateFence)                   \
  X(DestroyFence)                  \
  X(WaitForFences)                 \
  X(CmdBindPipeline)               \
  X(CmdBindDescriptorSets)         \
  X(CmdPushConstants)              \
  X(CmdDispatch)                   \
  X(CmdPipelineBarrier)            \
  X(CmdCopyBuffer)                 \
  X(CreateQueryPool)               \
  X(DestroyQueryPool)              \
  X(CmdResetQueryPool)             \
  X(CmdWriteTimestamp)             \
  X(GetQueryPoolResults)

// Device functions that may be missing (an extension or a newer core version): null
// then. X(member, name, fallback name).
#define VKNORM_OPTIONAL_DEVICE_FUNCTIONS(X)                                                            \
  X(CmdPushDescriptorSetWithTemplateKHR, "vkCmdPushDescriptorSetWithTemplateKHR", nullptr)           \
  X(CmdPipelineBarrier2, "vkCmdPipelineBarrier2", "vkCmdPipelineBarrier2KHR")

struct Dispatch {
  PFN_vkGetInstanceProcAddr GetInstanceProcAddr = nullptr;
#define VKNORM_DECLARE(name) PFN_vk##name name = nullptr;
  VKNORM_INSTANCE_FUNCTIONS(VKNORM_DECLARE)
  VKNORM_DEVICE_FUNCTIONS(VKNORM_DECLARE)
#undef VKNORM_DECLARE
#define VKNORM_DECLARE_OPTIONAL(member, name, fallback) PFN_vk##member member = nullptr;
  VKNORM_OPTIONAL_DEVICE_FUNCTIONS(VKNORM_DECLARE_OPTIONAL)
#undef VKNORM_DECLARE_OPTIONAL

  // Loads the instance-level functions through `gipa` (required).
  Status load_instance(VkInstance instance, PFN_vkGetInstanceProcAddr gipa);
  // Loads the device-level functions; `gdpa` null means the instance's vkGetDeviceProcAddr.
  Status load_device(VkDevice device, PFN_vkGetDeviceProcAddr gdpa);
};

}  // namespace vknorm::vk
