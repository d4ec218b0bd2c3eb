// The tests fail on validation messages only if the messages reach them: prove that an
// invalid Vulkan call on the library's own device is reported through the context's
// debug callback.
#include <vulkan/vulkan.h>

#include "gpu_support.hpp"

namespace vknorm::test {

TEST_CASE("Validation messages on a context's device reach the test's callback") {
  Context& ctx = context_for(TestDevice::subgroup);
  take_validation_messages();
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = 64;
  info.usage = 0;  // invalid: VUID-VkBufferCreateInfo-usage-requiredbitmask
  VkBuffer buffer = VK_NULL_HANDLE;
  VkResult r = vkCreateBuffer(ctx.device(), &info, nullptr, &buffer);
  if (r == VK_SUCCESS) vkDestroyBuffer(ctx.device(), buffer, nullptr);
  std::vector<std::string> messages = take_validation_messages();
  REQUIRE_FALSE(messages.empty());
  CHECK(messages[0].find("usage") != std::string::npos);
}

}  // namespace vknorm::test
