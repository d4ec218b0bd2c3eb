// The C API (include/vknorm/vknorm.h), part 1: errors, devices, contexts, buffers and
// recorders. The norms are in c_api/norms.cpp. Only the public C++ API is used.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include "c_api/c_api_internal.hpp"

using vknorm::Status;
using vknorm::capi::guard;

// The C enum must keep the C++ codes: fail() converts by value.
static_assert(VKNORM_STATUS_OK == static_cast<int>(vknorm::StatusCode::ok));
static_assert(VKNORM_STATUS_INVALID_ARGUMENT == static_cast<int>(vknorm::StatusCode::invalid_argument));
static_assert(VKNORM_STATUS_UNSUPPORTED == static_cast<int>(vknorm::StatusCode::unsupported));
static_assert(VKNORM_STATUS_VULKAN_ERROR == static_cast<int>(vknorm::StatusCode::vulkan_error));
static_assert(VKNORM_STATUS_OUT_OF_MEMORY == static_cast<int>(vknorm::StatusCode::out_of_memory));
static_assert(VKNORM_STATUS_INTERNAL == static_cast<int>(vknorm::StatusCode::internal));

namespace vknorm::capi {
namespace {

// The calling thread's last failure. Fixed arrays: recording an error never allocates.
thread_local char t_error[1024] = "";
thread_local VkResult t_error_vk = VK_SUCCESS;

// snprintf truncates and always terminates.
template <size_t N>
void copy_string(char (&dst)[N], const char* src) noexcept {
  std::snprintf(dst, N, "%s", src ? src : "");
}

void record(const vknorm_context* context, const char* message, VkResult vk) noexcept {
  copy_string(t_error, message);
  t_error_vk = vk;
  if (!context) return;
  try {
    std::lock_guard<std::mutex> lock(context->error_mutex);
    copy_string(context->error, message);
    context->error_vk = vk;
  } catch (...) {
    // A mutex that cannot be locked: the thread-local copy above still has the message.
  }
}

}  // namespace

vknorm_status fail(const vknorm_context* context, const Status& status) noexcept {
  record(context, status.message().c_str(), status.vk_result());
  return static_cast<vknorm_status>(status.code());
}

vknorm_status fail(const vknorm_context* context, vknorm_status code, const char* function, const char* what) noexcept {
  char message[1024];
  std::snprintf(message, sizeof message, "%s: %s", function, what ? what : "");
  record(context, message, VK_SUCCESS);
  return code;
}

Status null_argument(const char* function, const char* argument) {
  return Status::invalid_argument(std::string(argument) + ": expected a pointer, got NULL (in " + function + ")");
}

BufferRef to_cxx(const vknorm_buffer_ref& r) {
  return {r.buffer, r.offset, r.size == 0 ? VK_WHOLE_SIZE : r.size};
}

NormForwardBuffers to_cxx(const vknorm_forward_buffers& b) {
  NormForwardBuffers o;
  o.x = to_cxx(b.x);
  o.y = to_cxx(b.y);
  o.weight = to_cxx(b.weight);
  o.bias = to_cxx(b.bias);
  o.running_mean = to_cxx(b.running_mean);
  o.running_var = to_cxx(b.running_var);
  o.save_mean = to_cxx(b.save_mean);
  o.save_invstd = to_cxx(b.save_invstd);
  o.workspace = to_cxx(b.workspace);
  o.residual = to_cxx(b.residual);
  return o;
}

NormBackwardBuffers to_cxx(const vknorm_backward_buffers& b) {
  NormBackwardBuffers o;
  o.x = to_cxx(b.x);
  o.dy = to_cxx(b.dy);
  o.dx = to_cxx(b.dx);
  o.weight = to_cxx(b.weight);
  o.save_mean = to_cxx(b.save_mean);
  o.save_invstd = to_cxx(b.save_invstd);
  o.running_mean = to_cxx(b.running_mean);
  o.running_var = to_cxx(b.running_var);
  o.dweight = to_cxx(b.dweight);
  o.dbias = to_cxx(b.dbias);
  o.workspace = to_cxx(b.workspace);
  o.y = to_cxx(b.y);
  o.dresidual = to_cxx(b.dresidual);
  return o;
}

namespace {

void to_c(const Capabilities& c, vknorm_capabilities* out) noexcept {
  *out = vknorm_capabilities{};
  copy_string(out->device_name, c.device_name.c_str());
  out->device_type = c.device_type;
  out->api_version = c.api_version;
  out->subgroup_size = c.subgroup_size;
  out->min_subgroup_size = c.min_subgroup_size;
  out->max_subgroup_size = c.max_subgroup_size;
  out->subgroup_arithmetic = c.subgroup_arithmetic;
  out->subgroup_size_control = c.subgroup_size_control;
  out->max_shared_memory = c.max_shared_memory;
  out->max_workgroup_invocations = c.max_workgroup_invocations;
  out->max_workgroup_size_x = c.max_workgroup_size_x;
  out->max_workgroup_count_x = c.max_workgroup_count_x;
  out->max_workgroup_count_y = c.max_workgroup_count_y;
  out->max_storage_buffer_range = c.max_storage_buffer_range;
  out->min_storage_buffer_offset_alignment = c.min_storage_buffer_offset_alignment;
  out->storage_buffer_16bit = c.storage_buffer_16bit;
  out->timestamps = c.timestamps;
  out->timestamp_period_ns = c.timestamp_period_ns;
  out->reduction_path =
      c.reduction_path == ReductionPath::subgroup ? VKNORM_REDUCTION_SUBGROUP : VKNORM_REDUCTION_SHARED_MEMORY;
  copy_string(out->reduction_reason, c.reduction_reason.c_str());
  out->vendor_id = c.vendor_id;
  out->device_id = c.device_id;
  out->driver_version = c.driver_version;
  out->driver_id = c.driver_id;
  copy_string(out->driver_name, c.driver_name.c_str());
  copy_string(out->driver_info, c.driver_info.c_str());
  out->subgroup_operations = c.subgroup_operations;
  out->subgroup_stages = c.subgroup_stages;
  out->workgroup_size = c.workgroup_size;
  out->host_threads = c.host_threads;
  out->device_storage_buffer_16bit = c.device_storage_buffer_16bit;
  out->push_descriptors = c.push_descriptors;
  out->synchronization2 = c.synchronization2;
}

Result<DescriptorPath> to_cxx(const vknorm_descriptor_path& field, const char* name) {
  const int path = capi::raw_enum(field);  // not loaded as the enum: any int can arrive from C
  if (path == VKNORM_DESCRIPTOR_PATH_AUTOMATIC) return DescriptorPath::automatic;
  if (path == VKNORM_DESCRIPTOR_PATH_POOL) return DescriptorPath::pool;
  return Status::invalid_argument(std::string(name) +
                                  ": expected VKNORM_DESCRIPTOR_PATH_AUTOMATIC (0) or VKNORM_DESCRIPTOR_PATH_POOL (1), got " +
                                  std::to_string(path));
}

RecorderOptions to_cxx(const vknorm_recorder_options* options) {
  RecorderOptions o;
  if (options) o.descriptor_capacity = options->descriptor_capacity;
  return o;
}

Result<std::optional<bool>> to_cxx_flag(int32_t value, const char* name) {
  if (value == VKNORM_UNSET) return std::optional<bool>{};
  if (value == 0 || value == 1) return std::optional<bool>{value == 1};
  return Status::invalid_argument(std::string(name) + ": expected VKNORM_UNSET (-1), 0 or 1, got " +
                                  std::to_string(value));
}

Result<CapabilityOverride> to_cxx(const vknorm_capability_override& o, const std::string& name) {
  CapabilityOverride out;
  auto arithmetic = to_cxx_flag(o.subgroup_arithmetic, (name + ".subgroup_arithmetic").c_str());
  if (!arithmetic) return arithmetic.status();
  auto storage16 = to_cxx_flag(o.storage_buffer_16bit, (name + ".storage_buffer_16bit").c_str());
  if (!storage16) return storage16.status();
  out.subgroup_arithmetic = arithmetic.value();
  out.storage_buffer_16bit = storage16.value();
  if (o.max_shared_memory != 0) out.max_shared_memory = o.max_shared_memory;
  if (o.max_workgroup_invocations != 0) out.max_workgroup_invocations = o.max_workgroup_invocations;
  if (o.max_workgroup_count != 0) out.max_workgroup_count = o.max_workgroup_count;
  if (o.max_storage_buffer_range != 0) out.max_storage_buffer_range = o.max_storage_buffer_range;
  return out;
}

// Wraps a new C++ context in its handle (no handle is returned on failure).
Status wrap(Result<std::unique_ptr<Context>> created, vknorm_context** out) {
  if (!created) return created.status();
  auto handle = std::make_unique<vknorm_context>();
  handle->cxx = std::move(created.value());
  *out = handle.release();
  return {};
}

Status require_standalone(const vknorm_context* context, const char* function) {
  if (context->cxx->is_standalone()) return {};
  return Status::invalid_argument(std::string("context: ") + function +
                                  " needs a standalone context; in engine mode use your own buffers and command buffers");
}

}  // namespace
}  // namespace vknorm::capi

