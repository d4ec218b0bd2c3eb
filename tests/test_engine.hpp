// The game engine the engine-mode tests play: its own instance (validation and
// synchronization validation on), device, queue, command pool and pipeline cache, created
// the plain Vulkan way and destroyed by the engine, with the features and extensions an
// engine would enable; vknorm only gets their handles.
#pragma once

#include "vulkan_functions.h"

#include <mutex>
#include <string>
#include <vector>

#include "gpu_support.hpp"

namespace vknorm::test {

#define ENGINE_CHECK(call) REQUIRE((call) == VK_SUCCESS)

struct TestEngineOptions {
  // Vulkan 1.3 with synchronization2 where the device has it; else a Vulkan 1.1 engine.
  bool vulkan13 = false;
  // VK_KHR_push_descriptor, where the device offers it and the tests run the push path
  // (test_descriptor_path() is automatic).
  bool push_descriptor = false;
  // storageBuffer16BitAccess, where the device offers it.
  bool storage_buffer_16bit = false;
};

// One buffer of the engine's, bound to its own memory (host-visible and mapped when asked).
struct EngineBuffer {
  VkDevice device = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;
  EngineBuffer() = default;
  EngineBuffer(const EngineBuffer&) = delete;
  EngineBuffer& operator=(const EngineBuffer&) = delete;
  ~EngineBuffer();
};

class TestEngine {
 public:
  explicit TestEngine(TestEngineOptions options = {});
  // Destroys the engine's objects, then fails the test on any validation message seen in
  // the engine's lifetime (vkDestroyDevice reports objects vknorm left behind).
  ~TestEngine();
  TestEngine(const TestEngine&) = delete;
  TestEngine& operator=(const TestEngine&) = delete;

  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t family = 0;
  VkQueue queue = VK_NULL_HANDLE;
  VkCommandPool pool = VK_NULL_HANDLE;
  VkPipelineCache cache = VK_NULL_HANDLE;
  bool device_has_16bit = false;   // the device offers storageBuffer16BitAccess
  bool storage_buffer_16bit = false;  // and the engine enabled it
  bool device_has_push_descriptor = false;  // the device offers VK_KHR_push_descriptor
  bool push_descriptor = false;     // and the engine enabled it
  bool synchronization2 = false;    // enabled

  // The engine's handles, saying what it enabled, with the tests' descriptor path.
  EngineHandles handles() const;

  // A storage (and transfer) buffer of `bytes`, host-visible and mapped if `host_visible`.
  void make_buffer(VkDeviceSize bytes, bool host_visible, EngineBuffer& out) const;

  // A primary command buffer from the engine's pool, begun.
  VkCommandBuffer begin() const;
  void free(VkCommandBuffer cmd) const;
  // Submits `cmd` (ended) and waits for the queue to finish it.
  void submit_and_wait(VkCommandBuffer cmd) const;

  // The validation messages seen so far, taken.
  std::vector<std::string> take_messages();

  // How many allocations made through an application's callbacks the driver keeps after
  // a descriptor update template (and its set layout) made and destroyed with them: 0 on
  // a driver that gives everything back (lavapipe); SwiftShader keeps 1 per template,
  // even past vkDestroyInstance. The allocation-callback tests expect that many per
  // template vknorm destroyed, and no other.
  size_t driver_kept_allocations_per_update_template() const;

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL collect(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                VkDebugUtilsMessageTypeFlagsEXT,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data, void* self);
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

// What an allocation-callback test's allocator may still hold after vknorm destroyed
// `templates` update templates: the driver's own (see
// driver_kept_allocations_per_update_template), said in the output when there are any.
inline size_t expected_driver_kept(const TestEngine& engine, size_t templates) {
  const size_t per_template = engine.driver_kept_allocations_per_update_template();
  if (per_template > 0)
    MESSAGE("this driver keeps " << per_template << " allocation(s) of every destroyed descriptor update template: "
                                 << per_template * templates << " expected held for vknorm's " << templates);
  return per_template * templates;
}

}  // namespace vknorm::test
