#include "vknorm/context.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "context_state.hpp"
#include "recorder_impl.hpp"
#include "vk/buffer.hpp"
#include "vk/capabilities.hpp"
#include "vk/loader.hpp"

namespace vknorm {

const char* to_string(ReductionPath path) {
  return path == ReductionPath::subgroup ? "subgroup" : "shared-memory";
}

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

VKAPI_ATTR VkBool32 VKAPI_CALL debug_messenger(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                               VkDebugUtilsMessageTypeFlagsEXT,
                                               const VkDebugUtilsMessengerCallbackDataEXT* data,
                                               void* user) {
  std::string message = data && data->pMessage ? data->pMessage : "(no message)";
  // Newer layers keep the message's name (a VUID, SYNC-HAZARD-...) out of pMessage; the
  // name is what one searches for, so it leads the message where the text lacks it.
  if (data && data->pMessageIdName && message.find(data->pMessageIdName) == std::string::npos)
    message = std::string("[ ") + data->pMessageIdName + " ] " + message;
  auto* callback = static_cast<DebugCallback*>(user);
  if (callback && *callback) (*callback)(message);
  else std::fprintf(stderr, "vknorm: validation: %s\n", message.c_str());
  return VK_FALSE;
}

bool has_layer(PFN_vkEnumerateInstanceLayerProperties enumerate_layers, const char* name) {
  uint32_t count = 0;
  if (enumerate_layers(&count, nullptr) != VK_SUCCESS) return false;
  std::vector<VkLayerProperties> layers(count);
  if (enumerate_layers(&count, layers.data()) != VK_SUCCESS) return false;
  for (const auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

// Creates an instance of the highest version up to 1.3 the loader offers (1.1 at least);
// `api_version` (when given) gets that version. `gipa`: where the global functions come
// from (the caller's, or the loader library's).
Status create_instance(PFN_vkGetInstanceProcAddr gipa, bool validation, const VkAllocationCallbacks* allocator,
                       VkInstance* instance, uint32_t* api_version = nullptr) {
  auto enumerate_version = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(gipa(nullptr, "vkEnumerateInstanceVersion"));
  auto enumerate_layers =
      reinterpret_cast<PFN_vkEnumerateInstanceLayerProperties>(gipa(nullptr, "vkEnumerateInstanceLayerProperties"));
  auto create = reinterpret_cast<PFN_vkCreateInstance>(gipa(nullptr, "vkCreateInstance"));
  if (!create || !enumerate_layers)
    return Status::unsupported("get_instance_proc_addr: vkCreateInstance or vkEnumerateInstanceLayerProperties "
                               "could not be loaded");
  uint32_t loader_version = VK_API_VERSION_1_0;
  if (!enumerate_version || enumerate_version(&loader_version) != VK_SUCCESS || loader_version < VK_API_VERSION_1_1)
    return Status::unsupported("the Vulkan loader offers only Vulkan 1.0; vknorm needs 1.1");
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vknorm";
  app.pEngineName = "vknorm";
  app.apiVersion = std::min<uint32_t>(loader_version, VK_API_VERSION_1_3);
  if (api_version) *api_version = app.apiVersion;

  std::vector<const char*> layers, extensions;
  VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = enables;
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  if (validation) {
    if (!has_layer(enumerate_layers, kValidationLayer))
      return Status::unsupported(
          "enable_validation: the layer VK_LAYER_KHRONOS_validation is not installed "
          "(Debian package vulkan-validationlayers)");
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    // The layer's own extension, which VkValidationFeaturesEXT belongs to: a pNext struct
    // of VkInstanceCreateInfo needs its extension enabled (newer layers check the rule).
    extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
    info.pNext = &features;
  }
  info.enabledLayerCount = static_cast<uint32_t>(layers.size());
  info.ppEnabledLayerNames = layers.data();
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  VkResult r = create(&info, allocator, instance);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateInstance");
  return {};
}

// A queue family with compute: a compute-only one if there is one (it can run beside
// graphics work), else the first with compute (lavapipe has one combined family).
std::optional<uint32_t> find_compute_queue(const vk::Dispatch& vk, VkPhysicalDevice device) {
  uint32_t count = 0;
  vk.GetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vk.GetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
  std::optional<uint32_t> any;
  for (uint32_t i = 0; i < count; ++i) {
    if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || families[i].queueCount == 0) continue;
    if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return i;
    if (!any) any = i;
  }
  return any;
}

// Lower is better: real GPUs first, CPU implementations (lavapipe) last.
int device_rank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_OTHER: return 3;
    default: return 4;  // CPU
  }
}

