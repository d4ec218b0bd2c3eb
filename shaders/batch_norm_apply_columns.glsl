// The body of batch_norm_apply_columns_vec4.comp (coefficients from the running statistics:
// the eval forward), batch_norm_apply_columns_cached_vec4.comp (cached:
// record_batch_norm_inference_apply) and normalize_channel_columns_vec4.comp (the batch
// statistics: the training forward's apply, each sample's rows on lanes of their own:
// sample_columns.glsl), and of their _pair_ variants (COLUMN_CHANNEL_PAIRS: planes of
// I >= 4 elements, two channels' coefficients per unit) and normalize_channel_columns_units_vec4
// (COLUMN_GROUP_UNITS: the channel the column, groups of I >= 4 channels, gamma and beta
// four channels per load) and normalize_channel_columns_stats_units_vec4 (COLUMN_CHANNEL_UNITS
// with the batch statistics: a group per channel, the statistics four groups per load too):
// batch_norm_apply.comp for rows
// of whole 4-element units, every tensor 4-element aligned (the host's choice:
// src/ops/planner.cpp), where
// batch_norm_apply_vec4 is not taken (NHWC; NCHW planes that are not whole units or
// shorter than 8 of them, or more runs than the device's workgroup counts allow). The
// tensor is R rows of L = K * I elements (NCHW: a row is a sample n; NHWC, I == 1: a row
// is a position (n, s) of K channels). An invocation keeps one column unit c, elements
// 4c .. 4c + 3 of every row, and walks rows: the coefficients of its four elements'
// channels (4c + j) / I are computed once, whatever the layout, where a unit spans two
// channels (I not a multiple of 4) and up to four (I < 3; four with NHWC's I == 1). The
// _pair_ variants, for I >= 4, compute two (README, Performance: 128-bit access); the
// _units_ variants (COLUMN_CHANNEL_UNITS: I == 1, the unit's elements are channels 4c ..
// 4c + 3) read their inputs four channels per load: 4 per-lane loads instead of 16 (2
// instead of 8 cached), each a loop over the lanes on lavapipe.
//
// Why a kernel of its own: see batch_norm_apply_planes.glsl. On lavapipe every path compiled
// into a shader costs time, and a load that differs per lane is a loop over the lanes, so
// this kernel has one path and its per-lane loads come once per column, not per row.
//
// Grid (the running statistics and cached coefficients; the batch statistics' variants walk
// each sample's rows on lanes of their own: sample_columns.glsl): one column unit per
// invocation, and its rows. The grid's lanes, numbered across workgroups, cover `step`
// whole rows (the host makes their count a multiple of the row's units); lane v takes
// column unit v % Lu and walks rows v / Lu, v / Lu + step, .. , so the lanes side by side
// read consecutive units at every step, as the elementwise reference does, and each
// computes (or loads) its coefficients once for about R / step rows (the host's rows per
// invocation: 16 on SwiftShader, 8 elsewhere, or the tuned
// StrategyChoice::rows_per_invocation: src/ops/batchnorm_inference.cpp says why). On
// lavapipe (f32, cached coefficients, two runs each): 12-16 rows per lane took 8x64x56x56
// NHWC to 1.05-1.15x the elementwise pass and 32x2048x7x7 NHWC to 1.09-1.17x, where each
// lane walking up to 32 consecutive rows took
// 1.3-2.0x; 24 or more rows spread a step apart fall back to 1.5-3x there (2x as many
// pages per SIMD chunk's walk as rows). SwiftShader ran 0.58-1.01x from 16 rows up. Against
// the consecutive blocks, alternating on a quiet host (load 0): 8x64x56x56 NHWC 1.03-1.23x
// against 1.22-2.44x, 32x2048x7x7 NCHW 1.04-1.29x against 1.03-1.76x; on a host loaded by
// other work, 8x64x56x56 NHWC 1.7-2.1x against 1.2-1.5x (three runs each, 2026-12-04).
// Why the float slots' units are not `readonly` here, and the eval's coefficients pass through
// opaque() (common.glsl): a lane keeps up to 16 values over its whole walk, more than lavapipe
// has registers, and a value that is a plain load seems to be loaded again inside the walk
// rather than kept on the stack (a load that differs per lane is a loop over the lanes). On
// lavapipe (256 bits, f16, cached coefficients) the units' loads passed through an opaque
// no-op, or only 8 of the 16 values kept, ran as fast as without `readonly`, and loading them
// every row ran 1.7x slower. Measured (3 alternating runs of 15 timed each), eval forward and
// cached apply: NHWC f16 0.75-0.79x the time with `readonly`, NCHW f16 0.74-0.79x with
// opaque() (in runs free of the host's slow spells); NHWC f16 training forward 0.82-0.94x;
// float32 within the noise. SwiftShader (f32, the units' change): 0.98x over 30 forward cases,
// within its noise. opaque() on the training forward's batch statistics measured no gain.
#define VKNORM_FLOAT_UNITS_ACCESS
#include "common.glsl"
#include "batch_norm_coefficients.glsl"
#include "sample_columns.glsl"
#include "vec4.glsl"

