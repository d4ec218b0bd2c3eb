#version 450
#extension GL_GOOGLE_include_directive : require
// dgamma / dbeta when gamma varies inside a statistics group (GroupNorm, LayerNorm,
// RMSNorm), pass 1: partial sums of dy and dy * xhat over the elements of each affine
// channel, each xhat with the statistics of its own group, for channels adjacent in
// memory (Ip == 1: LayerNorm rows, channels-last GroupNorm where grad_partial does not store
// these partials itself, FLAG_COLUMN_PARAMS): one invocation per channel
// walks a chunk of rows, so a workgroup reads contiguous memory and needs no reduction.
// Channels in planes (Ip > 1) take param_partial_planes.comp. Two kernels, not one with
// both paths: a kernel that holds a barrier anywhere runs slowly on SwiftShader even where
// no invocation reaches it (LayerNorm 8x4097 backward there: this pass took 3.7 ms with
// the planes' reduction compiled in, 0.58 ms without).
#include "common.glsl"
#include "workspace.glsl"

void main() {
  uint chunk = gl_WorkGroupID.x;
  uint begin = chunk * pc.pchunk_size;
  uint end = min(pc.Op, begin + pc.pchunk_size);
  uint stride = gl_NumWorkGroups.y * gl_WorkGroupSize.x;
  for (uint c = gl_WorkGroupID.y * gl_WorkGroupSize.x + gl_LocalInvocationID.x; c < pc.Kp; c += stride) {
    // Here Kp = K * I: row o is (b, o % O) of the statistics view, and channel c sits
    // in its group k = c / I. Rows of one b share the group: one division and one load
    // of statistics per run.
    uint k = c / pc.I;
    vec2 sums = vec2(0.0);
    if (pc.K == 1u) {
      // One group per b (LayerNorm, RMSNorm: per row), the same for every lane: its
      // statistics are uniform loads, cheaper than a run loop (measured on lavapipe).
      for (uint o = begin; o < end; ++o) {
        uint g = o / pc.O, e = o * pc.Kp + c;
        float dy = load_dy(e);
        sums += vec2(dy, dy * (load_x(e) - stat_mean(g)) * stat_invstd(g));
      }
      store_sums(param_record(c, chunk), sums);
      continue;
    }
    for (uint o = begin; o < end;) {
      uint b = o / pc.O, run_end = min(end, (b + 1u) * pc.O);
      float mean = stat_mean(b * pc.K + k), invstd = stat_invstd(b * pc.K + k);
      for (; o < run_end; ++o) {
        uint e = o * pc.Kp + c;
        float dy = load_dy(e);
        sums += vec2(dy, dy * (load_x(e) - mean) * invstd);
      }
    }
    store_sums(param_record(c, chunk), sums);
  }
}
