// Faults survived: every create and allocate vknorm makes fails in turn (the Nth such
// call returns VK_ERROR_OUT_OF_DEVICE_MEMORY, then, in a second pass, _HOST_), injected
// through the function pointers vknorm loads: the engine's vkGetDeviceProcAddr in engine
// mode, StandaloneOptions::get_instance_proc_addr in standalone mode. For every N:
//  - the call that met the fault returns a Status carrying that VkResult and naming it;
//  - every object created so far is destroyed by the time the context is (the injector
//    counts creates and destroys of each kind; ASan sees host memory in the sanitizer run);
//  - the same context then does the same work without faults, with the same bits as a
//    context that never saw one.
// And VK_ERROR_DEVICE_LOST from vkQueueSubmit or vkWaitForFences in standalone mode: the
// call says so, the context reports itself lost and refuses further submits at once.
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "env.hpp"
#include "test_engine.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/recorder.hpp"

// A namespace of its own: its hooks have the names of test_engine_objects.cpp's, and the
// unity build (tests/CMakeLists.txt) may compile both files as one.
namespace vknorm::test::faults {
namespace {

// What the injector does and has seen. One test at a time uses it (doctest runs test
// cases one after another); the mutex covers vknorm's own threads, if any.
struct Injector {
  std::mutex mutex;
  int fail_at = 0;        // the Nth create/allocate call fails (0: none)
  int calls = 0;          // create/allocate calls so far
  VkResult error = VK_ERROR_OUT_OF_DEVICE_MEMORY;
  bool fired = false;
  int lose_at = 0;        // the Nth vkQueueSubmit / vkWaitForFences returns VK_ERROR_DEVICE_LOST
  int queue_calls = 0;
  std::map<std::string, int64_t> live;  // created minus destroyed, per kind

  void arm(int n, VkResult e) {
    std::lock_guard<std::mutex> lock(mutex);
    fail_at = n;
    error = e;
    calls = 0;
    fired = false;
  }
  // Counts a create/allocate call; true when it is the one to fail.
  bool fail_now() {
    std::lock_guard<std::mutex> lock(mutex);
    if (++calls != fail_at) return false;
    fired = true;
    return true;
  }
  void created(const std::string& kind, int64_t n = 1) {
    std::lock_guard<std::mutex> lock(mutex);
    live[kind] += n;
  }
  void destroyed(const std::string& kind) {
    std::lock_guard<std::mutex> lock(mutex);
    --live[kind];
  }
  // The kinds with objects still alive, as "kind: n" (empty when none).
  std::string leaks() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string out;
    for (const auto& [kind, n] : live)
      if (n != 0) out += kind + ": " + std::to_string(n) + "  ";
    return out;
  }
};
Injector g_faults;

// ---- The injecting functions: the real one, unless this is the call that fails. ----

#define FAULT_CREATE(Name, Parent, Handle, Info, kind)                                                          \
  PFN_vk##Name real_##Name = nullptr;                                                                           \
  VKAPI_ATTR VkResult VKAPI_CALL fault_##Name(Parent p, const Info* i, const VkAllocationCallbacks* a, Handle* h) { \
    if (g_faults.fail_now()) return g_faults.error;                                                             \
    const VkResult r = real_##Name(p, i, a, h);                                                                 \
    if (r == VK_SUCCESS) g_faults.created(kind);                                                                \
    return r;                                                                                                   \
  }
#define FAULT_DESTROY(Name, Parent, Handle, kind)                                                  \
  PFN_vk##Name real_##Name = nullptr;                                                              \
  VKAPI_ATTR void VKAPI_CALL fault_##Name(Parent p, Handle h, const VkAllocationCallbacks* a) {   \
    if (h) g_faults.destroyed(kind);                                                               \
    real_##Name(p, h, a);                                                                          \
  }