// What a channel's elements need, and y from them. Per unit a mat4: row n holds
// coefficient n of each of the unit's four elements (transpose of one column per element).
#if defined(BATCH_STATISTICS) && BATCH_STATISTICS
// The training forward's apply (normalize_channel_columns*): the batch statistics
// (save_mean, save_invstd) of group b * K + k, and column col's affine channel
// (column_channel). In normalize.comp's operations: (x - mean) * invstd, then * gamma
// (normalize.comp says why not one product).
vec4 column_coefficients(uint b, uint k, uint col) {
  uint g = b * pc.K + k, channel = column_channel(k, col);
  return vec4(stat_mean(g), stat_invstd(g), gamma_of(channel), beta_of(channel));
}
vec4 apply_unit(vec4 x, mat4 m) { return (x - m[0]) * m[1] * m[2] + m[3]; }
#else
vec4 column_coefficients(uint b, uint k, uint col) { return opaque(vec4(variant_coefficients(k), 0.0, 0.0)); }
vec4 apply_unit(vec4 x, mat4 m) { return x * m[0] + m[1]; }
#endif

#if defined(COLUMN_CHANNEL_UNITS) && COLUMN_CHANNEL_UNITS
// Channels k .. k + 3 (k a multiple of 4) of sample b: as column_coefficients, four at a
// time, in the same float32 operations (batch_norm_coefficients.glsl). The host binds the
// slots these read 16-byte aligned (tensors_vec4_aligned in src/ops/planner.cpp; with a
// weight and a bias only: a missing one's stand-in holds no units).
mat4 unit_coefficients(uint b, uint k) {
#if defined(BATCH_STATISTICS) && BATCH_STATISTICS
  // A group per channel (normalize_channel_columns_stats_units_vec4): groups b * K + k ..
  // + 3, channels k .. k + 3.
  uint g = b * pc.K + k;
  return mat4(load4_mean(g), load4_stat(g), load4_weight(k), load4_bias(k));
#elif defined(CACHED_COEFFICIENTS) && CACHED_COEFFICIENTS
  return mat4(load4_work(k), load4_work(pc.K + k), vec4(0.0), vec4(0.0));
#else
  precise vec4 invstd = 1.0 / sqrt(load4_stat(k) + pc.eps);
  precise vec4 scale = invstd * (has_flag(FLAG_WEIGHT) ? load4_weight(k) : vec4(1.0));
  precise vec4 shift = (has_flag(FLAG_BIAS) ? load4_bias(k) : vec4(0.0)) - load4_mean(k) * scale;
  return mat4(scale, shift, vec4(0.0), vec4(0.0));
#endif
}
#endif

#if defined(WIDE_UNITS) && WIDE_UNITS
#if !(defined(COLUMN_CHANNEL_UNITS) && COLUMN_CHANNEL_UNITS) && !(defined(COLUMN_CHANNEL_PAIRS) && COLUMN_CHANNEL_PAIRS)
#error "the _wide_ kernels are the channel units' and pairs' only"
#endif
// The _wide_ variants (WIDE_UNITS: 8 elements per lane; float16's 8 halves in one 16-byte
// access, float32's two vec4s, vec4.glsl): a unit is 8 elements, its coefficients two
// mat4s. A _pair_ lane's two channels' coefficients then serve 8 elements, not 4.
const uint UNIT = 8u;
struct UnitCoefficients { mat4 lo, hi; };
void apply_at(uint e, UnitCoefficients m, bool residual, bool relu) {
  Wide x = load8_x(e);
  Wide y = Wide(apply_unit(x.lo, m.lo), apply_unit(x.hi, m.hi));
  if (residual) {
    Wide side = load8_side(e);
    y.lo += side.lo;
    y.hi += side.hi;
  }
  store8_out(e, relu ? Wide(max(y.lo, vec4(0.0)), max(y.hi, vec4(0.0))) : y);
}
#else
const uint UNIT = 4u;
#define UnitCoefficients mat4
void apply_at(uint e, mat4 m, bool residual, bool relu) {
  vec4 y = apply_unit(load4_x(e), m);
  if (residual) y += load4_side(e);
  store4_out(e, relu ? max(y, vec4(0.0)) : y);
}
#endif

// Elements j .. j + 3 of a unit that starts r0 elements into channel k0 (coefficients
// first_k) and may cross into k0 + 1 (second_k) at element I - r0 (the _pair_ variants).
mat4 pair_coefficients(vec4 first_k, vec4 second_k, uint r0, uint j) {
  bvec4 next = greaterThanEqual(uvec4(r0 + j) + uvec4(0u, 1u, 2u, 3u), uvec4(pc.I));
  return transpose(mat4(next.x ? second_k : first_k, next.y ? second_k : first_k, next.z ? second_k : first_k,
                        next.w ? second_k : first_k));
}

