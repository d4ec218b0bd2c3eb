// A vknorm context: one Vulkan device, its capabilities, and the kernels prepared for it.
// No global state: everything vknorm creates belongs to a context.
//
// Threading contract:
//  - A Context may be used from several threads at once: prepare_kernels(), create_buffer(),
//    begin_commands(), submit_and_wait() (each on its own recorder), the host convenience
//    functions (batch_norm_forward, ...), workspace queries, and recording into different
//    CommandRecorders. Pipelines are created once, under a lock; once a pipeline exists,
//    recording reads it without any lock. The standalone queue is guarded by a lock; every
//    recorder from begin_commands() has its own command pool (and, on the descriptor pool
//    path, its own descriptor pool).
//  - A CommandRecorder (and the command buffer it records into) is used by one thread at a
//    time. In engine mode the engine externally synchronizes its command pools and queues as
//    Vulkan requires: vknorm records into the command buffer it is given and never submits.
//  - A Buffer is read or written by one thread at a time, and never while the device uses it.
//  - Contexts are independent: two contexts share nothing and can be used in two threads.
//  - The debug callback may be called from any thread that uses the context, concurrently.
//  - Destroy the context last, from one thread, once no other thread uses it, its recorders
//    or its buffers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <vulkan/vulkan_core.h>

#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

// How a workgroup reduces its partial statistics.
enum class ReductionPath {
  subgroup,       // subgroupAdd (needs ARITHMETIC in compute), shared memory across subgroups
  shared_memory,  // a shared-memory tree that needs no subgroup operations at all
};
const char* to_string(ReductionPath path);

// What vknorm reads off the device and uses to choose kernels.
struct Capabilities {
  std::string device_name;
  VkPhysicalDeviceType device_type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t api_version = 0;
  uint32_t subgroup_size = 1;       // sanitized: a driver reporting 0 is treated as 1
  uint32_t min_subgroup_size = 1;
  uint32_t max_subgroup_size = 1;
  bool subgroup_arithmetic = false;  // ARITHMETIC supported in the compute stage
  bool subgroup_size_control = false;
  uint32_t max_shared_memory = 16384;
  uint32_t max_workgroup_invocations = 128;
  uint32_t max_workgroup_size_x = 128;
  uint32_t max_workgroup_count_x = 65535;
  uint32_t max_workgroup_count_y = 65535;
  uint32_t host_threads = 1;  // CPU implementations: the threads its workgroups run on; else 1
  uint64_t max_storage_buffer_range = 1u << 27;
  uint64_t min_storage_buffer_offset_alignment = 256;
  // Whether this context stores float16 tensors natively: the device offers
  // storageBuffer16BitAccess and, in engine mode, the engine enabled it
  // (EngineHandles::storage_buffer_16bit_enabled). Without it float16 still works, as
  // halves packed two to a 32-bit word (slower; a tensor's binding then also covers the
  // rest of its last element's word, which vknorm leaves unchanged).
  bool storage_buffer_16bit = false;
  // Whether the device offers storageBuffer16BitAccess at all (after the override): an
  // engine that leaves it disabled gets packed float16.
  bool device_storage_buffer_16bit = false;
  bool timestamps = false;
  float timestamp_period_ns = 1.0f;
  ReductionPath reduction_path = ReductionPath::shared_memory;
  std::string reduction_reason;  // why that path was chosen

  // Identification, for `vknorm devices` and bug reports. The driver fields come from
  // VkPhysicalDeviceDriverProperties (Vulkan 1.2 or VK_KHR_driver_properties); on older
  // drivers driver_id is 0 and the names are empty.
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  uint32_t driver_version = 0;  // raw VkPhysicalDeviceProperties::driverVersion (vendor encoding)
  // VkPhysicalDeviceProperties::pipelineCacheUUID: changes with the driver's compiler (the
  // tuning cache's key, as the pipeline cache's).
  std::array<uint8_t, VK_UUID_SIZE> pipeline_cache_uuid{};
  VkDriverId driver_id = static_cast<VkDriverId>(0);
  std::string driver_name;
  std::string driver_info;
  // VkPhysicalDeviceSubgroupProperties as the device reports them, except that ARITHMETIC
  // is cleared when the capability override disables subgroup arithmetic.
  VkSubgroupFeatureFlags subgroup_operations = 0;
  VkShaderStageFlags subgroup_stages = 0;
  // The workgroup size every kernel is specialized with on this device (after the override).
  uint32_t workgroup_size = 1;

