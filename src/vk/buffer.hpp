#pragma once

#include "vk/dispatch.hpp"

namespace vknorm::vk {

// A host-visible, coherent memory type allowed by `type_bits`, device-local if there is
// one (integrated GPUs, resizable BAR), or UINT32_MAX.
uint32_t find_host_memory_type(const Dispatch& vk, VkPhysicalDevice physical_device, uint32_t type_bits);

// Creates a storage buffer with host-visible memory bound to it.
Status create_host_buffer(const Dispatch& vk, VkPhysicalDevice physical_device, VkDevice device,
                          VkDeviceSize bytes, VkBuffer* buffer, VkDeviceMemory* memory);

// Creates a storage buffer in device-local memory (what an engine's tensors live in, and
// what `vknorm bench` measures); the host fills it with vkCmdCopyBuffer.
Status create_device_buffer(const Dispatch& vk, VkPhysicalDevice physical_device, VkDevice device,
                            VkDeviceSize bytes, VkBuffer* buffer, VkDeviceMemory* memory);

}  // namespace vknorm::vk
