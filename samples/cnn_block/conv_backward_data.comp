#version 450
#extension GL_GOOGLE_include_directive : require
// din = conv3x3 transposed (dout, weight) (+ add: the gradient arriving through the skip
// connection). One invocation per input element.
#include "tensor.glsl"

layout(std430, binding = 0) readonly buffer Dout { TENSOR_T v[]; } dout;
layout(std430, binding = 1) readonly buffer Weight { float v[]; } weight;
layout(std430, binding = 2) readonly buffer Add { TENSOR_T v[]; } add;
layout(std430, binding = 3) writeonly buffer Din { TENSOR_T v[]; } din;
layout(push_constant) uniform P { Shape s; } pc;

const uint ADD = 1u;

void main() {
  Shape s = pc.s;
  uint id = gl_GlobalInvocationID.x;
  if (id >= s.N * s.Cin * s.H * s.W) return;
  uint x = id % s.W, y = (id / s.W) % s.H, ci = (id / (s.W * s.H)) % s.Cin, n = id / (s.W * s.H * s.Cin);
  float acc = 0.0;
  for (uint co = 0u; co < s.Cout; ++co)
    [[unroll]] for (int ky = 0; ky < 3; ++ky)
      [[unroll]] for (int kx = 0; kx < 3; ++kx) {
        int oy = int(y) - ky + 1, ox = int(x) - kx + 1;  // the outputs this input fed
        if (oy < 0 || ox < 0 || oy >= int(s.H) || ox >= int(s.W)) continue;
        acc += float(dout.v[at(s, n, co, s.Cout, uint(oy), uint(ox))]) * weight.v[((co * s.Cin + ci) * 3u + uint(ky)) * 3u + uint(kx)];
      }
  uint i = at(s, n, ci, s.Cin, y, x);
  if ((s.flags & ADD) != 0u) acc += float(add.v[i]);
  din.v[i] = TENSOR_T(acc);
}
