#version 450
#extension GL_GOOGLE_include_directive : require
// dgamma / dbeta when gamma varies inside a statistics group (GroupNorm, LayerNorm,
// RMSNorm), pass 1: partial sums of dy * xhat and dy over the elements of each affine
// channel, each xhat with the statistics of its own group. Two shapes of work:
//  - channels adjacent in memory (Ip == 1: LayerNorm rows, channels-last GroupNorm): one
//    invocation per channel walks a chunk of rows, so a workgroup reads contiguous
//    memory and needs no reduction;
//  - otherwise (Ip > 1: NCHW GroupNorm planes): workgroup (chunk, channel) reduces a
//    chunk of the channel's elements.
#include "common.glsl"
#include "reduce.glsl"

void store_partial(uint c, uint chunk, vec2 sums) {
  uint at = pc.base[9] + pc.param_base + (c * pc.pchunks + chunk) * 2u;
  slot_work.data[at] = sums.x;
  slot_work.data[at + 1u] = sums.y;
}

vec2 element_sums(uint e) {
  uint g = element_group(e);
  float dy = load_dy(e);
  return vec2(dy * (load_x(e) - stat_mean(g)) * stat_invstd(g), dy);
}

void main() {
  uint chunk = gl_WorkGroupID.x;
  uint lid = gl_LocalInvocationID.x;
  if (pc.Ip == 1u) {
    uint begin = chunk * pc.pchunk_size;
    uint end = min(pc.Op, begin + pc.pchunk_size);
    uint stride = gl_NumWorkGroups.y * gl_WorkGroupSize.x;
    for (uint c = gl_WorkGroupID.y * gl_WorkGroupSize.x + lid; c < pc.Kp; c += stride) {
      vec2 sums = vec2(0.0);
      for (uint o = begin; o < end; ++o) sums += element_sums(o * pc.Kp + c);
      store_partial(c, chunk, sums);
    }
    return;
  }
  uint size = pc.Op * pc.Ip;
  for (uint c = gl_WorkGroupID.y; c < pc.Kp; c += gl_NumWorkGroups.y) {
    uint begin = chunk * pc.pchunk_size;
    uint end = min(size, begin + pc.pchunk_size);
    vec2 sums = vec2(0.0);
    // Walk (o, i) by carries; the group changes only with o, so its statistics are
    // loaded again only then.
    uint o = (begin + lid) / pc.Ip, i = (begin + lid) % pc.Ip;
    uint step_o = gl_WorkGroupSize.x / pc.Ip, step_i = gl_WorkGroupSize.x % pc.Ip;
    uint cached = 0xffffffffu;
    float mean = 0.0, invstd = 0.0;
    for (uint m = begin + lid; m < end; m += gl_WorkGroupSize.x) {
      uint e = (o * pc.Kp + c) * pc.Ip + i;
      if (o != cached) {
        cached = o;
        uint g = element_group(e);
        mean = stat_mean(g);
        invstd = stat_invstd(g);
      }
      float dy = load_dy(e);
      sums += vec2(dy * (load_x(e) - mean) * invstd, dy);
      o += step_o;
      i += step_i;
      if (i >= pc.Ip) {
        i -= pc.Ip;
        o += 1u;
      }
    }
    sums = workgroup_sum2(sums);
    if (lid == 0u) store_partial(c, chunk, sums);
  }
}
