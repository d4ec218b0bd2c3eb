// VkAllocationCallbacks that count, for the tests of EngineHandles / StandaloneOptions
// allocation_callbacks: what the driver and the layers allocate through them for
// vknorm's objects, and what is still live.
#pragma once

#include <vulkan/vulkan_core.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#if defined(_WIN32)
#include <malloc.h>
#endif

namespace vknorm::test {

class CountingAllocator {
 public:
  CountingAllocator() {
    callbacks_.pUserData = this;
    callbacks_.pfnAllocation = &allocate;
    callbacks_.pfnReallocation = &reallocate;
    callbacks_.pfnFree = &release;
  }
  CountingAllocator(const CountingAllocator&) = delete;
  CountingAllocator& operator=(const CountingAllocator&) = delete;

  const VkAllocationCallbacks* callbacks() const { return &callbacks_; }
  size_t live() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return sizes_.size();
  }
  uint64_t total() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return total_;
  }
  // Frees of a pointer these callbacks never returned (0 when the driver is consistent).
  uint64_t foreign_frees() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return foreign_frees_;
  }

 private:
  // C++17's std::aligned_alloc; the Windows C runtimes have none, and what their
  // _aligned_malloc returns only _aligned_free may release.
  static void* aligned_block(size_t alignment, size_t size) {
#if defined(_WIN32)
    return _aligned_malloc(size, alignment);
#else
    return std::aligned_alloc(alignment, size);
#endif
  }
  static void free_aligned_block(void* p) {
#if defined(_WIN32)
    _aligned_free(p);
#else
    std::free(p);
#endif
  }

  static CountingAllocator& self(void* user) { return *static_cast<CountingAllocator*>(user); }

  // aligned_alloc wants a size that is a multiple of the alignment (a power of two). A
  // request of 0 bytes gets a valid block, as malloc gives (drivers may ask for 0 bytes,
  // and a NULL is their out-of-memory).
  static void* VKAPI_PTR allocate(void* user, size_t size, size_t alignment, VkSystemAllocationScope) {
    alignment = alignment < sizeof(void*) ? sizeof(void*) : alignment;
    const size_t rounded = size == 0 ? alignment : (size + alignment - 1) / alignment * alignment;
    void* p = aligned_block(alignment, rounded);
    if (!p) return nullptr;
    CountingAllocator& a = self(user);
    std::lock_guard<std::mutex> lock(a.mutex_);
    a.sizes_[p] = size;
    ++a.total_;
    return p;
  }

  static void* VKAPI_PTR reallocate(void* user, void* original, size_t size, size_t alignment,
                                    VkSystemAllocationScope scope) {
    if (!original) return allocate(user, size, alignment, scope);
    if (size == 0) {
      release(user, original);
      return nullptr;
    }
    size_t old_size = 0;
    {
      CountingAllocator& a = self(user);
      std::lock_guard<std::mutex> lock(a.mutex_);
      auto it = a.sizes_.find(original);
      if (it == a.sizes_.end()) {
        ++a.foreign_frees_;
        return nullptr;
      }
      old_size = it->second;
    }
    void* p = allocate(user, size, alignment, scope);
    if (!p) return nullptr;  // the original stays valid, as the specification asks
    std::memcpy(p, original, old_size < size ? old_size : size);
    release(user, original);
    return p;
  }

  static void VKAPI_PTR release(void* user, void* memory) {
    if (!memory) return;
    CountingAllocator& a = self(user);
    {
      std::lock_guard<std::mutex> lock(a.mutex_);
      if (a.sizes_.erase(memory) == 0) {
        ++a.foreign_frees_;
        return;
      }
    }
    free_aligned_block(memory);
  }

  VkAllocationCallbacks callbacks_{};
  mutable std::mutex mutex_;
  std::unordered_map<void*, size_t> sizes_;
  uint64_t total_ = 0;
  uint64_t foreign_frees_ = 0;
};

}  // namespace vknorm::test
