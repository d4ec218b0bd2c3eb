// The C API, part 2: the five norms. Each kind converts its C params (convert); the entry
// points are the same few templates for every kind, over the kind table (ops/norm_kinds.hpp).
// The conversions and the host-array plumbing are shared with the CPU reference's entry
// points (src/c_api/reference.cpp) through c_api/host_io.hpp.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "c_api/c_api_internal.hpp"
#include "c_api/host_io.hpp"
#include "ops/norm_kinds.hpp"

namespace vknorm::capi {
namespace {

// ---- Field conversions (the C enums are plain ints: any value can arrive) ----

Result<std::vector<int64_t>> to_shape(const int64_t* dims, size_t rank, const char* name) {
  if (rank > 0 && !dims)
    return Status::invalid_argument(std::string(name) + ": expected " + std::to_string(rank) + " dims, got NULL");
  return std::vector<int64_t>(dims, dims + rank);
}

// The enum fields arrive by reference and are read as raw ints (raw_enum): loading an
// out-of-range value as the enum type would itself be undefined.
Result<Layout> to_layout(const vknorm_layout& field) {
  const int layout = raw_enum(field);
  if (layout == VKNORM_LAYOUT_NCHW) return Layout::nchw;
  if (layout == VKNORM_LAYOUT_NHWC) return Layout::nhwc;
  return Status::invalid_argument("params.layout: expected VKNORM_LAYOUT_NCHW (0) or VKNORM_LAYOUT_NHWC (1), got " +
                                  std::to_string(layout));
}

Result<DType> to_dtype(const vknorm_dtype& field) {
  const int dtype = raw_enum(field);
  if (dtype == VKNORM_DTYPE_F32) return DType::f32;
  if (dtype == VKNORM_DTYPE_F16) return DType::f16;
  return Status::invalid_argument("params.dtype: expected VKNORM_DTYPE_F32 (0) or VKNORM_DTYPE_F16 (1), got " +
                                  std::to_string(dtype));
}

// The 1d/2d/3d selectors of batch and instance norm: 0..3 in both the C and C++ enums.
template <class Dims, class CDims>
Result<Dims> to_dims(const CDims& field) {
  const int value = raw_enum(field);
  if (value >= 0 && value <= 3) return static_cast<Dims>(value);
  return Status::invalid_argument("params.dims: expected 0 (any), 1, 2 or 3, got " + std::to_string(value));
}

Epilogue to_epilogue(const vknorm_epilogue& e) { return {e.residual != 0, e.relu != 0}; }

// Fills the fields every kind has; the kind fills the rest.
template <class Params>
Status convert_common(const int64_t* shape, size_t rank, const vknorm_dtype& dtype, const vknorm_epilogue& epilogue,
                      Params& out) {
  auto s = to_shape(shape, rank, "params.shape");
  if (!s) return s.status();
  auto d = to_dtype(dtype);
  if (!d) return d.status();
  out.shape = std::move(s.value());
  out.dtype = d.value();
  out.epilogue = to_epilogue(epilogue);
  return {};
}

vknorm_geometry to_c(const NormGeometry& g) {
  vknorm_geometry o{};
  o.elements = g.elements;
  o.outer = g.outer;
  o.channels = g.channels;
  o.spatial = g.spatial;
  o.stat_groups = g.stat_groups;
  o.group_size = g.group_size;
  o.affine_size = g.affine_size;
  o.uses_batch_stats = g.uses_batch_stats;
  o.updates_running = g.updates_running;
  return o;
}

// ---- Host arrays of the standalone convenience functions ----

Result<std::vector<float>> read(const float* data, size_t length, const char* name) {
  if (length > 0 && !data)
    return Status::invalid_argument(std::string(name) + ": expected " + std::to_string(length) + " floats, got NULL");
  return std::vector<float>(data, data + length);
}

struct HostForwardInputs {
  std::vector<float> x, weight, bias, residual, running_mean, running_var;
};

struct HostBackwardInputs {
  std::vector<float> x, dy, weight, save_mean, save_invstd, running_mean, running_var, y;
};

Status read_inputs(const vknorm_host_forward& io, HostForwardInputs& in) {
  const std::pair<std::vector<float>*, Result<std::vector<float>>> arrays[] = {
      {&in.x, read(io.x, io.x_length, "io.x")},
      {&in.weight, read(io.weight, io.weight_length, "io.weight")},
      {&in.bias, read(io.bias, io.bias_length, "io.bias")},
      {&in.residual, read(io.residual, io.residual_length, "io.residual")},
      {&in.running_mean, read(io.running_mean, io.running_mean_length, "io.running_mean")},
      {&in.running_var, read(io.running_var, io.running_var_length, "io.running_var")},
  };
  for (const auto& [dst, value] : arrays) {
    if (!value) return value.status();
    *dst = value.value();
  }
  return {};
}

Status read_inputs(const vknorm_host_backward& io, HostBackwardInputs& in) {
  const std::pair<std::vector<float>*, Result<std::vector<float>>> arrays[] = {
      {&in.x, read(io.x, io.x_length, "io.x")},
      {&in.dy, read(io.dy, io.dy_length, "io.dy")},
      {&in.weight, read(io.weight, io.weight_length, "io.weight")},
      {&in.save_mean, read(io.save_mean, io.save_mean_length, "io.save_mean")},
      {&in.save_invstd, read(io.save_invstd, io.save_invstd_length, "io.save_invstd")},
      {&in.running_mean, read(io.running_mean, io.running_mean_length, "io.running_mean")},
      {&in.running_var, read(io.running_var, io.running_var_length, "io.running_var")},
      {&in.y, read(io.y, io.y_length, "io.y")},
  };
  for (const auto& [dst, value] : arrays) {
    if (!value) return value.status();
    *dst = value.value();
  }
  return {};
}

// An output the caller asked for (dst not NULL) must fit; checked for all outputs before
// any is written, so a refused call leaves the caller's arrays untouched.
struct Output {
  const std::vector<float>& values;
  float* dst;
  size_t capacity;
  const char* name;
};

template <size_t N>
Status write_outputs(const Output (&outputs)[N]) {
  for (const Output& o : outputs)
    if (o.dst && o.capacity < o.values.size())
      return Status::invalid_argument(std::string(o.name) + ": capacity of " + std::to_string(o.capacity) +
                                      " floats, the result has " + std::to_string(o.values.size()));
  for (const Output& o : outputs)
    if (o.dst && !o.values.empty()) std::memcpy(o.dst, o.values.data(), o.values.size() * sizeof(float));
  return {};
}

// Running statistics are in/out: written back in place (unchanged unless the call updates them).
void write_back(const std::vector<float>& values, float* dst, size_t length) {
  if (dst && !values.empty()) std::memcpy(dst, values.data(), std::min(length, values.size()) * sizeof(float));
}

}  // namespace

// ---- Host arrays in, results out: shared by the *_host and the *_reference functions ----

Status run_host_forward(const vknorm_host_forward& io, const HostForwardCall& call) {
  HostForwardInputs in;
  VKNORM_TRY(read_inputs(io, in));
  auto result = call({in.x, in.weight, in.bias, in.running_mean, in.running_var, in.residual});
  if (!result) return result.status();
  const Output outputs[] = {
      {result->y, io.y, io.y_capacity, "io.y"},
      {result->save_mean, io.save_mean, io.save_mean_capacity, "io.save_mean"},
      {result->save_invstd, io.save_invstd, io.save_invstd_capacity, "io.save_invstd"},
  };
  VKNORM_TRY(write_outputs(outputs));
  write_back(in.running_mean, io.running_mean, io.running_mean_length);
  write_back(in.running_var, io.running_var, io.running_var_length);
  return {};
}

Status run_host_backward(const vknorm_host_backward& io, const HostBackwardCall& call) {
  HostBackwardInputs in;
  VKNORM_TRY(read_inputs(io, in));
  auto result =
      call({in.x, in.dy, in.weight, in.save_mean, in.save_invstd, in.running_mean, in.running_var, in.y});
  if (!result) return result.status();
  const Output outputs[] = {
      {result->dx, io.dx, io.dx_capacity, "io.dx"},
      {result->dweight, io.dweight, io.dweight_capacity, "io.dweight"},
      {result->dbias, io.dbias, io.dbias_capacity, "io.dbias"},
      {result->dresidual, io.dresidual, io.dresidual_capacity, "io.dresidual"},
  };
  return write_outputs(outputs);
}

// ---- The kinds: each converts its C params; everything else is the kind table's ----

namespace {

// BatchNorm and InstanceNorm have the same fields in C and in C++.
template <class Params, class CParams>
Result<Params> convert_channel_kind(const CParams& c) {
  Params p;
  VKNORM_TRY(convert_common(c.shape, c.rank, c.dtype, c.epilogue, p));
  auto dims = to_dims<decltype(p.dims)>(c.dims);
  if (!dims) return dims.status();
  auto layout = to_layout(c.layout);
  if (!layout) return layout.status();
  p.dims = dims.value();
  p.layout = layout.value();
  p.training = c.training != 0;
  p.affine = c.affine != 0;
  p.track_running_stats = c.track_running_stats != 0;
  p.eps = c.eps;
  p.momentum = c.momentum;
  return p;
}

}  // namespace

Result<BatchNormParams> convert(const vknorm_batch_norm_params& c) { return convert_channel_kind<BatchNormParams>(c); }
Result<InstanceNormParams> convert(const vknorm_instance_norm_params& c) {
  return convert_channel_kind<InstanceNormParams>(c);
}

Result<GroupNormParams> convert(const vknorm_group_norm_params& c) {
  GroupNormParams p;
  VKNORM_TRY(convert_common(c.shape, c.rank, c.dtype, c.epilogue, p));
  auto layout = to_layout(c.layout);
  if (!layout) return layout.status();
  p.layout = layout.value();
  p.num_groups = c.num_groups;
  p.affine = c.affine != 0;
  p.eps = c.eps;
  return p;
}

Result<LayerNormParams> convert(const vknorm_layer_norm_params& c) {
  LayerNormParams p;
  VKNORM_TRY(convert_common(c.shape, c.rank, c.dtype, c.epilogue, p));
  auto normalized = to_shape(c.normalized_shape, c.normalized_rank, "params.normalized_shape");
  if (!normalized) return normalized.status();
  p.normalized_shape = std::move(normalized.value());
  p.elementwise_affine = c.elementwise_affine != 0;
  p.bias = c.bias != 0;
  p.eps = c.eps;
  return p;
}

Result<RMSNormParams> convert(const vknorm_rms_norm_params& c) {
  RMSNormParams p;
  VKNORM_TRY(convert_common(c.shape, c.rank, c.dtype, c.epilogue, p));
  auto normalized = to_shape(c.normalized_shape, c.normalized_rank, "params.normalized_shape");
  if (!normalized) return normalized.status();
  p.normalized_shape = std::move(normalized.value());
  p.elementwise_affine = c.elementwise_affine != 0;
  if (c.has_eps) p.eps = c.eps;
  return p;
}

namespace {

// ---- The entry points, once for every kind ----

template <class CParams>
vknorm_status check_entry(const char* function, const CParams* params, vknorm_geometry* out_geometry) {
  return guard(nullptr, function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, params);
    auto p = convert(*params);
    if (!p) return p.status();
    auto g = NormKind<std::remove_cvref_t<decltype(p.value())>>::check(p.value());
    if (!g) return g.status();
    if (out_geometry) *out_geometry = to_c(g.value());
    return {};
  });
}

