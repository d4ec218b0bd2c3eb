// The C API (include/vknorm/vknorm.h): preparation by need and the footprint.
#include <cstdio>
#include <string>
#include <vector>

#include "c_api/c_api_internal.hpp"

using vknorm::Status;
using vknorm::capi::guard;

namespace {

std::string hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%X", value);
  return text;
}

// The C bit of each kind, in vknorm::Norm's order.
struct KindBit {
  uint32_t bit;
  vknorm::Norm kind;
};
constexpr KindBit kKindBits[] = {
    {VKNORM_KIND_BATCH_NORM_BIT, vknorm::Norm::batch_norm},
    {VKNORM_KIND_INSTANCE_NORM_BIT, vknorm::Norm::instance_norm},
    {VKNORM_KIND_GROUP_NORM_BIT, vknorm::Norm::group_norm},
    {VKNORM_KIND_LAYER_NORM_BIT, vknorm::Norm::layer_norm},
    {VKNORM_KIND_RMS_NORM_BIT, vknorm::Norm::rms_norm},
};

}  // namespace

extern "C" {

void vknorm_prepare_request_init(vknorm_prepare_request* request) {
  if (!request) return;
  *request = vknorm_prepare_request{};
  request->forward = 1;
  request->backward = 1;
  request->dtype = VKNORM_DTYPE_F32;
}

vknorm_status vknorm_context_prepare(vknorm_context* context, const vknorm_prepare_request* request,
                                     vknorm_prepare_report* out_report) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, request);
    if (request->kinds & ~static_cast<uint32_t>(VKNORM_KIND_ALL_BITS))
      return Status::invalid_argument("request.kinds: expected an OR of VKNORM_KIND_*_BIT values (at most 0x1F), got " +
                                      hex(request->kinds));
    if (request->dtype != VKNORM_DTYPE_F32 && request->dtype != VKNORM_DTYPE_F16)
      return Status::invalid_argument("request.dtype: expected VKNORM_DTYPE_F32 or VKNORM_DTYPE_F16, got " +
                                      std::to_string(static_cast<int>(request->dtype)));
    vknorm::PrepareRequest r;
    for (const KindBit& k : kKindBits)
      if (request->kinds & k.bit) r.kinds.push_back(k.kind);
    r.forward = request->forward != 0;
    r.backward = request->backward != 0;
    r.dtype = request->dtype == VKNORM_DTYPE_F16 ? vknorm::DType::f16 : vknorm::DType::f32;
    auto report = context->cxx->prepare_kernels(r);
    if (!report) return report.status();
    if (out_report) *out_report = {report->created, report->already_prepared, report->milliseconds};
    return {};
  });
}

vknorm_status vknorm_context_get_footprint(const vknorm_context* context, vknorm_footprint* out_footprint) {
  return guard(context, __func__, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, out_footprint);
    const vknorm::Footprint f = context->cxx->footprint();
    *out_footprint = vknorm_footprint{};
    out_footprint->pipelines = f.pipelines;
    out_footprint->pipeline_layouts = f.pipeline_layouts;
    out_footprint->descriptor_set_layouts = f.descriptor_set_layouts;
    out_footprint->descriptor_update_templates = f.descriptor_update_templates;
    out_footprint->descriptor_pools = f.descriptor_pools;
    out_footprint->command_pools = f.command_pools;
    out_footprint->buffers = f.buffers;
    out_footprint->device_memory_allocations = f.device_memory_allocations;
    out_footprint->device_memory_bytes = f.device_memory_bytes;
    out_footprint->instances = f.instances;
    out_footprint->devices = f.devices;
    out_footprint->pipeline_caches = f.pipeline_caches;
    out_footprint->debug_messengers = f.debug_messengers;
    return {};
  });
}

}  // extern "C"