FAULT_CREATE(CreateBuffer, VkDevice, VkBuffer, VkBufferCreateInfo, "buffers")
FAULT_DESTROY(DestroyBuffer, VkDevice, VkBuffer, "buffers")
FAULT_CREATE(AllocateMemory, VkDevice, VkDeviceMemory, VkMemoryAllocateInfo, "memory")
FAULT_DESTROY(FreeMemory, VkDevice, VkDeviceMemory, "memory")
FAULT_CREATE(CreateShaderModule, VkDevice, VkShaderModule, VkShaderModuleCreateInfo, "shader modules")
FAULT_DESTROY(DestroyShaderModule, VkDevice, VkShaderModule, "shader modules")
FAULT_CREATE(CreateDescriptorSetLayout, VkDevice, VkDescriptorSetLayout, VkDescriptorSetLayoutCreateInfo, "set layouts")
FAULT_DESTROY(DestroyDescriptorSetLayout, VkDevice, VkDescriptorSetLayout, "set layouts")
FAULT_CREATE(CreatePipelineLayout, VkDevice, VkPipelineLayout, VkPipelineLayoutCreateInfo, "pipeline layouts")
FAULT_DESTROY(DestroyPipelineLayout, VkDevice, VkPipelineLayout, "pipeline layouts")
FAULT_DESTROY(DestroyPipeline, VkDevice, VkPipeline, "pipelines")
FAULT_CREATE(CreateDescriptorUpdateTemplate, VkDevice, VkDescriptorUpdateTemplate, VkDescriptorUpdateTemplateCreateInfo,
             "update templates")
FAULT_DESTROY(DestroyDescriptorUpdateTemplate, VkDevice, VkDescriptorUpdateTemplate, "update templates")
FAULT_CREATE(CreateDescriptorPool, VkDevice, VkDescriptorPool, VkDescriptorPoolCreateInfo, "descriptor pools")
FAULT_DESTROY(DestroyDescriptorPool, VkDevice, VkDescriptorPool, "descriptor pools")
FAULT_CREATE(CreatePipelineCache, VkDevice, VkPipelineCache, VkPipelineCacheCreateInfo, "pipeline caches")
FAULT_DESTROY(DestroyPipelineCache, VkDevice, VkPipelineCache, "pipeline caches")
FAULT_CREATE(CreateCommandPool, VkDevice, VkCommandPool, VkCommandPoolCreateInfo, "command pools")
FAULT_DESTROY(DestroyCommandPool, VkDevice, VkCommandPool, "command pools")
FAULT_CREATE(CreateFence, VkDevice, VkFence, VkFenceCreateInfo, "fences")
FAULT_DESTROY(DestroyFence, VkDevice, VkFence, "fences")
FAULT_CREATE(CreateDevice, VkPhysicalDevice, VkDevice, VkDeviceCreateInfo, "devices")
FAULT_CREATE(CreateDebugUtilsMessengerEXT, VkInstance, VkDebugUtilsMessengerEXT, VkDebugUtilsMessengerCreateInfoEXT,
             "debug messengers")
FAULT_DESTROY(DestroyDebugUtilsMessengerEXT, VkInstance, VkDebugUtilsMessengerEXT, "debug messengers")
#undef FAULT_CREATE
#undef FAULT_DESTROY

PFN_vkCreateComputePipelines real_CreateComputePipelines = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_CreateComputePipelines(VkDevice d, VkPipelineCache c, uint32_t n,
                                                            const VkComputePipelineCreateInfo* i,
                                                            const VkAllocationCallbacks* a, VkPipeline* p) {
  if (g_faults.fail_now()) {
    for (uint32_t k = 0; k < n; ++k) p[k] = VK_NULL_HANDLE;  // as a failing driver must
    return g_faults.error;
  }
  const VkResult r = real_CreateComputePipelines(d, c, n, i, a, p);
  if (r == VK_SUCCESS) g_faults.created("pipelines", n);
  return r;
}
PFN_vkAllocateDescriptorSets real_AllocateDescriptorSets = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_AllocateDescriptorSets(VkDevice d, const VkDescriptorSetAllocateInfo* i,
                                                            VkDescriptorSet* sets) {
  return g_faults.fail_now() ? g_faults.error : real_AllocateDescriptorSets(d, i, sets);
}
PFN_vkAllocateCommandBuffers real_AllocateCommandBuffers = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_AllocateCommandBuffers(VkDevice d, const VkCommandBufferAllocateInfo* i,
                                                            VkCommandBuffer* cmds) {
  return g_faults.fail_now() ? g_faults.error : real_AllocateCommandBuffers(d, i, cmds);
}
PFN_vkBeginCommandBuffer real_BeginCommandBuffer = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_BeginCommandBuffer(VkCommandBuffer c, const VkCommandBufferBeginInfo* i) {
  return g_faults.fail_now() ? g_faults.error : real_BeginCommandBuffer(c, i);
}
PFN_vkEndCommandBuffer real_EndCommandBuffer = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_EndCommandBuffer(VkCommandBuffer c) {
  return g_faults.fail_now() ? g_faults.error : real_EndCommandBuffer(c);
}
PFN_vkMapMemory real_MapMemory = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_MapMemory(VkDevice d, VkDeviceMemory m, VkDeviceSize o, VkDeviceSize s,
                                               VkMemoryMapFlags f, void** p) {
  return g_faults.fail_now() ? g_faults.error : real_MapMemory(d, m, o, s, f, p);
}
PFN_vkDestroyDevice real_DestroyDevice = nullptr;
VKAPI_ATTR void VKAPI_CALL fault_DestroyDevice(VkDevice d, const VkAllocationCallbacks* a) {
  if (d) g_faults.destroyed("devices");
  real_DestroyDevice(d, a);
}

