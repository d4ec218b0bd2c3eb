#include "vknorm/status.hpp"


namespace vknorm {

const char* to_string(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid argument";
    case StatusCode::unsupported: return "unsupported";
    case StatusCode::vulkan_error: return "Vulkan error";
    case StatusCode::out_of_memory: return "out of memory";
    case StatusCode::internal: return "internal error";
  }
  return "unknown";
}

static const char* vk_result_name(VkResult r) {
  switch (r) {
#define VKNORM_CASE(x) case x: return #x;
    VKNORM_CASE(VK_SUCCESS) VKNORM_CASE(VK_NOT_READY) VKNORM_CASE(VK_TIMEOUT)
    VKNORM_CASE(VK_INCOMPLETE) VKNORM_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    VKNORM_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY) VKNORM_CASE(VK_ERROR_INITIALIZATION_FAILED)
    VKNORM_CASE(VK_ERROR_DEVICE_LOST) VKNORM_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    VKNORM_CASE(VK_ERROR_LAYER_NOT_PRESENT) VKNORM_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    VKNORM_CASE(VK_ERROR_FEATURE_NOT_PRESENT) VKNORM_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    VKNORM_CASE(VK_ERROR_TOO_MANY_OBJECTS) VKNORM_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    VKNORM_CASE(VK_ERROR_FRAGMENTED_POOL) VKNORM_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    VKNORM_CASE(VK_ERROR_UNKNOWN)
#undef VKNORM_CASE
    default: return "VkResult (unnamed)";
  }
}

Status Status::vulkan(VkResult result, const std::string& what) {
  StatusCode code = (result == VK_ERROR_OUT_OF_HOST_MEMORY || result == VK_ERROR_OUT_OF_DEVICE_MEMORY)
                        ? StatusCode::out_of_memory
                        : StatusCode::vulkan_error;
  return Status(code, result, what + " failed: " + vk_result_name(result) + std::string(" (") + std::to_string(static_cast<int>(result)) + ")");
}

}  // namespace vknorm
