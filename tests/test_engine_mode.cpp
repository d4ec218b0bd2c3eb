// Engine mode: the test plays a game engine. It owns the instance, device, queue, command
// pool, buffers and pipeline cache; vknorm records BatchNorm into the engine's command
// buffer between the engine's own transfer commands, on sub-ranges of one engine buffer
// at offsets that are not storage-buffer aligned, and the engine submits.
#include <cstring>
#include <random>

#include "test_engine.hpp"
#include "vknorm/batchnorm.hpp"

namespace vknorm::test {

TEST_CASE("Engine mode: BatchNorm recorded into the engine's command buffer next to its own work") {
  TestEngine engine;  // Vulkan 1.1, no extension
  for (bool force_shared : {false, true}) {
    CAPTURE(force_shared);
    EngineHandles handles = engine.handles();
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
    EngineBuffer memory;
    engine.make_buffer(at, true, memory);
    const VkBuffer buffer = memory.buffer;
    auto region = [&](int i) { return reinterpret_cast<float*>(static_cast<char*>(memory.mapped) + offsets[i]); };
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

    VkCommandBuffer cmd = engine.begin();

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
    engine.submit_and_wait(cmd);

    std::vector<float> rm_ref = rm, rv_ref = rv;
    auto want = reference::batch_norm_forward(p, x, w, b, rm_ref, rv_ref);
    REQUIRE(want.ok());
    check_close(std::vector<float>(region(10), region(10) + E), want->y, 3e-5, "y (copied by the engine)");
    check_close(std::vector<float>(region(5), region(5) + C), rm_ref, 3e-5, "running_mean");
    check_close(std::vector<float>(region(6), region(6) + C), rv_ref, 3e-5, "running_var");
    check_close(std::vector<float>(region(7), region(7) + C), want->save_mean, 3e-5, "save_mean");

    recorder.value().reset();  // the GPU is done with the descriptor sets
    ctx.value().reset();       // vknorm is gone; the engine's objects must still work
    engine.free(cmd);
  }
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
  {
    TestEngine engine({.vulkan13 = true, .push_descriptor = true});
    EngineHandles handles = engine.handles();
    handles.get_device_proc_addr = &Counted::get_device_proc_addr;
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
    const VkDeviceSize region = 4096;  // x, y, w, b, rm, rv, sm, si, ws: one region each
    REQUIRE(E * 4 < region);
    REQUIRE(ws.value() < region);
    EngineBuffer memory;
    engine.make_buffer(9 * region, true, memory);
    const VkBuffer buffer = memory.buffer;
    std::mt19937 rng(9);
    std::vector<float> x = random_vector(E, rng), w(C, 1.0f), b(C, 0.0f), rm(C, 0.0f), rv(C, 1.0f);
    auto at = [&](int i) { return reinterpret_cast<float*>(static_cast<char*>(memory.mapped) + i * region); };
    std::memcpy(at(0), x.data(), E * 4);
    std::memcpy(at(2), w.data(), C * 4);
    std::memcpy(at(3), b.data(), C * 4);
    std::memcpy(at(4), rm.data(), C * 4);
    std::memcpy(at(5), rv.data(), C * 4);
    auto bref = [&](int i) { return BufferRef{buffer, i * region, region}; };

    VkCommandBuffer cmd = engine.begin();
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
    engine.submit_and_wait(cmd);
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
    engine.free(cmd);
  }
}

TEST_CASE("close_with_barrier2 is refused, naming synchronization2_enabled, where the engine did not enable it") {
  TestEngine engine;  // Vulkan 1.1, no synchronization2
  EngineHandles handles = engine.handles();
  handles.synchronization2_enabled = false;
  handles.push_descriptor_enabled = false;
  auto ctx = Context::create_from_engine(handles);
  REQUIRE(ctx.ok());
  CHECK_FALSE(ctx.value()->capabilities().synchronization2);
  CHECK_FALSE(ctx.value()->capabilities().push_descriptors);
  VkCommandBuffer cmd = engine.begin();
  auto recorder = CommandRecorder::create(*ctx.value(), cmd);
  REQUIRE(recorder.ok());
  Status s = recorder.value()->close_with_barrier2(VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_READ_BIT);
  CHECK(s.code() == StatusCode::unsupported);
  CHECK_MESSAGE(s.message().find("close_with_barrier2: needs synchronization2") == 0, s.message());
  CHECK(s.message().find("EngineHandles::synchronization2_enabled") != std::string::npos);
  ENGINE_CHECK(vkEndCommandBuffer(cmd));
  recorder.value().reset();
  ctx.value().reset();
  engine.free(cmd);
}

TEST_CASE("Engine mode refuses null handles, no vkGetInstanceProcAddr and a queue family without compute") {
  TestEngine engine;  // outlives the contexts below, as an engine's device must
  EngineHandles handles;
  auto ctx = Context::create_from_engine(handles);
  CHECK(ctx.status().code() == StatusCode::invalid_argument);
  CHECK(ctx.status().message().find("instance") != std::string::npos);
  handles.instance = engine.instance;
  handles.physical_device = engine.physical;
  handles.device = engine.device;
  handles.queue_family_index = 99;
  // Engine mode opens no loader of its own: it needs the engine's.
  ctx = Context::create_from_engine(handles);
  CHECK(ctx.status().code() == StatusCode::invalid_argument);
  CHECK(ctx.status().message().find("get_instance_proc_addr") != std::string::npos);
  handles.get_instance_proc_addr = vkGetInstanceProcAddr;
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
