#include "vulkan_functions.h"

#include <stdio.h>

static VkInstance g_instance = VK_NULL_HANDLE;

VkResult vknorm_test_load_vulkan(void) {
  VkResult r = volkInitialize();
  if (r != VK_SUCCESS) {
    fprintf(stderr, "tests: no Vulkan loader could be opened (Debian: apt-get install libvulkan1)\n");
    return r;
  }
  uint32_t version = VK_API_VERSION_1_0;
  if (vkEnumerateInstanceVersion) vkEnumerateInstanceVersion(&version);
  VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vknorm tests: volk's table";
  app.apiVersion = version < VK_API_VERSION_1_3 ? version : VK_API_VERSION_1_3;
  VkInstanceCreateInfo info = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  r = vkCreateInstance(&info, NULL, &g_instance);
  if (r != VK_SUCCESS) {
    fprintf(stderr, "tests: vkCreateInstance for volk's table failed (%d)\n", (int)r);
    return r;
  }
  volkLoadInstance(g_instance);
  return VK_SUCCESS;
}

void vknorm_test_unload_vulkan(void) {
  if (g_instance) vkDestroyInstance(g_instance, NULL);
  g_instance = VK_NULL_HANDLE;
}
