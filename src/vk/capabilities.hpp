#pragma once

#include "vk/dispatch.hpp"
#include "vknorm/context.hpp"

namespace vknorm::vk {

// Reads what vknorm needs to know of a device, applies the override, and chooses the
// reduction path (with the reason, for `vknorm devices` and for bug reports).
Capabilities query_capabilities(const Dispatch& vk, VkPhysicalDevice device,
                                const CapabilityOverride& override_caps);

// Ok when the context may bind float16 tensors; else `unsupported`, naming what is
// missing: the device's storageBuffer16BitAccess, or (the device has it) the engine's
// EngineHandles::storage_buffer_16bit_enabled.
Status require_float16_storage(const Capabilities& caps);
// Whether the device offers the extension `name`.
bool has_device_extension(const Dispatch& vk, VkPhysicalDevice device, const char* name);

// Whether the device supports the synchronization2 feature (Vulkan 1.3 core).
bool supports_synchronization2(const Dispatch& vk, VkPhysicalDevice device);

}  // namespace vknorm::vk
