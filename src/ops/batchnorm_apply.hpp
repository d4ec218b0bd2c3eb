// The grids of shaders/batch_norm_apply.comp and of its 4-element variants, and the choice
// of variant, shared by the eval forward's plan (planner.cpp) and
// record_batch_norm_inference_apply (batchnorm_inference.cpp).
#pragma once

#include <cstdint>
#include <optional>

#include "kernels.hpp"
#include "vknorm/context.hpp"

namespace vknorm {

struct ApplyGrid {
  uint32_t x = 1, y = 1;
};

// Workgroups over `elements` in the channel view of channel_plan: K channels, I = the
// spatial size in NCHW, 1 in NHWC (or without spatial dims).
ApplyGrid batch_norm_apply_grid(const Capabilities& caps, uint64_t elements, uint64_t K, uint64_t I);

// Rows per invocation where a kernel walks a block of rows over one column each (the
// vector rows of shaders/rows.glsl): rows of `accesses` loads each (units, or elements for
// the scalar kernels). `chosen`, where not 0: a tuned choice
// (StrategyChoice::rows_per_invocation), taken as it is.
uint64_t column_walk_rows(const Capabilities& caps, uint64_t accesses, uint64_t chosen = 0);
// Rows per invocation where each lane of batch_norm_apply_columns.glsl walks its column's
// rows spread a grid's step apart: 16 on a CPU device other than lavapipe, 8 elsewhere, or
// `chosen`.
uint64_t column_spread_rows(const Capabilities& caps, uint64_t chosen = 0);

// Whether the eval forward computes its coefficients first, once per channel into the
// workspace (batch_norm_coefficients.comp, as record_batch_norm_inference_coefficients),
// and then applies them through the cached kernels (as record_batch_norm_inference_apply)
// where its apply walks columns: the rule, on a CPU device (batchnorm_inference.cpp says
// why); a tuned choice (StrategyChoice::coefficients) overrides it.
bool eval_coefficients_first(const Capabilities& caps);

// The 4-element variant of batch_norm_apply a shape allows, with its grid, for tensors
// that start at multiples of 4 elements (the caller checks the offsets):
//  - planes (shaders/batch_norm_apply_planes.glsl): NCHW planes of at least 8 whole units,
//    each in `chunks` segments of 8 * `chunk_size` units (push constants), a run of 8 lanes
//    per segment, the workgroups (x, then y) holding every run;
//  - else columns (batch_norm_apply_columns.glsl): rows of L = K * I elements that are
//    whole units (chunks and chunk_size unused); `pairs` where I >= 4, so that a unit
//    spans at most two channels (the _pair_ kernels); `units` where I == 1, so that a unit
//    is four adjacent channels, whose inputs the _units_ kernels read four per load (the
//    eval forward's only with a weight and a bias: kernel()'s `affine`);
//  - else nullopt: batch_norm_apply itself.
// `wide`: a unit of 8 elements spans at most two channels (I >= 8) where WideUnits::pairs,
// or is 8 adjacent channels (I == 1) where WideUnits::units: the _pair_ or _units_
// kernels' _wide_ twins, 8 elements per lane, on the grid of the 4-element kernels for
// twice the rows.
struct ApplyVariant {
  bool planes = false, pairs = false, units = false, wide = false;
  ApplyGrid grid;
  uint32_t chunks = 1, chunk_size = 0;
  // The kernel: from the running statistics (the eval forward; `affine`: with a weight and
  // a bias), or cached coefficients.
  KernelId kernel(bool cached, bool affine = true) const;
};

// The kernel a _units_ variant falls back to where the per-channel buffers it reads as
// units are not 16-byte aligned (the tensors are); any other kernel: itself.
KernelId without_channel_units(KernelId kernel);
// A _wide_ kernel's 4-element twin, for tensors at multiples of 4 elements but not of 16
// bytes (the twin runs on the wide kernel's grid); any other kernel: itself.
KernelId without_wide_units(KernelId kernel);
// The _wide_ kernels a call may take:
//  - `pairs`: the _pair_ kernels' (float32, whose vec4 units are 16-byte aligned wherever
//    a 4-element kernel runs, and float16): a lane's two channels' coefficients serve 8
//    elements, not 4;
//  - `units`: the _units_ kernels' (either dtype: 8 elements per lane ran faster on both
//    CPU devices, though a lane loads twice the coefficients; README, 128-bit access);
//  - `half`: float16 (8 halves per 16-byte access), whose wide columns come before the
//    planes kernel on lavapipe (batch_norm_apply_variant says where).
// The float16 tensors may then need to be 16-byte aligned: where they are 8 bytes off,
// the 4-element twins run on the same grid (without_wide_units).
struct WideUnits {
  bool pairs = false, units = false, half = false;
};
// `rows`: column_spread_rows's `chosen`.
std::optional<ApplyVariant> batch_norm_apply_variant(const Capabilities& caps, uint64_t elements, uint64_t K,
                                                     uint64_t I, uint64_t rows = 0, WideUnits wide = {});

// The grid of shaders/sample_columns.glsl's lanes: the training forward's apply through
// batch_norm_apply_columns.glsl with the batch statistics (normalize_channel_columns_vec4,
// or its _pair_ twin where `pairs`: I >= 4 and a channel per group, its _units_ twin where
// `units`: I >= 4 and the channel the column) and the backward's
// grad_input_columns_vec4. Each of the B samples' O rows of L = K * I elements (whole
// units) with lanes of its own, `step` of its rows at a time, about column_spread_rows rows
// per lane; at least B * L / 4 lanes, at most 2^31. `channel_per_group`: cpg == 1, else the
// channel is the column (inner == 1, cpg == I). `wide_units`: with a channel per group and
// L a multiple of 8, `wide` where I == 1 and WideUnits::units
// (normalize_channel_columns_stats_units_wide_vec4, 8 channels per lane) or I >= 8 and
// WideUnits::pairs (normalize_channel_columns_pair_wide_vec4, 8 elements of at most two
// channels per lane), on the 4-element grid for twice the rows, as the eval forward's.
// nullopt where the grid cannot hold them.
std::optional<ApplyVariant> batch_statistics_columns_variant(const Capabilities& caps, uint64_t B, uint64_t O,
                                                             uint64_t K, uint64_t I, bool channel_per_group,
                                                             uint64_t rows = 0, WideUnits wide_units = {});

}  // namespace vknorm
