// What the C API's translation units share: the handles behind the opaque C types, error
// recording, and the guard that keeps every exception inside the library.
#pragma once

#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>

#include "vknorm/batchnorm_inference.hpp"
#include "vknorm/context.hpp"
#include "vknorm/norm_buffers.hpp"
#include "vknorm/recorder.hpp"
#include "vknorm/status.hpp"
#include "vknorm/vknorm.h"

struct vknorm_context {
  std::unique_ptr<vknorm::Context> cxx;
  // The last failure on this context, for vknorm_context_last_error. A fixed array, so
  // that recording an error cannot itself fail; the mutex because contexts are shared
  // between threads.
  mutable std::mutex error_mutex;
  mutable char error[1024] = "";
  mutable VkResult error_vk = VK_SUCCESS;
};

struct vknorm_recorder {
  vknorm_context* context = nullptr;
  std::unique_ptr<vknorm::CommandRecorder> cxx;
  bool standalone = false;  // from vknorm_recorder_begin_standalone: vknorm owns the command buffer
  bool submitted = false;   // its command buffer has ended: nothing more can be recorded
};

struct vknorm_buffer {
  vknorm_context* context = nullptr;
  vknorm::Buffer cxx;
};

namespace vknorm::capi {

// Keeps `status` as the calling thread's last error and, when there is one, the context's;
// returns its C code. Never throws.
vknorm_status fail(const vknorm_context* context, const Status& status) noexcept;
// The same for a failure that is not a Status (an exception): `function: what`.
vknorm_status fail(const vknorm_context* context, vknorm_status code, const char* function, const char* what) noexcept;

Status null_argument(const char* function, const char* argument);

// The raw integer a C caller stored in an enum field or passed as an enum argument. C lets
// any int through, but a C++ load of the enum type itself is undefined outside the enum's
// value range (a negative value, for enums that go 0 .. 0x7FFFFFFF): read the bytes as int
// and check that instead.
template <class Enum>
int raw_enum(const Enum& value) noexcept {
  static_assert(std::is_enum_v<Enum> && sizeof(Enum) == sizeof(int), "C enums are int-sized");
  int raw;
  std::memcpy(&raw, &value, sizeof raw);
  return raw;
}

inline const vknorm_context* context_of(const vknorm_recorder* recorder) {
  return recorder ? recorder->context : nullptr;
}

// Runs `body(function)`, which returns a Status, and turns its failure or any exception into
// a C status with a message. Every entry point that can fail goes through here.
template <class Body>
vknorm_status guard(const vknorm_context* context, const char* function, Body&& body) noexcept {
  try {
    Status status = body(function);
    return status.ok() ? VKNORM_STATUS_OK : fail(context, status);
  } catch (const std::bad_alloc&) {
    return fail(context, VKNORM_STATUS_OUT_OF_MEMORY, function, "out of host memory");
  } catch (const std::exception& e) {
    return fail(context, VKNORM_STATUS_INTERNAL, function, e.what());
  } catch (...) {
    return fail(context, VKNORM_STATUS_INTERNAL, function, "unknown exception");
  }
}

// Converts a C buffer range: size 0 means "to the end", like VK_WHOLE_SIZE.
BufferRef to_cxx(const vknorm_buffer_ref& r);
NormForwardBuffers to_cxx(const vknorm_forward_buffers& b);
NormBackwardBuffers to_cxx(const vknorm_backward_buffers& b);
BatchNormCoefficientsBuffers to_cxx(const vknorm_batch_norm_coefficients_buffers& b);  // c_api/batchnorm_inference.cpp
BatchNormApplyBuffers to_cxx(const vknorm_batch_norm_apply_buffers& b);

}  // namespace vknorm::capi

// Inside a guard body: returns INVALID_ARGUMENT naming the argument when it is NULL.
#define VKNORM_CAPI_REQUIRE(function, pointer) \
  if (!(pointer)) return ::vknorm::capi::null_argument(function, #pointer)
