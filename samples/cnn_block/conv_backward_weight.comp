#version 450
#extension GL_GOOGLE_include_directive : require
// dweight[co][ci][ky][kx] = sum over n, y, x of dout(n, co, y, x) * in(n, ci, y+ky-1, x+kx-1).
// One invocation per weight, a fixed summation order: reproducible.
#include "tensor.glsl"

layout(std430, binding = 0) readonly buffer In { TENSOR_T v[]; } src;
layout(std430, binding = 1) readonly buffer Dout { TENSOR_T v[]; } dout;
layout(std430, binding = 2) writeonly buffer Dweight { float v[]; } dweight;
layout(push_constant) uniform P { Shape s; } pc;

void main() {
  Shape s = pc.s;
  uint id = gl_GlobalInvocationID.x;
  if (id >= s.Cout * s.Cin * 9u) return;
  int kx = int(id % 3u), ky = int((id / 3u) % 3u);
  uint ci = (id / 9u) % s.Cin, co = id / (9u * s.Cin);
  float acc = 0.0;
  for (uint n = 0u; n < s.N; ++n)
    for (uint y = 0u; y < s.H; ++y)
      for (uint x = 0u; x < s.W; ++x) {
        int iy = int(y) + ky - 1, ix = int(x) + kx - 1;
        if (iy < 0 || ix < 0 || iy >= int(s.H) || ix >= int(s.W)) continue;
        acc += float(dout.v[at(s, n, co, s.Cout, y, x)]) * float(src.v[at(s, n, ci, s.Cin, uint(iy), uint(ix))]);
      }
  dweight.v[id] = acc;
}
