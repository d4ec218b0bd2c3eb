#version 450
#extension GL_GOOGLE_include_directive : require
// Eval BatchNorm (and InstanceNorm with running statistics) as y = x * scale + shift,
// then the epilogue (residual add, ReLU), with the coefficients of the element's channel:
//  - cached (record_batch_norm_inference_apply, and the eval forward on a CPU device after
//    its own batch_norm_coefficients pass): slot work holds K scales, then K shifts
//    (batch_norm_coefficients.comp);
//  - or, with FLAG_STATS_ARE_VAR (the eval forward), computed from the running statistics
//    and the affine parameters, once per row or column an invocation walks: the same
//    float32 operations, so the two ways give the same y.
//
// The tensor is R rows of L contiguous elements, in units of 4 elements (128-bit for
// float32) where the plane (NCHW: I) or the channel count (NHWC: I == 1, K) and the
// element offsets of x, y (and the residual) are multiples of 4, else of 1. As rows.glsl:
//  - plane rows (NCHW planes of at least a workgroup of units): a row is one plane (n, k)
//    of L = I elements, channel row % K: one pair of coefficients per row;
//  - vector rows (otherwise): a row is (n) of L = K * I elements (NCHW), or (n, s) of K
//    channels (NHWC); each invocation keeps its columns, so their coefficients are
//    loaded once for all its rows.
// Workgroups in x cover a long row, short rows are packed several to a workgroup,
// workgroups in y walk the rows.
#include "common.glsl"
#include "batch_norm_coefficients.glsl"

// 4-element views of the tensors and of the coefficients: aliases of the bindings of slots
// x (0), out (2), work (9) and side (10) of src/shader_contract.h.
#if DTYPE_F16
#define TENSOR4_T f16vec4
#elif DTYPE_F16_PACKED
#define TENSOR4_T uvec2
#else
#define TENSOR4_T vec4
#endif
layout(std430, set = 0, binding = 0) readonly buffer X4 { TENSOR4_T data[]; } x4;
layout(std430, set = 0, binding = 10) readonly buffer Side4 { TENSOR4_T data[]; } side4;
layout(std430, set = 0, binding = 2) writeonly buffer Out4 { TENSOR4_T data[]; } out4;
layout(std430, set = 0, binding = 9) readonly buffer Work4 { vec4 data[]; } work4;

// Conversions as macros: with 16-bit storage only, a float16 value cannot be a function's
// parameter or result, only a buffer's element.
#if DTYPE_F16_PACKED
#define TO_VEC4(v) vec4(unpackHalf2x16((v).x), unpackHalf2x16((v).y))
#define FROM_VEC4(v) uvec2(packHalf2x16((v).xy), packHalf2x16((v).zw))
#else
#define TO_VEC4(v) vec4(v)
#define FROM_VEC4(v) TENSOR4_T(v)
#endif

// Unit u (4 elements from element 4u; 4-aligned bases: base / 4 is exact).
void apply4(uint u, vec4 scale, vec4 shift) {
  vec4 y = TO_VEC4(x4.data[x_base() / 4u + u]) * scale + shift;
  if (has_flag(FLAG_RESIDUAL)) y += TO_VEC4(side4.data[side_base() / 4u + u]);
  if (has_flag(FLAG_RELU)) y = max(y, vec4(0.0));
  out4.data[out_base() / 4u + u] = FROM_VEC4(y);
}
void apply1(uint e, float scale, float shift) { store_out(e, epilogue(e, load_x(e) * scale + shift)); }

vec2 coefficients_of(uint k) {
  return has_flag(FLAG_STATS_ARE_VAR) ? running_coefficients(k) : vec2(load_work(k), load_work(pc.K + k));
}

void main() {
  uint wg = gl_WorkGroupSize.x, lid = gl_LocalInvocationID.x;
  bool channels_last = pc.I == 1u;
  bool aligned = x_base() % 4u == 0u && out_base() % 4u == 0u && (!has_flag(FLAG_RESIDUAL) || side_base() % 4u == 0u);
  uint width = (channels_last ? pc.K : pc.I) % 4u == 0u && aligned ? 4u : 1u;
  bool plane = !channels_last && pc.I / width >= wg;
  uint L = plane ? pc.I : pc.K * pc.I;
  uint R = L == 0u ? 0u : element_count() / L;
  uint Lu = L / width;  // units per row
  if (Lu == 0u) return;
  uint packed = Lu >= wg ? 1u : wg / Lu;
  uint sub = Lu >= wg ? 0u : lid / Lu;
  if (sub >= packed) return;
  uint first_row = gl_WorkGroupID.y * packed + sub, row_step = gl_NumWorkGroups.y * packed;
  uint first_col = Lu >= wg ? gl_WorkGroupID.x * wg + lid : lid - sub * Lu;
  uint col_step = Lu >= wg ? gl_NumWorkGroups.x * wg : Lu;
  if (plane) {
    // The channel of plane row r is r % K: stepped by carries, not divided per row.
    uint k = first_row % pc.K, k_step = row_step % pc.K;
    for (uint r = first_row; r < R; r += row_step) {
      vec2 ab = coefficients_of(k);
      if (width == 4u)
        for (uint c = first_col; c < Lu; c += col_step) apply4(r * Lu + c, vec4(ab.x), vec4(ab.y));
      else
        for (uint c = first_col; c < Lu; c += col_step) apply1(r * L + c, ab.x, ab.y);
      k += k_step;
      if (k >= pc.K) k -= pc.K;
    }
    return;
  }
  // Vector rows (n) or (n, s) of L = K * I: column unit c holds elements c * width ..,
  // of channel c * width / I (NCHW: one channel per unit, I % width == 0), or channels
  // 4c .. 4c + 3 (NHWC). Its coefficients are loaded once for all its rows.
  bool coef4 = channels_last && width == 4u && !has_flag(FLAG_STATS_ARE_VAR) &&
               work_base() % 4u == 0u;  // K % 4 == 0: the shifts are aligned too
  for (uint c = first_col; c < Lu; c += col_step) {
    if (width == 4u) {
      vec4 scale, shift;
      if (!channels_last) {
        vec2 ab = coefficients_of(c * 4u / pc.I);
        scale = vec4(ab.x);
        shift = vec4(ab.y);
      } else if (coef4) {
        scale = work4.data[work_base() / 4u + c];
        shift = work4.data[(work_base() + pc.K) / 4u + c];
      } else {
        vec2 c0 = coefficients_of(4u * c), c1 = coefficients_of(4u * c + 1u);
        vec2 c2 = coefficients_of(4u * c + 2u), c3 = coefficients_of(4u * c + 3u);
        scale = vec4(c0.x, c1.x, c2.x, c3.x);
        shift = vec4(c0.y, c1.y, c2.y, c3.y);
      }
      for (uint r = first_row; r < R; r += row_step) apply4(r * Lu + c, scale, shift);
    } else {
      vec2 ab = coefficients_of(c / pc.I);
      for (uint r = first_row; r < R; r += row_step) apply1(r * L + c, ab.x, ab.y);
    }
  }
}
