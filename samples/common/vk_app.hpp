// What a small engine owns, for the samples that play one: instance, device, queue,
// command pool, pipeline cache, host-visible buffers and compute pipelines of their own
// shaders. Errors end the program with a message (samples, not library code).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sample {

[[noreturn]] void fail(const std::string& message);
void check(VkResult result, const char* what);

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  void* mapped = nullptr;
  template <class T> T* as() const { return static_cast<T*>(mapped); }
};

struct Pipeline {
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  uint32_t bindings = 0;
  uint32_t push_bytes = 0;
};

class VulkanApp {
 public:
  // device_index < 0: the first discrete or integrated GPU, else the first device.
  // `pipeline_cache_data` seeds the VkPipelineCache (may be empty).
  VulkanApp(int device_index, bool enable_16bit_storage, const std::vector<uint8_t>& pipeline_cache_data = {});
  ~VulkanApp();
  VulkanApp(const VulkanApp&) = delete;
  VulkanApp& operator=(const VulkanApp&) = delete;

  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical_device() const { return physical_; }
  VkDevice device() const { return device_; }
  uint32_t queue_family() const { return family_; }
  VkPipelineCache pipeline_cache() const { return cache_; }
  bool storage_16bit() const { return storage16_; }
  std::string device_name() const;

  Buffer create_buffer(VkDeviceSize bytes);
  void destroy(Buffer& b);
  // A compute pipeline of `spirv` with `bindings` storage buffers and `push_bytes` of push
  // constants; specialization constant 0 is the workgroup size.
  Pipeline create_pipeline(const uint32_t* spirv, size_t spirv_bytes, uint32_t bindings, uint32_t push_bytes,
                           uint32_t workgroup_size);
  void destroy(Pipeline& p);
  std::vector<uint8_t> pipeline_cache_data() const;

  // One-shot command buffers: begin, then submit_and_wait (which frees it).
  VkCommandBuffer begin();
  void submit_and_wait(VkCommandBuffer cmd);

  // Records a dispatch of `p` with its buffers bound through a descriptor set from the
  // app's pool (freed by reset_descriptors once the work is done).
  void dispatch(VkCommandBuffer cmd, const Pipeline& p, const std::vector<VkBuffer>& buffers, const void* push,
                uint32_t groups_x, uint32_t groups_y = 1, uint32_t groups_z = 1);
  void reset_descriptors();
  // A full memory barrier between compute (and transfer) work: simple and always right.
  static void barrier(VkCommandBuffer cmd);

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  uint32_t family_ = 0;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  VkDescriptorPool descriptors_ = VK_NULL_HANDLE;
  bool storage16_ = false;
};

}  // namespace sample
