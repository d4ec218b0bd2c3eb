/* vknorm's C API: the whole C++ API (the C++ headers in include/vknorm) behind plain C types, for
 * callers that need a stable C ABI (game-engine plugins, other languages' FFI).
 *
 * Conventions
 *  - Every call that can fail returns a vknorm_status; VKNORM_STATUS_OK is 0. No C++
 *    exception ever leaves a vknorm_* function.
 *  - On failure the message (naming the bad argument, with PyTorch's words where PyTorch
 *    refuses the same input) is kept in two places:
 *      vknorm_last_error()             thread-local: the calling thread's last failure,
 *                                      also for calls without a context (creation, listing);
 *      vknorm_context_last_error(ctx)  the last failure of any call on that context.
 *    Successful calls leave both unchanged (like errno).
 *  - A required pointer that is NULL gives VKNORM_STATUS_INVALID_ARGUMENT and a message
 *    naming the function and the argument.
 *  - Structs with defaults have a vknorm_<struct>_init() that fills them (PyTorch's
 *    defaults for the params); call it, then set the fields you need. Flags are int:
 *    0 is false, anything else true.
 *  - Handles are opaque. Destroy buffers and recorders before their context, and an
 *    engine-mode context before the engine's VkDevice. vknorm_*_destroy(NULL) is a no-op.
 *  - Threads: one context may be used from several threads; a recorder by one thread at
 *    a time (like its VkCommandBuffer).
 */
#ifndef VKNORM_VKNORM_H
#define VKNORM_VKNORM_H

#include <stddef.h>
#include <stdint.h>

#include <vulkan/vulkan_core.h>

#ifndef VKNORM_API
#if defined(__GNUC__) && !defined(_WIN32)
#define VKNORM_API __attribute__((visibility("default")))
#else
#define VKNORM_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when this header changes incompatibly; compare with vknorm_c_api_version(). */
/* 2: fields added to vknorm_capabilities, the options and the handles; 3: vulkan_loader added
 * to vknorm_standalone_options, and engine handles need get_instance_proc_addr */
#define VKNORM_C_API_VERSION 3
VKNORM_API uint32_t vknorm_c_api_version(void);

/* ---- Status and errors ---------------------------------------------------------- */

/* Mirrors vknorm::StatusCode. */
typedef enum vknorm_status {
  VKNORM_STATUS_OK = 0,
  VKNORM_STATUS_INVALID_ARGUMENT = 1, /* a caller's argument is wrong; the message names it */
  VKNORM_STATUS_UNSUPPORTED = 2,      /* the device lacks what the call needs */
  VKNORM_STATUS_VULKAN_ERROR = 3,     /* a Vulkan call failed; see the *_last_vk_result() */
  VKNORM_STATUS_OUT_OF_MEMORY = 4,
  VKNORM_STATUS_INTERNAL = 5,
  VKNORM_STATUS_MAX_ENUM = 0x7FFFFFFF
} vknorm_status;

/* "ok", "invalid argument", ...; never NULL. */
VKNORM_API const char* vknorm_status_string(vknorm_status status);

/* The calling thread's last failure: its message ("" if none yet) and, for
 * VKNORM_STATUS_VULKAN_ERROR, the VkResult (else VK_SUCCESS). The string stays valid until
 * the thread's next failing vknorm call. */
VKNORM_API const char* vknorm_last_error(void);
VKNORM_API VkResult vknorm_last_vk_result(void);

/* ---- Handles ------------------------------------------------------------------------ */

typedef struct vknorm_context vknorm_context;   /* one device, its capabilities and kernels */
typedef struct vknorm_recorder vknorm_recorder; /* records into one VkCommandBuffer */
typedef struct vknorm_buffer vknorm_buffer;     /* a standalone context's host-visible buffer */

/* ---- Tensor storage ------------------------------------------------------------- */

/* Device storage of x, y, dy, dx, residual, dresidual; host arrays are always float32
 * in PyTorch's logical (N, C, *) order. */
typedef enum vknorm_layout {
  VKNORM_LAYOUT_NCHW = 0, /* contiguous (N, C, *) */
  VKNORM_LAYOUT_NHWC = 1, /* channels last (N, *, C) */
  VKNORM_LAYOUT_MAX_ENUM = 0x7FFFFFFF
} vknorm_layout;

typedef enum vknorm_dtype {
  VKNORM_DTYPE_F32 = 0,
  VKNORM_DTYPE_F16 = 1, /* 16-bit tensors; statistics and parameters stay float32 */
  VKNORM_DTYPE_MAX_ENUM = 0x7FFFFFFF
} vknorm_dtype;

/* ---- Capabilities ----------------------------------------------------------------- */

typedef enum vknorm_reduction_path {
  VKNORM_REDUCTION_SUBGROUP = 0,      /* subgroupAdd, shared memory across subgroups */
  VKNORM_REDUCTION_SHARED_MEMORY = 1, /* a shared-memory tree, no subgroup operations */
  VKNORM_REDUCTION_MAX_ENUM = 0x7FFFFFFF
} vknorm_reduction_path;

/* Mirrors vknorm::Capabilities; strings are copied (truncated to fit, NUL-terminated). */
typedef struct vknorm_capabilities {
  char device_name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  VkPhysicalDeviceType device_type;
  uint32_t api_version;
  uint32_t subgroup_size;
  uint32_t min_subgroup_size;
  uint32_t max_subgroup_size;
  int subgroup_arithmetic; /* ARITHMETIC supported in the compute stage */
  int subgroup_size_control;
  uint32_t max_shared_memory;
  uint32_t max_workgroup_invocations;
  uint32_t max_workgroup_size_x;
  uint32_t max_workgroup_count_x;
  uint32_t max_workgroup_count_y;
  uint64_t max_storage_buffer_range;
  uint64_t min_storage_buffer_offset_alignment;
  int storage_buffer_16bit;
  int timestamps;
  float timestamp_period_ns;
  vknorm_reduction_path reduction_path;
  char reduction_reason[256]; /* why that path was chosen */
  /* Identification; the driver fields are 0 / "" on drivers without
   * VkPhysicalDeviceDriverProperties (before Vulkan 1.2 or VK_KHR_driver_properties). */
  uint32_t vendor_id;
  uint32_t device_id;
  uint32_t driver_version; /* raw VkPhysicalDeviceProperties::driverVersion */
  VkDriverId driver_id;
  char driver_name[VK_MAX_DRIVER_NAME_SIZE];
  char driver_info[VK_MAX_DRIVER_INFO_SIZE];
  /* VkPhysicalDeviceSubgroupProperties (ARITHMETIC cleared when the override disables it). */
  VkSubgroupFeatureFlags subgroup_operations;
  VkShaderStageFlags subgroup_stages;
  uint32_t workgroup_size; /* every kernel's workgroup size on this device */
  uint32_t host_threads;   /* CPU implementations: the host threads its workgroups run on; else 1 */
  /* The device offers storageBuffer16BitAccess (storage_buffer_16bit above: and this
   * context may use it, which in engine mode also needs
   * vknorm_engine_handles.storage_buffer_16bit_enabled). */
  int device_storage_buffer_16bit;
  /* How this context records (0 in vknorm_list_devices): push_descriptors 1, dispatches
   * push their descriptors and recorders hold no descriptor pool; 0, each recorder writes
   * sets from the one pool it creates (vknorm_recorder_options.descriptor_capacity).
   * synchronization2: vknorm_recorder_close_with_barrier2 works. */
  int push_descriptors;
  int synchronization2;
} vknorm_capabilities;

VKNORM_API const char* vknorm_reduction_path_string(vknorm_reduction_path path);

