// Shared by the recorder tests: LayerNorm forward calls on host-visible buffers of a
// standalone context, and the command pool a test records secondary command buffers from.
#pragma once

#include <cstring>
#include <random>

#include "context_state.hpp"
#include "vulkan_functions.h"
#include "gpu_support.hpp"
#include "ops/norm_engine.hpp"
#include "ops/norm_kinds.hpp"
#include "vknorm/layernorm.hpp"

namespace vknorm::test {

// One LayerNorm forward's buffers (x, y, weight, bias, saved statistics, workspace),
// filled with inputs from `seed`; `workspace` may be another call's.
struct LayerNormCall {
  LayerNormParams params;
  std::vector<float> x, w, b;
  Buffer bx, by, bw, bb, bmean, binvstd, bws;

  LayerNormCall(Context& ctx, std::vector<int64_t> shape, uint32_t seed) {
    params.shape = shape;
    params.normalized_shape = {shape.back()};
    const size_t n = product(shape), d = static_cast<size_t>(shape.back()), rows = n / d;
    std::mt19937 rng(seed);
    x = random_vector(n, rng, 1.0f, 2.0f);
    w = random_vector(d, rng, 1.0f, 0.5f);
    b = random_vector(d, rng);
    bx = make(ctx, n, x.data());
    by = make(ctx, n, nullptr);
    bw = make(ctx, d, w.data());
    bb = make(ctx, d, b.data());
    bmean = make(ctx, rows, nullptr);
    binvstd = make(ctx, rows, nullptr);
    // Room for the split passes (record(..., split)), whatever the rules would plan: for
    // LayerNorm, whose rules never need more (no column view; other kinds may).
    auto ws = plan_workspace_bytes(ctx.capabilities(), plan_norm(params).value(), {.split = true});
    REQUIRE(ws.ok());
    bws = make(ctx, ws.value() / 4, nullptr);
  }

  static Buffer make(Context& ctx, size_t floats, const float* data) {
    auto made = ctx.create_buffer(std::max<size_t>(floats, 1) * 4);
    REQUIRE(made.ok());
    if (data) std::memcpy(made->data(), data, floats * 4);
    else std::memset(made->data(), 0, floats * 4);
    return std::move(made.value());
  }

  NormForwardBuffers buffers(const Buffer* workspace = nullptr) const {
    NormForwardBuffers f;
    f.x = ref(bx);
    f.y = ref(by);
    f.weight = ref(bw);
    f.bias = ref(bb);
    f.save_mean = ref(bmean);
    f.save_invstd = ref(binvstd);
    f.workspace = ref(workspace ? *workspace : bws);
    return f;
  }

  Status record(CommandRecorder& rec, const Buffer* workspace = nullptr, bool split = false) const {
    auto plan = plan_norm(params);
    if (!plan) return plan.status();
    return record_norm_forward(rec, plan.value(), buffers(workspace), {.split = split}, kAllPhases);
  }

  std::vector<float> y() const { return std::vector<float>(by.as<float>(), by.as<float>() + x.size()); }

  void check(const std::string& what) const {
    auto want = reference::layer_norm_forward(params, x, w, b);
    REQUIRE(want.ok());
    check_close(y(), want->y, 3e-5, what);
  }
};

// A command pool on the context's queue family, for the test's own command buffers.
struct TestCommandPool {
  VkDevice device;
  VkCommandPool pool = VK_NULL_HANDLE;

  explicit TestCommandPool(Context& ctx) : device(ctx.device()) {
    VkCommandPoolCreateInfo info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    info.queueFamilyIndex = state_of(ctx).queue_family;
    REQUIRE(vkCreateCommandPool(device, &info, nullptr, &pool) == VK_SUCCESS);
  }
  ~TestCommandPool() { vkDestroyCommandPool(device, pool, nullptr); }

  VkCommandBuffer allocate(VkCommandBufferLevel level) {
    VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = pool;
    alloc.level = level;
    alloc.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    REQUIRE(vkAllocateCommandBuffers(device, &alloc, &cmd) == VK_SUCCESS);
    return cmd;
  }

  // Begins a secondary command buffer used outside any render pass.
  static void begin_secondary(VkCommandBuffer cmd) {
    VkCommandBufferInheritanceInfo inheritance{VK_STRUCTURE_TYPE_COMMAND_BUFFER_INHERITANCE_INFO};
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    begin.pInheritanceInfo = &inheritance;
    REQUIRE(vkBeginCommandBuffer(cmd, &begin) == VK_SUCCESS);
  }
};

// Records into a primary from begin_commands() what `fill` records, and submits it.
template <class Fill>
void submit_primary(Context& ctx, Fill fill) {
  auto primary = ctx.begin_commands();
  REQUIRE(primary.ok());
  fill(primary.value()->command_buffer());
  Status s = ctx.submit_and_wait(*primary.value());
  REQUIRE_MESSAGE(s.ok(), s.message());
}

}  // namespace vknorm::test
