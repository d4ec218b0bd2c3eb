#pragma once

#include "vk/dispatch.hpp"

namespace vknorm::vk {

// A host-visible, coherent memory type allowed by `type_bits`, device-local if there is
// one (integrated GPUs, resizable BAR), or UINT32_MAX.
uint32_t find_host_memory_type(const Dispatch& vk, VkPhysicalDevice physical_device, uint32_t type_bits);

// Creates a storage buffer with host-visible memory bound to it. `allocator` goes to
// vkCreateBuffer and vkAllocateMemory (destroy them with it); `memory_bytes`, when given,
// gets the allocationSize.
Status create_host_buffer(const Dispatch& vk, VkPhysicalDevice physical_device, VkDevice device,
                          VkDeviceSize bytes, VkBuffer* buffer, VkDeviceMemory* memory,
                          const VkAllocationCallbacks* allocator = nullptr, VkDeviceSize* memory_bytes = nullptr);

// Creates a storage buffer in device-local memory (what an engine's tensors live in, and
// what `vknorm bench` measures); the host fills it with vkCmdCopyBuffer.
Status create_device_buffer(const Dispatch& vk, VkPhysicalDevice physical_device, VkDevice device,
                            VkDeviceSize bytes, VkBuffer* buffer, VkDeviceMemory* memory,
                            const VkAllocationCallbacks* allocator = nullptr, VkDeviceSize* memory_bytes = nullptr);

}  // namespace vknorm::vk