template <class CParams>
vknorm_status workspace_entry(const char* function, const vknorm_context* context, const CParams* params,
                              uint64_t* out_bytes) {
  return guard(context, function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, out_bytes);
    auto p = convert(*params);
    if (!p) return p.status();
    auto bytes = kind_workspace_size(*context->cxx, p.value());
    if (!bytes) return bytes.status();
    *out_bytes = bytes.value();
    return {};
  });
}

// Records the forward (vknorm_forward_buffers) or the backward (vknorm_backward_buffers).
template <class CParams, class CBuffers>
vknorm_status record_entry(const char* function, vknorm_recorder* recorder, const CParams* params,
                           const CBuffers* buffers) {
  return checked_record(function, recorder, params, buffers, [](CommandRecorder& rec, const auto& p, const auto& b) {
    if constexpr (std::is_same_v<CBuffers, vknorm_forward_buffers>)
      return record_kind_forward(rec, p, b);
    else
      return record_kind_backward(rec, p, b);
  });
}

template <class CParams>
vknorm_status host_forward_entry(const char* function, vknorm_context* context, const CParams* params,
                                 const vknorm_host_forward* io) {
  return guard(context, function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, io);
    auto p = convert(*params);
    if (!p) return p.status();
    return run_host_forward(*io, [&](const HostForwardArrays& a) { return kind_forward(*context->cxx, p.value(), a); });
  });
}

