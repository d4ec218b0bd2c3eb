/* scripts/test.sh --sanitize preloads this (LD_PRELOAD) into the processes it tests.
 *
 * The Vulkan loader dlcloses the validation layer and the driver when an instance is
 * destroyed. LeakSanitizer reports at exit, when those libraries are gone: their frames
 * then show as "<unknown module>", and scripts/lsan.supp, which names the libraries, could
 * not tell their leaks from vknorm's. Opening them once more with RTLD_NODELETE keeps
 * them mapped for the life of the process (the loader's own dlopen and dlclose then only
 * count references), so every leak is attributed to the library that made it. RTLD_LOCAL:
 * the layer exports vkGetInstanceProcAddr and friends, which must not interpose on the
 * loader's. Nothing else changes: the loader still loads and initializes them itself.
 * The loader itself too: vknorm opens and closes libvulkan.so.1 per standalone context. */
#include <dlfcn.h>

__attribute__((constructor)) static void keep_vulkan_libraries_loaded(void) {
  static const char* const libraries[] = {"libVkLayer_khronos_validation.so", "libvulkan_lvp.so", "libvulkan.so.1"};
  for (unsigned i = 0; i < sizeof libraries / sizeof libraries[0]; ++i)
    dlopen(libraries[i], RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
}
