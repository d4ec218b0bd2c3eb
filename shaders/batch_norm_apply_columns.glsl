// The body of batch_norm_apply_columns_vec4.comp (coefficients from the running statistics:
// the eval forward), batch_norm_apply_columns_cached_vec4.comp (cached:
// record_batch_norm_inference_apply) and normalize_channel_columns_vec4.comp (the batch
// statistics of a group per channel: the training forward's apply), and of their _pair_
// variants (COLUMN_CHANNEL_PAIRS: planes of I >= 4 elements, two channels' coefficients
// per unit): batch_norm_apply.comp for rows of whole 4-element units, every tensor
// 4-element aligned (the host's choice: src/ops/planner.cpp), where
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
// Grid: workgroups in x cover the columns (and loop where there are more); a workgroup
// holds wg / Lu rows side by side where a row is shorter than the workgroup; workgroups in y
// split the rows into blocks, and each of a workgroup's side-by-side row sets walks its own
// consecutive rows of its block (on lavapipe, with 32 rows of 64 units each, 1.02-1.60x the
// elementwise pass, three of four runs 1.02-1.13, against 1.35-1.46x for rows a row set
// apart; the host gives a block up to 32 rows on a CPU device, 8 elsewhere, or the tuned
// StrategyChoice::rows_per_invocation).
#include "common.glsl"
#include "batch_norm_coefficients.glsl"
#include "vec4.glsl"

// What a channel's elements need, and y from them. Per unit a mat4: row n holds
// coefficient n of each of the unit's four elements (transpose of one column per element).
#if defined(BATCH_STATISTICS) && BATCH_STATISTICS
// The training forward's apply (normalize_channel_columns*): the batch
// statistics (save_mean, save_invstd; one group per channel), in normalize.comp's
// operations: (x - mean) * invstd, then * gamma (normalize.comp says why not one product).
vec4 channel_coefficients(uint k) { return vec4(stat_mean(k), stat_invstd(k), gamma_of(k), beta_of(k)); }
vec4 apply_unit(vec4 x, mat4 m) { return (x - m[0]) * m[1] * m[2] + m[3]; }
#else
vec4 channel_coefficients(uint k) { return vec4(variant_coefficients(k), 0.0, 0.0); }
vec4 apply_unit(vec4 x, mat4 m) { return x * m[0] + m[1]; }
#endif

#if defined(COLUMN_CHANNEL_UNITS) && COLUMN_CHANNEL_UNITS
// Channels k .. k + 3 (k a multiple of 4): as channel_coefficients, four at a time, in the
// same float32 operations (batch_norm_coefficients.glsl). The host binds the slots these
// read 16-byte aligned (tensors_vec4_aligned in src/ops/planner.cpp; the eval forward with
// a weight and a bias only: a missing one's stand-in holds no units).
mat4 unit_coefficients(uint k) {
#if defined(CACHED_COEFFICIENTS) && CACHED_COEFFICIENTS
  return mat4(load4_work(k), load4_work(pc.K + k), vec4(0.0), vec4(0.0));
#else
  precise vec4 invstd = 1.0 / sqrt(load4_stat(k) + pc.eps);
  precise vec4 scale = invstd * (has_flag(FLAG_WEIGHT) ? load4_weight(k) : vec4(1.0));
  precise vec4 shift = (has_flag(FLAG_BIAS) ? load4_bias(k) : vec4(0.0)) - load4_mean(k) * scale;
  return mat4(scale, shift, vec4(0.0), vec4(0.0));
#endif
}
#endif

// Rows first_row .. end_row - 1 of column unit c. `residual` is a constant at each call:
// the loop without it reads no residual, even masked.
void walk_column(uint c, uint first_row, uint end_row, mat4 m, bool residual) {
  bool relu = has_flag(FLAG_RELU);
  uint L = pc.K * pc.I;
  uint e = first_row * L + 4u * c;
  for (uint r = first_row; r < end_row; ++r) {
    vec4 y = apply_unit(load4_x(e), m);
    if (residual) y += load4_side(e);
    store4_out(e, relu ? max(y, vec4(0.0)) : y);
    e += L;
  }
}

// The channels element 4c + j lies past channel k0 = 4c / I, from s = 4c - k0 * I + j
// (s < I + 3, so below 4I): the compares do what a division per element would, and on
// lavapipe a division is a loop over the lanes. Subtracting instead of comparing with 2I
// and 3I: those could wrap for I above 2^31.
uint spans(uint s) {
  uint one = uint(s >= pc.I);
  s -= one * pc.I;
  uint two = uint(s >= pc.I);
  s -= two * pc.I;
  return one + two + uint(s >= pc.I);
}

void main() {
  uint wg = gl_WorkGroupSize.x, lid = gl_LocalInvocationID.x;
  uint L = pc.K * pc.I, Lu = L / 4u;
  uint R = element_count() / L;
  uint packed = Lu >= wg ? 1u : wg / Lu;  // rows side by side in a workgroup
  uint sub = Lu >= wg ? 0u : lid / Lu;
  uint first_col = Lu >= wg ? gl_WorkGroupID.x * wg + lid : lid - sub * Lu;
  uint col_step = Lu >= wg ? gl_NumWorkGroups.x * wg : Lu;
  // Workgroup y takes a block of consecutive rows, per_sub of them for each row set: an
  // invocation's rows lie close together (on lavapipe rows far apart cost up to 2x). Lanes
  // past the packed rows walk none.
  uint steps = (R + packed - 1u) / packed;
  uint per_sub = (steps + gl_NumWorkGroups.y - 1u) / gl_NumWorkGroups.y;
  uint first_row = (gl_WorkGroupID.y * packed + sub) * per_sub;
  uint end_row = sub < packed ? min(R, first_row + per_sub) : 0u;
  for (uint c = first_col; c < Lu; c += col_step) {
#if defined(COLUMN_CHANNEL_UNITS) && COLUMN_CHANNEL_UNITS
    mat4 m = unit_coefficients(4u * c);
#else
    uint k0 = 4u * c / pc.I, r0 = 4u * c - k0 * pc.I;
#if COLUMN_CHANNEL_PAIRS
    // I >= 4: a unit lies in channel k0, or crosses into k0 + 1 at element I - r0, so two
    // coefficient pairs serve it (each a per-lane load of four values on lavapipe). The
    // clamp keeps the last channel's units, which never cross, inside the buffers.
    vec4 first = channel_coefficients(k0), second = channel_coefficients(min(k0 + 1u, pc.K - 1u));
    bvec4 next = greaterThanEqual(uvec4(r0) + uvec4(0u, 1u, 2u, 3u), uvec4(pc.I));
    mat4 m = transpose(mat4(next.x ? second : first, next.y ? second : first, next.z ? second : first,
                            next.w ? second : first));
#else
    mat4 m = transpose(mat4(channel_coefficients(k0), channel_coefficients(k0 + spans(r0 + 1u)),
                            channel_coefficients(k0 + spans(r0 + 2u)), channel_coefficients(k0 + spans(r0 + 3u))));
#endif
#endif
    if (has_flag(FLAG_RESIDUAL))
      walk_column(c, first_row, end_row, m, true);
    else
      walk_column(c, first_row, end_row, m, false);
  }
}
