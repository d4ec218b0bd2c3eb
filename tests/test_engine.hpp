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

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL collect(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                VkDebugUtilsMessageTypeFlagsEXT,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data, void* self);
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

}  // namespace vknorm::test
