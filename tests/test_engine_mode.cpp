// Engine mode: the test plays a game engine. It owns the instance, device, queue, command
// pool, buffers and pipeline cache; vknorm records BatchNorm into the engine's command
// buffer between the engine's own transfer commands, on sub-ranges of one engine buffer
// at offsets that are not storage-buffer aligned, and the engine submits.
#include <vulkan/vulkan.h>

#include <cstring>
#include <random>

#include "gpu_support.hpp"
#include "vknorm/batchnorm.hpp"

namespace vknorm::test {
namespace {

std::vector<std::string> g_engine_messages;

VKAPI_ATTR VkBool32 VKAPI_CALL engine_messenger(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                VkDebugUtilsMessageTypeFlagsEXT,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
  g_engine_messages.push_back(data->pMessage ? data->pMessage : "");
  return VK_FALSE;
}

#define ENGINE_CHECK(call) REQUIRE((call) == VK_SUCCESS)

// The engine's objects, created the plain Vulkan way and destroyed by the engine.
struct Engine {
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t family = 0;
  VkQueue queue = VK_NULL_HANDLE;
  VkCommandPool pool = VK_NULL_HANDLE;
  VkPipelineCache cache = VK_NULL_HANDLE;
  bool push_descriptor = false;  // VK_KHR_push_descriptor enabled
  bool synchronization2 = false;