typedef struct vknorm_device_info {
  uint32_t index; /* in vkEnumeratePhysicalDevices order: vknorm_standalone_options.device_index */
  vknorm_capabilities caps;
  int usable;     /* Vulkan 1.1 or later with a compute queue: vknorm can run there */
  int is_default; /* the device a standalone context picks when device_index is -1 */
} vknorm_device_info;

/* Lists the Vulkan devices in enumeration order. *count receives how many there are; the
 * first min(capacity, *count) are written to devices (NULL is fine when capacity is 0). */
VKNORM_API vknorm_status vknorm_list_devices(vknorm_device_info* devices, uint32_t capacity, uint32_t* count);

/* ---- Contexts ------------------------------------------------------------------------ */

/* Tri-state for the boolean capability overrides. */
#define VKNORM_UNSET (-1)

/* Makes the device look more limited than it is (for example to run the shared-memory
 * path on a device with subgroup arithmetic). Unset fields keep the device's value. */
typedef struct vknorm_capability_override {
  int32_t subgroup_arithmetic;        /* VKNORM_UNSET, or 0 to force the shared-memory tree */
  int32_t storage_buffer_16bit;       /* VKNORM_UNSET, or 0 to pack float16 in 32-bit words */
  uint32_t max_shared_memory;         /* bytes; 0: unset */
  uint32_t max_workgroup_invocations; /* 0: unset */
  uint32_t max_workgroup_count;       /* maxComputeWorkGroupCount[0] and [1]; 0: unset */
  uint64_t max_storage_buffer_range;  /* bytes; 0: unset */
} vknorm_capability_override;

VKNORM_API void vknorm_capability_override_init(vknorm_capability_override* over);

/* Gets every validation-layer message; it may be called from any thread that uses the
 * context, concurrently. */
typedef void (*vknorm_debug_callback)(const char* message, void* user_data);

/* How dispatches get their descriptors (vknorm_capabilities.push_descriptors). */
typedef enum vknorm_descriptor_path {
  VKNORM_DESCRIPTOR_PATH_AUTOMATIC = 0, /* push descriptors where VK_KHR_push_descriptor is enabled */
  VKNORM_DESCRIPTOR_PATH_POOL = 1,      /* always sets from the recorder's pool */
  VKNORM_DESCRIPTOR_PATH_MAX_ENUM = 0x7FFFFFFF
} vknorm_descriptor_path;

typedef struct vknorm_standalone_options {
  int64_t device_index;  /* -1: vknorm picks (a GPU before lavapipe); else vknorm_device_info.index */
  int enable_validation; /* Khronos validation + synchronization validation */
  vknorm_debug_callback debug_callback; /* NULL: messages go to stderr */
  void* debug_user_data;
  vknorm_capability_override capability_override;
  /* NULL, or the host allocator of every Vulkan object vknorm creates (instance, debug
   * messenger, device, pipeline cache, pipelines, layouts, pools, buffers, memory); it
   * must outlive the context. */
  const VkAllocationCallbacks* allocation_callbacks;
  /* The context enables VK_KHR_push_descriptor itself where the device has it, and
   * synchronization2 on Vulkan 1.3 devices. */
  vknorm_descriptor_path descriptor_path;
  /* 1: a record call that would have to create a pipeline fails (naming the kernel and
   * prepare_kernels) instead of compiling it mid-frame. */
  int require_prepared_kernels;
  /* NULL: vknorm opens the system's Vulkan loader at run time (libvulkan.so.1,
   * vulkan-1.dll, libvulkan.1.dylib) and closes it with the context; else the loader
   * library to open instead (a file name or path). vknorm links nothing from the loader. */
  const char* vulkan_loader;
} vknorm_standalone_options;

VKNORM_API void vknorm_standalone_options_init(vknorm_standalone_options* options);

/* The engine's objects; vknorm never destroys them. The queue family must support compute.
 * get_instance_proc_addr is required: engine mode opens no Vulkan loader and calls only
 * what the engine's functions hand out (get_device_proc_addr NULL: the one
 * get_instance_proc_addr returns). The pipeline cache is optional. */
typedef struct vknorm_engine_handles {
  VkInstance instance;
  VkPhysicalDevice physical_device;
  VkDevice device;
  uint32_t queue_family_index;
  PFN_vkGetInstanceProcAddr get_instance_proc_addr;
  PFN_vkGetDeviceProcAddr get_device_proc_addr;
  VkPipelineCache pipeline_cache;
  /* Set to 1 when the device was created with storageBuffer16BitAccess enabled
   * (VkPhysicalDevice16BitStorageFeatures or VkPhysicalDeviceVulkan11Features). vknorm
   * cannot read a VkDevice's enabled features, so without this flag float16 tensors run
   * as halves packed in 32-bit words (slower) even on a device that offers the feature. */
  int storage_buffer_16bit_enabled;
  vknorm_capability_override capability_override;
  /* NULL, or the host allocator of every Vulkan object vknorm creates on the engine's
   * device (pipelines, layouts, pools); it must outlive the context. */
  const VkAllocationCallbacks* allocation_callbacks;
  int push_descriptor_enabled;  /* the device was created with VK_KHR_push_descriptor */
  int synchronization2_enabled; /* ... with the synchronization2 feature */
  vknorm_descriptor_path descriptor_path;
  int require_prepared_kernels; /* as in vknorm_standalone_options */
} vknorm_engine_handles;

VKNORM_API void vknorm_engine_handles_init(vknorm_engine_handles* handles);

/* Standalone: vknorm creates its own instance, device and queue, and submits its own
 * work. options may be NULL (the defaults). */
VKNORM_API vknorm_status vknorm_context_create_standalone(const vknorm_standalone_options* options,
                                                          vknorm_context** out_context);
/* Engine mode: records into the engine's command buffers and never submits. */
VKNORM_API vknorm_status vknorm_context_create_from_engine(const vknorm_engine_handles* handles,
                                                           vknorm_context** out_context);
VKNORM_API void vknorm_context_destroy(vknorm_context* context);

VKNORM_API vknorm_status vknorm_context_get_capabilities(const vknorm_context* context,
                                                         vknorm_capabilities* out_capabilities);
/* 1 for a standalone context, 0 for engine mode (and for NULL). */
VKNORM_API int vknorm_context_is_standalone(const vknorm_context* context);
/* 1 once a standalone context's submit or wait returned VK_ERROR_DEVICE_LOST (from then on
 * every call that would submit fails with it at once: destroy the context and create a new
 * one), else 0 (also for NULL). */
VKNORM_API int vknorm_context_is_lost(const vknorm_context* context);
VKNORM_API VkDevice vknorm_context_device(const vknorm_context* context);

/* Creates every pipeline of every kind now instead of on first use: for all dtypes the
 * device supports, or for one dtype (f16 gives VKNORM_STATUS_UNSUPPORTED without 16-bit
 * storage). Thread-safe. Engines should prefer vknorm_context_prepare (below), which
 * creates only what the kinds and directions they use can record. */
VKNORM_API vknorm_status vknorm_context_prepare_kernels(vknorm_context* context);
VKNORM_API vknorm_status vknorm_context_prepare_kernels_for(vknorm_context* context, vknorm_dtype dtype);

/* Preparation by need: the pipelines the given kinds can use in the given directions,
 * for any shape, so that recording them later creates none (an engine calls this at
 * load time; vknorm_context_prepare_kernels creates every pipeline of every kind). */
