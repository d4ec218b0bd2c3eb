#include "engine.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint validation_messages;

uint32_t engine_validation_messages(void) { return atomic_load(&validation_messages); }

/* Every message the messenger gets is a warning or an error: each one fails the run, except
 * the loader's own general messages (pMessageIdName "Loader Message"), which are about this
 * machine's driver files (an ICD json for another architecture, say) and not about how the
 * engine or vknorm use Vulkan: those are printed only. */
static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                           VkDebugUtilsMessageTypeFlagsEXT type,
                                                           const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                           void* user_data) {
  (void)user_data;
  const char* message = data && data->pMessage ? data->pMessage : "(no message)";
  if (type == VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT && data && data->pMessageIdName &&
      strcmp(data->pMessageIdName, "Loader Message") == 0) {
    fprintf(stderr, "engine_frames: loader note (not counted): %s\n", message);
    return VK_FALSE;
  }
  atomic_fetch_add(&validation_messages, 1u);
  fprintf(stderr, "engine_frames: validation %s: %s\n",
          severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning", message);
  return VK_FALSE;
}

static int has_instance_layer(const char* name) {
  uint32_t count = 0;
  if (vkEnumerateInstanceLayerProperties(&count, NULL) != VK_SUCCESS || count == 0) return 0;
  VkLayerProperties* layers = calloc(count, sizeof *layers);
  int found = 0;
  if (layers && vkEnumerateInstanceLayerProperties(&count, layers) == VK_SUCCESS)
    for (uint32_t i = 0; i < count; ++i) found |= strcmp(layers[i].layerName, name) == 0;
  free(layers);
  return found;
}

static int has_device_extension(VkPhysicalDevice physical, const char* name) {
  uint32_t count = 0;
  if (vkEnumerateDeviceExtensionProperties(physical, NULL, &count, NULL) != VK_SUCCESS || count == 0) return 0;
  VkExtensionProperties* extensions = calloc(count, sizeof *extensions);
  int found = 0;
  if (extensions && vkEnumerateDeviceExtensionProperties(physical, NULL, &count, extensions) == VK_SUCCESS)
    for (uint32_t i = 0; i < count; ++i) found |= strcmp(extensions[i].extensionName, name) == 0;
  free(extensions);
  return found;
}

static int compute_queue_family(VkPhysicalDevice physical, uint32_t* out_family) {
  uint32_t count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, NULL);
  VkQueueFamilyProperties* families = calloc(count ? count : 1, sizeof *families);
  if (!families) return 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, families);
  int found = 0;
  for (uint32_t i = 0; i < count && !found; ++i)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      *out_family = i;
      found = 1;
    }
  free(families);
  return found;
}

/* What the engine asks of a device, as one line naming whatever is missing ("" if none). */
static void missing_requirements(VkPhysicalDevice physical, char* out, size_t capacity) {
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(physical, &props);
  out[0] = '\0';
  if (props.apiVersion < VK_API_VERSION_1_3) {
    snprintf(out, capacity, "Vulkan 1.3 (it has %u.%u)", VK_API_VERSION_MAJOR(props.apiVersion),
             VK_API_VERSION_MINOR(props.apiVersion));
    return;
  }
  VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, .pNext = &f13};
  VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &f12};
  VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
  vkGetPhysicalDeviceFeatures2(physical, &features);
  const struct {
    VkBool32 has;
    const char* name;
  } needs[] = {{f12.timelineSemaphore, "timelineSemaphore"},
               {f13.synchronization2, "synchronization2"},
               {f12.bufferDeviceAddress, "bufferDeviceAddress"},
               {f11.storageBuffer16BitAccess, "storageBuffer16BitAccess"}};
  for (size_t i = 0; i < sizeof needs / sizeof needs[0]; ++i)
    if (!needs[i].has) {
      const size_t used = strlen(out);
      snprintf(out + used, capacity - used, "%s%s", used ? ", " : "", needs[i].name);
    }
  uint32_t family;
  if (!compute_queue_family(physical, &family)) {
    const size_t used = strlen(out);
    snprintf(out + used, capacity - used, "%sa compute queue", used ? ", " : "");
  }
}