  // How this context records (false in list_devices(), which opens no device):
  // push_descriptors: dispatches push their descriptors (VK_KHR_push_descriptor, with
  // update templates) and recorders hold no descriptor pool; false: each recorder writes
  // sets from the one pool it creates with itself (RecorderOptions::descriptor_capacity).
  bool push_descriptors = false;
  // synchronization2: vkCmdPipelineBarrier2 is usable (CommandRecorder::close_with_barrier2).
  bool synchronization2 = false;
};

// How dispatches get their descriptors (see Capabilities::push_descriptors).
enum class DescriptorPath {
  automatic,  // push descriptors where VK_KHR_push_descriptor is enabled, else the pool
  pool,       // always sets from the recorder's pool (to test that path on any device)
};

// Forces a more limited device than the real one, so tests can run every path (for
// example a bare mobile GPU) on lavapipe. Unset fields keep the device's value.
struct CapabilityOverride {
  std::optional<bool> subgroup_arithmetic;  // false forces the shared-memory tree
  std::optional<uint32_t> max_shared_memory;
  std::optional<uint32_t> max_workgroup_invocations;
  // Smaller grid and binding limits, so tests fold grids and refuse large bindings.
  std::optional<uint32_t> max_workgroup_count;  // maxComputeWorkGroupCount[0] and [1]
  std::optional<uint64_t> max_storage_buffer_range;
  std::optional<bool> storage_buffer_16bit;  // false: float16 packed in 32-bit words
};

// Called for every validation-layer message when validation is on.
using DebugCallback = std::function<void(const std::string& message)>;

struct StandaloneOptions {
  std::optional<uint32_t> device_index;   // index in vkEnumeratePhysicalDevices order
  bool enable_validation = false;         // Khronos validation + synchronization validation
  DebugCallback debug_callback;           // gets validation messages (stderr when unset)
  CapabilityOverride capability_override;
  // Host memory of every Vulkan object vknorm creates (instance, debug messenger,
  // device, pipeline cache, pipelines, layouts, pools, buffers and their memory): passed
  // to each vkCreate*, vkAllocateMemory and the matching vkDestroy* / vkFreeMemory. Must
  // outlive the context. Null: the driver's allocator.
  const VkAllocationCallbacks* allocation_callbacks = nullptr;
  // The context enables VK_KHR_push_descriptor itself where the device has it, and
  // synchronization2 on Vulkan 1.3 devices.
  DescriptorPath descriptor_path = DescriptorPath::automatic;
  // A record call that would have to create a pipeline fails (invalid_argument, naming
  // the kernel and prepare_kernels) instead of compiling it mid-frame.
  bool require_prepared_kernels = false;
  // Where the context gets every Vulkan function, vkCreateInstance included: null means
  // the vkGetInstanceProcAddr of the Vulkan loader the context opens at run time (see
  // vulkan_loader). A layer of your own (a tracer, a fault injector) or a loader you opened
  // yourself goes here; then no loader is opened and vulkan_loader is ignored.
  PFN_vkGetInstanceProcAddr get_instance_proc_addr = nullptr;
  // The loader library the context opens (dlopen / LoadLibraryA) and owns until it is
  // destroyed: a file name or path. Null: the system's (libvulkan.so.1, vulkan-1.dll,
  // libvulkan.1.dylib). vknorm links nothing from the loader.
  const char* vulkan_loader = nullptr;
};