typedef enum vknorm_kind_bits {
  VKNORM_KIND_BATCH_NORM_BIT = 0x1,
  VKNORM_KIND_INSTANCE_NORM_BIT = 0x2,
  VKNORM_KIND_GROUP_NORM_BIT = 0x4,
  VKNORM_KIND_LAYER_NORM_BIT = 0x8,
  VKNORM_KIND_RMS_NORM_BIT = 0x10,
  VKNORM_KIND_ALL_BITS = 0x1F,
  VKNORM_KIND_BITS_MAX_ENUM = 0x7FFFFFFF
} vknorm_kind_bits;

typedef struct vknorm_prepare_request {
  uint32_t kinds;    /* VKNORM_KIND_*_BIT ORed; 0: every kind */
  int forward;       /* the forward's pipelines (init: 1) */
  int backward;      /* the backward's pipelines (init: 1) */
  vknorm_dtype dtype; /* init: VKNORM_DTYPE_F32 */
} vknorm_prepare_request;

VKNORM_API void vknorm_prepare_request_init(vknorm_prepare_request* request);

typedef struct vknorm_prepare_report {
  uint32_t created;          /* pipelines this call created */
  uint32_t already_prepared; /* pipelines the request names that existed already */
  double milliseconds;       /* wall time of the call */
} vknorm_prepare_report;

/* out_report may be NULL. Thread-safe; each pipeline is created once. */
VKNORM_API vknorm_status vknorm_context_prepare(vknorm_context* context, const vknorm_prepare_request* request,
                                                vknorm_prepare_report* out_report);

/* The Vulkan objects and device memory vknorm holds for a context now (mirrors
 * vknorm::Footprint; the README lists when each is created). */
typedef struct vknorm_footprint {
  uint32_t pipelines;
  uint32_t pipeline_layouts;
  uint32_t descriptor_set_layouts;
  uint32_t descriptor_update_templates;
  uint32_t descriptor_pools;
  uint32_t command_pools;             /* standalone recorders' */
  uint32_t buffers;
  uint32_t device_memory_allocations;
  uint64_t device_memory_bytes;
  /* Standalone only (0 in engine mode): vknorm's own instance, device, pipeline cache
   * and debug messenger. */
  uint32_t instances;
  uint32_t devices;
  uint32_t pipeline_caches;
  uint32_t debug_messengers;
} vknorm_footprint;

VKNORM_API vknorm_status vknorm_context_get_footprint(const vknorm_context* context, vknorm_footprint* out_footprint);

/* The last failure of a call on this context from any thread ("" if none): a copy, valid
 * until the calling thread calls this function again. */
VKNORM_API const char* vknorm_context_last_error(const vknorm_context* context);
VKNORM_API VkResult vknorm_context_last_vk_result(const vknorm_context* context);

/* ---- Buffers ------------------------------------------------------------------------- */

/* A range of a VkBuffer with VK_BUFFER_USAGE_STORAGE_BUFFER_BIT. The offset must be a
 * multiple of 4; vknorm handles any larger alignment. size 0 or VK_WHOLE_SIZE: to the
 * end of the buffer. buffer VK_NULL_HANDLE: absent (for what a call does not need). */
typedef struct vknorm_buffer_ref {
  VkBuffer buffer;
  VkDeviceSize offset;
  VkDeviceSize size;
} vknorm_buffer_ref;

/* Standalone contexts only: a host-visible, host-coherent, persistently mapped storage
 * buffer of at least `bytes` bytes (4 at least). */
VKNORM_API vknorm_status vknorm_buffer_create(vknorm_context* context, VkDeviceSize bytes, vknorm_buffer** out_buffer);
VKNORM_API void vknorm_buffer_destroy(vknorm_buffer* buffer);
/* The mapped memory, valid until the buffer is destroyed. */
VKNORM_API vknorm_status vknorm_buffer_map(const vknorm_buffer* buffer, void** out_data);
VKNORM_API VkBuffer vknorm_buffer_handle(const vknorm_buffer* buffer);
VKNORM_API VkDeviceSize vknorm_buffer_size(const vknorm_buffer* buffer);
/* {handle, offset, size - offset}; an empty ref for NULL or an offset past the end. */
VKNORM_API vknorm_buffer_ref vknorm_buffer_ref_at(const vknorm_buffer* buffer, VkDeviceSize offset);

/* ---- Recorders ------------------------------------------------------------------------
 * Synchronization contract (engine mode): before a vknorm call, make its inputs available
 * to compute-shader reads (dstStageMask COMPUTE_SHADER, dstAccessMask SHADER_READ) and
 * order earlier uses of its outputs before compute-shader writes. vknorm puts barriers
 * between its own dispatches, also between calls through one recorder. Afterwards the
 * outputs are compute-shader writes: add the barrier your next use needs or call
 * vknorm_recorder_close_with_barrier() (or _barrier2). After a barrier of your own that
 * covers compute-shader reads and writes, vknorm_recorder_note_external_barrier() skips
 * vknorm's before its next dispatch. Several calls through one recorder may share one
 * workspace. The command buffer may be primary or secondary (vknorm records compute work
 * only, outside render passes).
 * Descriptors: pushed where the context uses push descriptors; otherwise from the one
 * pool the recorder creates with itself, of descriptor_capacity sets (one per dispatch),
 * never grown: a call that would pass it fails before recording anything. The recorder
 * owns those sets: keep it until the command buffer has finished executing. */

/* What a recorder is created with. */
typedef struct vknorm_recorder_options {
  uint32_t descriptor_capacity; /* pool path: dispatches between resets (64 after _init) */
} vknorm_recorder_options;

VKNORM_API void vknorm_recorder_options_init(vknorm_recorder_options* options);

/* Records into command_buffer, which the caller has begun and will end and submit. */
VKNORM_API vknorm_status vknorm_recorder_create(vknorm_context* context, VkCommandBuffer command_buffer,
                                                vknorm_recorder** out_recorder);
/* The same with options (NULL: the defaults). */
VKNORM_API vknorm_status vknorm_recorder_create_with_options(vknorm_context* context, VkCommandBuffer command_buffer,
                                                             const vknorm_recorder_options* options,
                                                             vknorm_recorder** out_recorder);
/* Standalone: a recorder on a command buffer vknorm allocates and begins (each recorder
 * has its own pool, so recorders can be used in different threads). */
VKNORM_API vknorm_status vknorm_recorder_begin_standalone(vknorm_context* context, vknorm_recorder** out_recorder);
VKNORM_API vknorm_status vknorm_recorder_begin_standalone_with_options(vknorm_context* context,
                                                                       const vknorm_recorder_options* options,
                                                                       vknorm_recorder** out_recorder);
/* Standalone, for recorders from vknorm_recorder_begin_standalone: ends the command buffer,
 * submits it, waits, and makes the results visible to the mapped buffers. Then read the
 * results; vknorm_recorder_reset begins its command buffer again for more work. */
VKNORM_API vknorm_status vknorm_recorder_submit_and_wait(vknorm_recorder* recorder);
/* A barrier from vknorm's compute-shader writes to dst_stages / dst_access. */
VKNORM_API vknorm_status vknorm_recorder_close_with_barrier(vknorm_recorder* recorder, VkPipelineStageFlags dst_stages,
                                                            VkAccessFlags dst_access);
/* The same as a vkCmdPipelineBarrier2 memory barrier; VKNORM_STATUS_UNSUPPORTED where the
 * context does not use synchronization2 (engine: synchronization2_enabled). */
VKNORM_API vknorm_status vknorm_recorder_close_with_barrier2(vknorm_recorder* recorder,
                                                             VkPipelineStageFlags2 dst_stages,
                                                             VkAccessFlags2 dst_access);
