#include "vk/dispatch.hpp"

#include <string>

namespace vknorm::vk {

Status Dispatch::load_instance(VkInstance instance, PFN_vkGetInstanceProcAddr gipa) {
  if (!gipa) return Status::invalid_argument("get_instance_proc_addr: expected a vkGetInstanceProcAddr, got null");
  GetInstanceProcAddr = gipa;
#define VKNORM_LOAD(name)                                                                   \
  name = reinterpret_cast<PFN_vk##name>(GetInstanceProcAddr(instance, "vk" #name));          \
  if (!name) return Status::unsupported("instance: vk" #name " could not be loaded");
  VKNORM_INSTANCE_FUNCTIONS(VKNORM_LOAD)
#undef VKNORM_LOAD
  return {};
}

Status Dispatch::load_device(VkDevice device, PFN_vkGetDeviceProcAddr gdpa) {
  if (gdpa) GetDeviceProcAddr = gdpa;
#define VKNORM_LOAD(name)                                                               \
  name = reinterpret_cast<PFN_vk##name>(GetDeviceProcAddr(device, "vk" #name));          \
  if (!name) return Status::unsupported("device: vk" #name " could not be loaded");
  VKNORM_DEVICE_FUNCTIONS(VKNORM_LOAD)
#undef VKNORM_LOAD
  auto load_optional = [&](const char* name, const char* fallback) {
    PFN_vkVoidFunction f = GetDeviceProcAddr(device, name);
    return f || !fallback ? f : GetDeviceProcAddr(device, fallback);
  };
#define VKNORM_LOAD_OPTIONAL(member, name, fallback) \
  member = reinterpret_cast<PFN_vk##member>(load_optional(name, fallback));
  VKNORM_OPTIONAL_DEVICE_FUNCTIONS(VKNORM_LOAD_OPTIONAL)
#undef VKNORM_LOAD_OPTIONAL
  return {};
}

}  // namespace vknorm::vk