// The engine's objects; vknorm never destroys them. The queue family must support
// compute. get_instance_proc_addr is required: engine mode opens no Vulkan loader and
// calls only what the engine's vkGetInstanceProcAddr (and vkGetDeviceProcAddr, when
// given; else the one the former returns) hands out. The pipeline cache is optional.
struct EngineHandles {
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t queue_family_index = 0;
  PFN_vkGetInstanceProcAddr get_instance_proc_addr = nullptr;
  PFN_vkGetDeviceProcAddr get_device_proc_addr = nullptr;
  VkPipelineCache pipeline_cache = VK_NULL_HANDLE;
  // Set it when the device was created with VkPhysicalDevice16BitStorageFeatures::
  // storageBuffer16BitAccess (or VkPhysicalDeviceVulkan11Features's) enabled. vknorm
  // cannot read which features a VkDevice was created with, so without this flag float16
  // tensors (DType::f16) run as halves packed in 32-bit words, even on a device that
  // offers the feature.
  bool storage_buffer_16bit_enabled = false;
  // The device was created with VK_KHR_push_descriptor enabled: dispatches push their
  // descriptors and recorders need no descriptor pool.
  bool push_descriptor_enabled = false;
  // The device was created with the synchronization2 feature (Vulkan 1.3, or
  // VK_KHR_synchronization2): CommandRecorder::close_with_barrier2 works.
  bool synchronization2_enabled = false;
  CapabilityOverride capability_override;
  DescriptorPath descriptor_path = DescriptorPath::automatic;
  // As StandaloneOptions::require_prepared_kernels: no pipeline is ever created inside a
  // record call, so recording cannot hitch.
  bool require_prepared_kernels = false;
  // Host memory of every Vulkan object vknorm creates on the engine's device (pipelines,
  // layouts, pools; see the README's list): passed to each vkCreate* and the matching
  // vkDestroy*. Must outlive the context. Null: the driver's allocator.
  const VkAllocationCallbacks* allocation_callbacks = nullptr;
};

// The Vulkan objects a context holds now, all its recorders and buffers included (what
// an engine budgets for; the README lists when each is created).
struct Footprint {
  uint32_t pipelines = 0;                   // one per kernel and dtype prepared or used
  uint32_t pipeline_layouts = 0;
  uint32_t descriptor_set_layouts = 0;
  uint32_t descriptor_update_templates = 0;
  uint32_t descriptor_pools = 0;            // the recorders' pools
  uint32_t command_pools = 0;               // standalone: one per recorder from begin_commands()
  uint32_t buffers = 0;                     // VkBuffers vknorm created (standalone buffers)
  uint32_t device_memory_allocations = 0;   // VkDeviceMemory objects vknorm allocated
  uint64_t device_memory_bytes = 0;         // their allocationSize, summed
  // Standalone only (0 in engine mode): vknorm's own instance, device, pipeline cache
  // and debug messenger.
  uint32_t instances = 0, devices = 0, pipeline_caches = 0, debug_messengers = 0;
};

// The pipelines to create ahead of recording (Context::prepare_kernels): those the given
// kinds can use in the given directions and dtype, on this device, for any shape.
struct PrepareRequest {
  std::vector<Norm> kinds;  // empty: every kind
  bool forward = true;
  bool backward = true;
  DType dtype = DType::f32;
};

struct PrepareReport {
  uint32_t created = 0;           // pipelines this call created
  uint32_t already_prepared = 0;  // pipelines the request names that existed already
  uint32_t timed_classes = 0;     // shape classes tune() timed (prepare_kernels with a TuneRequest)
  double milliseconds = 0;        // wall time of the call
};

struct DeviceInfo {
  uint32_t index = 0;
  Capabilities caps;
  bool usable = false;      // Vulkan 1.1 or later with a compute queue: vknorm can run there
  bool is_default = false;  // the device create_standalone() picks when no device_index is given
};

// A device buffer of the standalone context, host-visible so that tests, samples and the
// command-line tool can fill and read it directly.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  VkBuffer handle() const { return buffer_; }
  VkDeviceSize size() const { return size_; }
  void* data() const { return mapped_; }
  template <class T> T* as() const { return static_cast<T*>(mapped_); }

 private:
  friend class Context;
  struct Owner;
  std::shared_ptr<Owner> owner_;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize size_ = 0;
  void* mapped_ = nullptr;
  void release();
};

class CommandRecorder;
struct ContextState;
class TuningCache;  // vknorm/tuning.hpp, with the request and report of tune()
struct TuneRequest;
struct TuneReport;

// What a recorder is created with (CommandRecorder::create, Context::begin_commands).
struct RecorderOptions {
  // On the descriptor pool path (Capabilities::push_descriptors false): the descriptor
  // sets, one per dispatch, that the recorder's one pool holds between two reset()s. The
  // pool is created with the recorder and never grows: a record call that would pass it
  // fails before recording anything. Where descriptors are pushed it limits nothing, but
  // must still be 1 or more (the same options work on every device).
  uint32_t descriptor_capacity = 64;
};

