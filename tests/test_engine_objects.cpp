// Engine mode, as an engine budgets it: every Vulkan object vknorm creates on the
// engine's device goes through the engine's VkAllocationCallbacks, footprint() matches
// the objects vknorm really created (seen through the engine's vkGetDeviceProcAddr), and
// float16 without the engine's 16-bit flag runs packed in 32-bit words.
#include <cstring>
#include <map>
#include <string>

#include "allocation_support.hpp"
#include "test_engine.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm::test {
namespace {

constexpr VkDeviceSize kBufferBytes = 4 << 20;

// A LayerNorm forward of `rows` x `d` on regions of the engine's buffer (recorded only).
Status record_layer_norm(Context& ctx, CommandRecorder& recorder, VkBuffer buffer, int64_t rows, int64_t d) {
  LayerNormParams p;
  p.shape = {rows, d};
  p.normalized_shape = {d};
  auto ws = layer_norm_workspace_size(ctx, p);
  if (!ws) return ws.status();
  const VkDeviceSize e = static_cast<VkDeviceSize>(rows * d) * 4, a = static_cast<VkDeviceSize>(d) * 4,
                     g = static_cast<VkDeviceSize>(rows) * 4;
  VkDeviceSize at = 0;
  auto region = [&](VkDeviceSize bytes) {
    BufferRef r{buffer, at, bytes};
    at += (bytes + 255) / 256 * 256;
    return r;
  };
  NormForwardBuffers io;
  io.x = region(e);
  io.y = region(e);
  io.weight = region(a);
  io.bias = region(a);
  io.save_mean = region(g);
  io.save_invstd = region(g);
  io.workspace = region(ws.value());
  REQUIRE(at <= kBufferBytes);
  return record_layer_norm_forward(recorder, p, io);
}

// What vknorm creates on the engine's device, seen through the engine's
// vkGetDeviceProcAddr: live objects of each kind, and whether each create and destroy
// passed the engine's allocation callbacks.
struct Seen {
  const VkAllocationCallbacks* expected = nullptr;
  int wrong_allocator = 0;
  std::map<std::string, int64_t> live;
  int64_t pipelines_created = 0;
  std::map<VkDeviceMemory, VkDeviceSize> memory;
};
Seen g_seen;

void note(const VkAllocationCallbacks* allocator) {
  if (allocator != g_seen.expected) ++g_seen.wrong_allocator;
}

#define SEEN_CREATE(Name, Handle, Info, key)                                                              \
  PFN_vk##Name real_##Name = nullptr;                                                                     \
  VKAPI_ATTR VkResult VKAPI_CALL seen_##Name(VkDevice d, const Info* i, const VkAllocationCallbacks* a, \
                                             Handle* h) {                                                \
    note(a);                                                                                              \
    VkResult r = real_##Name(d, i, a, h);                                                                 \
    if (r == VK_SUCCESS) ++g_seen.live[key];                                                              \
    return r;                                                                                             \
  }
#define SEEN_DESTROY(Name, Handle, key)                                                              \
  PFN_vk##Name real_##Name = nullptr;                                                                \
  VKAPI_ATTR void VKAPI_CALL seen_##Name(VkDevice d, Handle h, const VkAllocationCallbacks* a) {   \
    note(a);                                                                                         \
    if (h) --g_seen.live[key];                                                                       \
    real_##Name(d, h, a);                                                                            \
  }
SEEN_CREATE(CreateBuffer, VkBuffer, VkBufferCreateInfo, "buffers")
SEEN_DESTROY(DestroyBuffer, VkBuffer, "buffers")
SEEN_CREATE(CreateShaderModule, VkShaderModule, VkShaderModuleCreateInfo, "shader modules")
SEEN_DESTROY(DestroyShaderModule, VkShaderModule, "shader modules")
SEEN_CREATE(CreateDescriptorSetLayout, VkDescriptorSetLayout, VkDescriptorSetLayoutCreateInfo, "set layouts")
SEEN_DESTROY(DestroyDescriptorSetLayout, VkDescriptorSetLayout, "set layouts")
SEEN_CREATE(CreatePipelineLayout, VkPipelineLayout, VkPipelineLayoutCreateInfo, "pipeline layouts")
SEEN_DESTROY(DestroyPipelineLayout, VkPipelineLayout, "pipeline layouts")
SEEN_CREATE(CreateDescriptorPool, VkDescriptorPool, VkDescriptorPoolCreateInfo, "descriptor pools")
SEEN_DESTROY(DestroyDescriptorPool, VkDescriptorPool, "descriptor pools")
SEEN_DESTROY(DestroyPipeline, VkPipeline, "pipelines")
SEEN_CREATE(CreateDescriptorUpdateTemplate, VkDescriptorUpdateTemplate, VkDescriptorUpdateTemplateCreateInfo,
            "update templates")
SEEN_DESTROY(DestroyDescriptorUpdateTemplate, VkDescriptorUpdateTemplate, "update templates")
#undef SEEN_CREATE
#undef SEEN_DESTROY