using namespace vknorm::capi;

extern "C" {

// ---- Status and errors ----

uint32_t vknorm_c_api_version(void) { return VKNORM_C_API_VERSION; }

// Both string functions switch on the raw int: a C caller may pass any value.
const char* vknorm_status_string(vknorm_status status) {
  switch (raw_enum(status)) {
    case VKNORM_STATUS_OK: return "ok";
    case VKNORM_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case VKNORM_STATUS_UNSUPPORTED: return "unsupported";
    case VKNORM_STATUS_VULKAN_ERROR: return "Vulkan error";
    case VKNORM_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VKNORM_STATUS_INTERNAL: return "internal error";
    default: return "unknown status";
  }
}

const char* vknorm_last_error(void) { return t_error; }
VkResult vknorm_last_vk_result(void) { return t_error_vk; }

const char* vknorm_reduction_path_string(vknorm_reduction_path path) {
  switch (raw_enum(path)) {
    case VKNORM_REDUCTION_SUBGROUP: return "subgroup";
    case VKNORM_REDUCTION_SHARED_MEMORY: return "shared-memory";
    default: return "unknown";
  }
}

// ---- Devices and contexts ----

vknorm_status vknorm_list_devices(vknorm_device_info* devices, uint32_t capacity, uint32_t* count) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, count);
    if (capacity > 0) VKNORM_CAPI_REQUIRE(fn, devices);
    auto listed = vknorm::Context::list_devices();
    if (!listed) return listed.status();
    const auto& all = listed.value();
    *count = static_cast<uint32_t>(all.size());
    for (uint32_t i = 0; i < std::min<size_t>(capacity, all.size()); ++i) {
      devices[i] = vknorm_device_info{};
      devices[i].index = all[i].index;
      to_c(all[i].caps, &devices[i].caps);
      devices[i].usable = all[i].usable;
      devices[i].is_default = all[i].is_default;
    }
    return {};
  });
}