// Rows first_row, first_row + row_step, .. below end_row of column unit c. `residual` is a
// constant at each call: the loop without it reads no residual, even masked.
void walk_column(uint c, uint first_row, uint end_row, uint row_step, UnitCoefficients m, bool residual) {
  bool relu = has_flag(FLAG_RELU);
  uint L = pc.K * pc.I;
  uint e = first_row * L + UNIT * c, e_step = row_step * L;
  for (uint r = first_row; r < end_row; r += row_step) {
    apply_at(e, m, residual, relu);
    e += e_step;
  }
}

void main() {
#if defined(BATCH_STATISTICS) && BATCH_STATISTICS
  // Each sample's rows (its statistics groups) on lanes of their own: sample_columns.glsl.
  SampleColumn lane = sample_column(UNIT);
  uint b = lane.b, c = lane.c, first_row = lane.first_row, end_row = lane.end_row, row_step = lane.row_step;
  bool live = lane.live;
#else
  // The running statistics or cached coefficients hold for every row: the grid's lanes
  // cover `step` rows. The host keeps the lanes below 2^32 and a multiple of Lu, or at
  // least R * Lu (a lane per unit: row_step >= R then).
  uint wg = gl_WorkGroupSize.x, Lu = pc.K * pc.I / UNIT;
  uint lanes = gl_NumWorkGroups.x * gl_NumWorkGroups.y * wg;
  uint v = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * wg + gl_LocalInvocationID.x;
  uint b = 0u, end_row = element_count() / (UNIT * Lu);
  uint first_row = v / Lu, c = v - first_row * Lu, row_step = lanes / Lu;
  bool live = first_row < end_row;
#endif
  if (live) {
#if defined(WIDE_UNITS) && WIDE_UNITS && COLUMN_CHANNEL_UNITS
    UnitCoefficients m = UnitCoefficients(unit_coefficients(b, 8u * c), unit_coefficients(b, 8u * c + 4u));
#elif defined(WIDE_UNITS) && WIDE_UNITS
    // COLUMN_CHANNEL_PAIRS with I >= 8 (the host's choice): a unit's 8 elements lie in two
    // channels at most.
    uint col = 8u * c, k0 = col / pc.I, r0 = col - k0 * pc.I;
    vec4 first_k = column_coefficients(b, k0, col), second_k = column_coefficients(b, min(k0 + 1u, pc.K - 1u), col);
    UnitCoefficients m =
        UnitCoefficients(pair_coefficients(first_k, second_k, r0, 0u), pair_coefficients(first_k, second_k, r0, 4u));
#elif defined(COLUMN_CHANNEL_UNITS) && COLUMN_CHANNEL_UNITS
    mat4 m = unit_coefficients(b, 4u * c);
#elif defined(BATCH_STATISTICS) && BATCH_STATISTICS && defined(COLUMN_GROUP_UNITS) && COLUMN_GROUP_UNITS
    // The channel is the column, groups of I >= 4 channels (channels-last GroupNorm): the
    // unit's 4 channels lie in group k0, or cross into k0 + 1 at channel I - r0. Their gamma
    // and beta are one load each (the host binds them 16-byte aligned), the statistics two
    // groups' pairs: 6 per-lane loads instead of column_coefficients' 16.
    uint col = 4u * c, k0 = col / pc.I, r0 = col - k0 * pc.I;
    uint g0 = b * pc.K + k0, g1 = b * pc.K + min(k0 + 1u, pc.K - 1u);
    bvec4 next = greaterThanEqual(uvec4(r0) + uvec4(0u, 1u, 2u, 3u), uvec4(pc.I));
    vec4 mean = mix(vec4(stat_mean(g0)), vec4(stat_mean(g1)), next);
    vec4 invstd = mix(vec4(stat_invstd(g0)), vec4(stat_invstd(g1)), next);
    vec4 gamma = has_flag(FLAG_WEIGHT) ? load4_weight(col) : vec4(1.0);
    vec4 beta = has_flag(FLAG_BIAS) ? load4_bias(col) : vec4(0.0);
    mat4 m = mat4(mean, invstd, gamma, beta);
#else
    uint col = 4u * c, k0 = col / pc.I, r0 = col - k0 * pc.I;
#if COLUMN_CHANNEL_PAIRS
    // I >= 4 and coefficients of the channel alone (the host's choice): a unit lies in
    // channel k0, or crosses into k0 + 1 at element I - r0, so two coefficient pairs serve
    // it (each a per-lane load of four values on lavapipe). The clamp keeps the last
    // channel's units, which never cross, inside the buffers.
    vec4 first_k = column_coefficients(b, k0, col), second_k = column_coefficients(b, min(k0 + 1u, pc.K - 1u), col);
    mat4 m = pair_coefficients(first_k, second_k, r0, 0u);
#else
    mat4 m = transpose(mat4(column_coefficients(b, k0, col), column_coefficients(b, k0 + spans(r0 + 1u), col + 1u),
                            column_coefficients(b, k0 + spans(r0 + 2u), col + 2u),
                            column_coefficients(b, k0 + spans(r0 + 3u), col + 3u)));
#endif
#endif
    if (has_flag(FLAG_RESIDUAL))
      walk_column(c, first_row, end_row, row_step, m, true);
    else
      walk_column(c, first_row, end_row, row_step, m, false);
  }
}