// Device lost: vkQueueSubmit fails before submitting; vkWaitForFences waits for the real
// work first (so nothing is destroyed in use), then reports the loss.
bool lose_now() {
  std::lock_guard<std::mutex> lock(g_faults.mutex);
  return ++g_faults.queue_calls == g_faults.lose_at;
}
PFN_vkQueueSubmit real_QueueSubmit = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_QueueSubmit(VkQueue q, uint32_t n, const VkSubmitInfo* s, VkFence f) {
  return lose_now() ? VK_ERROR_DEVICE_LOST : real_QueueSubmit(q, n, s, f);
}
PFN_vkWaitForFences real_WaitForFences = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_WaitForFences(VkDevice d, uint32_t n, const VkFence* f, VkBool32 all,
                                                   uint64_t timeout) {
  const VkResult r = real_WaitForFences(d, n, f, all, timeout);
  return lose_now() ? VK_ERROR_DEVICE_LOST : r;
}

// Device-level functions: the injecting one where there is one.
PFN_vkVoidFunction device_function(VkDevice device, const char* name, PFN_vkGetDeviceProcAddr real_gdpa) {
#define FAULT(Name)                                                                        \
  if (std::strcmp(name, "vk" #Name) == 0) {                                                \
    real_##Name = reinterpret_cast<PFN_vk##Name>(real_gdpa(device, name));                 \
    return real_##Name ? reinterpret_cast<PFN_vkVoidFunction>(&fault_##Name) : nullptr;   \
  }
  FAULT(CreateBuffer) FAULT(DestroyBuffer) FAULT(AllocateMemory) FAULT(FreeMemory) FAULT(MapMemory)
  FAULT(CreateShaderModule) FAULT(DestroyShaderModule) FAULT(CreateDescriptorSetLayout)
  FAULT(DestroyDescriptorSetLayout) FAULT(CreatePipelineLayout) FAULT(DestroyPipelineLayout)
  FAULT(CreateComputePipelines) FAULT(DestroyPipeline) FAULT(CreateDescriptorUpdateTemplate)
  FAULT(DestroyDescriptorUpdateTemplate) FAULT(CreateDescriptorPool) FAULT(DestroyDescriptorPool)
  FAULT(AllocateDescriptorSets) FAULT(CreatePipelineCache) FAULT(DestroyPipelineCache) FAULT(CreateCommandPool)
  FAULT(DestroyCommandPool) FAULT(AllocateCommandBuffers) FAULT(BeginCommandBuffer) FAULT(EndCommandBuffer)
  FAULT(CreateFence) FAULT(DestroyFence) FAULT(QueueSubmit) FAULT(WaitForFences) FAULT(DestroyDevice)
#undef FAULT
  return real_gdpa(device, name);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL fault_get_device_proc_addr(VkDevice device, const char* name) {
  return device_function(device, name, vkGetDeviceProcAddr);
}

// Standalone mode's entry point: vkCreateInstance and the instance-level functions as
// well. vkCreateInstance/vkDestroyInstance come from the loader, and so do the device
// functions (through the loader's vkGetDeviceProcAddr, wrapped).
PFN_vkCreateInstance real_CreateInstance = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL fault_CreateInstance(const VkInstanceCreateInfo* i, const VkAllocationCallbacks* a,
                                                    VkInstance* instance) {
  if (g_faults.fail_now()) return g_faults.error;
  const VkResult r = real_CreateInstance(i, a, instance);
  if (r == VK_SUCCESS) g_faults.created("instances");
  return r;
}
PFN_vkDestroyInstance real_DestroyInstance = nullptr;
VKAPI_ATTR void VKAPI_CALL fault_DestroyInstance(VkInstance instance, const VkAllocationCallbacks* a) {
  if (instance) g_faults.destroyed("instances");
  real_DestroyInstance(instance, a);
}
VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL fault_get_instance_proc_addr(VkInstance instance, const char* name) {
#define FAULT(Name)                                                                            \
  if (std::strcmp(name, "vk" #Name) == 0) {                                                    \
    real_##Name = reinterpret_cast<PFN_vk##Name>(vkGetInstanceProcAddr(instance, name));       \
    return real_##Name ? reinterpret_cast<PFN_vkVoidFunction>(&fault_##Name) : nullptr;       \
  }
  FAULT(CreateInstance) FAULT(DestroyInstance) FAULT(CreateDevice) FAULT(CreateDebugUtilsMessengerEXT)
  FAULT(DestroyDebugUtilsMessengerEXT)
#undef FAULT
  if (std::strcmp(name, "vkGetDeviceProcAddr") == 0) return reinterpret_cast<PFN_vkVoidFunction>(&fault_get_device_proc_addr);
  return vkGetInstanceProcAddr(instance, name);
}

// ---- The work each fault interrupts ----

// A LayerNorm forward and backward and a BatchNorm training forward: pipelines of both
// kinds, a workspace, and (standalone) buffers, a recorder and a submit per call.
LayerNormParams layer_norm_params() {
  LayerNormParams p;
  p.shape = {6, 40};
  p.normalized_shape = {40};
  return p;
}
BatchNormParams batch_norm_params() {
  BatchNormParams p;
  p.shape = {3, 4, 5};
  return p;
}
std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 37) % 23) - 5.0f;
  return v;
}

