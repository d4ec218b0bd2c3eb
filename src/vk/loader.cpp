#include "vk/loader.hpp"

#include <string>
#include <utility>

#if defined(_WIN32)
#include "windows_header.hpp"
#else
#include <dlfcn.h>
#endif

namespace vknorm::vk {

namespace {

// What to do about a loader that could not be opened, per platform.
constexpr const char* kInstallHint =
#if defined(_WIN32)
    "install a Vulkan driver (it brings vulkan-1.dll) or the Vulkan runtime";
#elif defined(__APPLE__)
    "install the Vulkan SDK or MoltenVK with the Vulkan loader";
#else
    "install the Vulkan loader (Debian: apt-get install libvulkan1) and a driver";
#endif

void* open_library(const char* file, std::string& error) {
#if defined(_WIN32)
  HMODULE module = LoadLibraryA(file);
  if (!module) error = "LoadLibraryA error " + std::to_string(static_cast<unsigned long>(GetLastError()));
  return reinterpret_cast<void*>(module);
#else
  void* handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    error = e ? e : "dlopen failed";
  }
  return handle;
#endif
}

PFN_vkGetInstanceProcAddr find_get_instance_proc_addr(void* handle) {
#if defined(_WIN32)
  FARPROC proc = GetProcAddress(reinterpret_cast<HMODULE>(handle), "vkGetInstanceProcAddr");
  // Through void(*)(), which any function pointer may be cast to without a warning.
  return reinterpret_cast<PFN_vkGetInstanceProcAddr>(reinterpret_cast<void (*)()>(proc));
#else
  return reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(handle, "vkGetInstanceProcAddr"));
#endif
}

void close_library(void* handle) {
#if defined(_WIN32)
  FreeLibrary(reinterpret_cast<HMODULE>(handle));
#else
  dlclose(handle);
#endif
}

}  // namespace

const char* default_loader_file() {
#if defined(_WIN32)
  return "vulkan-1.dll";
#elif defined(__APPLE__)
  return "libvulkan.1.dylib";
#else
  return "libvulkan.so.1";
#endif
}

LoaderLibrary::LoaderLibrary(LoaderLibrary&& other) noexcept { *this = std::move(other); }

LoaderLibrary& LoaderLibrary::operator=(LoaderLibrary&& other) noexcept {
  if (this != &other) {
    close();
    handle_ = std::exchange(other.handle_, nullptr);
    get_instance_proc_addr_ = std::exchange(other.get_instance_proc_addr_, nullptr);
  }
  return *this;
}

Result<LoaderLibrary> LoaderLibrary::open(const char* file) {
  const bool named = file && *file;
  const char* path = named ? file : default_loader_file();
  std::string error;
  LoaderLibrary library;
  library.handle_ = open_library(path, error);
  if (!library.handle_)
    return Status::unsupported(std::string(named ? "vulkan_loader: " : "") + "the Vulkan loader " + path +
                               " could not be opened (" + error + "); " + kInstallHint +
                               (named ? "" : ", or name a loader in StandaloneOptions::vulkan_loader"));
  library.get_instance_proc_addr_ = find_get_instance_proc_addr(library.handle_);
  if (!library.get_instance_proc_addr_)
    return Status::unsupported(std::string("the Vulkan loader ") + path +
                               " has no vkGetInstanceProcAddr: expected a Vulkan loader library");
  return library;
}

void LoaderLibrary::close() {
  if (handle_) close_library(handle_);
  handle_ = nullptr;
  get_instance_proc_addr_ = nullptr;
}

}  // namespace vknorm::vk