// Standalone mode's vkGetInstanceProcAddr: the caller's when given (no library is opened
// then), else that of the loader library `file` (null: the system's), opened into `loader`.
Result<PFN_vkGetInstanceProcAddr> standalone_gipa(PFN_vkGetInstanceProcAddr given, const char* file,
                                                  vk::LoaderLibrary& loader) {
  if (given) return given;
  auto opened = vk::LoaderLibrary::open(file);
  if (!opened) return opened.status();
  loader = std::move(opened.value());
  return loader.get_instance_proc_addr();
}

struct Candidate {
  uint32_t index;
  VkPhysicalDevice device;
  Capabilities caps;
};

Result<std::vector<Candidate>> enumerate(const vk::Dispatch& vk, VkInstance instance,
                                         const CapabilityOverride& over) {
  uint32_t count = 0;
  VkResult r = vk.EnumeratePhysicalDevices(instance, &count, nullptr);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> devices(count);
  r = vk.EnumeratePhysicalDevices(instance, &count, devices.data());
  if (r != VK_SUCCESS && r != VK_INCOMPLETE) return Status::vulkan(r, "vkEnumeratePhysicalDevices");
  std::vector<Candidate> out;
  for (uint32_t i = 0; i < count; ++i) out.push_back({i, devices[i], vk::query_capabilities(vk, devices[i], over)});
  return out;
}

// The devices vknorm can run on: Vulkan 1.1 or later, with a compute queue.
bool usable(const vk::Dispatch& vk, const Candidate& c) {
  return c.caps.api_version >= VK_API_VERSION_1_1 && find_compute_queue(vk, c.device).has_value();
}

// The device a standalone context picks without a device_index: the best-ranked usable
// one, the first in enumeration order among equals.
const Candidate* pick_default(const vk::Dispatch& vk, const std::vector<Candidate>& candidates) {
  const Candidate* chosen = nullptr;
  for (const auto& c : candidates)
    if (usable(vk, c) && (!chosen || device_rank(c.caps.device_type) < device_rank(chosen->caps.device_type)))
      chosen = &c;
  return chosen;
}

}  // namespace

// Buffers keep what they need to free themselves; they must not outlive their context.
struct Buffer::Owner {
  ContextState* state;
  VkDeviceSize memory_bytes;  // its allocationSize, for the footprint
};

Context::Context(std::unique_ptr<ContextState> state) : state_(std::move(state)) {}

ContextState& state_of(Context& context) { return *context.state_; }

Context::~Context() {
  ContextState& s = *state_;
  if (s.device) s.kernels.destroy(s);
  if (!s.standalone) return;  // never destroy what the engine created
  if (s.pipeline_cache) s.vk.DestroyPipelineCache(s.device, s.pipeline_cache, s.allocator);
  if (s.device) s.vk.DestroyDevice(s.device, s.allocator);
  if (s.messenger) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        s.vk.GetInstanceProcAddr(s.instance, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(s.instance, s.messenger, s.allocator);
  }
  if (s.instance) s.vk.DestroyInstance(s.instance, s.allocator);
  s.loader.close();  // after the instance: its functions live in the library
}

const Capabilities& Context::capabilities() const { return state_->caps; }
bool Context::is_standalone() const { return state_->standalone; }
bool Context::is_lost() const { return state_->lost.load(); }

namespace {
// What every submitting call of a lost context says.
Status lost_status(const char* call) {
  return Status::vulkan(VK_ERROR_DEVICE_LOST, std::string(call) + ": the device was lost in an earlier submit; "
                                              "destroy this context and create a new one");
}
}  // namespace
VkDevice Context::device() const { return state_->device; }

Status Context::prepare_kernels() { return state_->kernels.prepare_all(*state_); }

Status Context::prepare_kernels(DType dtype) { return state_->kernels.prepare(*state_, dtype); }