PFN_vkCreateComputePipelines real_CreateComputePipelines = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL seen_CreateComputePipelines(VkDevice d, VkPipelineCache c, uint32_t n,
                                                           const VkComputePipelineCreateInfo* i,
                                                           const VkAllocationCallbacks* a, VkPipeline* p) {
  note(a);
  VkResult r = real_CreateComputePipelines(d, c, n, i, a, p);
  if (r == VK_SUCCESS) {
    g_seen.live["pipelines"] += n;
    g_seen.pipelines_created += n;
  }
  return r;
}
PFN_vkAllocateMemory real_AllocateMemory = nullptr;
VKAPI_ATTR VkResult VKAPI_CALL seen_AllocateMemory(VkDevice d, const VkMemoryAllocateInfo* i,
                                                   const VkAllocationCallbacks* a, VkDeviceMemory* m) {
  note(a);
  VkResult r = real_AllocateMemory(d, i, a, m);
  if (r == VK_SUCCESS) g_seen.memory[*m] = i->allocationSize;
  return r;
}
PFN_vkFreeMemory real_FreeMemory = nullptr;
VKAPI_ATTR void VKAPI_CALL seen_FreeMemory(VkDevice d, VkDeviceMemory m, const VkAllocationCallbacks* a) {
  note(a);
  g_seen.memory.erase(m);
  real_FreeMemory(d, m, a);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL seeing_get_device_proc_addr(VkDevice device, const char* name) {
#define SEEN(Name)                                                                          \
  if (std::strcmp(name, "vk" #Name) == 0) {                                                 \
    real_##Name = reinterpret_cast<PFN_vk##Name>(vkGetDeviceProcAddr(device, name));        \
    return reinterpret_cast<PFN_vkVoidFunction>(&seen_##Name);                              \
  }
  SEEN(CreateBuffer) SEEN(DestroyBuffer) SEEN(AllocateMemory) SEEN(FreeMemory)
  SEEN(CreateShaderModule) SEEN(DestroyShaderModule) SEEN(CreateDescriptorSetLayout)
  SEEN(DestroyDescriptorSetLayout) SEEN(CreatePipelineLayout) SEEN(DestroyPipelineLayout)
  SEEN(CreateComputePipelines) SEEN(DestroyPipeline) SEEN(CreateDescriptorPool) SEEN(DestroyDescriptorPool)
  SEEN(CreateDescriptorUpdateTemplate) SEEN(DestroyDescriptorUpdateTemplate)
#undef SEEN
  return vkGetDeviceProcAddr(device, name);
}

// footprint() against what the engine's device saw.
void check_matches_seen(const Footprint& f) {
  CHECK(f.pipelines == g_seen.live["pipelines"]);
  CHECK(f.pipeline_layouts == g_seen.live["pipeline layouts"]);
  CHECK(f.descriptor_set_layouts == g_seen.live["set layouts"]);
  CHECK(f.descriptor_update_templates == g_seen.live["update templates"]);
  CHECK(f.descriptor_pools == g_seen.live["descriptor pools"]);
  CHECK(f.buffers == g_seen.live["buffers"]);
  CHECK(f.device_memory_allocations == g_seen.memory.size());
  VkDeviceSize bytes = 0;
  for (const auto& [memory, size] : g_seen.memory) bytes += size;
  CHECK(f.device_memory_bytes == bytes);
  CHECK(g_seen.live["shader modules"] == 0);  // destroyed as soon as its pipeline exists
  CHECK(f.command_pools == 0);  // the engine's own
  CHECK(f.instances + f.devices + f.pipeline_caches + f.debug_messengers == 0);
}

}  // namespace

// Run on the push path (VK_KHR_push_descriptor enabled, where the device has it and the
// tests run that path) and on the pool path (VKNORM_TEST_DESCRIPTOR_PATH=pool).
TEST_CASE("Engine mode: the engine's allocation callbacks reach every object, and footprint() matches the device") {
  TestEngine engine({.push_descriptor = true});
  EngineBuffer memory;
  engine.make_buffer(kBufferBytes, false, memory);
  CountingAllocator allocator;
  g_seen = Seen{};
  g_seen.expected = allocator.callbacks();
  EngineHandles h = engine.handles();
  h.get_device_proc_addr = seeing_get_device_proc_addr;
  h.allocation_callbacks = allocator.callbacks();
  auto ctx = Context::create_from_engine(h);
  REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
  Context& c = *ctx.value();
  const Capabilities& caps = c.capabilities();
  CHECK(caps.push_descriptors == engine.push_descriptor);
  if (caps.device_name.find("llvmpipe") != std::string::npos)  // lavapipe has VK_KHR_push_descriptor
    CHECK(caps.push_descriptors == (test_descriptor_path() == DescriptorPath::automatic));
  MESSAGE("engine mode on the " << std::string(caps.push_descriptors ? "push-descriptor" : "descriptor-pool") << " path");
  Footprint f = c.footprint();
  check_matches_seen(f);
  CHECK(f.pipelines == 0);
  // Engine mode holds no device memory: each kernel's set layout has only the buffers it
  // uses, so there is no placeholder buffer to allocate.
  CHECK(f.device_memory_allocations == 0);
  CHECK(f.device_memory_bytes == 0);
  CHECK(f.buffers == 0);

  PrepareRequest request;
  request.kinds = {Norm::layer_norm};
  request.backward = false;
  auto report = c.prepare_kernels(request);
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  CHECK(report->created > 0);
  CHECK(g_seen.pipelines_created == report->created);
  f = c.footprint();
  check_matches_seen(f);
  CHECK(f.pipelines == report->created);
  // Each kernel writes at least one buffer: an update template each, for pushes on the
  // push path and for set updates on the pool path; the engine's device saw them all.
  CHECK(f.descriptor_update_templates == report->created);
  CHECK(g_seen.live["update templates"] == report->created);

  // Recording LayerNorm forward in several shapes creates no pipeline; on the pool path
  // each live recorder holds one descriptor pool, made with it, and gives it back; on the
  // push path there is none.
  VkCommandBuffer cmd = engine.begin();
  auto first = CommandRecorder::create(c, cmd);
  REQUIRE(first.ok());
  for (auto [rows, d] : {std::pair<int64_t, int64_t>{512, 96}, {3, 1000}, {2, 40000}, {7, 1}}) {
    Status st = record_layer_norm(c, *first.value(), memory.buffer, rows, d);
    REQUIRE_MESSAGE(st.ok(), st.message());
  }
  CHECK(g_seen.pipelines_created == report->created);
  f = c.footprint();
  check_matches_seen(f);
  const uint32_t pools_one = f.descriptor_pools;
  CHECK(pools_one == (caps.push_descriptors ? 0u : 1u));
  // The regions overlap from shape to shape: the second recorder's work waits for the
  // first's (synchronization validation is on).
  first.value()->close_with_barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  auto second = CommandRecorder::create(c, cmd);
  REQUIRE(second.ok());
  Status st = record_layer_norm(c, *second.value(), memory.buffer, 512, 96);
  REQUIRE_MESSAGE(st.ok(), st.message());
  f = c.footprint();
  check_matches_seen(f);
  CHECK(f.descriptor_pools == 2 * pools_one);
  ENGINE_CHECK(vkEndCommandBuffer(cmd));
  first.value().reset();
  second.value().reset();
  check_matches_seen(c.footprint());
  CHECK(c.footprint().descriptor_pools == 0);

  ctx.value().reset();
  CHECK(g_seen.wrong_allocator == 0);
  // Not a structured binding: doctest's message lambda would capture it, which clang before
  // 16 (the sanitize build's Debian clang 14) refuses.
  for (const auto& entry : g_seen.live) CHECK_MESSAGE(entry.second == 0, entry.first << ": " << entry.second << " left");
  CHECK(g_seen.memory.empty());
  CHECK(allocator.live() == expected_driver_kept(engine, report->created));
  CHECK(allocator.foreign_frees() == 0);
  engine.free(cmd);
}

TEST_CASE("Engine mode: float16 runs packed in words unless the engine says its VkDevice enables 16-bit storage") {
  // Which modules a context prepares follows Capabilities::storage_buffer_16bit: the
  // native float16 ones declare StorageBuffer16BitAccess, which the validation layer (on
  // in TestEngine) reports on a device created without the feature.
  PrepareRequest f16;
  f16.dtype = DType::f16;
  auto prepares = [&](Context& c) {
    auto prepared = c.prepare_kernels(f16);
    CHECK_MESSAGE(prepared.ok(), prepared.status().message());
    if (prepared.ok()) CHECK(prepared->created > 0);
    Status all = c.prepare_kernels(DType::f16);
    CHECK_MESSAGE(all.ok(), all.message());
  };
  {
    TestEngine engine;  // 16-bit storage not enabled, whatever the device offers
    auto ctx = Context::create_from_engine(engine.handles());
    REQUIRE(ctx.ok());
    CHECK(ctx.value()->capabilities().device_storage_buffer_16bit == engine.device_has_16bit);
    CHECK_FALSE(ctx.value()->capabilities().storage_buffer_16bit);
    prepares(*ctx.value());
    ctx.value().reset();
  }
  TestEngine engine({.storage_buffer_16bit = true});
  if (engine.device_has_16bit) {  // enabled and said so: the native modules
    EngineHandles h = engine.handles();
    h.storage_buffer_16bit_enabled = true;
    auto ctx = Context::create_from_engine(h);
    REQUIRE(ctx.ok());
    CHECK(ctx.value()->capabilities().storage_buffer_16bit);
    prepares(*ctx.value());
  }
  // A device without the feature (the override takes it away): packed, whatever the
  // engine's flag says.
  EngineHandles h = engine.handles();
  h.storage_buffer_16bit_enabled = true;
  h.capability_override.storage_buffer_16bit = false;
  auto ctx = Context::create_from_engine(h);
  REQUIRE(ctx.ok());
  CHECK_FALSE(ctx.value()->capabilities().device_storage_buffer_16bit);
  CHECK_FALSE(ctx.value()->capabilities().storage_buffer_16bit);
  prepares(*ctx.value());
  ctx.value().reset();
}

}  // namespace vknorm::test
