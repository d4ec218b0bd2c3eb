// The C API, tuning: Context::tune, and the tuning cache in and out as the bytes
// TuningCache::serialize writes (what `vknorm tune --out FILE` saves).
#include <cstring>
#include <string>
#include <vector>

#include "c_api/c_api_internal.hpp"
#include "c_api/host_io.hpp"
#include "vknorm/tuning.hpp"

namespace vknorm::capi {
namespace {

// shapes[i] as the C++ request's: its kind bit picks the union member.
Result<NormParams> convert_shape(const vknorm_tune_shape& shape, size_t i) {
  const std::string which = "request->shapes[" + std::to_string(i) + "]";
  auto as_params = [&](auto converted) -> Result<NormParams> {
    // The conversion's message names the field as "params.<field>: ...".
    if (!converted) return Status::invalid_argument(which + "." + converted.status().message());
    return NormParams(std::move(converted.value()));
  };
  switch (raw_enum(shape.kind)) {
    case VKNORM_KIND_BATCH_NORM_BIT: return as_params(convert(shape.params.batch_norm));
    case VKNORM_KIND_INSTANCE_NORM_BIT: return as_params(convert(shape.params.instance_norm));
    case VKNORM_KIND_GROUP_NORM_BIT: return as_params(convert(shape.params.group_norm));
    case VKNORM_KIND_LAYER_NORM_BIT: return as_params(convert(shape.params.layer_norm));
    case VKNORM_KIND_RMS_NORM_BIT: return as_params(convert(shape.params.rms_norm));
    default: break;
  }
  return Status::invalid_argument(which + ".kind: expected exactly one VKNORM_KIND_*_BIT (0x1, 0x2, 0x4, 0x8 or 0x10), got " +
                                  std::to_string(raw_enum(shape.kind)));
}

}  // namespace
}  // namespace vknorm::capi

using namespace vknorm::capi;

extern "C" {

void vknorm_tune_request_init(vknorm_tune_request* request) {
  if (!request) return;
  *request = {};
  request->forward = 1;
  request->backward = 1;
  request->runs = vknorm::TuneRequest{}.runs;
}

vknorm_status vknorm_context_tune(vknorm_context* context, const vknorm_tune_request* request,
                                  vknorm_tune_report* out_report) {
  return guard(context, __func__, [&](const char* fn) -> vknorm::Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, request);
    if (request->shape_count > 0 && !request->shapes)
      return vknorm::Status::invalid_argument("request->shapes: expected " + std::to_string(request->shape_count) +
                                              " shapes, got NULL");
    vknorm::TuneRequest cxx;
    for (uint32_t i = 0; i < request->shape_count; ++i) {
      auto shape = convert_shape(request->shapes[i], i);
      if (!shape) return shape.status();
      cxx.shapes.push_back(std::move(shape.value()));
    }
    cxx.forward = request->forward != 0;
    cxx.backward = request->backward != 0;
    cxx.runs = request->runs;
    auto report = context->cxx->tune(cxx);
    if (!report) return report.status();
    if (out_report) {
      vknorm_tune_report r{};
      r.classes = static_cast<uint32_t>(report->classes.size());
      for (const vknorm::TunedClass& c : report->classes) {
        r.candidates += static_cast<uint32_t>(c.candidates.size());
        for (const vknorm::TunedCandidate& candidate : c.candidates)
          if (candidate.choice == c.winner && !candidate.is_default) {
            ++r.tuned_classes;
            break;
          }
      }
      r.milliseconds = report->milliseconds;
      *out_report = r;
    }
    return {};
  });
}

vknorm_status vknorm_context_get_tuning(const vknorm_context* context, void* data, size_t capacity,
                                        size_t* out_size) {
  return guard(context, __func__, [&](const char* fn) -> vknorm::Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, out_size);
    const std::vector<uint8_t> bytes = context->cxx->tuning().serialize();
    *out_size = bytes.size();
    if (data && capacity < bytes.size())
      return vknorm::Status::invalid_argument("capacity: the tuning cache is " + std::to_string(bytes.size()) +
                                              " bytes, got room for " + std::to_string(capacity));
    if (data) std::memcpy(data, bytes.data(), bytes.size());
    return {};
  });
}

vknorm_status vknorm_context_set_tuning(vknorm_context* context, const void* data, size_t size) {
  return guard(context, __func__, [&](const char* fn) -> vknorm::Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    if (size == 0) return context->cxx->set_tuning(vknorm::TuningCache{});
    VKNORM_CAPI_REQUIRE(fn, data);
    auto cache = vknorm::TuningCache::load(context->cxx->capabilities(),
                                           {static_cast<const uint8_t*>(data), size});
    if (!cache) return cache.status();
    return context->cxx->set_tuning(std::move(cache.value()));
  });
}

}  // extern "C"