  // A Vulkan 1.1 engine with no extension, or (modern) a 1.3 one with synchronization2
  // and, where the device has it and the tests run the push path, VK_KHR_push_descriptor.
  explicit Engine(bool modern = false) {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = modern ? VK_API_VERSION_1_3 : VK_API_VERSION_1_1;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    features.enabledValidationFeatureCount = 1;
    features.pEnabledValidationFeatures = &sync;
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pNext = &features;
    info.pApplicationInfo = &app;
    info.enabledLayerCount = 1;
    info.ppEnabledLayerNames = &layer;
    info.enabledExtensionCount = 1;
    info.ppEnabledExtensionNames = &ext;
    ENGINE_CHECK(vkCreateInstance(&info, nullptr, &instance));
    VkDebugUtilsMessengerCreateInfoEXT m{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    m.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    m.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT;
    m.pfnUserCallback = engine_messenger;
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
    REQUIRE(static_cast<bool>(create));
    ENGINE_CHECK(create(instance, &m, nullptr, &messenger));

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
    float priority = 1.0f;
    VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    q.queueFamilyIndex = family;
    q.queueCount = 1;
    q.pQueuePriorities = &priority;
    VkDeviceCreateInfo d{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    d.queueCreateInfoCount = 1;
    d.pQueueCreateInfos = &q;
    VkPhysicalDeviceVulkan13Features v13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceProperties props_base;
    vkGetPhysicalDeviceProperties(physical, &props_base);
    const char* push_ext = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    if (modern && props_base.apiVersion >= VK_API_VERSION_1_3) {
      VkPhysicalDeviceFeatures2 f{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
      f.pNext = &v13;
      vkGetPhysicalDeviceFeatures2(physical, &f);
      synchronization2 = v13.synchronization2 == VK_TRUE;
      v13 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
      v13.synchronization2 = synchronization2 ? VK_TRUE : VK_FALSE;
      d.pNext = &v13;
      uint32_t n = 0;
      vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, nullptr);
      std::vector<VkExtensionProperties> exts(n);
      vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, exts.data());
      for (const auto& e : exts)
        if (std::strcmp(e.extensionName, push_ext) == 0) push_descriptor = test_descriptor_path() == DescriptorPath::automatic;
      d.enabledExtensionCount = push_descriptor ? 1 : 0;
      d.ppEnabledExtensionNames = &push_ext;
    }
    ENGINE_CHECK(vkCreateDevice(physical, &d, nullptr, &device));
    vkGetDeviceQueue(device, family, 0, &queue);
    VkCommandPoolCreateInfo p{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    p.queueFamilyIndex = family;
    ENGINE_CHECK(vkCreateCommandPool(device, &p, nullptr, &pool));
    VkPipelineCacheCreateInfo c{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    ENGINE_CHECK(vkCreatePipelineCache(device, &c, nullptr, &cache));
  }

  ~Engine() {
    vkDestroyPipelineCache(device, cache, nullptr);
    vkDestroyCommandPool(device, pool, nullptr);
    vkDestroyDevice(device, nullptr);
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
    destroy(instance, messenger, nullptr);
    vkDestroyInstance(instance, nullptr);
  }

  // One host-visible buffer that the engine sub-allocates.
  void make_buffer(VkDeviceSize bytes, VkBuffer* buffer, VkDeviceMemory* memory, void** mapped) {
    VkBufferCreateInfo b{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    b.size = bytes;
    b.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    ENGINE_CHECK(vkCreateBuffer(device, &b, nullptr, buffer));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device, *buffer, &req);
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(physical, &mem);
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = 0;
    while (type < mem.memoryTypeCount &&
           (!(req.memoryTypeBits & (1u << type)) || (mem.memoryTypes[type].propertyFlags & want) != want))
      ++type;
    REQUIRE(type < mem.memoryTypeCount);
    VkMemoryAllocateInfo a{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    a.allocationSize = req.size;
    a.memoryTypeIndex = type;
    ENGINE_CHECK(vkAllocateMemory(device, &a, nullptr, memory));
    ENGINE_CHECK(vkBindBufferMemory(device, *buffer, *memory, 0));
    ENGINE_CHECK(vkMapMemory(device, *memory, 0, VK_WHOLE_SIZE, 0, mapped));
  }
};

}  // namespace

TEST_CASE("Engine mode: BatchNorm recorded into the engine's command buffer next to its own work") {
  g_engine_messages.clear();
  Engine engine;
  for (bool force_shared : {false, true}) {
    CAPTURE(force_shared);
    EngineHandles handles;
    handles.instance = engine.instance;
    handles.physical_device = engine.physical;
    handles.device = engine.device;
    handles.queue_family_index = engine.family;
    handles.get_instance_proc_addr = vkGetInstanceProcAddr;
    handles.get_device_proc_addr = vkGetDeviceProcAddr;
    handles.pipeline_cache = engine.cache;
    if (force_shared) handles.capability_override.subgroup_arithmetic = false;
    auto ctx = Context::create_from_engine(handles);
    REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
    CHECK_FALSE(ctx.value()->is_standalone());

    BatchNormParams p;
    p.shape = {6, 4, 7, 5};
    const size_t E = 6 * 4 * 7 * 5, C = 4;
    auto ws = batch_norm_workspace_size(*ctx.value(), p);
    REQUIRE(ws.ok());
    // Layout of the engine's one buffer: [staging x | x | y | w | b | rm | rv | sm | si | ws | copy of y],
    // every region starting 4 bytes past a 256-byte boundary.
    std::vector<VkDeviceSize> sizes = {E, E, E, C, C, C, C, C, C, ws.value() / 4, E};
    std::vector<VkDeviceSize> offsets;
    VkDeviceSize at = 0;
    for (VkDeviceSize floats : sizes) {
      at = (at + 255) / 256 * 256 + 4;
      offsets.push_back(at);
      at += floats * 4;
    }
    VkBuffer buffer;
    VkDeviceMemory memory;
    void* mapped;
    engine.make_buffer(at, &buffer, &memory, &mapped);
    auto region = [&](int i) { return reinterpret_cast<float*>(static_cast<char*>(mapped) + offsets[i]); };
    auto bref = [&](int i) { return BufferRef{buffer, offsets[i], sizes[i] * 4}; };

    std::mt19937 rng(5);
    std::vector<float> x = random_vector(E, rng, 2.0f, 3.0f), w = random_vector(C, rng), b = random_vector(C, rng);
    std::vector<float> rm(C, 0.25f), rv(C, 2.0f);
    std::memcpy(region(0), x.data(), E * 4);
    std::fill(region(1), region(1) + E, -7.0f);  // overwritten by the engine's copy below
    std::memcpy(region(3), w.data(), C * 4);
    std::memcpy(region(4), b.data(), C * 4);
    std::memcpy(region(5), rm.data(), C * 4);
    std::memcpy(region(6), rv.data(), C * 4);

    VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = engine.pool;
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    VkCommandBuffer cmd;
    ENGINE_CHECK(vkAllocateCommandBuffers(engine.device, &alloc, &cmd));
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    ENGINE_CHECK(vkBeginCommandBuffer(cmd, &begin));

    // The engine's own work before: copy its staging x into the region vknorm reads.
    VkBufferCopy copy_in{offsets[0], offsets[1], E * 4};
    vkCmdCopyBuffer(cmd, buffer, buffer, 1, &copy_in);
    VkMemoryBarrier to_compute{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    to_compute.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    to_compute.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &to_compute,
                         0, nullptr, 0, nullptr);

    auto recorder = CommandRecorder::create(*ctx.value(), cmd);
    REQUIRE(recorder.ok());
    BatchNormForwardBuffers buffers{bref(1), bref(2), bref(3), bref(4), bref(5), bref(6), bref(7), bref(8), bref(9)};
    Status st = record_batch_norm_forward(*recorder.value(), p, buffers);
    REQUIRE_MESSAGE(st.ok(), st.message());
    // The contract's closing barrier, then the engine's own work after: copy y out.
    recorder.value()->close_with_barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
    VkBufferCopy copy_out{offsets[2], offsets[10], E * 4};
    vkCmdCopyBuffer(cmd, buffer, buffer, 1, &copy_out);
    VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, nullptr, 0, nullptr);
    ENGINE_CHECK(vkEndCommandBuffer(cmd));

    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    ENGINE_CHECK(vkCreateFence(engine.device, &fi, nullptr, &fence));
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    ENGINE_CHECK(vkQueueSubmit(engine.queue, 1, &submit, fence));
    ENGINE_CHECK(vkWaitForFences(engine.device, 1, &fence, VK_TRUE, UINT64_MAX));
    vkDestroyFence(engine.device, fence, nullptr);

    std::vector<float> rm_ref = rm, rv_ref = rv;
    auto want = reference::batch_norm_forward(p, x, w, b, rm_ref, rv_ref);
    REQUIRE(want.ok());
    check_close(std::vector<float>(region(10), region(10) + E), want->y, 3e-5, "y (copied by the engine)");
    check_close(std::vector<float>(region(5), region(5) + C), rm_ref, 3e-5, "running_mean");
    check_close(std::vector<float>(region(6), region(6) + C), rv_ref, 3e-5, "running_var");
    check_close(std::vector<float>(region(7), region(7) + C), want->save_mean, 3e-5, "save_mean");

    recorder.value().reset();  // the GPU is done with the descriptor sets
    ctx.value().reset();       // vknorm is gone; the engine's objects must still work
    vkFreeCommandBuffers(engine.device, engine.pool, 1, &cmd);
    vkUnmapMemory(engine.device, memory);
    vkDestroyBuffer(engine.device, buffer, nullptr);
    vkFreeMemory(engine.device, memory, nullptr);
  }
  for (const auto& m : g_engine_messages) FAIL_CHECK("validation layer: " << m);
}

namespace {

// Counts what vknorm allocates through the engine's vkGetDeviceProcAddr.
struct Counted {
  static inline uint32_t memory_allocations = 0, descriptor_pools = 0;
  static inline PFN_vkAllocateMemory allocate_memory = nullptr;
  static inline PFN_vkCreateDescriptorPool create_descriptor_pool = nullptr;
  static VKAPI_ATTR VkResult VKAPI_CALL AllocateMemory(VkDevice d, const VkMemoryAllocateInfo* i,
                                                       const VkAllocationCallbacks* a, VkDeviceMemory* m) {
    ++memory_allocations;
    return allocate_memory(d, i, a, m);
  }
  static VKAPI_ATTR VkResult VKAPI_CALL CreateDescriptorPool(VkDevice d, const VkDescriptorPoolCreateInfo* i,
                                                             const VkAllocationCallbacks* a, VkDescriptorPool* p) {
    ++descriptor_pools;
    return create_descriptor_pool(d, i, a, p);
  }
  static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL get_device_proc_addr(VkDevice device, const char* name) {
    if (std::strcmp(name, "vkAllocateMemory") == 0) {
      allocate_memory = reinterpret_cast<PFN_vkAllocateMemory>(vkGetDeviceProcAddr(device, name));
      return reinterpret_cast<PFN_vkVoidFunction>(&AllocateMemory);
    }
    if (std::strcmp(name, "vkCreateDescriptorPool") == 0) {
      create_descriptor_pool = reinterpret_cast<PFN_vkCreateDescriptorPool>(vkGetDeviceProcAddr(device, name));
      return reinterpret_cast<PFN_vkVoidFunction>(&CreateDescriptorPool);
    }
    return vkGetDeviceProcAddr(device, name);
  }
};

}  // namespace

// An engine-grade device (Vulkan 1.3, synchronization2, push descriptors where the tests
// run that path): vknorm allocates no device memory at all, creates no descriptor pool
// inside a record call (and none at all on the push path), and closes with a sync2 barrier.
TEST_CASE("Engine mode allocates no device memory, and descriptor pools only with a pool-path recorder") {
  g_engine_messages.clear();
  {
    Engine engine(true);
    EngineHandles handles;
    handles.instance = engine.instance;
    handles.physical_device = engine.physical;
    handles.device = engine.device;
    handles.queue_family_index = engine.family;
    handles.get_device_proc_addr = &Counted::get_device_proc_addr;
    handles.push_descriptor_enabled = engine.push_descriptor;
    handles.synchronization2_enabled = engine.synchronization2;
    handles.descriptor_path = test_descriptor_path();
    Counted::memory_allocations = Counted::descriptor_pools = 0;
    auto ctx = Context::create_from_engine(handles);
    REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
    const Capabilities& caps = ctx.value()->capabilities();
    CHECK(caps.push_descriptors == engine.push_descriptor);
    if (caps.device_name.find("llvmpipe") != std::string::npos) {  // lavapipe has both
      CHECK(engine.push_descriptor == (test_descriptor_path() == DescriptorPath::automatic));
      CHECK(engine.synchronization2);
    }
    CHECK(caps.synchronization2 == engine.synchronization2);
    REQUIRE(ctx.value()->prepare_kernels(DType::f32).ok());

    BatchNormParams p;
    p.shape = {4, 3, 5, 5};
    const size_t E = 4 * 3 * 5 * 5, C = 3;
    auto ws = batch_norm_workspace_size(*ctx.value(), p);
    REQUIRE(ws.ok());
    VkBuffer buffer;
    VkDeviceMemory memory;
    void* mapped;
    const VkDeviceSize region = 4096;  // x, y, w, b, rm, rv, sm, si, ws: one region each
    REQUIRE(E * 4 < region);
    REQUIRE(ws.value() < region);
    engine.make_buffer(9 * region, &buffer, &memory, &mapped);
    std::mt19937 rng(9);
    std::vector<float> x = random_vector(E, rng), w(C, 1.0f), b(C, 0.0f), rm(C, 0.0f), rv(C, 1.0f);
    auto at = [&](int i) { return reinterpret_cast<float*>(static_cast<char*>(mapped) + i * region); };
    std::memcpy(at(0), x.data(), E * 4);
    std::memcpy(at(2), w.data(), C * 4);
    std::memcpy(at(3), b.data(), C * 4);
    std::memcpy(at(4), rm.data(), C * 4);
    std::memcpy(at(5), rv.data(), C * 4);
    auto bref = [&](int i) { return BufferRef{buffer, i * region, region}; };

    VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = engine.pool;
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    VkCommandBuffer cmd;
    ENGINE_CHECK(vkAllocateCommandBuffers(engine.device, &alloc, &cmd));
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    ENGINE_CHECK(vkBeginCommandBuffer(cmd, &begin));
    auto recorder = CommandRecorder::create(*ctx.value(), cmd);
    REQUIRE(recorder.ok());
    const uint32_t pools_at_creation = Counted::descriptor_pools;
    CHECK(pools_at_creation == (caps.push_descriptors ? 0u : 1u));
    BatchNormForwardBuffers buffers{bref(0), bref(1), bref(2), bref(3), bref(4), bref(5), bref(6), bref(7), bref(8)};
    Status st = record_batch_norm_forward(*recorder.value(), p, buffers);
    REQUIRE_MESSAGE(st.ok(), st.message());
    CHECK(Counted::descriptor_pools == pools_at_creation);  // none inside a record call
    if (caps.synchronization2) {
      st = recorder.value()->close_with_barrier2(VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_READ_BIT);
      REQUIRE_MESSAGE(st.ok(), st.message());
    } else {
      recorder.value()->close_with_barrier(VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    }
    ENGINE_CHECK(vkEndCommandBuffer(cmd));
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    ENGINE_CHECK(vkQueueSubmit(engine.queue, 1, &submit, VK_NULL_HANDLE));
    ENGINE_CHECK(vkQueueWaitIdle(engine.queue));
    // vknorm loaded vkAllocateMemory through the engine's loader, and never called it (the
    // engine's own allocation above called the loader directly).
    CHECK(static_cast<bool>(Counted::allocate_memory));
    CHECK(Counted::memory_allocations == 0);
    std::vector<float> rm_ref = rm, rv_ref = rv;
    auto want = reference::batch_norm_forward(p, x, w, b, rm_ref, rv_ref);
    REQUIRE(want.ok());
    check_close(std::vector<float>(at(1), at(1) + E), want->y, 3e-5, "y");

    recorder.value().reset();
    ctx.value().reset();
    vkFreeCommandBuffers(engine.device, engine.pool, 1, &cmd);
    vkUnmapMemory(engine.device, memory);
    vkDestroyBuffer(engine.device, buffer, nullptr);
    vkFreeMemory(engine.device, memory, nullptr);
  }
  for (const auto& m : g_engine_messages) FAIL_CHECK("validation layer: " << m);
}

TEST_CASE("close_with_barrier2 is refused, naming synchronization2_enabled, where the engine did not enable it") {
  Engine engine;  // Vulkan 1.1, no synchronization2
  EngineHandles handles;
  handles.instance = engine.instance;
  handles.physical_device = engine.physical;
  handles.device = engine.device;
  handles.queue_family_index = engine.family;
  handles.synchronization2_enabled = false;
  handles.push_descriptor_enabled = false;
  auto ctx = Context::create_from_engine(handles);
  REQUIRE(ctx.ok());
  CHECK_FALSE(ctx.value()->capabilities().synchronization2);
  CHECK_FALSE(ctx.value()->capabilities().push_descriptors);
  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = engine.pool;
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = 1;
  VkCommandBuffer cmd;
  ENGINE_CHECK(vkAllocateCommandBuffers(engine.device, &alloc, &cmd));
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  ENGINE_CHECK(vkBeginCommandBuffer(cmd, &begin));
  auto recorder = CommandRecorder::create(*ctx.value(), cmd);
  REQUIRE(recorder.ok());
  Status s = recorder.value()->close_with_barrier2(VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_READ_BIT);
  CHECK(s.code() == StatusCode::unsupported);
  CHECK_MESSAGE(s.message().find("close_with_barrier2: needs synchronization2") == 0, s.message());
  CHECK(s.message().find("EngineHandles::synchronization2_enabled") != std::string::npos);
  ENGINE_CHECK(vkEndCommandBuffer(cmd));
  recorder.value().reset();
  ctx.value().reset();
  vkFreeCommandBuffers(engine.device, engine.pool, 1, &cmd);
}

TEST_CASE("Engine mode refuses null handles and a queue family without compute") {
  Engine engine;  // outlives the contexts below, as an engine's device must
  EngineHandles handles;
  auto ctx = Context::create_from_engine(handles);
  CHECK(ctx.status().code() == StatusCode::invalid_argument);
  CHECK(ctx.status().message().find("instance") != std::string::npos);
  handles.instance = engine.instance;
  handles.physical_device = engine.physical;
  handles.device = engine.device;
  handles.queue_family_index = 99;
  ctx = Context::create_from_engine(handles);
  CHECK(ctx.status().code() == StatusCode::invalid_argument);
  CHECK(ctx.status().message().find("queue_family_index") != std::string::npos);
  // Standalone-only calls are refused in engine mode with a message saying what to do.
  handles.queue_family_index = engine.family;
  ctx = Context::create_from_engine(handles);
  REQUIRE(ctx.ok());
  CHECK(ctx.value()->create_buffer(16).status().message().find("engine mode") != std::string::npos);
  CHECK(ctx.value()->begin_commands().status().message().find("engine mode") != std::string::npos);
}

}  // namespace vknorm::test