void vknorm_capability_override_init(vknorm_capability_override* over) {
  if (!over) return;
  *over = vknorm_capability_override{};
  over->subgroup_arithmetic = VKNORM_UNSET;
  over->storage_buffer_16bit = VKNORM_UNSET;
}

void vknorm_standalone_options_init(vknorm_standalone_options* options) {
  if (!options) return;
  *options = vknorm_standalone_options{};
  options->device_index = -1;
  vknorm_capability_override_init(&options->capability_override);
}

void vknorm_engine_handles_init(vknorm_engine_handles* handles) {
  if (!handles) return;
  *handles = vknorm_engine_handles{};
  vknorm_capability_override_init(&handles->capability_override);
}

vknorm_status vknorm_context_create_standalone(const vknorm_standalone_options* options, vknorm_context** out_context) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, out_context);
    *out_context = nullptr;
    vknorm_standalone_options c;
    if (options) c = *options;
    else vknorm_standalone_options_init(&c);
    vknorm::StandaloneOptions o;
    if (c.device_index < -1 || c.device_index > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()))
      return Status::invalid_argument("options.device_index: expected -1 (vknorm picks) or a device index, got " +
                                      std::to_string(c.device_index));
    if (c.device_index >= 0) o.device_index = static_cast<uint32_t>(c.device_index);
    o.enable_validation = c.enable_validation != 0;
    if (c.debug_callback) {
      vknorm_debug_callback callback = c.debug_callback;
      void* user = c.debug_user_data;
      o.debug_callback = [callback, user](const std::string& message) { callback(message.c_str(), user); };
    }
    auto over = to_cxx(c.capability_override, "options.capability_override");
    if (!over) return over.status();
    o.capability_override = over.value();
    o.allocation_callbacks = c.allocation_callbacks;
    auto path = to_cxx(c.descriptor_path, "options.descriptor_path");
    if (!path) return path.status();
    o.descriptor_path = path.value();
    o.require_prepared_kernels = c.require_prepared_kernels != 0;
    o.vulkan_loader = c.vulkan_loader;
    return wrap(vknorm::Context::create_standalone(o), out_context);
  });
}

