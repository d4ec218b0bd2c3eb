/* The "engine": what a game engine owns before it loads an ML plugin. Its own Vulkan 1.3
 * instance (with the Khronos validation layer, synchronization validation on, and a
 * messenger that counts every warning and error), its own device with the features its
 * renderer uses, one compute queue, and one memory block that it sub-allocates itself. */
#ifndef ENGINE_FRAMES_ENGINE_H
#define ENGINE_FRAMES_ENGINE_H

#include <stdint.h>

#include <vulkan/vulkan_core.h>

typedef struct engine {
  VkInstance instance;
  VkDebugUtilsMessengerEXT messenger;
  VkPhysicalDevice physical;
  VkDevice device;
  uint32_t queue_family;
  VkQueue queue;
  int validation;      /* the validation layer is on */
  int push_descriptor; /* VK_KHR_push_descriptor is enabled (the device offers it) */
  int want_push_descriptor; /* engine_create's push_descriptors */
  char device_name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
} engine;

/* device_index -1: the first device with everything the engine needs. Returns 0, or
 * prints why and returns -1 (after which engine_destroy is still safe). */
/* push_descriptors 0: the device is made without VK_KHR_push_descriptor even where it is
 * offered (vknorm then writes descriptor sets from one pool per recorder). */
int engine_create(engine* e, int64_t device_index, int validation, int push_descriptors);
void engine_destroy(engine* e);
/* Validation messages (warnings and errors) so far, from any thread. */
uint32_t engine_validation_messages(void);

/* One host-visible, host-coherent VkDeviceMemory block behind one storage buffer, handed
 * out in ranges. Ranges are planned first (arena_reserve) and the block is created once
 * (arena_create), like an engine's frame allocator. */
typedef struct arena {
  VkBuffer buffer;
  VkDeviceMemory memory;
  unsigned char* mapped;
  VkDeviceSize size;
  uint32_t ranges; /* handed out so far */
} arena;

/* The next range's offset: a multiple of 4 that is deliberately NOT a multiple of 16, so
 * that no range is aligned the way minStorageBufferOffsetAlignment asks of a descriptor. */
VkDeviceSize arena_reserve(arena* a, VkDeviceSize bytes);
int arena_create(arena* a, const engine* e);
void arena_destroy(arena* a, const engine* e);

#endif