/* The caller recorded its own barrier after vknorm's last dispatch: the next one records none. */
VKNORM_API vknorm_status vknorm_recorder_note_external_barrier(vknorm_recorder* recorder);
/* Once the recorded work has finished on the GPU: frees its descriptor sets (resets the
 * pool, allocating nothing) so the recorder can record into a re-begun (engine) command
 * buffer again; a standalone recorder's own command buffer is begun again. */
VKNORM_API vknorm_status vknorm_recorder_reset(vknorm_recorder* recorder);
/* The same, recording into `next` from now on (begun by the caller, primary or secondary):
 * one recorder per frame in flight. Not for recorders from vknorm_recorder_begin_standalone. */
VKNORM_API vknorm_status vknorm_recorder_reset_to(vknorm_recorder* recorder, VkCommandBuffer next);
/* Dispatches recorded since creation or the last reset (0 for NULL). */
VKNORM_API uint32_t vknorm_recorder_dispatch_count(const vknorm_recorder* recorder);
VKNORM_API VkCommandBuffer vknorm_recorder_command_buffer(const vknorm_recorder* recorder);
/* Frees the descriptor sets (and the command buffer of a standalone recorder): only once
 * the GPU is done with them. */
VKNORM_API void vknorm_recorder_destroy(vknorm_recorder* recorder);

/* ---- What every norm shares -------------------------------------------------------- */

/* After normalize + affine, in the same pass: y = relu(norm(x) + residual). The backward
 * then needs the forward's y (relu) and writes dresidual (residual). */
typedef struct vknorm_epilogue {
  int residual;
  int relu;
} vknorm_epilogue;

/* The shape facts of one call (mirrors vknorm::NormGeometry): what to size buffers by. */
typedef struct vknorm_geometry {
  uint64_t elements;    /* all of x */
  uint64_t outer;       /* N, or rows for layer / RMS norm */
  uint64_t channels;    /* C, or the normalized size D */
  uint64_t spatial;     /* product of the dims after C (1 for layer / RMS norm) */
  uint64_t stat_groups; /* save_mean / save_invstd length: C, N*C, N*G or rows */
  uint64_t group_size;  /* elements per statistics group */
  uint64_t affine_size; /* weight / bias length: C, or D */
  int uses_batch_stats; /* statistics of this input (not running ones) */
  int updates_running;  /* training with tracked running statistics */
} vknorm_geometry;

/* Device buffers of one call. Tensors are in the params' layout and dtype; everything
 * else is float32. Leave what the call does not use empty (zero-initialize the struct). */
typedef struct vknorm_forward_buffers {
  vknorm_buffer_ref x, y;
  vknorm_buffer_ref weight, bias;               /* affine_size floats, when given */
  vknorm_buffer_ref running_mean, running_var;  /* C floats when tracked; updated in training */
  vknorm_buffer_ref save_mean, save_invstd;     /* stat_groups floats, with batch statistics */
  vknorm_buffer_ref workspace;                  /* vknorm_<kind>_workspace_size() bytes */
  vknorm_buffer_ref residual;                   /* like x, with epilogue.residual */
} vknorm_forward_buffers;

typedef struct vknorm_backward_buffers {
  vknorm_buffer_ref x, dy, dx;
  vknorm_buffer_ref weight;                     /* when given */
  vknorm_buffer_ref save_mean, save_invstd;     /* from the forward, with batch statistics */
  vknorm_buffer_ref running_mean, running_var;  /* when the forward used running statistics */
  vknorm_buffer_ref dweight, dbias;             /* written when weight / bias are given */
  vknorm_buffer_ref workspace;
  vknorm_buffer_ref y;                          /* the forward's output, with epilogue.relu */
  vknorm_buffer_ref dresidual;                  /* like x, written with epilogue.residual */
} vknorm_backward_buffers;

/* Standalone convenience on host arrays (float32, logical order): uploads, records,
 * submits, waits, downloads. Inputs a call does not use are ignored and may be NULL
 * with length 0. Outputs: NULL skips one; otherwise its capacity (in floats) must hold
 * the result (see vknorm_geometry). Running statistics are read and, when the call
 * updates them, written back in place. */
typedef struct vknorm_host_forward {
  const float* x;        size_t x_length;
  const float* weight;   size_t weight_length;
  const float* bias;     size_t bias_length;
  const float* residual; size_t residual_length;
  float* running_mean;   size_t running_mean_length;
  float* running_var;    size_t running_var_length;
  float* y;              size_t y_capacity;
  float* save_mean;      size_t save_mean_capacity;
  float* save_invstd;    size_t save_invstd_capacity;
} vknorm_host_forward;

/* save_mean / save_invstd: the forward's, when it used input statistics; running_mean /
 * running_var: as they were before the forward, when it used them instead. */
typedef struct vknorm_host_backward {
  const float* x;            size_t x_length;
  const float* dy;           size_t dy_length;
  const float* weight;       size_t weight_length;
  const float* save_mean;    size_t save_mean_length;
  const float* save_invstd;  size_t save_invstd_length;
  const float* running_mean; size_t running_mean_length;
  const float* running_var;  size_t running_var_length;
  const float* y;            size_t y_length; /* with epilogue.relu */
  float* dx;                 size_t dx_capacity;
  float* dweight;            size_t dweight_capacity;
  float* dbias;              size_t dbias_capacity;
  float* dresidual;          size_t dresidual_capacity;
} vknorm_host_backward;

/* ---- BatchNorm (torch.nn.BatchNorm1d/2d/3d, F.batch_norm) ---------------------------- */

typedef enum vknorm_batch_norm_dims {
  VKNORM_BATCH_NORM_ANY = 0, /* F.batch_norm: rank >= 2 */
  VKNORM_BATCH_NORM_1D = 1,  /* (N, C) or (N, C, L) */
  VKNORM_BATCH_NORM_2D = 2,  /* (N, C, H, W) */
  VKNORM_BATCH_NORM_3D = 3,  /* (N, C, D, H, W) */
  VKNORM_BATCH_NORM_MAX_ENUM = 0x7FFFFFFF
} vknorm_batch_norm_dims;

/* One call of F.batch_norm. momentum is this call's factor (see vknorm_batch_norm_state).
 * Defaults: training, affine, track_running_stats, eps 1e-5, momentum 0.1, NCHW, f32. */
typedef struct vknorm_batch_norm_params {
  const int64_t* shape; /* logical (N, C, *) shape of x; the caller keeps it alive */
  size_t rank;
  vknorm_batch_norm_dims dims;
  int training;
  int affine;              /* weight and bias are given */
  int track_running_stats; /* running_mean and running_var are given */
  float eps;
  float momentum;
  vknorm_layout layout;
  vknorm_dtype dtype;
  vknorm_epilogue epilogue;
} vknorm_batch_norm_params;

VKNORM_API void vknorm_batch_norm_params_init(vknorm_batch_norm_params* params);

/* The module's state: num_batches_tracked and momentum (has_momentum 0: momentum=None,
 * the cumulative average). Defaults: momentum 0.1, no batches. */
typedef struct vknorm_batch_norm_state {
  int has_momentum;
  float momentum;
  int64_t num_batches_tracked;
} vknorm_batch_norm_state;

VKNORM_API void vknorm_batch_norm_state_init(vknorm_batch_norm_state* state);
/* Once per training forward with tracked statistics, before it: counts the batch and
 * gives the factor for vknorm_batch_norm_params.momentum. The count stops at INT64_MAX. */
VKNORM_API vknorm_status vknorm_batch_norm_state_next_training_factor(vknorm_batch_norm_state* state,
                                                                      float* out_factor);

