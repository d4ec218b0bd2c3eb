// The body of batch_norm_apply_vec4.comp (coefficients from the running statistics: the
// eval forward) and batch_norm_apply_cached_vec4.comp (cached coefficients:
// record_batch_norm_inference_apply): batch_norm_apply.comp for NCHW planes of whole
// 4-element units, every tensor 4-element aligned (the host's choice: src/ops/planner.cpp):
// y = x * scale + shift, plane by plane.
//
// Each plane is cut into pc.chunks segments of RUN * pc.chunk_size units, and each segment
// is walked by a run of RUN lanes: lane j of the run takes units j, j + RUN, j + 2 RUN, ..
// of it. So a lane's units lie close together, the run's accesses of each step are
// consecutive, and a lane computes (or loads) its plane's coefficients once for
// pc.chunk_size units. A workgroup holds gl_WorkGroupSize.x / RUN runs: segments of one
// plane or of several consecutive ones.
//
// Why a kernel of its own: lavapipe (Mesa 22.3) runs a workgroup as SIMD chunks of lanes
// under an execution mask and branches around nothing, so every path of a shader costs
// time whether taken or not, and a load whose index comes from anything but constants and
// push constants is a loop over the lanes. Here nothing but this path is compiled. Measured
// (8x64x56x56 f32 eval, the ratio to the elementwise reference, 3 runs each): a workgroup
// per plane, its lanes a workgroup apart, 1.33-1.67 on lavapipe; runs of 8 lanes of 14
// steps each, 0.88-1.00 on lavapipe and 0.57-0.60 on SwiftShader.
#include "common.glsl"
#include "batch_norm_coefficients.glsl"
#include "vec4.glsl"

// Lanes per run: a SIMD chunk of lavapipe at 256 bits, a quarter of a 32-lane subgroup (each
// step of a run then covers 128 bytes of float32 units, a cache line on most GPUs).
const uint RUN = 8u;

// Units first, first + RUN, .. below end of the plane at element `row`. `residual` is a
// constant at each call: the loop without it reads no residual, even masked (on lavapipe
// 5-10% less time with the epilogue off).
void walk_segment(uint row, uint first, uint end, vec4 scale, vec4 shift, bool residual) {
  bool relu = has_flag(FLAG_RELU);
  for (uint u = first; u < end; u += RUN) {
    uint e = row + 4u * u;
    vec4 y = load4_x(e) * scale + shift;
    if (residual) y += load4_side(e);
    store4_out(e, relu ? max(y, vec4(0.0)) : y);
  }
}

void main() {
  uint units = pc.I / 4u, planes = element_count() / pc.I;
  uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  uint run = group * (gl_WorkGroupSize.x / RUN) + gl_LocalInvocationID.x / RUN;
  uint plane = run / pc.chunks, segment = run - plane * pc.chunks;
  vec2 ab = variant_coefficients(plane % pc.K);
  vec4 scale = vec4(ab.x), shift = vec4(ab.y);
  uint length = RUN * pc.chunk_size;  // units per segment
  uint first = segment * length + gl_LocalInvocationID.x % RUN;
  // Runs past the last plane walk nothing.
  uint end = plane < planes ? min(units, segment * length + length) : 0u;
  uint row = plane * pc.I;
  if (has_flag(FLAG_RESIDUAL))
    walk_segment(row, first, end, scale, shift, true);
  else
    walk_segment(row, first, end, scale, shift, false);
}
