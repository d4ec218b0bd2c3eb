/* The Vulkan functions the tests call directly when they play an engine: volk's global
 * table (volk.h, Debian libvulkan-volk-dev), filled from the system loader opened at run
 * time, so that no test binary links libvulkan. A global table is fine here: the test
 * program is the engine. vknorm itself never uses it (it has a table per context). */
#ifndef VKNORM_TESTS_VULKAN_FUNCTIONS_H
#define VKNORM_TESTS_VULKAN_FUNCTIONS_H

#include <volk.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the loader and fills volk's table through an instance of the highest version up
 * to 1.3 that stays alive until vknorm_test_unload_vulkan(): the loader's trampolines it
 * returns serve every instance and device. Returns VK_SUCCESS, or why not (a message on
 * stderr). Call it once, at the start of main(). */
VkResult vknorm_test_load_vulkan(void);
void vknorm_test_unload_vulkan(void);

#ifdef __cplusplus
}
#endif

#endif
