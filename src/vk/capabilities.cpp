#include "vk/capabilities.hpp"

#include <algorithm>
#include <iterator>
#include <thread>
#include <cstring>
#include <vector>

#include "kernels.hpp"

namespace vknorm::vk {
namespace {

// A fixed-size char array that the driver null-terminates (but trust only its size).
template <size_t N>
std::string from_array(const char (&chars)[N]) {
  return std::string(chars, std::find(chars, chars + N, '\0'));
}

}  // namespace

bool has_device_extension(const Dispatch& vk, VkPhysicalDevice device, const char* name) {
  uint32_t count = 0;
  if (vk.EnumerateDeviceExtensionProperties(device, nullptr, &count, nullptr) != VK_SUCCESS) return false;
  std::vector<VkExtensionProperties> extensions(count);
  if (vk.EnumerateDeviceExtensionProperties(device, nullptr, &count, extensions.data()) != VK_SUCCESS) return false;
  for (const auto& e : extensions)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

bool supports_synchronization2(const Dispatch& vk, VkPhysicalDevice device) {
  VkPhysicalDeviceProperties props{};
  vk.GetPhysicalDeviceProperties(device, &props);
  if (props.apiVersion < VK_API_VERSION_1_3) return false;
  VkPhysicalDeviceVulkan13Features v13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  features.pNext = &v13;
  vk.GetPhysicalDeviceFeatures2(device, &features);
  return v13.synchronization2 == VK_TRUE;
}

Capabilities query_capabilities(const Dispatch& vk, VkPhysicalDevice device,
                                const CapabilityOverride& over) {
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceSubgroupSizeControlPropertiesEXT size_control{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT};
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &subgroup;

  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};

  VkPhysicalDeviceProperties base{};
  vk.GetPhysicalDeviceProperties(device, &base);
  const bool has_size_control = base.apiVersion >= VK_API_VERSION_1_3;
  if (has_size_control) subgroup.pNext = &size_control;
  // Core in Vulkan 1.2; a 1.1 driver may offer it as VK_KHR_driver_properties.
  const bool has_driver = base.apiVersion >= VK_API_VERSION_1_2 ||
                          has_device_extension(vk, device, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
  if (has_driver) {
    driver.pNext = props.pNext;
    props.pNext = &driver;
  }
  vk.GetPhysicalDeviceProperties2(device, &props);

  VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  features.pNext = &storage16;
  vk.GetPhysicalDeviceFeatures2(device, &features);

  const VkPhysicalDeviceLimits& limits = props.properties.limits;
  Capabilities c;
  c.device_name = props.properties.deviceName;
  c.device_type = props.properties.deviceType;
  c.api_version = props.properties.apiVersion;
  c.vendor_id = props.properties.vendorID;
  c.device_id = props.properties.deviceID;
  c.driver_version = props.properties.driverVersion;
  std::copy(std::begin(props.properties.pipelineCacheUUID), std::end(props.properties.pipelineCacheUUID),
            c.pipeline_cache_uuid.begin());
  if (has_driver) {
    c.driver_id = driver.driverID;
    c.driver_name = from_array(driver.driverName);
    c.driver_info = from_array(driver.driverInfo);
  }
  c.subgroup_operations = subgroup.supportedOperations;
  c.subgroup_stages = subgroup.supportedStages;
  // A driver once reported 0: treat anything below 1 as 1.
  c.subgroup_size = std::max(1u, subgroup.subgroupSize);
  c.min_subgroup_size = c.max_subgroup_size = c.subgroup_size;
  if (has_size_control && size_control.minSubgroupSize > 0) {
    c.subgroup_size_control = (size_control.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
    c.min_subgroup_size = std::min(c.subgroup_size, size_control.minSubgroupSize);
    c.max_subgroup_size = std::max(c.subgroup_size, size_control.maxSubgroupSize);
  }
  const bool compute_stage = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
  c.subgroup_arithmetic = compute_stage &&
                          (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0;
  c.max_shared_memory = limits.maxComputeSharedMemorySize;
  c.max_workgroup_invocations = limits.maxComputeWorkGroupInvocations;
  c.max_workgroup_size_x = limits.maxComputeWorkGroupSize[0];
  c.max_workgroup_count_x = limits.maxComputeWorkGroupCount[0];
  c.max_workgroup_count_y = limits.maxComputeWorkGroupCount[1];
  c.max_storage_buffer_range = limits.maxStorageBufferRange;
  c.min_storage_buffer_offset_alignment = std::max<VkDeviceSize>(4, limits.minStorageBufferOffsetAlignment);
  c.storage_buffer_16bit = storage16.storageBuffer16BitAccess == VK_TRUE;
  c.timestamps = limits.timestampComputeAndGraphics == VK_TRUE;
  c.timestamp_period_ns = limits.timestampPeriod;
  // A CPU implementation runs its workgroups on this host's threads.
  if (c.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU) c.host_threads = std::max(1u, std::thread::hardware_concurrency());

  if (over.subgroup_arithmetic) {
    c.subgroup_arithmetic = c.subgroup_arithmetic && *over.subgroup_arithmetic;
    if (!*over.subgroup_arithmetic)
      c.subgroup_operations &= ~static_cast<VkSubgroupFeatureFlags>(VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  }
  if (over.max_shared_memory) c.max_shared_memory = std::min(c.max_shared_memory, *over.max_shared_memory);
  if (over.max_workgroup_invocations) {
    c.max_workgroup_invocations = std::min(c.max_workgroup_invocations, *over.max_workgroup_invocations);
    c.max_workgroup_size_x = std::min(c.max_workgroup_size_x, c.max_workgroup_invocations);
  }
  if (over.max_workgroup_count) {
    c.max_workgroup_count_x = std::min(c.max_workgroup_count_x, *over.max_workgroup_count);
    c.max_workgroup_count_y = std::min(c.max_workgroup_count_y, *over.max_workgroup_count);
  }
  if (over.max_storage_buffer_range)
    c.max_storage_buffer_range = std::min(c.max_storage_buffer_range, *over.max_storage_buffer_range);
  if (over.storage_buffer_16bit) c.storage_buffer_16bit = c.storage_buffer_16bit && *over.storage_buffer_16bit;
  // The device's feature as the override leaves it; create_from_engine then clears
  // storage_buffer_16bit alone unless the engine says it enabled the feature.
  c.device_storage_buffer_16bit = c.storage_buffer_16bit;

  c.workgroup_size = workgroup_size_for(c);

  if (c.subgroup_arithmetic) {
    c.reduction_path = ReductionPath::subgroup;
    c.reduction_reason = "subgroup arithmetic is supported in compute shaders (subgroup size " +
                         std::to_string(c.subgroup_size) + ")";
  } else {
    c.reduction_path = ReductionPath::shared_memory;
    c.reduction_reason = over.subgroup_arithmetic && !*over.subgroup_arithmetic
                             ? "subgroup arithmetic disabled by the capability override"
                             : "the device reports no subgroup arithmetic in compute shaders";
  }
  return c;
}

}  // namespace vknorm::vk
