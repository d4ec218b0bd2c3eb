#version 450
#extension GL_GOOGLE_include_directive : require
// out = conv3x3(in, weight), padding 1, stride 1; optionally + bias, + residual, ReLU
// (those three only in the BatchNorm-folded inference path). One invocation per output.
#include "tensor.glsl"

layout(std430, binding = 0) readonly buffer In { TENSOR_T v[]; } src;
layout(std430, binding = 1) readonly buffer Weight { float v[]; } weight;  // [Cout][Cin][3][3]
layout(std430, binding = 2) readonly buffer Bias { float v[]; } bias;
layout(std430, binding = 3) readonly buffer Residual { TENSOR_T v[]; } residual;
layout(std430, binding = 4) writeonly buffer Out { TENSOR_T v[]; } dst;
layout(push_constant) uniform P { Shape s; } pc;

const uint BIAS = 1u, RESIDUAL = 2u, RELU = 4u;

void main() {
  Shape s = pc.s;
  uint id = gl_GlobalInvocationID.x;
  if (id >= s.N * s.Cout * s.H * s.W) return;
  uint x = id % s.W, y = (id / s.W) % s.H, co = (id / (s.W * s.H)) % s.Cout, n = id / (s.W * s.H * s.Cout);
  float acc = (s.flags & BIAS) != 0u ? bias.v[co] : 0.0;
  for (uint ci = 0u; ci < s.Cin; ++ci)
    [[unroll]] for (int ky = 0; ky < 3; ++ky)
      [[unroll]] for (int kx = 0; kx < 3; ++kx) {
        int iy = int(y) + ky - 1, ix = int(x) + kx - 1;
        if (iy < 0 || ix < 0 || iy >= int(s.H) || ix >= int(s.W)) continue;
        acc += float(src.v[at(s, n, ci, s.Cin, uint(iy), uint(ix))]) * weight.v[((co * s.Cin + ci) * 3u + uint(ky)) * 3u + uint(kx)];
      }
  uint o = at(s, n, co, s.Cout, y, x);
  if ((s.flags & RESIDUAL) != 0u) acc += float(residual.v[o]);
  if ((s.flags & RELU) != 0u) acc = max(acc, 0.0);
  dst.v[o] = TENSOR_T(acc);
}
