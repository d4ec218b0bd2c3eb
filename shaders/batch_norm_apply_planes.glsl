// The body of batch_norm_apply_vec4.comp (coefficients from the running statistics: the
// eval forward) and batch_norm_apply_cached_vec4.comp (cached coefficients:
// record_batch_norm_inference_apply): batch_norm_apply.comp for NCHW planes of at least a
// workgroup of whole 4-element units, every tensor 4-element aligned (the host's choice:
// src/ops/planner.cpp): y = x * scale + shift over one plane (n, k) per workgroup, or one
// of pc.chunks parts of it.
//
// Why a kernel of its own: lavapipe (Mesa 22.3) runs a workgroup as SIMD lanes under an
// execution mask and branches around nothing, so every path of a shader costs time
// whether taken or not, and a load inside a loop or branch is a loop over the lanes.
// Here nothing but this path is compiled, and the plane and its channel come from the
// workgroup alone, before any branch. Measured on lavapipe, 8x64x56x56 eval: 2.6 ms
// against 5.9 for batch_norm_apply's plane path, the elementwise reference 1.6.
//
// Workgroup (x, y) is part x (of pc.chunks) of plane y: pc.chunk_size units from unit
// x * pc.chunk_size. No division but the channel's: lavapipe divides lane by lane.
#include "common.glsl"
#include "batch_norm_coefficients.glsl"
#include "vec4.glsl"

// Units first .. end - 1 of the plane at element `row`. `residual` is a constant at each call:
// the loop without it reads no residual, even masked (on lavapipe 5-10% less time with
// the epilogue off: 32x2048x7x7 NHWC 2.45 -> 2.25x the elementwise pass).
void walk_plane(uint row, uint first, uint end, vec4 scale, vec4 shift, bool residual) {
  bool relu = has_flag(FLAG_RELU);
  for (uint u = first + gl_LocalInvocationID.x; u < end; u += gl_WorkGroupSize.x) {
    uint e = row + 4u * u;
    vec4 y = load4_x(e) * scale + shift;
    if (residual) y += load4_side(e);
    store4_out(e, relu ? max(y, vec4(0.0)) : y);
  }
}

void main() {
  uint plane = gl_WorkGroupID.y, units = pc.I / 4u;
  vec2 ab = variant_coefficients(plane % pc.K);
  vec4 scale = vec4(ab.x), shift = vec4(ab.y);
  uint first = gl_WorkGroupID.x * pc.chunk_size;
  uint end = min(units, first + pc.chunk_size);
  uint row = plane * pc.I;
  if (has_flag(FLAG_RESIDUAL))
    walk_plane(row, first, end, scale, shift, true);
  else
    walk_plane(row, first, end, scale, shift, false);
}