// The standalone host functions' outputs, concatenated; or the Status of the first that failed.
Result<std::vector<float>> standalone_work(Context& context) {
  const LayerNormParams ln = layer_norm_params();
  const std::vector<float> x = ramp(240, 0.5f), dy = ramp(240, 0.25f), w = ramp(40, 0.1f), b = ramp(40, 0.05f);
  auto f = layer_norm_forward(context, ln, x, w, b);
  if (!f) return f.status();
  auto g = layer_norm_backward(context, ln, x, dy, w, f->save_mean, f->save_invstd);
  if (!g) return g.status();
  const BatchNormParams bn = batch_norm_params();
  std::vector<float> rm(4, 0.0f), rv(4, 1.0f);
  auto h = batch_norm_forward(context, bn, ramp(60, 0.3f), ramp(4, 0.2f), ramp(4, 0.1f), rm, rv);
  if (!h) return h.status();
  std::vector<float> out = f->y;
  out.insert(out.end(), g->dx.begin(), g->dx.end());
  out.insert(out.end(), g->dweight.begin(), g->dweight.end());
  out.insert(out.end(), h->y.begin(), h->y.end());
  out.insert(out.end(), rv.begin(), rv.end());
  return out;
}

// The fault's Status: it carries the injected VkResult and names it.
void check_fault_status(const Status& status, VkResult error, const std::string& where) {
  CAPTURE(where);
  CHECK_FALSE(status.ok());
  CHECK(status.vk_result() == error);
  const char* name = error == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "VK_ERROR_OUT_OF_DEVICE_MEMORY" : "VK_ERROR_OUT_OF_HOST_MEMORY";
  CHECK_MESSAGE(status.message().find(name) != std::string::npos, status.message());
}

// Which N the standalone sweep tries: every one with VKNORM_TEST_FAULTS=every (one CTest
// entry sets it: a fresh context with validation per N takes about 0.2 s), else the first
// ten (instance, device, the first pipeline), every tenth and the last.
bool sweep_tries(int n, int points) {
  return env::equals("VKNORM_TEST_FAULTS", "every") || n <= 10 || n % 10 == 0 || n == points;
}

StandaloneOptions fault_options(std::vector<std::string>& messages) {
  StandaloneOptions options;
  options.enable_validation = enable_validation_layer();
  options.debug_callback = [&messages](const std::string& m) { messages.push_back(m); };
  options.descriptor_path = test_descriptor_path();
  options.get_instance_proc_addr = fault_get_instance_proc_addr;
  return options;
}

}  // namespace