class Context {
 public:
  // Lists the Vulkan devices with their capabilities, in enumeration order, marking those
  // vknorm can use and the one a standalone context picks by default. Opens the system's
  // Vulkan loader for its temporary instance and closes it before returning.
  static Result<std::vector<DeviceInfo>> list_devices();
  // Picks a device (a GPU before a CPU implementation unless options name one), creates
  // its own instance, device and queue (and a command pool per begin_commands()), and
  // submits its own work.
  static Result<std::unique_ptr<Context>> create_standalone(const StandaloneOptions& options = {});
  // Uses the engine's device; records into the engine's command buffers and never submits.
  static Result<std::unique_ptr<Context>> create_from_engine(const EngineHandles& handles);

  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Capabilities& capabilities() const;
  bool is_standalone() const;
  VkDevice device() const;

  // Creates the pipelines a request names up front, so that recording the kinds and
  // directions it names (any shape) creates none: what an engine calls at load time.
  // Otherwise each pipeline is created on first use, inside a record call. float16 fails
  // with `unsupported` without 16-bit storage. Safe to call from several threads at once;
  // each pipeline is created once.
  Result<PrepareReport> prepare_kernels(const PrepareRequest& request);
  // The same, then tune(tune) (below: standalone only, the choices kept in tuning()):
  // preparation and tuning in one call at load time. Unlike the preparation alone, not
  // concurrently with other calls on the context (tune submits and waits). A tune that
  // fails fails the call; the pipelines prepared stay. `created` counts the request's
  // pipelines, not those tune prepares for its shapes besides; `timed_classes` the classes
  // tune timed (tune()'s own report has each candidate's time).
  Result<PrepareReport> prepare_kernels(const PrepareRequest& request, const TuneRequest& tune);
  // Every pipeline of every kind and direction, including ones a model may never use:
  // both dtypes (float16 native or packed, as the context stores it), or one dtype.
  Status prepare_kernels();
  Status prepare_kernels(DType dtype);

  // The Vulkan objects and device memory vknorm holds for this context now.
  Footprint footprint() const;

  // Strategy choices measured on this device (vknorm/tuning.hpp). Record calls and
  // workspace queries plan each call with the cache's choice for its shape class (a
  // lookup: nothing is allocated or created); classes it does not hold keep the planner's
  // rules. Refuses, as TuningCache::load does, a cache measured on another device or
  // driver, naming what differs, and entries no tune() stores (an enum value outside its
  // enum, values per invocation other than 0/8/64/256, rows other than 0/8/16/32/64, a
  // log2 bucket over 63), keeping its tuning; an empty cache clears the tuning. A choice
  // can need a larger workspace than the rules': query workspace sizes after setting the
  // tuning. Not concurrently with record calls or workspace queries of this context.
  Status set_tuning(TuningCache cache);
  const TuningCache& tuning() const;
  // Standalone only: times every candidate strategy of each requested shape's class on
  // the device (timestamp queries; a query pool and the buffers the candidates bind are
  // created for the call and destroyed before it returns; the kernels they use are
  // prepared), keeps the fastest of each class in this context's cache (tuning()), and
  // reports every candidate's time. Engine mode refuses: vknorm never submits behind an
  // engine's back; tune with a standalone context (or `vknorm tune`) on the same device
  // and driver, save the cache, and load it with TuningCache::load and set_tuning. Takes
  // the device for its timed submissions: not concurrently with other work on this
  // context. Call it after prepare_kernels, at load time, never per frame.
  Result<TuneReport> tune(const TuneRequest& request);

  // Standalone mode only: host-visible storage buffers and one-shot submission.
  Result<Buffer> create_buffer(VkDeviceSize bytes);
  Result<std::unique_ptr<CommandRecorder>> begin_commands(const RecorderOptions& options = {});
  // Submits, then waits on a fence. VK_ERROR_DEVICE_LOST from either marks the context
  // lost: from then on create_buffer, begin_commands and submit_and_wait (and the host
  // functions that use them) fail with VK_ERROR_DEVICE_LOST at once; destroy the context
  // (its buffers first) and create a new one.
  Status submit_and_wait(CommandRecorder& recorder);
  bool is_lost() const;

 private:
  // vknorm's own code (src/context_state.hpp) reaches the state behind the handle.
  friend ContextState& state_of(Context& context);
  explicit Context(std::unique_ptr<ContextState> state);
  std::unique_ptr<ContextState> state_;
};

}  // namespace vknorm