vknorm_status vknorm_context_create_from_engine(const vknorm_engine_handles* handles, vknorm_context** out_context) {
  return guard(nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, handles);
    VKNORM_CAPI_REQUIRE(fn, out_context);
    *out_context = nullptr;
    vknorm::EngineHandles h;
    h.instance = handles->instance;
    h.physical_device = handles->physical_device;
    h.device = handles->device;
    h.queue_family_index = handles->queue_family_index;
    h.get_instance_proc_addr = handles->get_instance_proc_addr;
    h.get_device_proc_addr = handles->get_device_proc_addr;
    h.pipeline_cache = handles->pipeline_cache;
    h.storage_buffer_16bit_enabled = handles->storage_buffer_16bit_enabled != 0;
    auto over = to_cxx(handles->capability_override, "handles.capability_override");
    if (!over) return over.status();
    h.capability_override = over.value();
    h.allocation_callbacks = handles->allocation_callbacks;
    h.push_descriptor_enabled = handles->push_descriptor_enabled != 0;
    h.synchronization2_enabled = handles->synchronization2_enabled != 0;
    auto path = to_cxx(handles->descriptor_path, "handles.descriptor_path");
    if (!path) return path.status();
    h.descriptor_path = path.value();
    h.require_prepared_kernels = handles->require_prepared_kernels != 0;
    return wrap(vknorm::Context::create_from_engine(h), out_context);
  });
}

void vknorm_context_destroy(vknorm_context* context) {
  try {
    delete context;
  } catch (...) {
    // Destructors do not throw; this only keeps the promise that nothing crosses the ABI.
  }
}

vknorm_status vknorm_context_get_capabilities(const vknorm_context* context, vknorm_capabilities* out_capabilities) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, out_capabilities);
    to_c(context->cxx->capabilities(), out_capabilities);
    return {};
  });
}

int vknorm_context_is_standalone(const vknorm_context* context) {
  return context && context->cxx->is_standalone() ? 1 : 0;
}

int vknorm_context_is_lost(const vknorm_context* context) { return context && context->cxx->is_lost() ? 1 : 0; }

VkDevice vknorm_context_device(const vknorm_context* context) {
  return context ? context->cxx->device() : VK_NULL_HANDLE;
}

vknorm_status vknorm_context_prepare_kernels(vknorm_context* context) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    return context->cxx->prepare_kernels();
  });
}

