#version 450
#extension GL_GOOGLE_include_directive : require
// param_partial.comp (channels adjacent in memory, Ip == 1) four channels per access
// (shaders/vec4.glsl): an invocation per 4-element unit of channels walks a chunk of rows. The host runs it where rows are whole units (Kp % 4 == 0) and x,
// dy (and the ReLU's y) are 4-element aligned (src/ops/planner.cpp). A unit's channels
// may lie in two groups (GroupNorm NHWC, channels per group not a multiple of 4): each
// component has its group's statistics. On lavapipe each buffer load is a loop over the
// lanes: a quarter of param_partial's loads.
#include "common.glsl"
#include "workspace.glsl"
#include "vec4.glsl"

// Sums of dy and of dy * xhat of the unit at channels c .. c + 3.
struct Sums4 { vec4 dy, dy_xhat; };
void add_row(inout Sums4 s, uint e, vec4 mean, vec4 invstd) {
  vec4 dy = load4_dy_through_relu(e);
  s.dy += dy;
  s.dy_xhat += dy * (load4_x(e) - mean) * invstd;
}

void main() {
  uint chunk = gl_WorkGroupID.x;
  uint begin = chunk * pc.pchunk_size;
  uint end = min(pc.Op, begin + pc.pchunk_size);
  uint units = pc.Kp / 4u;
  uint stride = gl_NumWorkGroups.y * gl_WorkGroupSize.x;
  for (uint u = gl_WorkGroupID.y * gl_WorkGroupSize.x + gl_LocalInvocationID.x; u < units; u += stride) {
    uint c = 4u * u;
    Sums4 s = Sums4(vec4(0.0), vec4(0.0));
    if (pc.K == 1u) {
      // One group per b, the same for every lane: uniform loads of its statistics, as in
      // param_partial.comp.
      for (uint o = begin; o < end; ++o) {
        uint g = o / pc.O;
        add_row(s, o * pc.Kp + c, vec4(stat_mean(g)), vec4(stat_invstd(g)));
      }
    } else {
      // Channel c + j is in group k[j] of its b. Rows of one b share the groups: the
      // statistics once per run.
      uvec4 k = (uvec4(c) + uvec4(0u, 1u, 2u, 3u)) / pc.I;
      for (uint o = begin; o < end;) {
        uint b = o / pc.O, run_end = min(end, (b + 1u) * pc.O);
        vec4 mean, invstd;
        for (uint j = 0u; j < 4u; ++j) {
          mean[j] = stat_mean(b * pc.K + k[j]);
          invstd[j] = stat_invstd(b * pc.K + k[j]);
        }
        for (; o < run_end; ++o) add_row(s, o * pc.Kp + c, mean, invstd);
      }
    }
    for (uint j = 0u; j < 4u; ++j) store_sums(param_record(c + j, chunk), vec2(s.dy[j], s.dy_xhat[j]));
  }
}
