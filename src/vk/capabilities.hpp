#pragma once

#include "vk/dispatch.hpp"
#include "vknorm/context.hpp"

namespace vknorm::vk {

// Reads what vknorm needs to know of a device, applies the override, and chooses the
// reduction path (with the reason, for `vknorm devices` and for bug reports).
Capabilities query_capabilities(const Dispatch& vk, VkPhysicalDevice device,
                                const CapabilityOverride& override_caps);

// Whether the device offers the extension `name`.
bool has_device_extension(const Dispatch& vk, VkPhysicalDevice device, const char* name);

// Whether the device supports the synchronization2 feature (Vulkan 1.3 core).
bool supports_synchronization2(const Dispatch& vk, VkPhysicalDevice device);

}  // namespace vknorm::vk
