// What the C API's two host-array families share: the device's vknorm_<kind>_*_host
// (src/c_api/norms.cpp) and the CPU reference's vknorm_<kind>_*_reference
// (src/c_api/reference.cpp). Both convert the C params the same way and take the same
// vknorm_host_forward / vknorm_host_backward, with the same checks and messages.
#pragma once

#include <functional>

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

using HostForwardCall = std::function<Result<NormForwardResult>(const HostForwardArrays&)>;
using HostBackwardCall = std::function<Result<NormBackwardResult>(const HostBackwardArrays&)>;

// Reads io's input arrays (NULL with a non-zero length is refused, naming it), runs `call`
// on them, then writes its results to io's outputs: every output's capacity is checked
// before any is written, and the forward's running statistics are written back in place.
Status run_host_forward(const vknorm_host_forward& io, const HostForwardCall& call);
Status run_host_backward(const vknorm_host_backward& io, const HostBackwardCall& call);

}  // namespace vknorm::capi