vknorm_status vknorm_context_prepare_kernels_for(vknorm_context* context, vknorm_dtype dtype) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    if (dtype != VKNORM_DTYPE_F32 && dtype != VKNORM_DTYPE_F16)
      return Status::invalid_argument("dtype: expected VKNORM_DTYPE_F32 or VKNORM_DTYPE_F16, got " +
                                      std::to_string(static_cast<int>(dtype)));
    return context->cxx->prepare_kernels(dtype == VKNORM_DTYPE_F16 ? vknorm::DType::f16 : vknorm::DType::f32);
  });
}

const char* vknorm_context_last_error(const vknorm_context* context) {
  if (!context) return "";
  // A copy taken under the lock, so that another thread's failure on the same context
  // cannot change the string while the caller reads it.
  thread_local char copy[sizeof(vknorm_context::error)];
  try {
    std::lock_guard<std::mutex> lock(context->error_mutex);
    copy_string(copy, context->error);
  } catch (...) {
    copy_string(copy, "(the context's error could not be read)");
  }
  return copy;
}

VkResult vknorm_context_last_vk_result(const vknorm_context* context) {
  if (!context) return VK_SUCCESS;
  try {
    std::lock_guard<std::mutex> lock(context->error_mutex);
    return context->error_vk;
  } catch (...) {
    return context->error_vk;
  }
}

// ---- Buffers ----

vknorm_status vknorm_buffer_create(vknorm_context* context, VkDeviceSize bytes, vknorm_buffer** out_buffer) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, out_buffer);
    *out_buffer = nullptr;
    auto created = context->cxx->create_buffer(bytes);
    if (!created) return created.status();
    auto handle = std::make_unique<vknorm_buffer>();
    handle->context = context;
    handle->cxx = std::move(created.value());
    *out_buffer = handle.release();
    return {};
  });
}

void vknorm_buffer_destroy(vknorm_buffer* buffer) {
  try {
    delete buffer;
  } catch (...) {
  }
}

vknorm_status vknorm_buffer_map(const vknorm_buffer* buffer, void** out_data) {
  return guard(buffer ? buffer->context : nullptr, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, buffer);
    VKNORM_CAPI_REQUIRE(fn, out_data);
    *out_data = buffer->cxx.data();
    return {};
  });
}

VkBuffer vknorm_buffer_handle(const vknorm_buffer* buffer) { return buffer ? buffer->cxx.handle() : VK_NULL_HANDLE; }

VkDeviceSize vknorm_buffer_size(const vknorm_buffer* buffer) { return buffer ? buffer->cxx.size() : 0; }

vknorm_buffer_ref vknorm_buffer_ref_at(const vknorm_buffer* buffer, VkDeviceSize offset) {
  if (!buffer || offset >= buffer->cxx.size()) return vknorm_buffer_ref{};
  return {buffer->cxx.handle(), offset, buffer->cxx.size() - offset};
}

// ---- Recorders ----

void vknorm_recorder_options_init(vknorm_recorder_options* options) {
  if (!options) return;
  *options = vknorm_recorder_options{};
  options->descriptor_capacity = vknorm::RecorderOptions{}.descriptor_capacity;
}

vknorm_status vknorm_recorder_create(vknorm_context* context, VkCommandBuffer command_buffer,
                                     vknorm_recorder** out_recorder) {
  return vknorm_recorder_create_with_options(context, command_buffer, nullptr, out_recorder);
}

vknorm_status vknorm_recorder_create_with_options(vknorm_context* context, VkCommandBuffer command_buffer,
                                                  const vknorm_recorder_options* options,
                                                  vknorm_recorder** out_recorder) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, out_recorder);
    *out_recorder = nullptr;
    auto created = vknorm::CommandRecorder::create(*context->cxx, command_buffer, to_cxx(options));
    if (!created) return created.status();
    auto handle = std::make_unique<vknorm_recorder>();
    handle->context = context;
    handle->cxx = std::move(created.value());
    *out_recorder = handle.release();
    return {};
  });
}

