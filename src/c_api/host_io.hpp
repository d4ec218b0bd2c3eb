// What the C API's two host-array families share: the device's vknorm_<kind>_*_host
// (src/c_api/norms.cpp) and the CPU reference's vknorm_<kind>_*_reference
// (src/c_api/reference.cpp). Both convert the C params the same way and take the same
// vknorm_host_forward / vknorm_host_backward, with the same checks and messages.
#pragma once

#include <functional>

#include "c_api/c_api_internal.hpp"
#include "ops/norm_kinds.hpp"
#include "vknorm/vknorm.h"

namespace vknorm::capi {

// The C params as the C++ API's; a bad enum, or a NULL shape with a rank, is refused
// naming the field ("params.layout: ...").
Result<BatchNormParams> convert(const vknorm_batch_norm_params& c);
Result<InstanceNormParams> convert(const vknorm_instance_norm_params& c);
Result<GroupNormParams> convert(const vknorm_group_norm_params& c);
Result<LayerNormParams> convert(const vknorm_layer_norm_params& c);
Result<RMSNormParams> convert(const vknorm_rms_norm_params& c);

// What every record entry point checks (NULL arguments, a recorder already submitted, the
// params), then `record(recorder, params, buffers)` with the C++ ones.
template <class CParams, class CBuffers, class Record>
vknorm_status checked_record(const char* function, vknorm_recorder* recorder, const CParams* params,
                             const CBuffers* buffers, Record&& record) {
  return guard(context_of(recorder), function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, recorder);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, buffers);
    if (recorder->submitted)
      return Status::invalid_argument("recorder: already submitted; vknorm_recorder_reset it before recording more");
    auto p = convert(*params);
    if (!p) return p.status();
    return record(*recorder->cxx, p.value(), to_cxx(*buffers));
  });
}

using HostForwardCall = std::function<Result<NormForwardResult>(const HostForwardArrays&)>;
using HostBackwardCall = std::function<Result<NormBackwardResult>(const HostBackwardArrays&)>;

// Reads io's input arrays (NULL with a non-zero length is refused, naming it), runs `call`
// on them, then writes its results to io's outputs: every output's capacity is checked
// before any is written, and the forward's running statistics are written back in place.
Status run_host_forward(const vknorm_host_forward& io, const HostForwardCall& call);
Status run_host_backward(const vknorm_host_backward& io, const HostBackwardCall& call);

}  // namespace vknorm::capi
