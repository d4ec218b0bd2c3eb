// Run-time loading of Vulkan (src/vk/loader.cpp): a standalone context opens the loader
// library itself and reports a missing one clearly; every context has its own function
// table, so two contexts with different tables work side by side in one process.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "gpu_support.hpp"
#include "vknorm/layernorm.hpp"
#include "vulkan_functions.h"

namespace vknorm::test {

TEST_CASE("Standalone mode: a Vulkan loader that cannot be opened gives a Status naming the file") {
  const char* missing = "/nonexistent/vknorm-test/libvulkan-missing.so.1";
  StandaloneOptions options;
  options.vulkan_loader = missing;
  auto ctx = Context::create_standalone(options);
  REQUIRE_FALSE(ctx.ok());
  CHECK(ctx.status().code() == StatusCode::unsupported);
  const std::string& message = ctx.status().message();
  CHECK_MESSAGE(message.find(missing) != std::string::npos, message);
  CHECK_MESSAGE(message.find("vulkan_loader") != std::string::npos, message);
#if defined(__linux__)
  CHECK_MESSAGE(message.find("apt-get install libvulkan1") != std::string::npos, message);
#endif
  // A library that is no Vulkan loader is refused as well, by name.
#if defined(__linux__)
  options.vulkan_loader = "libc.so.6";
  ctx = Context::create_standalone(options);
  REQUIRE_FALSE(ctx.ok());
  CHECK_MESSAGE(ctx.status().message().find("libc.so.6 has no vkGetInstanceProcAddr") != std::string::npos,
                ctx.status().message());
#endif
}

namespace {

// A tracer's vkGetInstanceProcAddr: counts its own calls and every vkQueueSubmit made
// through the functions it handed out. Only the context created with it may move them.
std::atomic<int> g_lookups{0}, g_submits{0};
PFN_vkGetDeviceProcAddr g_real_gdpa = nullptr;
PFN_vkQueueSubmit g_real_submit = nullptr;

VKAPI_ATTR VkResult VKAPI_CALL counting_queue_submit(VkQueue queue, uint32_t count, const VkSubmitInfo* submits,
                                                     VkFence fence) {
  ++g_submits;
  return g_real_submit(queue, count, submits, fence);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL counting_get_device_proc_addr(VkDevice device, const char* name) {
  if (std::strcmp(name, "vkQueueSubmit") == 0) {
    g_real_submit = reinterpret_cast<PFN_vkQueueSubmit>(g_real_gdpa(device, name));
    return reinterpret_cast<PFN_vkVoidFunction>(&counting_queue_submit);
  }
  return g_real_gdpa(device, name);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL counting_get_instance_proc_addr(VkInstance instance, const char* name) {
  ++g_lookups;
  // volk's table: the loader the test program (the "engine") opened for itself.
  if (std::strcmp(name, "vkGetDeviceProcAddr") == 0) {
    g_real_gdpa = reinterpret_cast<PFN_vkGetDeviceProcAddr>(vkGetInstanceProcAddr(instance, name));
    return reinterpret_cast<PFN_vkVoidFunction>(&counting_get_device_proc_addr);
  }
  return vkGetInstanceProcAddr(instance, name);
}

}  // namespace

TEST_CASE("Two standalone contexts with different function tables run side by side") {
  REQUIRE(static_cast<bool>(vkGetInstanceProcAddr));  // volk's table, loaded in main()
  g_lookups = 0;
  g_submits = 0;
  StandaloneOptions plain_options;  // opens the system loader itself
  plain_options.descriptor_path = test_descriptor_path();
  OwnContext plain(plain_options);
  CHECK(g_lookups == 0);
  StandaloneOptions traced_options = plain_options;
  traced_options.get_instance_proc_addr = counting_get_instance_proc_addr;
  // Ignored: get_instance_proc_addr wins and no library is opened.
  traced_options.vulkan_loader = "/nonexistent/libvulkan.so.1";
  OwnContext traced(traced_options);
  CHECK(g_lookups > 0);
  REQUIRE(static_cast<bool>(g_real_submit));

  LayerNormParams p;
  p.shape = {3, 40};
  p.normalized_shape = {40};
  std::vector<float> x(120), weight(40), bias(40);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 23) * 0.25f - 2.0f;
  for (size_t i = 0; i < weight.size(); ++i) {
    weight[i] = 1.0f + 0.01f * static_cast<float>(i);
    bias[i] = 0.1f * static_cast<float>(i % 5);
  }
  auto want = reference::layer_norm_forward(p, x, weight, bias);
  REQUIRE(want.ok());
  // Alternately: the plain context's submits never reach the tracer; the traced one's do.
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    const int lookups = g_lookups.load(), submits = g_submits.load();
    auto y_plain = layer_norm_forward(*plain, p, x, weight, bias);
    REQUIRE_MESSAGE(y_plain.ok(), y_plain.status().message());
    CHECK(g_submits == submits);
    check_close(y_plain->y, want->y, 1e-5, "plain context");
    auto y_traced = layer_norm_forward(*traced, p, x, weight, bias);
    REQUIRE_MESSAGE(y_traced.ok(), y_traced.status().message());
    CHECK(g_submits > submits);
    check_close(y_traced->y, want->y, 1e-5, "traced context");
    CHECK(y_plain->y == y_traced->y);
    CHECK(g_lookups == lookups);  // functions are looked up at creation, not per call
  }
}

}  // namespace vknorm::test