/* PyTorch's checks without a device; fills the geometry (out_geometry may be NULL). */
VKNORM_API vknorm_status vknorm_batch_norm_check(const vknorm_batch_norm_params* params,
                                                 vknorm_geometry* out_geometry);
VKNORM_API vknorm_status vknorm_batch_norm_workspace_size(const vknorm_context* context,
                                                          const vknorm_batch_norm_params* params,
                                                          uint64_t* out_bytes);
VKNORM_API vknorm_status vknorm_batch_norm_record_forward(vknorm_recorder* recorder,
                                                          const vknorm_batch_norm_params* params,
                                                          const vknorm_forward_buffers* buffers);
VKNORM_API vknorm_status vknorm_batch_norm_record_backward(vknorm_recorder* recorder,
                                                           const vknorm_batch_norm_params* params,
                                                           const vknorm_backward_buffers* buffers);
VKNORM_API vknorm_status vknorm_batch_norm_forward_host(vknorm_context* context,
                                                        const vknorm_batch_norm_params* params,
                                                        const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_batch_norm_backward_host(vknorm_context* context,
                                                         const vknorm_batch_norm_params* params,
                                                         const vknorm_host_backward* io);

/* ---- BatchNorm inference: cached coefficients and folding ----------------------------
 * Eval BatchNorm in two steps, for running statistics that stay the same frame after frame
 * (vknorm/batchnorm_inference.hpp). Once: per-channel coefficients, float32, all C scales
 * then all C shifts (2 * C floats):
 *   scale[c] = weight[c] * (1 / sqrt(running_var[c] + eps)),  shift[c] = bias[c] - running_mean[c] * scale[c]
 * (weight 1, bias 0 without affine). Every frame: y = x * scale + shift, then the epilogue.
 * Equal to vknorm_batch_norm_record_forward's eval output within float32 rounding. Both
 * record calls take the eval forward's params (training 0, track_running_stats 1). */
#define VKNORM_BATCH_NORM_COEFFICIENTS_PER_CHANNEL 2

typedef struct vknorm_batch_norm_coefficients_buffers {
  vknorm_buffer_ref running_mean, running_var; /* C floats */
  vknorm_buffer_ref weight, bias;              /* C floats, with params.affine */
  vknorm_buffer_ref coefficients;              /* written: 2 * C floats */
} vknorm_batch_norm_coefficients_buffers;

typedef struct vknorm_batch_norm_apply_buffers {
  vknorm_buffer_ref x, y;         /* in the params' layout and dtype */
  vknorm_buffer_ref coefficients; /* 2 * C floats */
  vknorm_buffer_ref residual;     /* like x, with epilogue.residual */
} vknorm_batch_norm_apply_buffers;

VKNORM_API vknorm_status vknorm_batch_norm_record_inference_coefficients(
    vknorm_recorder* recorder, const vknorm_batch_norm_params* params,
    const vknorm_batch_norm_coefficients_buffers* buffers);
/* 128-bit loads and stores where the row length and the offsets allow, scalar otherwise. */
VKNORM_API vknorm_status vknorm_batch_norm_record_inference_apply(vknorm_recorder* recorder,
                                                                  const vknorm_batch_norm_params* params,
                                                                  const vknorm_batch_norm_apply_buffers* buffers);
/* The coefficients on the host: running_mean, running_var (and, with params->affine,
 * weight and bias) hold C floats each; out_coefficients holds out_capacity >= 2 * C. */
VKNORM_API vknorm_status vknorm_batch_norm_inference_coefficients_host(const vknorm_batch_norm_params* params,
                                                                      const float* running_mean,
                                                                      const float* running_var, const float* weight,
                                                                      const float* bias, float* out_coefficients,
                                                                      size_t out_capacity);

/* The BatchNorm after a convolution or linear layer, for folding: C floats each; weight
 * and bias may be NULL (1 and 0). */
typedef struct vknorm_batch_norm_fold {
  const float* running_mean;
  const float* running_var;
  const float* weight;
  const float* bias;
  float eps;
} vknorm_batch_norm_fold;

/* torch.nn.utils.fuse_conv_bn_weights: conv_weight of weight_shape (out, in/groups, *k), or
 * with transpose a transposed convolution's (in, out, *k); C = out. conv_bias: C floats or
 * NULL (zeros). Writes out_weight (as many floats as conv_weight; may be conv_weight
 * itself) and out_bias (C floats). */
VKNORM_API vknorm_status vknorm_fuse_conv_bn_weights(const float* conv_weight, const int64_t* weight_shape,
                                                     size_t rank, const float* conv_bias,
                                                     const vknorm_batch_norm_fold* bn, int transpose,
                                                     float* out_weight, float* out_bias);
/* torch.nn.utils.fuse_linear_bn_weights: linear_weight (out, in), C = out; as above. */
VKNORM_API vknorm_status vknorm_fuse_linear_bn_weights(const float* linear_weight, const int64_t* weight_shape,
                                                       size_t rank, const float* linear_bias,
                                                       const vknorm_batch_norm_fold* bn, float* out_weight,
                                                       float* out_bias);

/* ---- SyncBatchNorm (torch.nn.SyncBatchNorm) ------------------------------------------
 * BatchNorm in training mode over a batch split across devices or processes (ranks).
 * Each rank holds its shard, an (N_r, C, *) tensor with the same C and * everywhere (N_r
 * may differ, also be 0), and passes vknorm_batch_norm_params with shape[0] = N_r and
 * training = 1. The statistics are those of the whole batch, and every rank ends with
 * bitwise-identical save_mean, save_invstd and running statistics (given the same driver
 * on every rank). dweight / dbias are each rank's contribution (PyTorch's SyncBatchNorm):
 * their sum over the ranks is the whole batch's gradient. Every rank makes the same calls
 * in the same order. vknorm only ever all-gathers, then combines in rank order itself, so
 * the transport never decides a reduction order.
 *
 * The transport is the caller's: a vknorm_communicator (MPI_Allgather, NCCL, sockets...),
 * or a thread world (below) for several contexts driven from threads of one process. */

/* all_gather: every rank sends `bytes` bytes (the same count on every rank); `out`
 * receives size * bytes bytes, rank 0's first, then rank 1's, ...; it blocks until every
 * rank has sent, and returns VKNORM_STATUS_OK or an error (vknorm then fails the call
 * with a message naming comm.all_gather and the status). vknorm calls it from the thread
 * that called vknorm, with bytes possibly 0 (a rank whose call failed before the exchange
 * still enters it with nothing, so that the other ranks fail too instead of waiting; a
 * transport should then report a count mismatch). With bytes 0, send and out may be NULL.
 * Ranks may disagree on bytes only in that failure case, so a transport must not trust the
 * counts to match: MPI_Allgather with different counts is erroneous; exchange the counts
 * first (as vknorm::mpi's MpiCommunicator does) and fail on a mismatch. Checked on every
 * call: 0 <= rank < size, size >= 1, all_gather not NULL. */
typedef struct vknorm_communicator {
  void* user; /* passed to all_gather as is */
  int rank;   /* 0 .. size - 1 */
  int size;   /* the world size, at least 1 */
  vknorm_status (*all_gather)(void* user, const void* send, size_t bytes, void* out);
} vknorm_communicator;

/* The sum over the ranks of `count` floats, in place: one all_gather, then added in rank
 * order in double and rounded once, so every rank gets the same bits. */
VKNORM_API vknorm_status vknorm_all_reduce_sum(const vknorm_communicator* comm, float* data, size_t count);

/* In-process ranks: one world of `size` ranks, for several contexts (one per rank, each
 * its own VkDevice) driven from threads of one process. vknorm_thread_world_communicator
 * fills `out_comm` for one rank (its all_gather is vknorm's; a copy of the struct works
 * the same). Rules: each rank's communicator is used by one thread at a time, every rank
 * of the world takes part in every collective, and the world is destroyed only after all
 * its ranks' calls have returned (destroying it invalidates their communicators). */
typedef struct vknorm_thread_world vknorm_thread_world;

VKNORM_API vknorm_status vknorm_thread_world_create(int size, vknorm_thread_world** out_world);
VKNORM_API vknorm_status vknorm_thread_world_communicator(vknorm_thread_world* world, int rank,
                                                          vknorm_communicator* out_comm);
VKNORM_API void vknorm_thread_world_destroy(vknorm_thread_world* world);

/* Per rank, standalone contexts: the whole forward or backward with vknorm's own submits,
 * exchanging through comm (like vknorm_batch_norm_forward_host / _backward_host, on this
 * rank's shard). The forward's save_mean / save_invstd are the whole batch's; the running
 * statistics are updated in place with the whole batch's statistics (the unbiased
 * variance divides by the whole count - 1). out_merged_count (may be NULL) receives the
 * whole batch's values per channel (the sum over the ranks of N_r * spatial): pass it to
 * the backward, whose save_mean / save_invstd are the forward's. */
VKNORM_API vknorm_status vknorm_sync_batch_norm_forward_host(vknorm_context* context, const vknorm_communicator* comm,
                                                             const vknorm_batch_norm_params* params,
                                                             const vknorm_host_forward* io,
                                                             uint64_t* out_merged_count);
VKNORM_API vknorm_status vknorm_sync_batch_norm_backward_host(vknorm_context* context, const vknorm_communicator* comm,
                                                              const vknorm_batch_norm_params* params,
                                                              const vknorm_host_backward* io, uint64_t merged_count);

/* ---- SyncBatchNorm's phases, for an engine that records them itself ----------------
 * The forward, on every rank (one workspace of vknorm_sync_batch_norm_workspace_size
 * bytes serves the forward and the backward; the byte ranges are in the exchange layout):
 *  1. vknorm_sync_batch_norm_record_statistics: this shard's partial statistics into the
 *     workspace (x and workspace are bound; the other buffers are checked in step 6).
 *  2. Barrier compute-shader write -> transfer read (vkCmdCopyBuffer to a staging buffer),
 *     or -> host read for a host-visible workspace; submit and wait for the fence. Download
 *     download_bytes bytes at download_offset of the workspace.
 *  3. vknorm_sync_batch_norm_compact_statistics: those bytes -> send_bytes bytes (one
 *     record of 4 floats per channel). all_gather them: world_size * send_bytes bytes,
 *     rank order.
 *  4. vknorm_sync_batch_norm_merge_statistics: the gathered records -> upload_bytes bytes
 *     and the merged count, the same bits on every rank (Chan's merge in rank order).
 *  5. Upload those bytes at upload_offset (the range may overlap step 2's), then barrier
 *     transfer write (or host write, made visible by the submit) -> compute-shader read.
 *  6. vknorm_sync_batch_norm_record_apply with the merged count: save_mean, save_invstd,
 *     the running statistics (with the whole batch's count) and y (with the epilogue).
 *  A rank with N_r = 0 records nothing in step 1 and sends an empty record; in step 6 it
 *  still writes the statistics and updates its running statistics like every rank.
 *  params.momentum is this call's factor, as for BatchNorm (vknorm_batch_norm_state on
 *  every rank gives the same factor everywhere).
 * The backward, through the forward's save_mean / save_invstd (the whole batch's):
 *  1. vknorm_sync_batch_norm_record_grad_sums: this shard's per-channel sums of dy and
 *     dy * xhat into the workspace.
 *  2. Barrier and download as in the forward's step 2 (the grad exchange layout's range).
 *  3. vknorm_sync_batch_norm_compact_grad_sums -> `local`, 2 * C floats (per channel
 *     sum dy, sum dy * xhat). Copy them to `global` and vknorm_all_reduce_sum it (or
 *     all_gather and add in rank order in double yourself, for the same bits everywhere).
 *  4. vknorm_sync_batch_norm_grad_upload(local, global) -> upload_bytes bytes; upload them
 *     at upload_offset, then barrier transfer (or host) write -> compute-shader read.
 *  5. vknorm_sync_batch_norm_record_grad_input with the forward's merged count: dx (and
 *     dresidual) of this shard, dweight / dbias this shard's contribution.
 * Between the phases the work must have finished on the GPU (the download needs it), so
 * each rank submits at least twice per direction. */

/* Byte ranges inside one rank's workspace (they depend on the device and the shard). */
typedef struct vknorm_sync_batch_norm_exchange {
  uint64_t download_offset, download_bytes; /* after step 1: the shard's partials */
  uint64_t send_bytes;                      /* per rank, through all_gather: 16 * C */
  uint64_t upload_offset, upload_bytes;     /* before step 6: the merged records */
  uint32_t chunks;                          /* partial records per channel downloaded (0: empty shard) */
} vknorm_sync_batch_norm_exchange;

typedef struct vknorm_sync_batch_norm_grad_exchange {
  uint64_t download_offset, download_bytes; /* after step 1: the shard's sums */
  uint64_t upload_offset, upload_bytes;     /* before step 5: 4 * C floats */
  uint32_t chunks;                          /* sum records per channel downloaded */
} vknorm_sync_batch_norm_grad_exchange;

/* params: this rank's shard, training; the one-value-per-channel check applies to the
 * merged batch (step 4), not to the shard. */
VKNORM_API vknorm_status vknorm_sync_batch_norm_exchange_layout(const vknorm_context* context,
                                                                const vknorm_batch_norm_params* params,
                                                                vknorm_sync_batch_norm_exchange* out_layout);
VKNORM_API vknorm_status vknorm_sync_batch_norm_workspace_size(const vknorm_context* context,
                                                               const vknorm_batch_norm_params* params,
                                                               uint64_t* out_bytes);
/* Forward step 1. */
VKNORM_API vknorm_status vknorm_sync_batch_norm_record_statistics(vknorm_recorder* recorder,
                                                                  const vknorm_batch_norm_params* params,
                                                                  const vknorm_forward_buffers* buffers);
/* Forward step 3, on the host: `downloaded` holds layout->download_bytes bytes, `send`
 * receives layout->send_bytes bytes (the layout must be this shard's). */
VKNORM_API vknorm_status vknorm_sync_batch_norm_compact_statistics(const vknorm_batch_norm_params* params,
                                                                   const vknorm_sync_batch_norm_exchange* layout,
                                                                   const void* downloaded, void* send);
/* Forward step 4: `gathered` holds world_size records of send_bytes bytes, rank 0's
 * first. `upload` receives upload_bytes / 4 floats (upload_capacity, in floats, must hold
 * them), out_merged_count the whole batch's values per channel. Refuses a merged batch of
 * one value per channel (PyTorch's "Expected more than 1 value per channel when
 * training"). */
VKNORM_API vknorm_status vknorm_sync_batch_norm_merge_statistics(const vknorm_batch_norm_params* params,
                                                                 const void* gathered, int world_size, float* upload,
                                                                 size_t upload_capacity, uint64_t* out_merged_count);
/* Forward step 6. */
VKNORM_API vknorm_status vknorm_sync_batch_norm_record_apply(vknorm_recorder* recorder,
                                                             const vknorm_batch_norm_params* params,
                                                             const vknorm_forward_buffers* buffers,
                                                             uint64_t merged_count);

VKNORM_API vknorm_status vknorm_sync_batch_norm_grad_exchange_layout(const vknorm_context* context,
                                                                     const vknorm_batch_norm_params* params,
                                                                     vknorm_sync_batch_norm_grad_exchange* out_layout);
/* Backward step 1. */
VKNORM_API vknorm_status vknorm_sync_batch_norm_record_grad_sums(vknorm_recorder* recorder,
                                                                 const vknorm_batch_norm_params* params,
                                                                 const vknorm_backward_buffers* buffers);
/* Backward step 3: `downloaded` holds layout->download_bytes bytes; `local` receives
 * 2 * C floats (local_capacity, in floats, must hold them). */
VKNORM_API vknorm_status vknorm_sync_batch_norm_compact_grad_sums(const vknorm_batch_norm_params* params,
                                                                  const vknorm_sync_batch_norm_grad_exchange* layout,
                                                                  const void* downloaded, float* local,
                                                                  size_t local_capacity);
/* Backward step 4: local and global hold 2 * channels floats each; `upload` receives
 * 4 * channels floats (upload_capacity, in floats, must hold them). */
VKNORM_API vknorm_status vknorm_sync_batch_norm_grad_upload(const float* local, const float* global, size_t channels,
                                                            float* upload, size_t upload_capacity);
/* Backward step 5. merged_count: the forward's (vknorm_sync_batch_norm_merge_statistics). */
VKNORM_API vknorm_status vknorm_sync_batch_norm_record_grad_input(vknorm_recorder* recorder,
                                                                  const vknorm_batch_norm_params* params,
                                                                  const vknorm_backward_buffers* buffers,
                                                                  uint64_t merged_count);

/* ---- InstanceNorm (torch.nn.InstanceNorm1d/2d/3d, F.instance_norm) ------------------- */

typedef enum vknorm_instance_norm_dims {
  VKNORM_INSTANCE_NORM_ANY = 0, /* batched (N, C, *) with at least one spatial dim */
  VKNORM_INSTANCE_NORM_1D = 1,  /* (N, C, L) or unbatched (C, L) */
  VKNORM_INSTANCE_NORM_2D = 2,
  VKNORM_INSTANCE_NORM_3D = 3,
  VKNORM_INSTANCE_NORM_MAX_ENUM = 0x7FFFFFFF
} vknorm_instance_norm_dims;

/* Defaults: training, no affine, no running statistics, eps 1e-5, momentum 0.1. */
typedef struct vknorm_instance_norm_params {
  const int64_t* shape;
  size_t rank;
  vknorm_instance_norm_dims dims;
  int training;
  int affine;
  int track_running_stats;
  float eps;
  float momentum;
  vknorm_layout layout;
  vknorm_dtype dtype;
  vknorm_epilogue epilogue;
} vknorm_instance_norm_params;

VKNORM_API void vknorm_instance_norm_params_init(vknorm_instance_norm_params* params);
VKNORM_API vknorm_status vknorm_instance_norm_check(const vknorm_instance_norm_params* params,
                                                    vknorm_geometry* out_geometry);
VKNORM_API vknorm_status vknorm_instance_norm_workspace_size(const vknorm_context* context,
                                                             const vknorm_instance_norm_params* params,
                                                             uint64_t* out_bytes);
VKNORM_API vknorm_status vknorm_instance_norm_record_forward(vknorm_recorder* recorder,
                                                             const vknorm_instance_norm_params* params,
                                                             const vknorm_forward_buffers* buffers);
VKNORM_API vknorm_status vknorm_instance_norm_record_backward(vknorm_recorder* recorder,
                                                              const vknorm_instance_norm_params* params,
                                                              const vknorm_backward_buffers* buffers);
VKNORM_API vknorm_status vknorm_instance_norm_forward_host(vknorm_context* context,
                                                           const vknorm_instance_norm_params* params,
                                                           const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_instance_norm_backward_host(vknorm_context* context,
                                                            const vknorm_instance_norm_params* params,
                                                            const vknorm_host_backward* io);

/* ---- GroupNorm (torch.nn.GroupNorm, F.group_norm) ------------------------------------ */

/* Defaults: 1 group, affine, eps 1e-5. */
typedef struct vknorm_group_norm_params {
  const int64_t* shape; /* (N, C, *) */
  size_t rank;
  int64_t num_groups;
  int affine;
  float eps;
  vknorm_layout layout;
  vknorm_dtype dtype;
  vknorm_epilogue epilogue;
} vknorm_group_norm_params;

VKNORM_API void vknorm_group_norm_params_init(vknorm_group_norm_params* params);
VKNORM_API vknorm_status vknorm_group_norm_check(const vknorm_group_norm_params* params,
                                                 vknorm_geometry* out_geometry);
VKNORM_API vknorm_status vknorm_group_norm_workspace_size(const vknorm_context* context,
                                                          const vknorm_group_norm_params* params,
                                                          uint64_t* out_bytes);
VKNORM_API vknorm_status vknorm_group_norm_record_forward(vknorm_recorder* recorder,
                                                          const vknorm_group_norm_params* params,
                                                          const vknorm_forward_buffers* buffers);
VKNORM_API vknorm_status vknorm_group_norm_record_backward(vknorm_recorder* recorder,
                                                           const vknorm_group_norm_params* params,
                                                           const vknorm_backward_buffers* buffers);
VKNORM_API vknorm_status vknorm_group_norm_forward_host(vknorm_context* context,
                                                        const vknorm_group_norm_params* params,
                                                        const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_group_norm_backward_host(vknorm_context* context,
                                                         const vknorm_group_norm_params* params,
                                                         const vknorm_host_backward* io);

/* ---- LayerNorm (torch.nn.LayerNorm, F.layer_norm); row-major, no layout ------------- */

/* Defaults: elementwise_affine, bias, eps 1e-5. */
typedef struct vknorm_layer_norm_params {
  const int64_t* shape;
  size_t rank;
  const int64_t* normalized_shape; /* the trailing dims of x that are normalized */
  size_t normalized_rank;
  int elementwise_affine; /* weight is given */
  int bias;               /* bias is given (needs elementwise_affine) */
  float eps;
  vknorm_dtype dtype;
  vknorm_epilogue epilogue;
} vknorm_layer_norm_params;

VKNORM_API void vknorm_layer_norm_params_init(vknorm_layer_norm_params* params);
VKNORM_API vknorm_status vknorm_layer_norm_check(const vknorm_layer_norm_params* params,
                                                 vknorm_geometry* out_geometry);
VKNORM_API vknorm_status vknorm_layer_norm_workspace_size(const vknorm_context* context,
                                                          const vknorm_layer_norm_params* params,
                                                          uint64_t* out_bytes);
VKNORM_API vknorm_status vknorm_layer_norm_record_forward(vknorm_recorder* recorder,
                                                          const vknorm_layer_norm_params* params,
                                                          const vknorm_forward_buffers* buffers);
VKNORM_API vknorm_status vknorm_layer_norm_record_backward(vknorm_recorder* recorder,
                                                           const vknorm_layer_norm_params* params,
                                                           const vknorm_backward_buffers* buffers);
VKNORM_API vknorm_status vknorm_layer_norm_forward_host(vknorm_context* context,
                                                        const vknorm_layer_norm_params* params,
                                                        const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_layer_norm_backward_host(vknorm_context* context,
                                                         const vknorm_layer_norm_params* params,
                                                         const vknorm_host_backward* io);

/* ---- RMSNorm (torch.nn.RMSNorm); weight only, save_mean unused -------------------- */

/* Defaults: elementwise_affine, has_eps 0 (eps = FLT_EPSILON, as PyTorch's eps=None). */
typedef struct vknorm_rms_norm_params {
  const int64_t* shape;
  size_t rank;
  const int64_t* normalized_shape;
  size_t normalized_rank;
  int elementwise_affine; /* weight is given */
  int has_eps;            /* 0: eps is ignored and FLT_EPSILON is used */
  float eps;
  vknorm_dtype dtype;
  vknorm_epilogue epilogue;
} vknorm_rms_norm_params;

VKNORM_API void vknorm_rms_norm_params_init(vknorm_rms_norm_params* params);
VKNORM_API vknorm_status vknorm_rms_norm_check(const vknorm_rms_norm_params* params, vknorm_geometry* out_geometry);
VKNORM_API vknorm_status vknorm_rms_norm_workspace_size(const vknorm_context* context,
                                                        const vknorm_rms_norm_params* params, uint64_t* out_bytes);
VKNORM_API vknorm_status vknorm_rms_norm_record_forward(vknorm_recorder* recorder, const vknorm_rms_norm_params* params,
                                                        const vknorm_forward_buffers* buffers);
VKNORM_API vknorm_status vknorm_rms_norm_record_backward(vknorm_recorder* recorder,
                                                         const vknorm_rms_norm_params* params,
                                                         const vknorm_backward_buffers* buffers);
VKNORM_API vknorm_status vknorm_rms_norm_forward_host(vknorm_context* context, const vknorm_rms_norm_params* params,
                                                      const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_rms_norm_backward_host(vknorm_context* context, const vknorm_rms_norm_params* params,
                                                       const vknorm_host_backward* io);

/* ---- CPU reference (no context, no device) ------------------------------------------
 * vknorm::reference for every kind: the plain formulas, accumulated in double, for
 * checking a device's results. Same params and host arrays as the *_host functions, with
 * the same checks and messages (NULL required pointers, array lengths, output capacities),
 * the epilogue included (io.residual with epilogue.residual; io.y with epilogue.relu, where
 * dy passes only where y > 0; io.dresidual). Running statistics are updated in place when
 * the forward updates them. Differences from the *_host functions:
 *  - dtype is ignored: the float32 arrays are used as given, nothing is rounded to
 *    float16 (round x, dy and the residual first to model f16 storage);
 *  - the backward recomputes the statistics from x: io.save_mean and io.save_invstd are
 *    not read (io.running_mean / io.running_var are, when the forward used them). */
VKNORM_API vknorm_status vknorm_batch_norm_forward_reference(const vknorm_batch_norm_params* params,
                                                             const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_batch_norm_backward_reference(const vknorm_batch_norm_params* params,
                                                              const vknorm_host_backward* io);
VKNORM_API vknorm_status vknorm_instance_norm_forward_reference(const vknorm_instance_norm_params* params,
                                                                const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_instance_norm_backward_reference(const vknorm_instance_norm_params* params,
                                                                 const vknorm_host_backward* io);
VKNORM_API vknorm_status vknorm_group_norm_forward_reference(const vknorm_group_norm_params* params,
                                                             const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_group_norm_backward_reference(const vknorm_group_norm_params* params,
                                                              const vknorm_host_backward* io);
VKNORM_API vknorm_status vknorm_layer_norm_forward_reference(const vknorm_layer_norm_params* params,
                                                             const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_layer_norm_backward_reference(const vknorm_layer_norm_params* params,
                                                              const vknorm_host_backward* io);
VKNORM_API vknorm_status vknorm_rms_norm_forward_reference(const vknorm_rms_norm_params* params,
                                                           const vknorm_host_forward* io);
VKNORM_API vknorm_status vknorm_rms_norm_backward_reference(const vknorm_rms_norm_params* params,
                                                            const vknorm_host_backward* io);

/* ---- Tuning (vknorm/tuning.hpp) -----------------------------------------------------
 * Strategy choices timed on the device for classes of shapes, kept in a context's tuning
 * cache; record calls plan each call with its class's choice (a lookup), other classes
 * with the planner's rules. The cache travels as bytes, keyed by device and driver like
 * the pipeline cache: tune once with a standalone context (vknorm_context_tune, or
 * `vknorm tune --out FILE`, which writes the same bytes), save them, and at load time give
 * them to any context on the same device and driver (vknorm_context_set_tuning): an
 * engine-mode context cannot tune, since vknorm never submits behind the engine's back. */

/* One shape to tune: `kind` (exactly one VKNORM_KIND_*_BIT) says which member of `params`
 * holds the call's params, as the kind's record calls take them. */
typedef struct vknorm_tune_shape {
  vknorm_kind_bits kind;
  union {
    vknorm_batch_norm_params batch_norm;
    vknorm_instance_norm_params instance_norm;
    vknorm_group_norm_params group_norm;
    vknorm_layer_norm_params layer_norm;
    vknorm_rms_norm_params rms_norm;
  } params;
} vknorm_tune_shape;

typedef struct vknorm_tune_request {
  const vknorm_tune_shape* shapes; /* shape_count of them; a class is timed once (its first shape) */
  uint32_t shape_count;
  int forward;   /* time the forward's candidates (init: 1) */
  int backward;  /* time the backward's candidates (init: 1) */
  uint32_t runs; /* timed runs per candidate after one warm-up, 1 to 1000; the median counts (init: 5) */
} vknorm_tune_request;

VKNORM_API void vknorm_tune_request_init(vknorm_tune_request* request);

typedef struct vknorm_tune_report {
  uint32_t classes;          /* shape classes timed (a class with one candidate is not timed) */
  uint32_t tuned_classes;    /* of those, the classes where a choice other than the rules' won */
  uint32_t candidates;       /* candidate strategies timed, in all classes */
  double milliseconds;       /* wall time of the call */
} vknorm_tune_report;

/* Standalone contexts on a device with timestamps on its compute queue only (else
 * VKNORM_STATUS_UNSUPPORTED, as in engine mode): times every
 * candidate strategy of each shape's class (a query pool and the buffers the candidates
 * bind are created for the call and destroyed before it returns; the kernels they use
 * are prepared), and keeps the fastest of each class in the context's cache, beside what
 * it held. Submits and waits: not concurrently with other work on the context. Load
 * time, never per frame. out_report may be NULL. */
VKNORM_API vknorm_status vknorm_context_tune(vknorm_context* context, const vknorm_tune_request* request,
                                             vknorm_tune_report* out_report);

/* The context's tuning cache as bytes: *out_size gets their count; data may be NULL to
 * ask for the size only, else capacity must be at least that (else
 * VKNORM_STATUS_INVALID_ARGUMENT: *out_size still gets the size, nothing is written). */
VKNORM_API vknorm_status vknorm_context_get_tuning(const vknorm_context* context, void* data, size_t capacity,
                                                   size_t* out_size);

/* Replaces the context's tuning cache with the one in `data` (size bytes, as
 * vknorm_context_get_tuning or `vknorm tune` wrote them); size 0 clears it (data may then
 * be NULL). Refuses bytes that are not a tuning cache, a cache of another format version
 * (but for an untuned context's empty one), or a cache measured on another
 * device or driver, naming each field that differs (VKNORM_STATUS_INVALID_ARGUMENT; the
 * cache is then unchanged). Not concurrently with record calls or workspace queries on
 * the context. A choice can need a larger workspace than the rules': query workspace
 * sizes after this call. */
VKNORM_API vknorm_status vknorm_context_set_tuning(vknorm_context* context, const void* data, size_t size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* VKNORM_VKNORM_H */
