#include "vk/buffer.hpp"

#include <string>

namespace vknorm::vk {

uint32_t find_host_memory_type(const Dispatch& vk, VkPhysicalDevice physical_device, uint32_t type_bits) {
  VkPhysicalDeviceMemoryProperties mem{};
  vk.GetPhysicalDeviceMemoryProperties(physical_device, &mem);
  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint32_t fallback = UINT32_MAX;
  for (uint32_t i = 0; i < mem.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    VkMemoryPropertyFlags f = mem.memoryTypes[i].propertyFlags;
    if ((f & host) != host) continue;
    if (f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) return i;
    if (fallback == UINT32_MAX) fallback = i;
  }
  return fallback;
}

namespace {

uint32_t find_device_memory_type(const Dispatch& vk, VkPhysicalDevice physical_device, uint32_t type_bits) {
  VkPhysicalDeviceMemoryProperties mem{};
  vk.GetPhysicalDeviceMemoryProperties(physical_device, &mem);
  for (uint32_t i = 0; i < mem.memoryTypeCount; ++i)
    if ((type_bits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)) return i;
  return UINT32_MAX;
}

Status create_buffer(const Dispatch& vk, VkPhysicalDevice physical_device, VkDevice device, VkDeviceSize bytes,
                     bool host_visible, VkBuffer* buffer, VkDeviceMemory* memory,
                     const VkAllocationCallbacks* allocator, VkDeviceSize* memory_bytes) {
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = bytes;
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkResult r = vk.CreateBuffer(device, &info, allocator, buffer);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateBuffer(" + std::to_string(bytes) + " bytes)");
  VkMemoryRequirements req{};
  vk.GetBufferMemoryRequirements(device, *buffer, &req);
  uint32_t type = host_visible ? find_host_memory_type(vk, physical_device, req.memoryTypeBits)
                               : find_device_memory_type(vk, physical_device, req.memoryTypeBits);
  if (type == UINT32_MAX) {
    vk.DestroyBuffer(device, *buffer, allocator);
    *buffer = VK_NULL_HANDLE;
    return Status::unsupported(host_visible ? "the device has no host-visible coherent memory for storage buffers"
                                            : "the device has no device-local memory for storage buffers");
  }
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = type;
  r = vk.AllocateMemory(device, &alloc, allocator, memory);
  if (r == VK_SUCCESS) r = vk.BindBufferMemory(device, *buffer, *memory, 0);
  if (r != VK_SUCCESS) {
    vk.DestroyBuffer(device, *buffer, allocator);
    if (*memory) vk.FreeMemory(device, *memory, allocator);
    *buffer = VK_NULL_HANDLE;
    *memory = VK_NULL_HANDLE;
    return Status::vulkan(r, "vkAllocateMemory(" + std::to_string(bytes) + " bytes)");
  }
  if (memory_bytes) *memory_bytes = req.size;
  return {};
}

}  // namespace

Status create_host_buffer(const Dispatch& vk, VkPhysicalDevice physical_device, VkDevice device,
                          VkDeviceSize bytes, VkBuffer* buffer, VkDeviceMemory* memory,
                          const VkAllocationCallbacks* allocator, VkDeviceSize* memory_bytes) {
  return create_buffer(vk, physical_device, device, bytes, true, buffer, memory, allocator, memory_bytes);
}

Status create_device_buffer(const Dispatch& vk, VkPhysicalDevice physical_device, VkDevice device,
                            VkDeviceSize bytes, VkBuffer* buffer, VkDeviceMemory* memory,
                            const VkAllocationCallbacks* allocator, VkDeviceSize* memory_bytes) {
  return create_buffer(vk, physical_device, device, bytes, false, buffer, memory, allocator, memory_bytes);
}

}  // namespace vknorm::vk