TEST_CASE("Faults: every create and allocate of a standalone context fails in turn, cleanly and recoverably") {
  std::vector<std::string> messages;
  g_faults.arm(0, VK_SUCCESS);
  g_faults.live.clear();
  std::vector<float> clean;
  {
    auto ctx = Context::create_standalone(fault_options(messages));
    REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
    auto out = standalone_work(*ctx.value());
    REQUIRE_MESSAGE(out.ok(), out.status().message());
    clean = out.value();
  }
  const int points = g_faults.calls;
  CHECK(g_faults.leaks().empty());
  CHECK(points >= 30);
  int failed_at_creation = 0, recovered = 0;
  for (VkResult error : {VK_ERROR_OUT_OF_DEVICE_MEMORY, VK_ERROR_OUT_OF_HOST_MEMORY})
    for (int n = 1; n <= points; ++n) {
      if (!sweep_tries(n, points)) continue;
      const std::string where = "call " + std::to_string(n) + (error == VK_ERROR_OUT_OF_HOST_MEMORY ? " (host)" : " (device)");
      CAPTURE(where);
      g_faults.arm(n, error);
      {
        auto ctx = Context::create_standalone(fault_options(messages));
        if (!ctx) {
          check_fault_status(ctx.status(), error, where);
          ++failed_at_creation;
        } else {
          auto out = standalone_work(*ctx.value());
          REQUIRE(g_faults.fired);
          REQUIRE_FALSE(out.ok());
          check_fault_status(out.status(), error, where);
          // The same context, without the fault: the clean run's bits.
          g_faults.arm(0, VK_SUCCESS);
          auto again = standalone_work(*ctx.value());
          REQUIRE_MESSAGE(again.ok(), again.status().message());
          CHECK(again.value() == clean);
          CHECK_FALSE(ctx.value()->is_lost());
          ++recovered;
        }
      }
      CHECK_MESSAGE(g_faults.leaks().empty(), "left alive after the context: " << g_faults.leaks());
    }
  MESSAGE("standalone: " << points << " create/allocate calls; " << failed_at_creation + recovered
                          << " faults injected (each tried index, with each error): " << failed_at_creation << " refused the context, "
                          << recovered << " met a working context that then recovered");
  for (const std::string& m : messages) FAIL_CHECK("validation layer: " << m);
}

