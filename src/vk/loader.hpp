// The system's Vulkan loader, opened at run time (standalone mode only): vknorm links
// nothing from libvulkan, so an engine's own loader or function table never clashes with
// one of vknorm's, and a machine without Vulkan still loads the library and gets a Status.
#pragma once

#include <vulkan/vulkan_core.h>

#include "vknorm/status.hpp"

namespace vknorm::vk {

// The file opened when none is named: libvulkan.so.1, vulkan-1.dll or libvulkan.1.dylib.
const char* default_loader_file();

// One opened loader library; closing it (destruction) must follow vkDestroyInstance of
// every instance created through it. Move-only; owned by a Context (or by list_devices()
// for its temporary instance), never global.
class LoaderLibrary {
 public:
  LoaderLibrary() = default;
  LoaderLibrary(LoaderLibrary&& other) noexcept;
  LoaderLibrary& operator=(LoaderLibrary&& other) noexcept;
  LoaderLibrary(const LoaderLibrary&) = delete;
  LoaderLibrary& operator=(const LoaderLibrary&) = delete;
  ~LoaderLibrary() { close(); }

  // Opens `file` (null or empty: default_loader_file()) and finds its
  // vkGetInstanceProcAddr; the Status names the file and, on Linux, the Debian package.
  static Result<LoaderLibrary> open(const char* file);

  PFN_vkGetInstanceProcAddr get_instance_proc_addr() const { return get_instance_proc_addr_; }
  bool is_open() const { return handle_ != nullptr; }
  void close();

 private:
  void* handle_ = nullptr;  // a dlopen handle, or the HMODULE on Windows
  PFN_vkGetInstanceProcAddr get_instance_proc_addr_ = nullptr;
};

}  // namespace vknorm::vk
