#version 450
#extension GL_GOOGLE_include_directive : require
// param_partial.comp for channels in planes (Ip > 1: NCHW GroupNorm): workgroup
// (chunk, channel) reduces a chunk of the channel's elements, { sum dy, sum dy * xhat },
// each xhat with the statistics of its own group.
#include "common.glsl"
#include "reduce.glsl"

void main() {
  uint chunk = gl_WorkGroupID.x;
  uint lid = gl_LocalInvocationID.x;
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