static int create_instance(engine* e) {
  uint32_t version = 0;
  if (vkEnumerateInstanceVersion(&version) != VK_SUCCESS || version < VK_API_VERSION_1_3) {
    fprintf(stderr, "engine_frames: the Vulkan loader is %u.%u; this engine needs an instance of Vulkan 1.3\n",
            VK_API_VERSION_MAJOR(version), VK_API_VERSION_MINOR(version));
    return -1;
  }
  const char* layer = "VK_LAYER_KHRONOS_validation";
  const char* extension = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  if (e->validation && !has_instance_layer(layer)) {
    fprintf(stderr,
            "engine_frames: the Khronos validation layer (%s) is not installed; install it (Debian/Ubuntu: "
            "vulkan-validationlayers) or run with --no-validation\n",
            layer);
    return -1;
  }
  /* Messages from vkCreateInstance / vkDestroyInstance reach this one; the messenger
   * created below gets the rest. */
  VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
      .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
      .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
      .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
      .pfnUserCallback = on_validation_message};
  const VkValidationFeatureEnableEXT sync_validation = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT validation_features = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                                 .pNext = &messenger_info,
                                                 .enabledValidationFeatureCount = 1,
                                                 .pEnabledValidationFeatures = &sync_validation};
  VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                           .pApplicationName = "engine_frames",
                           .pEngineName = "engine_frames",
                           .apiVersion = VK_API_VERSION_1_3};
  VkInstanceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pNext = e->validation ? &validation_features : NULL,
                               .pApplicationInfo = &app,
                               .enabledLayerCount = e->validation ? 1 : 0,
                               .ppEnabledLayerNames = &layer,
                               .enabledExtensionCount = e->validation ? 1 : 0,
                               .ppEnabledExtensionNames = &extension};
  VkResult r = vkCreateInstance(&info, NULL, &e->instance);
  if (r != VK_SUCCESS) {
    fprintf(stderr, "engine_frames: vkCreateInstance (Vulkan 1.3%s) returned VkResult %d\n",
            e->validation ? ", validation layer" : "", (int)r);
    e->instance = VK_NULL_HANDLE;
    return -1;
  }
  if (e->validation) {
    PFN_vkCreateDebugUtilsMessengerEXT create =
        (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(e->instance, "vkCreateDebugUtilsMessengerEXT");
    if (!create || create(e->instance, &messenger_info, NULL, &e->messenger) != VK_SUCCESS) {
      fprintf(stderr, "engine_frames: cannot create the debug messenger (VK_EXT_debug_utils)\n");
      return -1;
    }
  }
  return 0;
}

static int pick_device(engine* e, int64_t device_index) {
  uint32_t count = 0;
  if (vkEnumeratePhysicalDevices(e->instance, &count, NULL) != VK_SUCCESS || count == 0) {
    fprintf(stderr, "engine_frames: no Vulkan device\n");
    return -1;
  }
  VkPhysicalDevice* physicals = calloc(count, sizeof *physicals);
  if (!physicals || vkEnumeratePhysicalDevices(e->instance, &count, physicals) != VK_SUCCESS) {
    free(physicals);
    fprintf(stderr, "engine_frames: vkEnumeratePhysicalDevices failed\n");
    return -1;
  }
  if (device_index >= (int64_t)count) {
    fprintf(stderr, "engine_frames: --device %lld: there are %u devices (0..%u)\n", (long long)device_index, count,
            count - 1);
    free(physicals);
    return -1;
  }
  int result = -1;
  for (uint32_t i = 0; i < count; ++i) {
    if (device_index >= 0 && (int64_t)i != device_index) continue;
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physicals[i], &props);
    char missing[256];
    missing_requirements(physicals[i], missing, sizeof missing);
    if (missing[0]) {
      fprintf(stderr, "engine_frames: device %u (%s) lacks what this engine needs: %s\n", i, props.deviceName, missing);
      continue;
    }
    e->physical = physicals[i];
    compute_queue_family(e->physical, &e->queue_family);
    snprintf(e->device_name, sizeof e->device_name, "%s", props.deviceName);
    result = 0;
    break;
  }
  free(physicals);
  if (result != 0) fprintf(stderr, "engine_frames: no device has Vulkan 1.3 with the features above\n");
  return result;
}

static int create_device(engine* e) {
  /* What the engine's renderer enables; vknorm is told about 16-bit storage through
   * vknorm_engine_handles.storage_buffer_16bit_enabled. */
  VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
                                          .synchronization2 = VK_TRUE};
  VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                          .pNext = &f13,
                                          .timelineSemaphore = VK_TRUE,
                                          .bufferDeviceAddress = VK_TRUE};
  VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                          .pNext = &f12,
                                          .storageBuffer16BitAccess = VK_TRUE};
  e->push_descriptor = e->want_push_descriptor && has_device_extension(e->physical, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  const char* extension = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                        .queueFamilyIndex = e->queue_family,
                                        .queueCount = 1,
                                        .pQueuePriorities = &priority};
  VkDeviceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                             .pNext = &f11,
                             .queueCreateInfoCount = 1,
                             .pQueueCreateInfos = &queue_info,
                             .enabledExtensionCount = e->push_descriptor ? 1 : 0,
                             .ppEnabledExtensionNames = &extension};
  VkResult r = vkCreateDevice(e->physical, &info, NULL, &e->device);
  if (r != VK_SUCCESS) {
    fprintf(stderr, "engine_frames: vkCreateDevice returned VkResult %d\n", (int)r);
    e->device = VK_NULL_HANDLE;
    return -1;
  }
  vkGetDeviceQueue(e->device, e->queue_family, 0, &e->queue);
  return 0;
}

