// Eval BatchNorm in two steps (include/vknorm/batchnorm_inference.hpp): the per-channel
// coefficients (shaders/batch_norm_coefficients.comp) and their apply
// (shaders/batch_norm_apply.comp, or a _cached_vec4 variant where 4-element access
// allows), each one dispatch; and the grids of batch_norm_apply and its variants, which
// the eval forward's plan uses too.
#include "vknorm/batchnorm_inference.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "ops/batchnorm_apply.hpp"
#include "ops/norm_engine.hpp"
#include "ops/norm_kinds.hpp"
#include "ops/norm_lengths.hpp"
#include "ops/tuning.hpp"
#include "recorder_impl.hpp"

namespace vknorm {
namespace {

// PyTorch's checks, then what the two steps need: the running statistics, in eval mode.
Result<NormGeometry> check_inference(const BatchNormParams& p) {
  auto g = check_batch_norm(p);
  if (!g) return g.status();
  if (p.training)
    return Status::invalid_argument(
        "params.training: expected false: inference coefficients fold the running statistics, which only eval "
        "mode normalizes with (training normalizes with the batch's)");
  if (!p.track_running_stats)
    return Status::invalid_argument(
        "params.track_running_stats: expected true: without running statistics eval mode normalizes with the "
        "batch's, which no coefficients computed ahead can hold");
  if (p.dtype != DType::f32 && p.dtype != DType::f16)
    return Status::invalid_argument("params.dtype: expected DType::f32 or DType::f16, got " +
                                    std::to_string(static_cast<int>(p.dtype)));
  if (p.layout != Layout::nchw && p.layout != Layout::nhwc)
    return Status::invalid_argument("params.layout: expected Layout::nchw or Layout::nhwc, got " +
                                    std::to_string(static_cast<int>(p.layout)));
  return g;
}

uint32_t element_bytes(DType d) { return d == DType::f16 ? 2 : 4; }

// A grid dimension: at least 1, at most the device's limit and 65535 (the kernels loop
// over what a smaller grid leaves).
uint32_t fold_grid(uint64_t n, uint32_t limit) {
  return static_cast<uint32_t>(std::clamp<uint64_t>(n, 1, std::clamp<uint32_t>(limit, 1, 65535)));
}

// Records one dispatch of `id` with the slots given, after fetching its pipeline (which
// require_prepared_kernels may refuse): nothing is recorded when anything fails.
Status dispatch_one(CommandRecorder& recorder, KernelId id, DType dtype, const SlotBinding (&slots)[kSlotCount],
                    const PushConstants& push, uint32_t grid_x, uint32_t grid_y) {
  CommandRecorder::Impl& rec = impl_of(recorder);
  auto kernel = rec.state->kernels.get(*rec.state, id, dtype);
  if (!kernel) return kernel.status();
  VKNORM_TRY(rec.reserve(1));
  return rec.dispatch(*kernel.value(), slots, push, grid_x, grid_y);
}

SlotBinding binding(const BufferRef& r, const SlotUse& use) {
  return {r.buffer, r.offset, use.bytes(), use.element_bytes, use.packed};
}

}  // namespace

// As rows.glsl's grid (row_grid in planner.cpp), in units of 4 elements where the rows
// allow them. A plane row gives each invocation up to 16 units before it is split over
// more workgroups; vector rows give each invocation up to 8 rows before more workgroups
// in y. Where the offsets make the shader take single elements, it loops over 4 times
// more per invocation: on lavapipe that ran 2.5-4x faster than a grid sized for single
// elements (fewer, longer workgroups).
ApplyGrid batch_norm_apply_grid(const Capabilities& caps, uint64_t elements, uint64_t K, uint64_t I) {
  const uint64_t wg = workgroup_size_for(caps);
  const bool channels_last = I == 1;
  const uint64_t width = (channels_last ? K : I) % 4 == 0 ? 4 : 1;
  const bool plane = !channels_last && I / width >= wg;
  const uint64_t L = plane ? I : K * I;
  if (L == 0 || elements == 0) return {};
  const uint64_t R = elements / L, units = L / width;
  const uint64_t rows_per_step = units >= wg ? 1 : wg / units;
  const uint64_t row_steps = (R + rows_per_step - 1) / rows_per_step;
  const uint64_t cols_per_workgroup = plane ? wg * 16 : wg;
  ApplyGrid grid;
  grid.x = fold_grid((units + cols_per_workgroup - 1) / cols_per_workgroup,
                     std::min(caps.max_workgroup_count_x, kGridStrideWorkgroups));
  grid.y = fold_grid(plane ? row_steps : (row_steps + 7) / 8,
                     std::min(caps.max_workgroup_count_y, kGridStrideWorkgroups / grid.x));
  return grid;
}

namespace {

// Rows per invocation where a kernel walks a block of rows over one column each: on a CPU
// device up to 32 rows, as long as a block stays within about 8192 units (128 KB of
// float32): on lavapipe (f32 eval, 4 runs each, alternating) 32 rows took 8x256x14x14
// NHWC (rows of 64 units) from 1.35-1.46x the elementwise pass to 1.02-1.60x (three of the
// four runs 1.02-1.13), but 32x2048x7x7 NHWC (rows of 512) from 1.1-1.7x to 2.3-3.0x; 16
// rows took it from 1.61-1.84x (8 rows) to 1.32-1.41x (three runs each, 2026-12-02).
// Elsewhere 8 (fewer rows, more workgroups: a GPU wants many in flight; not yet measured on
// one). normalize and grad_input take these blocks over vector rows (shaders/rows.glsl;
// docs/performance-history.md, 2026-12-02 evening); batch_norm_apply_columns.glsl spreads its rows
// (column_spread_rows).
constexpr uint64_t kColumnRowsCpu = 32, kColumnBlockUnits = 8192;
}  // namespace

uint64_t column_walk_rows(const Capabilities& caps, uint64_t accesses, uint64_t chosen) {
  if (chosen) return chosen;
  const uint64_t most_rows = caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU ? kColumnRowsCpu : 8;
  return std::clamp<uint64_t>(kColumnBlockUnits / std::max<uint64_t>(accesses, 1), 8, most_rows);
}

// 16 on SwiftShader (a CPU device other than lavapipe), 8 elsewhere. SwiftShader runs 16
// faster (3 runs each, alternating, f32, 2026-12-04 evening): BatchNorm eval 32x2048x7x7
// NCHW / NHWC 1.21 / 1.24 times the elementwise pass with 8 rows, 0.93 / 1.00 with 16, the
// training forward 2.59 / 2.52 against 2.15 / 1.95. On lavapipe 16 is bimodal from run to
// run: 32x2048x7x7 NCHW f32 eval 1.19 in five alternating runs, then 1.56-1.79 in the three
// whole-bench runs right after (and 1.64-1.87 in the afternoon), where 8 held 1.28-1.34 in
// all of them; f16 1.52 against 1.75 in the good runs. A GPU wants many lanes in flight (not
// yet measured on one). `vknorm tune` offers the others (8, 16, 32, 64).
uint64_t column_spread_rows(const Capabilities& caps, uint64_t chosen) {
  if (chosen) return chosen;
  const bool cpu = caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  return cpu && caps.driver_id != VK_DRIVER_ID_MESA_LLVMPIPE ? 16 : 8;
}

// A columns lane computes its channels' coefficients itself, from 4 loads per unit and a
// square root and a division per channel, and each lane of a step anew: 32x2048x7x7 NHWC
// computes each channel's about 100 times. On a CPU device a second dispatch and its
// barrier cost little beside that. eval_fwd, medians, times the elementwise pass, one pass
// -> coefficients first (2026-12-05): lavapipe (4 runs alternating) 32x2048x7x7 NHWC f16
// 1.18 -> 1.01, NCHW f16 (wide pairs) 1.08 -> 1.05, 8x64x56x56 NHWC f16 0.86 -> 0.76, and
// f32 (6 runs) 32x2048x7x7 NHWC 1.10 -> 1.02, 8x64x56x56 NHWC 1.04 -> 0.97; SwiftShader (3
// runs, f32) 32x2048x7x7 NCHW 0.95 -> 0.81, NHWC 0.90 -> 0.75. A GPU keeps the one pass:
// there a barrier costs microseconds against an apply of the same order (not yet measured
// on one). Hosts disagree: on another (2026-12-05 night) lavapipe's float16 ran faster in
// one pass (tuned so in 7 of 8 classes, 0.71-0.82x), which a tuning cache takes
// (StrategyChoice::coefficients).
bool eval_coefficients_first(const Capabilities& caps) { return caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU; }

namespace {

// batch_norm_apply_columns.glsl: a lane per column unit, the grid's lanes a whole number of
// rows (`step`), each lane walking its column's rows `step` apart, about `rows` of them. A
// grid of whole rows takes a multiple of q = Lu / gcd(wg, Lu) workgroups; where more than
// the x dimension holds, a multiple of q in x times y (more rows per lane where the device
// allows fewer), and where q alone is too many for x, a lane per unit (one row each) or,
// past the grid's limits, nullopt: batch_norm_apply. At most 2^31 lanes, so that the
// shader's indices stay in 32 bits.
//
// `wide_units`: the _wide_ kernels where a unit of 8 elements spans at most two channels
// (I >= 8) or is 8 adjacent ones (I == 1), as WideUnits allows. Their grid is the
// 4-element one for twice the rows (its lanes are whole rows of 8-element units too, and
// each walks half the rows with twice the elements), so that the 4-element twins
// (without_wide_units) run on it where the offsets ask for them.
std::optional<ApplyVariant> columns_variant(const Capabilities& caps, uint64_t elements, uint64_t K, uint64_t I,
                                            uint64_t chosen_rows, WideUnits wide_units) {
  const uint64_t wg = kernel_workgroup_size(caps, KernelId::batch_norm_apply_columns_vec4);
  const uint64_t L = K * I;
  if (L == 0 || L % 4 != 0 || elements == 0 || wg == 0) return std::nullopt;
  const uint64_t units = L / 4, R = elements / L, total = units * R;
  const uint64_t q = units / std::gcd(wg, units);
  const bool wide = L % 8 == 0 && ((I >= 8 && wide_units.pairs) || (I == 1 && wide_units.units));
  const uint64_t rows = column_spread_rows(caps, chosen_rows) * (wide ? 2 : 1);
  const uint64_t step = (R + rows - 1) / rows;
  uint64_t groups = (step * units + wg - 1) / wg;
  groups = (groups + q - 1) / q * q;
  const uint64_t limit_x = std::clamp<uint32_t>(caps.max_workgroup_count_x, 1, 65535);
  const uint64_t limit_y = std::clamp<uint32_t>(caps.max_workgroup_count_y, 1, 65535);
  constexpr uint64_t kMostLanes = uint64_t{1} << 31;
  uint64_t x = groups, y = 1;
  if (groups > limit_x && q <= limit_x) {
    // Whole rows still: more rows per lane where the grid holds fewer workgroups.
    x = limit_x / q * q;
    y = std::min({(groups + x - 1) / x, limit_y, kMostLanes / (x * wg)});
  } else if (groups > limit_x) {
    x = limit_x;
    y = ((total + wg - 1) / wg + x - 1) / x;
    if (y > limit_y || x * y * wg > kMostLanes) return std::nullopt;
  }
  ApplyVariant v;
  v.pairs = I >= 4;
  v.units = I == 1;
  v.wide = wide;
  v.grid = {static_cast<uint32_t>(x), static_cast<uint32_t>(y)};
  return v;
}

// Each plane in segments of kApplyRun * chunk_size units, one run of kApplyRun lanes each
// (shaders/batch_norm_apply_planes.glsl): a lane takes up to 16 units on a CPU device (the
// fewer lanes, the fewer coefficient set-ups; lavapipe runs a few threads), 4 elsewhere (a
// GPU wants many lanes in flight; not yet measured on one), as evenly as the plane allows.
// Planes shorter than a run take the columns variant.
constexpr uint64_t kApplyRun = 8;
std::optional<ApplyVariant> planes_variant(const Capabilities& caps, uint64_t elements, uint64_t K, uint64_t I) {
  const uint64_t most_steps = caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 16 : 4;
  const uint64_t wg = kernel_workgroup_size(caps, KernelId::batch_norm_apply_vec4);
  const bool channels_last = I == 1;
  if (channels_last || K == 0 || I % 4 != 0 || I / 4 < kApplyRun || wg % kApplyRun != 0 || elements == 0)
    return std::nullopt;
  const uint64_t planes = elements / I, units = I / 4;
  const uint64_t segments = (units + kApplyRun * most_steps - 1) / (kApplyRun * most_steps);
  const uint64_t steps = (units + kApplyRun * segments - 1) / (kApplyRun * segments);
  const uint64_t runs_per_group = wg / kApplyRun;
  const uint64_t groups = (planes * segments + runs_per_group - 1) / runs_per_group;
  const uint64_t x = std::min<uint64_t>(groups, caps.max_workgroup_count_x);
  const uint64_t y = (groups + x - 1) / x;
  if (y > caps.max_workgroup_count_y) return std::nullopt;
  ApplyVariant v;
  v.planes = true;
  v.grid = {static_cast<uint32_t>(x), static_cast<uint32_t>(y)};
  v.chunks = static_cast<uint32_t>(segments);
  v.chunk_size = static_cast<uint32_t>(steps);
  return v;
}

}  // namespace

KernelId ApplyVariant::kernel(bool cached, bool affine) const {
  using K = KernelId;
  if (planes) return cached ? K::batch_norm_apply_cached_vec4 : K::batch_norm_apply_vec4;
  if (units && cached)
    return wide ? K::batch_norm_apply_columns_units_cached_wide_vec4 : K::batch_norm_apply_columns_units_cached_vec4;
  if (units && affine)
    return wide ? K::batch_norm_apply_columns_units_wide_vec4 : K::batch_norm_apply_columns_units_vec4;
  if (pairs && wide)
    return cached ? K::batch_norm_apply_columns_pair_cached_wide_vec4 : K::batch_norm_apply_columns_pair_wide_vec4;
  if (pairs) return cached ? K::batch_norm_apply_columns_pair_cached_vec4 : K::batch_norm_apply_columns_pair_vec4;
  return cached ? K::batch_norm_apply_columns_cached_vec4 : K::batch_norm_apply_columns_vec4;
}

KernelId without_channel_units(KernelId kernel) {
  switch (kernel) {
    case KernelId::batch_norm_apply_columns_units_vec4:
    case KernelId::batch_norm_apply_columns_units_wide_vec4: return KernelId::batch_norm_apply_columns_vec4;
    case KernelId::batch_norm_apply_columns_units_cached_vec4:
    case KernelId::batch_norm_apply_columns_units_cached_wide_vec4:
      return KernelId::batch_norm_apply_columns_cached_vec4;
    case KernelId::normalize_channel_columns_units_vec4:
    case KernelId::normalize_channel_columns_stats_units_vec4: return KernelId::normalize_channel_columns_vec4;
    default: return kernel;
  }
}

KernelId without_wide_units(KernelId kernel) {
  switch (kernel) {
    case KernelId::batch_norm_apply_columns_pair_wide_vec4: return KernelId::batch_norm_apply_columns_pair_vec4;
    case KernelId::batch_norm_apply_columns_pair_cached_wide_vec4:
      return KernelId::batch_norm_apply_columns_pair_cached_vec4;
    case KernelId::batch_norm_apply_columns_units_wide_vec4: return KernelId::batch_norm_apply_columns_units_vec4;
    case KernelId::batch_norm_apply_columns_units_cached_wide_vec4:
      return KernelId::batch_norm_apply_columns_units_cached_vec4;
    case KernelId::normalize_channel_columns_stats_units_wide_vec4:
      return KernelId::normalize_channel_columns_stats_units_vec4;
    case KernelId::normalize_channel_columns_pair_wide_vec4: return KernelId::normalize_channel_columns_pair_vec4;
    default: return kernel;
  }
}

std::optional<ApplyVariant> batch_statistics_columns_variant(const Capabilities& caps, uint64_t B, uint64_t O,
                                                             uint64_t K, uint64_t I, bool channel_per_group,
                                                             uint64_t rows, WideUnits wide_units) {
  const uint64_t wg = kernel_workgroup_size(caps, KernelId::normalize_channel_columns_vec4);
  const uint64_t L = K * I;
  if (B == 0 || O == 0 || L == 0 || L % 4 != 0 || wg == 0) return std::nullopt;
  const uint64_t units = L / 4;
  const bool wide =
      channel_per_group && L % 8 == 0 && ((I == 1 && wide_units.units) || (I >= 8 && wide_units.pairs));
  // At most 2^30 lanes asked for, so that whole workgroups (and the shader's lane index)
  // stay below 2^31.
  constexpr uint64_t kMostLanes = uint64_t{1} << 30;
  if (B * units > kMostLanes) return std::nullopt;
  const uint64_t per_lane = column_spread_rows(caps, rows) * (wide ? 2 : 1);
  const uint64_t step = std::min((O + per_lane - 1) / per_lane, kMostLanes / (B * units));
  const uint64_t groups = (B * step * units + wg - 1) / wg;
  const uint64_t limit_x = std::clamp<uint32_t>(caps.max_workgroup_count_x, 1, 65535);
  const uint64_t limit_y = std::clamp<uint32_t>(caps.max_workgroup_count_y, 1, 65535);
  const uint64_t x = std::min(groups, limit_x), y = (groups + x - 1) / x;
  if (y > limit_y) return std::nullopt;
  ApplyVariant v;
  v.pairs = I >= 4 && channel_per_group;
  v.units = I >= 4 && !channel_per_group;
  v.wide = wide;
  v.grid = {static_cast<uint32_t>(x), static_cast<uint32_t>(y)};
  return v;
}

// Float16's _wide_ columns come before the planes where loads_loop_over_lanes (the planes
// kernel reads 4 halves per load) and the tensor has rows enough for a lane's walk at the
// rules' rows (each lane sets up its coefficients once for its rows; a tuned count changes
// the grid, not the kernel): on lavapipe (eval, 3 runs each,
// alternating, 2026-12-05) 8x64x56x56 NCHW ran at 1.00 times the elementwise pass through
// the planes, 0.87 through wide columns; 8x256x14x14 NCHW 1.19 and 0.86; but InstanceNorm
// 1x64x128x128 NCHW (one row) 3.45 through wide columns. Elsewhere the planes first: on
// SwiftShader (2 runs each) 0.39 against 0.70, 0.40 against 0.60.
std::optional<ApplyVariant> batch_norm_apply_variant(const Capabilities& caps, uint64_t elements, uint64_t K,
                                                     uint64_t I, uint64_t rows, WideUnits wide) {
  const uint64_t R = K * I == 0 ? 0 : elements / (K * I);
  if (wide.half && loads_loop_over_lanes(caps) && R >= column_spread_rows(caps))
    if (auto columns = columns_variant(caps, elements, K, I, rows, wide); columns && columns->wide) return columns;
  if (auto planes = planes_variant(caps, elements, K, I)) return planes;
  return columns_variant(caps, elements, K, I, rows, wide);
}

Result<uint64_t> batch_norm_inference_coefficient_count(const BatchNormParams& params) {
  auto g = check_inference(params);
  if (!g) return g.status();
  return kBatchNormCoefficientsPerChannel * g->channels;
}

Status record_batch_norm_inference_coefficients(CommandRecorder& recorder, const BatchNormParams& params,
                                                const BatchNormCoefficientsBuffers& buffers) {
  auto g = check_inference(params);
  if (!g) return g.status();
  const uint64_t C = g->channels;
  if (C == 0) return {};  // no channel, no coefficient: nothing to bind (Vulkan has no empty buffer)
  const Capabilities& caps = impl_of(recorder).state->caps;
  const SlotUse per_channel{Role::none, C, 4, false};
  const SlotUse coefficients{Role::none, kBatchNormCoefficientsPerChannel * C, 4, false};
  VKNORM_TRY(check_buffer_ref(caps, "running_mean", &buffers.running_mean, per_channel));
  VKNORM_TRY(check_buffer_ref(caps, "running_var", &buffers.running_var, per_channel));
  if (params.affine) {
    VKNORM_TRY(check_buffer_ref(caps, "weight", &buffers.weight, per_channel));
    VKNORM_TRY(check_buffer_ref(caps, "bias", &buffers.bias, per_channel));
  }
  VKNORM_TRY(check_buffer_ref(caps, "coefficients", &buffers.coefficients, coefficients));

  SlotBinding slots[kSlotCount] = {};
  slots[kSlotMean] = binding(buffers.running_mean, per_channel);
  slots[kSlotStat] = binding(buffers.running_var, per_channel);
  if (params.affine) {
    slots[kSlotWeight] = binding(buffers.weight, per_channel);
    slots[kSlotBias] = binding(buffers.bias, per_channel);
  }
  slots[kSlotWork] = binding(buffers.coefficients, coefficients);
  PushConstants push;
  push.K = static_cast<uint32_t>(C);
  push.eps = params.eps;
  if (params.affine) push.flags |= kFlagWeight | kFlagBias;
  const uint64_t wg = workgroup_size_for(caps);
  return dispatch_one(recorder, KernelId::batch_norm_coefficients, params.dtype, slots, push,
                      fold_grid((C + wg - 1) / wg, caps.max_workgroup_count_x), 1);
}

Status record_batch_norm_inference_apply(CommandRecorder& recorder, const BatchNormParams& params,
                                         const BatchNormApplyBuffers& buffers) {
  auto g = check_inference(params);
  if (!g) return g.status();
  const uint64_t E = g->elements, C = g->channels, S = g->spatial;
  if (E == 0) return {};  // nothing to read or write (an empty batch, no channel or a zero dim)
  const Capabilities& caps = impl_of(recorder).state->caps;
  if (E > UINT32_MAX)
    return Status::unsupported("x: " + std::to_string(E) + " elements, more than the 2^32 - 1 a binding indexes");
  const bool packed = tensor_storage(params.dtype, caps) == TensorStorage::f16_packed;
  const SlotUse tensor{Role::none, E, element_bytes(params.dtype), packed};
  const SlotUse coefficients{Role::none, kBatchNormCoefficientsPerChannel * C, 4, false};
  VKNORM_TRY(check_buffer_ref(caps, "x", &buffers.x, tensor));
  VKNORM_TRY(check_buffer_ref(caps, "y", &buffers.y, tensor));
  VKNORM_TRY(check_buffer_ref(caps, "coefficients", &buffers.coefficients, coefficients));
  if (params.epilogue.residual) VKNORM_TRY(check_buffer_ref(caps, "residual", &buffers.residual, tensor));

  SlotBinding slots[kSlotCount] = {};
  slots[kSlotX] = binding(buffers.x, tensor);
  slots[kSlotOut] = binding(buffers.y, tensor);
  slots[kSlotWork] = binding(buffers.coefficients, coefficients);
  if (params.epilogue.residual) slots[kSlotSide] = binding(buffers.residual, tensor);
  // The statistics view of channel_plan (NCHW: I = S; NHWC, or no spatial dims: I = 1),
  // which the shader reads as rows (shaders/batch_norm_apply.comp).
  const bool nchw = params.layout == Layout::nchw && S > 1;
  PushConstants push;
  push.O = static_cast<uint32_t>(E / (C * (nchw ? S : 1)));
  push.K = static_cast<uint32_t>(C);
  push.I = static_cast<uint32_t>(nchw ? S : 1);
  if (params.epilogue.residual) push.flags |= kFlagResidual;
  if (params.epilogue.relu) push.flags |= kFlagRelu;

  // The eval forward's choice (planner.cpp), with the variants that read cached
  // coefficients: a 4-element variant where every tensor starts at a multiple of 4
  // elements and the shape has one, its rows per invocation tuned as the eval forward's.
  // The _wide_ kernels where the shape has one and the tensors are 16-byte aligned (in
  // float32, wherever they are 4-element aligned).
  const auto aligned_to = [&](uint64_t bytes) {
    return buffers.x.offset % bytes == 0 && buffers.y.offset % bytes == 0 &&
           (!params.epilogue.residual || buffers.residual.offset % bytes == 0);
  };
  const bool aligned = aligned_to(4 * uint64_t{element_bytes(params.dtype)});
  const bool half = params.dtype == DType::f16;
  const WideUnits wide{.pairs = aligned_to(16), .units = aligned_to(16), .half = half && aligned_to(16)};
  // (The plan, which checks the params again, only where a cache could hold a choice: this
  // call runs every frame.)
  const TuningCache& tuning = impl_of(recorder).state->tuning;
  uint32_t rows = 0;
  if (!tuning.empty())
    if (const auto eval = plan_norm(params)) rows = tuned_choice(tuning, *eval, Direction::forward).rows_per_invocation;
  if (const auto variant = aligned ? batch_norm_apply_variant(caps, E, C, push.I, rows, wide) : std::nullopt) {
    push.chunks = variant->chunks;
    push.chunk_size = variant->chunk_size;
    // The _units_ kernel reads the coefficients as units: they must start 16-byte aligned.
    const KernelId kernel = buffers.coefficients.offset % 16 == 0 ? variant->kernel(true)
                                                                  : without_channel_units(variant->kernel(true));
    return dispatch_one(recorder, kernel, params.dtype, slots, push, variant->grid.x, variant->grid.y);
  }
  const ApplyGrid grid = batch_norm_apply_grid(caps, E, C, push.I);
  return dispatch_one(recorder, KernelId::batch_norm_apply, params.dtype, slots, push, grid.x, grid.y);
}

Result<std::vector<float>> batch_norm_inference_coefficients(const BatchNormParams& params,
                                                             const std::vector<float>& running_mean,
                                                             const std::vector<float>& running_var,
                                                             const std::vector<float>& weight,
                                                             const std::vector<float>& bias) {
  auto g = check_inference(params);
  if (!g) return g.status();
  VKNORM_TRY(check_norm_lengths(*g, {.kind = "batch_norm",
                                     .x = static_cast<size_t>(g->elements),
                                     .weight = if_given(params.affine, weight.size()),
                                     .bias = if_given(params.affine, bias.size()),
                                     .running_mean = running_mean.size(),
                                     .running_var = running_var.size()}));
  const size_t C = static_cast<size_t>(g->channels);
  std::vector<float> out(kBatchNormCoefficientsPerChannel * C);
  for (size_t c = 0; c < C; ++c) {
    // One float32 operation per step, as the kernel (and PyTorch's CPU eval BatchNorm).
    const float invstd = 1.0f / std::sqrt(running_var[c] + params.eps);
    const float scale = invstd * (params.affine ? weight[c] : 1.0f);
    const float moved = running_mean[c] * scale;
    out[c] = scale;
    out[C + c] = (params.affine ? bias[c] : 0.0f) - moved;
  }
  return out;
}

}  // namespace vknorm