template <class CParams>
vknorm_status host_backward_entry(const char* function, vknorm_context* context, const CParams* params,
                                  const vknorm_host_backward* io) {
  return guard(context, function, [&](const char* fn) -> Status {
    VKNORM_CAPI_REQUIRE(fn, context);
    VKNORM_CAPI_REQUIRE(fn, params);
    VKNORM_CAPI_REQUIRE(fn, io);
    auto p = convert(*params);
    if (!p) return p.status();
    return run_host_backward(*io,
                             [&](const HostBackwardArrays& a) { return kind_backward(*context->cxx, p.value(), a); });
  });
}

}  // namespace
}  // namespace vknorm::capi

using namespace vknorm::capi;

extern "C" {

// ---- Params defaults: PyTorch's, as the C++ params structs have them ----

void vknorm_batch_norm_params_init(vknorm_batch_norm_params* params) {
  if (!params) return;
  const vknorm::BatchNormParams d;
  *params = vknorm_batch_norm_params{};
  params->dims = VKNORM_BATCH_NORM_ANY;
  params->training = d.training;
  params->affine = d.affine;
  params->track_running_stats = d.track_running_stats;
  params->eps = d.eps;
  params->momentum = d.momentum;
  params->layout = VKNORM_LAYOUT_NCHW;
  params->dtype = VKNORM_DTYPE_F32;
}

void vknorm_instance_norm_params_init(vknorm_instance_norm_params* params) {
  if (!params) return;
  const vknorm::InstanceNormParams d;
  *params = vknorm_instance_norm_params{};
  params->dims = VKNORM_INSTANCE_NORM_ANY;
  params->training = d.training;
  params->affine = d.affine;
  params->track_running_stats = d.track_running_stats;
  params->eps = d.eps;
  params->momentum = d.momentum;
  params->layout = VKNORM_LAYOUT_NCHW;
  params->dtype = VKNORM_DTYPE_F32;
}

void vknorm_group_norm_params_init(vknorm_group_norm_params* params) {
  if (!params) return;
  const vknorm::GroupNormParams d;
  *params = vknorm_group_norm_params{};
  params->num_groups = d.num_groups;
  params->affine = d.affine;
  params->eps = d.eps;
  params->layout = VKNORM_LAYOUT_NCHW;
  params->dtype = VKNORM_DTYPE_F32;
}

void vknorm_layer_norm_params_init(vknorm_layer_norm_params* params) {
  if (!params) return;
  const vknorm::LayerNormParams d;
  *params = vknorm_layer_norm_params{};
  params->elementwise_affine = d.elementwise_affine;
  params->bias = d.bias;
  params->eps = d.eps;
  params->dtype = VKNORM_DTYPE_F32;
}

void vknorm_rms_norm_params_init(vknorm_rms_norm_params* params) {
  if (!params) return;
  const vknorm::RMSNormParams d;
  *params = vknorm_rms_norm_params{};
  params->elementwise_affine = d.elementwise_affine;
  params->has_eps = d.eps.has_value();
  params->eps = d.effective_eps();
  params->dtype = VKNORM_DTYPE_F32;
}

// ---- BatchNorm's module state ----

void vknorm_batch_norm_state_init(vknorm_batch_norm_state* state) {
  if (!state) return;
  const vknorm::BatchNormState d;
  state->has_momentum = d.momentum.has_value();
  state->momentum = d.momentum.value_or(0.0f);
  state->num_batches_tracked = d.num_batches_tracked;
}

vknorm_status vknorm_batch_norm_state_next_training_factor(vknorm_batch_norm_state* state, float* out_factor) {
  return guard(nullptr, __func__, [&](const char* fn) -> vknorm::Status {
    VKNORM_CAPI_REQUIRE(fn, state);
    VKNORM_CAPI_REQUIRE(fn, out_factor);
    vknorm::BatchNormState s;
    if (state->has_momentum) s.momentum = state->momentum;
    else s.momentum.reset();
    s.num_batches_tracked = state->num_batches_tracked;
    *out_factor = s.next_training_factor();
    state->num_batches_tracked = s.num_batches_tracked;
    return {};
  });
}

// ---- Per kind: the same six calls ----

#define VKNORM_CAPI_KIND(kind)                                                                                     \
  vknorm_status vknorm_##kind##_check(const vknorm_##kind##_params* params, vknorm_geometry* out_geometry) {     \
    return check_entry(__func__, params, out_geometry);                                                           \
  }                                                                                                               \
  vknorm_status vknorm_##kind##_workspace_size(const vknorm_context* context, const vknorm_##kind##_params* params, \
                                               uint64_t* out_bytes) {                                            \
    return workspace_entry(__func__, context, params, out_bytes);                                                 \
  }                                                                                                               \
  vknorm_status vknorm_##kind##_record_forward(vknorm_recorder* recorder, const vknorm_##kind##_params* params,  \
                                               const vknorm_forward_buffers* buffers) {                          \
    return record_entry(__func__, recorder, params, buffers);                                                     \
  }                                                                                                               \
  vknorm_status vknorm_##kind##_record_backward(vknorm_recorder* recorder, const vknorm_##kind##_params* params, \
                                                const vknorm_backward_buffers* buffers) {                        \
    return record_entry(__func__, recorder, params, buffers);                                                     \
  }                                                                                                               \
  vknorm_status vknorm_##kind##_forward_host(vknorm_context* context, const vknorm_##kind##_params* params,       \
                                             const vknorm_host_forward* io) {                                     \
    return host_forward_entry(__func__, context, params, io);                                                     \
  }                                                                                                               \
  vknorm_status vknorm_##kind##_backward_host(vknorm_context* context, const vknorm_##kind##_params* params,      \
                                              const vknorm_host_backward* io) {                                   \
    return host_backward_entry(__func__, context, params, io);                                                    \
  }

VKNORM_CAPI_KIND(batch_norm)
VKNORM_CAPI_KIND(instance_norm)
VKNORM_CAPI_KIND(group_norm)
VKNORM_CAPI_KIND(layer_norm)
VKNORM_CAPI_KIND(rms_norm)

#undef VKNORM_CAPI_KIND

}  // extern "C"
