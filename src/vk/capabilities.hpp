#pragma once

#include "vk/dispatch.hpp"
#include "vknorm/context.hpp"

namespace vknorm::vk {

// Reads what vknorm needs to know of a device, applies the override, and chooses the
// reduction path (with the reason, for `vknorm devices` and for bug reports).
Capabilities query_capabilities(const Dispatch& vk, VkPhysicalDevice device,
                                const CapabilityOverride& override_caps);

}  // namespace vknorm::vk