vknorm_status vknorm_recorder_begin_standalone(vknorm_context* context, vknorm_recorder** out_recorder) {
  return vknorm_recorder_begin_standalone_with_options(context, nullptr, out_recorder);
}

vknorm_status vknorm_recorder_begin_standalone_with_options(vknorm_context* context,
                                                            const vknorm_recorder_options* options,
                                                            vknorm_recorder** out_recorder) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, out_recorder);
    *out_recorder = nullptr;
    VKNORM_TRY(require_standalone(context, fn));
    auto created = context->cxx->begin_commands(to_cxx(options));
    if (!created) return created.status();
    auto handle = std::make_unique<vknorm_recorder>();
    handle->context = context;
    handle->cxx = std::move(created.value());
    handle->standalone = true;
    *out_recorder = handle.release();
    return {};
  });
}

vknorm_status vknorm_recorder_submit_and_wait(vknorm_recorder* recorder) {
  return guard(context_of(recorder), __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, recorder);
    if (!recorder->standalone)
      return Status::invalid_argument(
          "recorder: submit_and_wait takes a recorder from vknorm_recorder_begin_standalone; "
          "submit your own command buffer in engine mode");
    if (recorder->submitted)
      return Status::invalid_argument("recorder: already submitted; vknorm_recorder_reset it to record more work");
    // Whatever happens next, the command buffer has left the recording state.
    recorder->submitted = true;
    return recorder->context->cxx->submit_and_wait(*recorder->cxx);
  });
}

vknorm_status vknorm_recorder_close_with_barrier(vknorm_recorder* recorder, VkPipelineStageFlags dst_stages,
                                                 VkAccessFlags dst_access) {
  return guard(context_of(recorder), __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, recorder);
    if (recorder->submitted)
      return Status::invalid_argument("recorder: already submitted; vknorm_recorder_reset it before recording more");
    recorder->cxx->close_with_barrier(dst_stages, dst_access);
    return {};
  });
}

vknorm_status vknorm_recorder_close_with_barrier2(vknorm_recorder* recorder, VkPipelineStageFlags2 dst_stages,
                                                  VkAccessFlags2 dst_access) {
  return guard(context_of(recorder), __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, recorder);
    if (recorder->submitted)
      return Status::invalid_argument("recorder: already submitted; vknorm_recorder_reset it before recording more");
    return recorder->cxx->close_with_barrier2(dst_stages, dst_access);
  });
}

vknorm_status vknorm_recorder_note_external_barrier(vknorm_recorder* recorder) {
  return guard(context_of(recorder), __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, recorder);
    if (recorder->submitted)
      return Status::invalid_argument("recorder: already submitted; vknorm_recorder_reset it before recording more");
    recorder->cxx->note_external_barrier();
    return {};
  });
}

vknorm_status vknorm_recorder_reset(vknorm_recorder* recorder) {
  return vknorm_recorder_reset_to(recorder, VK_NULL_HANDLE);
}

vknorm_status vknorm_recorder_reset_to(vknorm_recorder* recorder, VkCommandBuffer next) {
  return guard(context_of(recorder), __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, recorder);
    VKNORM_TRY(recorder->cxx->reset(next));
    recorder->submitted = false;  // a standalone recorder's command buffer is begun again
    return {};
  });
}

uint32_t vknorm_recorder_dispatch_count(const vknorm_recorder* recorder) {
  return recorder ? recorder->cxx->dispatch_count() : 0;
}

VkCommandBuffer vknorm_recorder_command_buffer(const vknorm_recorder* recorder) {
  return recorder ? recorder->cxx->command_buffer() : VK_NULL_HANDLE;
}

void vknorm_recorder_destroy(vknorm_recorder* recorder) {
  try {
    delete recorder;
  } catch (...) {
  }
}

}  // extern "C"
