// The tests fail on validation messages only if the messages reach them: prove that an
// invalid Vulkan call on the library's own device is reported through the context's
// debug callback, and that a test case that leaves such a message unchecked fails itself.
#include "vulkan_functions.h"

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gpu_support.hpp"
#include "process_support.hpp"

namespace vknorm::test {
namespace {

// An invalid call: VUID-VkBufferCreateInfo-usage-requiredbitmask.
void create_buffer_without_usage(Context& ctx) {
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = 64;
  info.usage = 0;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkResult r = vkCreateBuffer(ctx.device(), &info, nullptr, &buffer);
  if (r == VK_SUCCESS) vkDestroyBuffer(ctx.device(), buffer, nullptr);
}

constexpr const char* kUncheckedCase = "validation messages: an invalid call left unchecked (run by the next test)";

}  // namespace

TEST_CASE("Validation messages on a context's device reach the test's callback") {
  if (skip_without_validation_layer("Validation messages on a context's device reach the test's callback")) return;
  Context& ctx = context_for(TestDevice::subgroup);
  take_validation_messages();
  create_buffer_without_usage(ctx);
  std::vector<std::string> messages = take_validation_messages();
  REQUIRE_FALSE(messages.empty());
  CHECK(messages[0].find("usage") != std::string::npos);
}

// Skipped in a normal run; the next test runs it alone, in a child process (--no-skip).
// It records the invalid call and checks nothing: the listener must fail it.
TEST_CASE("validation messages: an invalid call left unchecked (run by the next test)" * doctest::skip()) {
  create_buffer_without_usage(context_for(TestDevice::subgroup));
}

TEST_CASE("A test case that leaves a validation message unchecked fails, named, with the message") {
  if (skip_without_validation_layer("A test case that leaves a validation message unchecked fails")) return;
  namespace fs = std::filesystem;
  const fs::path out = fs::temp_directory_path() / ("vknorm_unchecked_" + std::to_string(process_id()) + ".txt");
  // The test case's name holds no quote of either shell's kind.
  const std::string command = shell_path(self_executable()) + " --no-skip --no-intro \"-tc=" + kUncheckedCase +
                              "\" > " + shell_path(out) + " 2>&1";
  const int code = run_shell(command);
  const std::string output = read_file(out);
  fs::remove(out);
  CAPTURE(output);
  REQUIRE(code != -1);
  CHECK(code != 0);
  CHECK(output.find(std::string("TEST CASE:  ") + kUncheckedCase) != std::string::npos);
  CHECK(output.find("validation-layer message(s) during this test case that it did not check") != std::string::npos);
  CHECK(output.find("usage") != std::string::npos);  // the message itself
  CHECK(output.find("1 failed") != std::string::npos);  // counted by doctest as a failed test case
}

}  // namespace vknorm::test
