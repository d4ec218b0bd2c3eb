#version 450
#extension GL_GOOGLE_include_directive : require
// dgamma / dbeta when gamma varies inside a statistics group (GroupNorm, LayerNorm,
// RMSNorm), pass 1: partial sums of dy and dy * xhat over the elements of each affine
// channel, each xhat with the statistics of its own group. Two shapes of work:
//  - channels adjacent in memory (Ip == 1: LayerNorm rows, channels-last GroupNorm): one
//    invocation per channel walks a chunk of rows, so a workgroup reads contiguous
//    memory and needs no reduction;
//  - otherwise (Ip > 1: NCHW GroupNorm planes): workgroup (chunk, channel) reduces a
//    chunk of the channel's elements.
#include "common.glsl"
#include "reduce.glsl"

void main() {
  uint chunk = gl_WorkGroupID.x;
  uint lid = gl_LocalInvocationID.x;
  if (pc.Ip == 1u) {
    uint begin = chunk * pc.pchunk_size;
    uint end = min(pc.Op, begin + pc.pchunk_size);
    uint stride = gl_NumWorkGroups.y * gl_WorkGroupSize.x;
    for (uint c = gl_WorkGroupID.y * gl_WorkGroupSize.x + lid; c < pc.Kp; c += stride) {
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
        store_sums(param_sums_record(c, chunk), sums);
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
      store_sums(param_sums_record(c, chunk), sums);
    }
    return;
  }
  uint size = pc.Op * pc.Ip;
  for (uint c = gl_WorkGroupID.y; c < pc.Kp; c += gl_NumWorkGroups.y) {
    uint begin = chunk * pc.pchunk_size;
    uint end = min(size, begin + pc.pchunk_size);
    vec2 sums = vec2(0.0);
    // Elements m = o * Ip + i of channel c; a run of one o shares its group: one
    // division and one load of statistics per run, and no branch per element.
    for (uint m = begin + lid; m < end;) {
      uint o = m / pc.Ip, run_end = min(end, (o + 1u) * pc.Ip);
      uint offset = (o * pc.Kp + c) * pc.Ip - o * pc.Ip;  // e = m + offset inside the run
      uint g = element_group(offset + m);
      float mean = stat_mean(g), invstd = stat_invstd(g);
      for (; m < run_end; m += gl_WorkGroupSize.x) {
        uint e = offset + m;
        float dy = load_dy(e);
        sums += vec2(dy, dy * (load_x(e) - mean) * invstd);
      }
    }
    sums = workgroup_sum2(sums);
    if (lid == 0u) store_sums(param_sums_record(c, chunk), sums);
  }
}
