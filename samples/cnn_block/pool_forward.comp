#version 450
#extension GL_GOOGLE_include_directive : require
// Global average pooling: out[n][c] = mean over (y, x) of in(n, c, y, x), float32 out.
#include "tensor.glsl"

layout(std430, binding = 0) readonly buffer In { TENSOR_T v[]; } src;
layout(std430, binding = 1) writeonly buffer Out { float v[]; } dst;
layout(push_constant) uniform P { Shape s; } pc;

void main() {
  Shape s = pc.s;
  uint id = gl_GlobalInvocationID.x;
  if (id >= s.N * s.Cout) return;
  uint c = id % s.Cout, n = id / s.Cout;
  float acc = 0.0;
  for (uint y = 0u; y < s.H; ++y)
    for (uint x = 0u; x < s.W; ++x) acc += float(src.v[at(s, n, c, s.Cout, y, x)]);
  dst.v[id] = acc / float(s.H * s.W);
}