int engine_create(engine* e, int64_t device_index, int validation, int push_descriptors) {
  memset(e, 0, sizeof *e);
  e->validation = validation;
  e->want_push_descriptor = push_descriptors;
  if (create_instance(e) != 0 || pick_device(e, device_index) != 0 || create_device(e) != 0) return -1;
  return 0;
}

void engine_destroy(engine* e) {
  if (e->device) vkDestroyDevice(e->device, NULL);
  if (e->messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT destroy =
        (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(e->instance, "vkDestroyDebugUtilsMessengerEXT");
    if (destroy) destroy(e->instance, e->messenger, NULL);
  }
  if (e->instance) vkDestroyInstance(e->instance, NULL);
  memset(e, 0, sizeof *e);
}

VkDeviceSize arena_reserve(arena* a, VkDeviceSize bytes) {
  const VkDeviceSize offset = (a->size + 15) / 16 * 16 + 4;
  assert(offset % 4 == 0 && offset % 16 != 0);
  a->size = offset + (bytes ? bytes : 4);
  ++a->ranges;
  return offset;
}

int arena_create(arena* a, const engine* e) {
  /* Shader device addresses because an engine with bufferDeviceAddress puts them on its
   * arenas; vknorm itself only needs storage buffers. */
  VkBufferCreateInfo buffer_info = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                                    .size = a->size,
                                    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                             VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT,
                                    .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
  VkResult r = vkCreateBuffer(e->device, &buffer_info, NULL, &a->buffer);
  if (r != VK_SUCCESS) {
    fprintf(stderr, "engine_frames: vkCreateBuffer (%llu bytes) returned VkResult %d\n", (unsigned long long)a->size,
            (int)r);
    a->buffer = VK_NULL_HANDLE;
    return -1;
  }
  VkMemoryRequirements needs;
  vkGetBufferMemoryRequirements(e->device, a->buffer, &needs);
  VkPhysicalDeviceMemoryProperties memory;
  vkGetPhysicalDeviceMemoryProperties(e->physical, &memory);
  const VkMemoryPropertyFlags wanted = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint32_t type = 0;
  while (type < memory.memoryTypeCount &&
         (!(needs.memoryTypeBits & (1u << type)) || (memory.memoryTypes[type].propertyFlags & wanted) != wanted))
    ++type;
  if (type == memory.memoryTypeCount) {
    fprintf(stderr, "engine_frames: the device has no host-visible, host-coherent memory for storage buffers\n");
    return -1;
  }
  VkMemoryAllocateFlagsInfo flags = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                                     .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT};
  VkMemoryAllocateInfo allocate = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                   .pNext = &flags,
                                   .allocationSize = needs.size,
                                   .memoryTypeIndex = type};
  r = vkAllocateMemory(e->device, &allocate, NULL, &a->memory);
  if (r != VK_SUCCESS) {
    fprintf(stderr, "engine_frames: vkAllocateMemory (%llu bytes) returned VkResult %d\n",
            (unsigned long long)needs.size, (int)r);
    a->memory = VK_NULL_HANDLE;
    return -1;
  }
  /* The whole buffer at offset 0, so a range's buffer offset is its offset in the block. */
  if ((r = vkBindBufferMemory(e->device, a->buffer, a->memory, 0)) != VK_SUCCESS ||
      (r = vkMapMemory(e->device, a->memory, 0, VK_WHOLE_SIZE, 0, (void**)&a->mapped)) != VK_SUCCESS) {
    fprintf(stderr, "engine_frames: binding or mapping the memory block returned VkResult %d\n", (int)r);
    return -1;
  }
  return 0;
}

void arena_destroy(arena* a, const engine* e) {
  if (a->buffer) vkDestroyBuffer(e->device, a->buffer, NULL);
  if (a->memory) vkFreeMemory(e->device, a->memory, NULL); /* unmaps it */
  memset(a, 0, sizeof *a);
}
