#include "environment_support.hpp"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "env.hpp"
#include "vulkan_functions.h"

#if defined(_WIN32)
#include "windows_header.hpp"
#endif

namespace vknorm::test {
namespace {

constexpr const char* kLayer = "VK_LAYER_KHRONOS_validation";

std::mutex g_environment_mutex;
int g_instances_without_layer = 0;
std::vector<std::string> g_skipped_cases;  // "test case: why"

// Asked through volk's table, which main() fills before any test runs.
bool layer_installed() {
  if (!vkEnumerateInstanceLayerProperties) return false;  // no loader at all
  uint32_t count = 0;
  if (vkEnumerateInstanceLayerProperties(&count, nullptr) != VK_SUCCESS) return false;
  std::vector<VkLayerProperties> layers(count);
  if (vkEnumerateInstanceLayerProperties(&count, layers.data()) < 0) return false;
  for (uint32_t i = 0; i < count; ++i)
    if (std::strcmp(layers[i].layerName, kLayer) == 0) return true;
  return false;
}

void skip(const char* test_case, const char* why) {
  std::lock_guard<std::mutex> lock(g_environment_mutex);
  g_skipped_cases.push_back(std::string(test_case) + ": " + why);
  std::printf("[environment] skipped: %s: %s\n", test_case, why);
}

}  // namespace

bool running_without_validation_layer() {
  static const bool without = env::equals("VKNORM_TEST_ALLOW_NO_VALIDATION", "1") && !layer_installed();
  return without;
}

bool enable_validation_layer() {
  if (!running_without_validation_layer()) return true;
  std::lock_guard<std::mutex> lock(g_environment_mutex);
  ++g_instances_without_layer;
  return false;
}

bool skip_without_validation_layer(const char* test_case) {
  if (!running_without_validation_layer()) return false;
  skip(test_case, "the validation layer is not loaded");
  return true;
}

bool running_under_wine() {
#if defined(_WIN32)
  const HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  return ntdll && GetProcAddress(ntdll, "wine_get_version") != nullptr;
#else
  return false;
#endif
}

bool skip_under_wine(const char* test_case, const char* why) {
  if (!running_under_wine()) return false;
  skip(test_case, why);
  return true;
}

void print_environment_start() {
  if (running_under_wine()) std::printf("[environment] running under wine\n");
  if (running_without_validation_layer())
    std::printf("[environment] %s is not installed; VKNORM_TEST_ALLOW_NO_VALIDATION=1: the tests run without it, "
                "and skip the test cases that check its messages\n", kLayer);
}

void print_environment_end() {
  std::lock_guard<std::mutex> lock(g_environment_mutex);
  if (running_without_validation_layer())
    std::printf("[environment] Vulkan instances without %s: %d\n", kLayer, g_instances_without_layer);
  if (running_without_validation_layer() || !g_skipped_cases.empty())
    std::printf("[environment] test cases skipped (or in part): %zu\n", g_skipped_cases.size());
  for (const std::string& entry : g_skipped_cases) std::printf("[environment]   %s\n", entry.c_str());
}

}  // namespace vknorm::test