Result<std::vector<DeviceInfo>> Context::list_devices() {
  // Declared first: closed after the instance is destroyed.
  vk::LoaderLibrary loader;
  auto gipa = standalone_gipa(nullptr, nullptr, loader);
  if (!gipa) return gipa.status();
  VkInstance instance = VK_NULL_HANDLE;
  VKNORM_TRY(create_instance(gipa.value(), false, nullptr, &instance));
  vk::Dispatch vk;
  Status st = vk.load_instance(instance, gipa.value());
  std::vector<DeviceInfo> out;
  if (st.ok()) {
    auto candidates = enumerate(vk, instance, {});
    if (!candidates) {
      st = candidates.status();
    } else {
      const Candidate* chosen = pick_default(vk, candidates.value());
      for (const auto& c : candidates.value()) out.push_back({c.index, c.caps, usable(vk, c), &c == chosen});
    }
  }
  auto destroy = reinterpret_cast<PFN_vkDestroyInstance>(gipa.value()(instance, "vkDestroyInstance"));
  if (destroy) destroy(instance, nullptr);
  if (!st.ok()) return st;
  return out;
}

Result<std::unique_ptr<Context>> Context::create_standalone(const StandaloneOptions& options) {
  auto state = std::make_unique<ContextState>();
  ContextState& s = *state;
  s.standalone = true;
  s.allocator = options.allocation_callbacks;
  // From here on the Context's destructor cleans up whatever was created.
  std::unique_ptr<Context> context(new Context(std::move(state)));

  auto gipa = standalone_gipa(options.get_instance_proc_addr, options.vulkan_loader, s.loader);
  if (!gipa) return gipa.status();
  uint32_t instance_version = 0;
  VKNORM_TRY(create_instance(gipa.value(), options.enable_validation, s.allocator, &s.instance, &instance_version));
  VKNORM_TRY(s.vk.load_instance(s.instance, gipa.value()));
  if (options.enable_validation) {
    s.debug_callback = std::make_unique<DebugCallback>(options.debug_callback);
    VkDebugUtilsMessengerCreateInfoEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    info.pfnUserCallback = debug_messenger;
    info.pUserData = s.debug_callback.get();
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        s.vk.GetInstanceProcAddr(s.instance, "vkCreateDebugUtilsMessengerEXT"));
    if (!create) return Status::unsupported("enable_validation: vkCreateDebugUtilsMessengerEXT is missing");
    VkResult r = create(s.instance, &info, s.allocator, &s.messenger);
    if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateDebugUtilsMessengerEXT");
  }

  auto candidates = enumerate(s.vk, s.instance, options.capability_override);
  if (!candidates) return candidates.status();
  const Candidate* chosen = nullptr;
  if (options.device_index) {
    for (const auto& c : candidates.value())
      if (c.index == *options.device_index && usable(s.vk, c)) chosen = &c;
    if (!chosen)
      return Status::invalid_argument("device_index: no Vulkan 1.1 device with a compute queue has index " +
                                      std::to_string(*options.device_index) + " (" +
                                      std::to_string(candidates->size()) + " devices found)");
  } else {
    chosen = pick_default(s.vk, candidates.value());
    if (!chosen)
      return Status::unsupported("no Vulkan 1.1 device with a compute queue was found "
                                 "(on Debian, mesa-vulkan-drivers provides lavapipe)");
  }
  s.physical_device = chosen->device;
  s.caps = chosen->caps;
  s.queue_family = *find_compute_queue(s.vk, s.physical_device);

  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue.queueFamilyIndex = s.queue_family;
  queue.queueCount = 1;
  queue.pQueuePriorities = &priority;
  VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  storage16.storageBuffer16BitAccess = s.caps.storage_buffer_16bit ? VK_TRUE : VK_FALSE;
  // synchronization2 (close_with_barrier2) where the device and the instance are 1.3.
  VkPhysicalDeviceVulkan13Features v13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  v13.synchronization2 = VK_TRUE;
  const bool sync2 = instance_version >= VK_API_VERSION_1_3 && vk::supports_synchronization2(s.vk, s.physical_device);
  if (sync2) storage16.pNext = &v13;
  // Push descriptors where the device has them, unless the pool path is asked for.
  std::vector<const char*> extensions;
  const bool push = options.descriptor_path == DescriptorPath::automatic &&
                    vk::has_device_extension(s.vk, s.physical_device, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  if (push) extensions.push_back(VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  info.pNext = &storage16;
  info.queueCreateInfoCount = 1;
  info.pQueueCreateInfos = &queue;
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  VkResult r = s.vk.CreateDevice(s.physical_device, &info, s.allocator, &s.device);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateDevice");
  VKNORM_TRY(s.vk.load_device(s.device, nullptr));
  s.caps.push_descriptors = push && s.vk.CmdPushDescriptorSetWithTemplateKHR;
  s.caps.synchronization2 = sync2 && s.vk.CmdPipelineBarrier2;
  s.require_prepared_kernels = options.require_prepared_kernels;
  s.vk.GetDeviceQueue(s.device, s.queue_family, 0, &s.queue);

  VkPipelineCacheCreateInfo cache{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  r = s.vk.CreatePipelineCache(s.device, &cache, s.allocator, &s.pipeline_cache);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreatePipelineCache");
  return context;
}

Result<std::unique_ptr<Context>> Context::create_from_engine(const EngineHandles& h) {
  if (h.instance == VK_NULL_HANDLE) return Status::invalid_argument("instance: expected the engine's VkInstance, got VK_NULL_HANDLE");
  if (h.physical_device == VK_NULL_HANDLE)
    return Status::invalid_argument("physical_device: expected the engine's VkPhysicalDevice, got VK_NULL_HANDLE");
  if (h.device == VK_NULL_HANDLE) return Status::invalid_argument("device: expected the engine's VkDevice, got VK_NULL_HANDLE");
  // Engine mode opens no Vulkan loader: every function comes from the engine.
  if (!h.get_instance_proc_addr)
    return Status::invalid_argument("get_instance_proc_addr: expected the engine's vkGetInstanceProcAddr, got null "
                                    "(engine mode opens no Vulkan loader of its own)");
  auto state = std::make_unique<ContextState>();
  ContextState& s = *state;
  std::unique_ptr<Context> context(new Context(std::move(state)));
  s.instance = h.instance;
  s.physical_device = h.physical_device;
  s.queue_family = h.queue_family_index;
  s.pipeline_cache = h.pipeline_cache;
  s.allocator = h.allocation_callbacks;
  VKNORM_TRY(s.vk.load_instance(h.instance, h.get_instance_proc_addr));
  s.caps = vk::query_capabilities(s.vk, h.physical_device, h.capability_override);
  s.caps.storage_buffer_16bit = s.caps.storage_buffer_16bit && h.storage_buffer_16bit_enabled;
  if (s.caps.api_version < VK_API_VERSION_1_1)
    return Status::unsupported("physical_device: vknorm needs a Vulkan 1.1 device");
  uint32_t count = 0;
  s.vk.GetPhysicalDeviceQueueFamilyProperties(h.physical_device, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  s.vk.GetPhysicalDeviceQueueFamilyProperties(h.physical_device, &count, families.data());
  if (h.queue_family_index >= count || !(families[h.queue_family_index].queueFlags & VK_QUEUE_COMPUTE_BIT))
    return Status::invalid_argument("queue_family_index: expected a queue family with VK_QUEUE_COMPUTE_BIT, got " +
                                    std::to_string(h.queue_family_index) + " (" + std::to_string(count) +
                                    " families)");
  s.device = h.device;  // set before loading so the destructor cleans up what follows
  VKNORM_TRY(s.vk.load_device(h.device, h.get_device_proc_addr));
  // The engine says what it enabled; vknorm checks the device has it and the functions load.
  s.caps.push_descriptors = h.push_descriptor_enabled && h.descriptor_path == DescriptorPath::automatic &&
                            s.vk.CmdPushDescriptorSetWithTemplateKHR &&
                            vk::has_device_extension(s.vk, h.physical_device, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  s.caps.synchronization2 = h.synchronization2_enabled && s.vk.CmdPipelineBarrier2;
  s.require_prepared_kernels = h.require_prepared_kernels;
  return context;
}

Result<Buffer> Context::create_buffer(VkDeviceSize bytes) {
  if (!state_->standalone)
    return Status::invalid_argument("create_buffer: only a standalone context allocates buffers; in engine mode pass your own");
  if (state_->lost) return lost_status("create_buffer");
  Buffer b;
  // Whole 32-bit words: packed float16 (no 16-bit storage) reads and writes the word of a
  // tensor's last element, so a buffer of an odd number of halves still holds it.
  VkDeviceSize size = std::max<VkDeviceSize>((bytes + 3) / 4 * 4, 4);
  VkDeviceSize memory_bytes = 0;
  VKNORM_TRY(vk::create_host_buffer(state_->vk, state_->physical_device, state_->device, size, &b.buffer_, &b.memory_,
                                    state_->allocator, &memory_bytes));
  b.owner_ = std::make_shared<Buffer::Owner>(Buffer::Owner{state_.get(), memory_bytes});
  ++state_->live_buffers;
  ++state_->live_memory_allocations;
  state_->live_memory_bytes += memory_bytes;
  b.size_ = size;
  VkResult r = state_->vk.MapMemory(state_->device, b.memory_, 0, VK_WHOLE_SIZE, 0, &b.mapped_);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkMapMemory");
  return b;
}

Result<std::unique_ptr<CommandRecorder>> Context::begin_commands(const RecorderOptions& options) {
  ContextState& s = *state_;
  if (!s.standalone)
    return Status::invalid_argument("begin_commands: in engine mode, record into your own command buffer with CommandRecorder::create");
  if (s.lost) return lost_status("begin_commands");
  // Each recorder gets its own transient pool: a command pool must be externally
  // synchronized, also while its command buffers are recorded, so one pool shared by
  // recorders in different threads would need a lock around every vkCmd*.
  VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool_info.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  pool_info.queueFamilyIndex = s.queue_family;
  VkCommandPool pool = VK_NULL_HANDLE;
  VkResult r = s.vk.CreateCommandPool(s.device, &pool_info, s.allocator, &pool);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateCommandPool");
  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = pool;
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = 1;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  r = s.vk.AllocateCommandBuffers(s.device, &alloc, &cmd);
  const char* failed = "vkAllocateCommandBuffers";
  if (r == VK_SUCCESS) {
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    r = s.vk.BeginCommandBuffer(cmd, &begin);
    failed = "vkBeginCommandBuffer";
  }
  if (r != VK_SUCCESS) {
    s.vk.DestroyCommandPool(s.device, pool, s.allocator);  // frees cmd as well
    return Status::vulkan(r, failed);
  }
  auto recorder = CommandRecorder::create(*this, cmd, options);
  if (!recorder) {
    s.vk.DestroyCommandPool(s.device, pool, s.allocator);
    return recorder;
  }
  // The recorder destroys the pool with itself from here on.
  impl_of(*recorder.value()).owns_command_buffer = true;
  impl_of(*recorder.value()).command_pool = pool;
  s.live_command_pools.fetch_add(1, std::memory_order_relaxed);
  return recorder;
}

Status Context::submit_and_wait(CommandRecorder& recorder) {
  ContextState& s = *state_;
  CommandRecorder::Impl& rec = impl_of(recorder);
  if (!s.standalone || !rec.owns_command_buffer)
    return Status::invalid_argument("recorder: submit_and_wait takes a recorder from begin_commands of this standalone context");
  if (s.lost) return lost_status("submit_and_wait");
  // Make the shaders' writes visible to the host that maps the buffers.
  rec.barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
              VK_ACCESS_HOST_READ_BIT);
  VkResult r = s.vk.EndCommandBuffer(rec.cmd);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkEndCommandBuffer");
  VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence fence = VK_NULL_HANDLE;
  r = s.vk.CreateFence(s.device, &fence_info, s.allocator, &fence);
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkCreateFence");
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &rec.cmd;
  {
    // vkQueueSubmit needs the queue externally synchronized; waiting on the fence does not.
    std::lock_guard<std::mutex> lock(s.queue_mutex);
    r = s.vk.QueueSubmit(s.queue, 1, &submit, fence);
  }
  if (r == VK_SUCCESS) r = s.vk.WaitForFences(s.device, 1, &fence, VK_TRUE, UINT64_MAX);
  s.vk.DestroyFence(s.device, fence, s.allocator);
  if (r == VK_ERROR_DEVICE_LOST) s.lost = true;
  if (r != VK_SUCCESS) return Status::vulkan(r, "vkQueueSubmit/vkWaitForFences");
  return {};
}

// ---- Buffer ----

Buffer::Buffer(Buffer&& o) noexcept { *this = std::move(o); }

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    owner_ = std::move(o.owner_);
    buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
    memory_ = std::exchange(o.memory_, VK_NULL_HANDLE);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, nullptr);
  }
  return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() {
  if (!owner_) return;
  ContextState& s = *owner_->state;
  if (mapped_) s.vk.UnmapMemory(s.device, memory_);
  if (buffer_) s.vk.DestroyBuffer(s.device, buffer_, s.allocator);
  if (memory_) s.vk.FreeMemory(s.device, memory_, s.allocator);
  --s.live_buffers;
  --s.live_memory_allocations;
  s.live_memory_bytes -= owner_->memory_bytes;
  owner_.reset();
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  mapped_ = nullptr;
}

}  // namespace vknorm