TEST_CASE("Faults: every create and allocate in engine mode fails in turn; the engine's command buffer is then reset") {
  TestEngine engine({.push_descriptor = true});
  EngineBuffer memory;
  constexpr VkDeviceSize kBytes = 1 << 20;
  engine.make_buffer(kBytes, true, memory);
  const LayerNormParams ln = layer_norm_params();
  // The engine's buffer: x, y, weight, bias, save_mean, save_invstd, workspace, 256-aligned.
  auto run = [&](Context& ctx) -> Result<std::vector<float>> {
    auto ws = layer_norm_workspace_size(ctx, ln);
    if (!ws) return ws.status();
    VkDeviceSize at = 0;
    auto region = [&](VkDeviceSize bytes) {
      BufferRef r{memory.buffer, at, bytes};
      at += (bytes + 255) / 256 * 256;
      return r;
    };
    NormForwardBuffers io;
    io.x = region(240 * 4);
    io.y = region(240 * 4);
    io.weight = region(40 * 4);
    io.bias = region(40 * 4);
    io.save_mean = region(6 * 4);
    io.save_invstd = region(6 * 4);
    io.workspace = region(std::max<uint64_t>(ws.value(), 4));
    REQUIRE(at <= kBytes);
    auto* bytes = static_cast<char*>(memory.mapped);
    const std::vector<float> x = ramp(240, 0.5f), w = ramp(40, 0.1f), b = ramp(40, 0.05f);
    std::memcpy(bytes + io.x.offset, x.data(), 240 * 4);
    std::memcpy(bytes + io.weight.offset, w.data(), 40 * 4);
    std::memcpy(bytes + io.bias.offset, b.data(), 40 * 4);
    std::memset(bytes + io.y.offset, 0, 240 * 4);
    VkCommandBuffer cmd = engine.begin();
    Status recorded;
    {
      auto recorder = CommandRecorder::create(ctx, cmd);
      recorded = recorder ? record_layer_norm_forward(*recorder.value(), ln, io) : recorder.status();
      if (recorded) recorder.value()->close_with_barrier(VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
      // A failed recording leaves a half-recorded command buffer: the engine resets it
      // (here: frees it unsubmitted).
      if (recorded) {
        REQUIRE(vkEndCommandBuffer(cmd) == VK_SUCCESS);
        engine.submit_and_wait(cmd);
      }
    }
    engine.free(cmd);
    if (!recorded) return recorded;
    const float* y = reinterpret_cast<const float*>(bytes + io.y.offset);
    return std::vector<float>(y, y + 240);
  };
  for (DescriptorPath path : {DescriptorPath::automatic, DescriptorPath::pool}) {
    CAPTURE(static_cast<int>(path));
    EngineHandles h = engine.handles();
    h.get_device_proc_addr = fault_get_device_proc_addr;
    h.descriptor_path = path;
    g_faults.arm(0, VK_SUCCESS);
    g_faults.live.clear();
    std::vector<float> clean;
    {
      auto ctx = Context::create_from_engine(h);
      REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
      auto out = run(*ctx.value());
      REQUIRE_MESSAGE(out.ok(), out.status().message());
      clean = out.value();
    }
    const int points = g_faults.calls;
    CHECK(g_faults.leaks().empty());
    const std::string path_name = path == DescriptorPath::pool ? "pool" : "automatic";
    MESSAGE("engine mode, " << path_name << " descriptor path: " << points
                            << " create/allocate calls, each made to fail with two errors");
    CHECK(points >= 5);
    for (VkResult error : {VK_ERROR_OUT_OF_DEVICE_MEMORY, VK_ERROR_OUT_OF_HOST_MEMORY})
      for (int n = 1; n <= points; ++n) {
        const std::string where = "call " + std::to_string(n);
        CAPTURE(where);
        g_faults.arm(n, error);
        {
          auto ctx = Context::create_from_engine(h);
          REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
          auto out = run(*ctx.value());
          REQUIRE(g_faults.fired);
          REQUIRE_FALSE(out.ok());
          check_fault_status(out.status(), error, where);
          g_faults.arm(0, VK_SUCCESS);
          auto again = run(*ctx.value());
          REQUIRE_MESSAGE(again.ok(), again.status().message());
          CHECK(again.value() == clean);
        }
        CHECK_MESSAGE(g_faults.leaks().empty(), "left alive after the context: " << g_faults.leaks());
      }
  }
}

TEST_CASE("Faults: VK_ERROR_DEVICE_LOST from submit or wait marks a standalone context lost") {
  std::vector<std::string> messages;
  for (int lose_at : {1, 2}) {  // the first vkQueueSubmit, the first vkWaitForFences
    CAPTURE(lose_at);
    g_faults.arm(0, VK_SUCCESS);
    g_faults.live.clear();
    g_faults.queue_calls = 0;
    g_faults.lose_at = lose_at;  // submit and wait alternate: call 1 submits, call 2 waits
    {
      auto ctx = Context::create_standalone(fault_options(messages));
      REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
      CHECK_FALSE(ctx.value()->is_lost());
      auto out = standalone_work(*ctx.value());
      REQUIRE_FALSE(out.ok());
      CHECK(out.status().vk_result() == VK_ERROR_DEVICE_LOST);
      CHECK_MESSAGE(out.status().message().find("VK_ERROR_DEVICE_LOST") != std::string::npos, out.status().message());
      CHECK(ctx.value()->is_lost());
      // Everything that would submit now fails at once, saying why; nothing reaches the queue.
      const int queue_calls = g_faults.queue_calls;
      auto after = standalone_work(*ctx.value());
      REQUIRE_FALSE(after.ok());
      CHECK(after.status().vk_result() == VK_ERROR_DEVICE_LOST);
      CHECK_MESSAGE(after.status().message().find("the device was lost") != std::string::npos, after.status().message());
      CHECK(g_faults.queue_calls == queue_calls);
      auto buffer = ctx.value()->create_buffer(64);
      CHECK_FALSE(buffer.ok());
      auto recorder = ctx.value()->begin_commands();
      CHECK_FALSE(recorder.ok());
    }
    CHECK_MESSAGE(g_faults.leaks().empty(), "left alive after the context: " << g_faults.leaks());
  }
  g_faults.lose_at = 0;
  for (const std::string& m : messages) FAIL_CHECK("validation layer: " << m);
}

}  // namespace vknorm::test::faults
