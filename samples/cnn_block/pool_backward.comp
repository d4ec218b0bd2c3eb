#version 450
#extension GL_GOOGLE_include_directive : require
// The gradient of global average pooling: din(n, c, y, x) = dout[n][c] / (H * W).
#include "tensor.glsl"

layout(std430, binding = 0) readonly buffer Dout { float v[]; } dout;
layout(std430, binding = 1) writeonly buffer Din { TENSOR_T v[]; } din;
layout(push_constant) uniform P { Shape s; } pc;

void main() {
  Shape s = pc.s;
  uint id = gl_GlobalInvocationID.x;
  if (id >= s.N * s.Cout * s.H * s.W) return;
  uint x = id % s.W, y = (id / s.W) % s.H, c = (id / (s.W * s.H)) % s.Cout, n = id / (s.W * s.H * s.Cout);
  din.v[at(s, n, c, s.Cout, y, x)] = TENSOR_T(dout.v[n * s.Cout + c] / float(s.H * s.W));
}
