// The C API, part 3: the CPU reference of every kind (vknorm::reference, through the kind
// table), on the same host arrays and with the same checks as the *_host functions. No
// context: nothing here touches a device.
#include <type_traits>

#include "c_api/c_api_internal.hpp"
#include "c_api/host_io.hpp"

namespace vknorm::capi {
namespace {

template <class CParams>
vknorm_status reference_forward_entry(const char* function, const CParams* params, const vknorm_host_forward* io) {
  return guard(nullptr, function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, io);
    auto p = convert(*params);
    if (!p) return p.status();
    using Params = std::remove_cvref_t<decltype(p.value())>;
    return run_host_forward(*io,
                            [&](const HostForwardArrays& a) { return NormKind<Params>::reference_forward(*p, a); });
  });
}

template <class CParams>
vknorm_status reference_backward_entry(const char* function, const CParams* params, const vknorm_host_backward* io) {
  return guard(nullptr, function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, io);
    auto p = convert(*params);
    if (!p) return p.status();
    using Params = std::remove_cvref_t<decltype(p.value())>;
    return run_host_backward(*io,
                             [&](const HostBackwardArrays& a) { return NormKind<Params>::reference_backward(*p, a); });
  });
}

}  // namespace
}  // namespace vknorm::capi

using namespace vknorm::capi;

extern "C" {

#define VKNORM_CAPI_REFERENCE(kind)                                                                           \
  vknorm_status vknorm_##kind##_forward_reference(const vknorm_##kind##_params* params,                       \
                                                  const vknorm_host_forward* io) {                            \
    return reference_forward_entry(__func__, params, io);                                                     \
  }                                                                                                           \
  vknorm_status vknorm_##kind##_backward_reference(const vknorm_##kind##_params* params,                      \
                                                   const vknorm_host_backward* io) {                          \
    return reference_backward_entry(__func__, params, io);                                                    \
  }

VKNORM_CAPI_REFERENCE(batch_norm)
VKNORM_CAPI_REFERENCE(instance_norm)
VKNORM_CAPI_REFERENCE(group_norm)
VKNORM_CAPI_REFERENCE(layer_norm)
VKNORM_CAPI_REFERENCE(rms_norm)

#undef VKNORM_CAPI_REFERENCE

}  // extern "C"
