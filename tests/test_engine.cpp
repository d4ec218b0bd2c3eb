#include "test_engine.hpp"

#include <cstring>

#include "allocation_support.hpp"
#include "environment_support.hpp"

namespace vknorm::test {

namespace {

bool has_device_extension(VkPhysicalDevice physical, const char* name) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> extensions(n);
  vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, extensions.data());
  for (const VkExtensionProperties& e : extensions)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

}  // namespace

VKAPI_ATTR VkBool32 VKAPI_CALL TestEngine::collect(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                   VkDebugUtilsMessageTypeFlagsEXT,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data, void* self) {
  TestEngine& engine = *static_cast<TestEngine*>(self);
  std::lock_guard<std::mutex> lock(engine.mutex_);
  engine.messages_.push_back(data->pMessage ? data->pMessage : "");
  return VK_FALSE;
}

TestEngine::TestEngine(TestEngineOptions options) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.apiVersion = options.vulkan13 ? VK_API_VERSION_1_3 : VK_API_VERSION_1_1;
  const char* layer = "VK_LAYER_KHRONOS_validation";
  const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = &sync;
  const bool validation = enable_validation_layer();
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pNext = validation ? &features : nullptr;
  info.pApplicationInfo = &app;
  info.enabledLayerCount = validation ? 1 : 0;
  info.ppEnabledLayerNames = &layer;
  info.enabledExtensionCount = 1;
  info.ppEnabledExtensionNames = &ext;
  ENGINE_CHECK(vkCreateInstance(&info, nullptr, &instance));
  VkDebugUtilsMessengerCreateInfoEXT m{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  m.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  m.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT;
  m.pfnUserCallback = collect;
  m.pUserData = this;
  auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
      vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
  REQUIRE(static_cast<bool>(create));
  ENGINE_CHECK(create(instance, &m, nullptr, &messenger_));

  uint32_t count = 1;
  VkResult r = vkEnumeratePhysicalDevices(instance, &count, &physical);
  REQUIRE((r == VK_SUCCESS || r == VK_INCOMPLETE));
  REQUIRE(count >= 1);
  uint32_t families = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &families, nullptr);
  std::vector<VkQueueFamilyProperties> props(families);
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &families, props.data());
  while (family < families && !(props[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) ++family;
  REQUIRE(family < families);

  // What the device offers, then what the engine enables of it.
  VkPhysicalDeviceProperties properties;
  vkGetPhysicalDeviceProperties(physical, &properties);
  const bool device_13 = properties.apiVersion >= VK_API_VERSION_1_3;
  VkPhysicalDeviceVulkan13Features offered13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  VkPhysicalDevice16BitStorageFeatures offered16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceFeatures2 offered{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  offered.pNext = &offered16;
  if (device_13) offered16.pNext = &offered13;
  vkGetPhysicalDeviceFeatures2(physical, &offered);
  device_has_16bit = offered16.storageBuffer16BitAccess == VK_TRUE;
  device_has_push_descriptor = has_device_extension(physical, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  storage_buffer_16bit = options.storage_buffer_16bit && device_has_16bit;
  synchronization2 = options.vulkan13 && device_13 && offered13.synchronization2 == VK_TRUE;
  push_descriptor = options.push_descriptor && device_has_push_descriptor &&
                    test_descriptor_path() == DescriptorPath::automatic;

  VkPhysicalDevice16BitStorageFeatures enable16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  enable16.storageBuffer16BitAccess = storage_buffer_16bit ? VK_TRUE : VK_FALSE;
  VkPhysicalDeviceVulkan13Features enable13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  enable13.synchronization2 = VK_TRUE;
  if (synchronization2) enable16.pNext = &enable13;
  float priority = 1.0f;
  VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  q.queueFamilyIndex = family;
  q.queueCount = 1;
  q.pQueuePriorities = &priority;
  const char* push_ext = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
  VkDeviceCreateInfo d{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  d.pNext = &enable16;
  d.queueCreateInfoCount = 1;
  d.pQueueCreateInfos = &q;
  d.enabledExtensionCount = push_descriptor ? 1 : 0;
  d.ppEnabledExtensionNames = &push_ext;
  ENGINE_CHECK(vkCreateDevice(physical, &d, nullptr, &device));
  vkGetDeviceQueue(device, family, 0, &queue);
  VkCommandPoolCreateInfo p{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  p.queueFamilyIndex = family;
  ENGINE_CHECK(vkCreateCommandPool(device, &p, nullptr, &pool));
  VkPipelineCacheCreateInfo c{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ENGINE_CHECK(vkCreatePipelineCache(device, &c, nullptr, &cache));
}

TestEngine::~TestEngine() {
  vkDestroyPipelineCache(device, cache, nullptr);
  vkDestroyCommandPool(device, pool, nullptr);
  vkDestroyDevice(device, nullptr);
  auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
      vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
  destroy(instance, messenger_, nullptr);
  vkDestroyInstance(instance, nullptr);
  for (const std::string& m : messages_) FAIL_CHECK("validation layer (engine): " << m);
}

std::vector<std::string> TestEngine::take_messages() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(messages_, {});
}

size_t TestEngine::driver_kept_allocations_per_update_template() const {
  // Static: a block the driver keeps must stay valid while the driver holds it.
  static CountingAllocator allocator;
  const size_t before = allocator.live();
  const VkAllocationCallbacks* callbacks = allocator.callbacks();
  const VkDescriptorSetLayoutBinding binding{0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT,
                                             nullptr};
  VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  set_info.bindingCount = 1;
  set_info.pBindings = &binding;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  ENGINE_CHECK(vkCreateDescriptorSetLayout(device, &set_info, callbacks, &set_layout));
  const VkDescriptorUpdateTemplateEntry entry{0, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 0,
                                              sizeof(VkDescriptorBufferInfo)};
  VkDescriptorUpdateTemplateCreateInfo template_info{VK_STRUCTURE_TYPE_DESCRIPTOR_UPDATE_TEMPLATE_CREATE_INFO};
  template_info.descriptorUpdateEntryCount = 1;
  template_info.pDescriptorUpdateEntries = &entry;
  template_info.templateType = VK_DESCRIPTOR_UPDATE_TEMPLATE_TYPE_DESCRIPTOR_SET;
  template_info.descriptorSetLayout = set_layout;
  VkDescriptorUpdateTemplate update_template = VK_NULL_HANDLE;
  ENGINE_CHECK(vkCreateDescriptorUpdateTemplate(device, &template_info, callbacks, &update_template));
  vkDestroyDescriptorUpdateTemplate(device, update_template, callbacks);
  vkDestroyDescriptorSetLayout(device, set_layout, callbacks);
  return allocator.live() - before;
}

EngineHandles TestEngine::handles() const {
  EngineHandles h;
  h.instance = instance;
  h.physical_device = physical;
  h.device = device;
  h.queue_family_index = family;
  // The engine's loader (volk's table; engine mode opens none of its own).
  h.get_instance_proc_addr = vkGetInstanceProcAddr;
  h.get_device_proc_addr = vkGetDeviceProcAddr;
  h.push_descriptor_enabled = push_descriptor;
  h.synchronization2_enabled = synchronization2;
  h.storage_buffer_16bit_enabled = storage_buffer_16bit;
  h.descriptor_path = test_descriptor_path();
  return h;
}

EngineBuffer::~EngineBuffer() {
  if (!device) return;
  if (mapped) vkUnmapMemory(device, memory);
  vkDestroyBuffer(device, buffer, nullptr);
  vkFreeMemory(device, memory, nullptr);
}

void TestEngine::make_buffer(VkDeviceSize bytes, bool host_visible, EngineBuffer& out) const {
  REQUIRE(out.device == VK_NULL_HANDLE);
  out.device = device;
  VkBufferCreateInfo b{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  b.size = bytes;
  b.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  ENGINE_CHECK(vkCreateBuffer(device, &b, nullptr, &out.buffer));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, out.buffer, &req);
  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(physical, &mem);
  const VkMemoryPropertyFlags want =
      host_visible ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT : 0;
  uint32_t type = 0;
  while (type < mem.memoryTypeCount &&
         (!(req.memoryTypeBits & (1u << type)) || (mem.memoryTypes[type].propertyFlags & want) != want))
    ++type;
  REQUIRE(type < mem.memoryTypeCount);
  VkMemoryAllocateInfo a{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  a.allocationSize = req.size;
  a.memoryTypeIndex = type;
  ENGINE_CHECK(vkAllocateMemory(device, &a, nullptr, &out.memory));
  ENGINE_CHECK(vkBindBufferMemory(device, out.buffer, out.memory, 0));
  if (host_visible) ENGINE_CHECK(vkMapMemory(device, out.memory, 0, VK_WHOLE_SIZE, 0, &out.mapped));
}

VkCommandBuffer TestEngine::begin() const {
  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = pool;
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = 1;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  ENGINE_CHECK(vkAllocateCommandBuffers(device, &alloc, &cmd));
  VkCommandBufferBeginInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  ENGINE_CHECK(vkBeginCommandBuffer(cmd, &info));
  return cmd;
}

void TestEngine::free(VkCommandBuffer cmd) const { vkFreeCommandBuffers(device, pool, 1, &cmd); }

void TestEngine::submit_and_wait(VkCommandBuffer cmd) const {
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence fence = VK_NULL_HANDLE;
  ENGINE_CHECK(vkCreateFence(device, &fi, nullptr, &fence));
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &cmd;
  const VkResult submitted = vkQueueSubmit(queue, 1, &submit, fence);
  const VkResult waited = submitted == VK_SUCCESS ? vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX) : submitted;
  vkDestroyFence(device, fence, nullptr);
  REQUIRE(submitted == VK_SUCCESS);
  REQUIRE(waited == VK_SUCCESS);
}

}  // namespace vknorm::test
