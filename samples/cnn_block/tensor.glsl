// Shared by the sample's shaders: activation storage (float32, or float16 with 16-bit
// storage) and (n, c, y, x) addressing in NCHW or NHWC.
#extension GL_EXT_control_flow_attributes : enable
#if DTYPE_F16
#extension GL_EXT_shader_16bit_storage : require
#define TENSOR_T float16_t
#else
#define TENSOR_T float
#endif
layout(local_size_x_id = 0) in;

// Must match Shape in main.cpp.
struct Shape {
  uint N, Cin, Cout, H, W, nhwc, flags, pad;
};

uint at(Shape s, uint n, uint c, uint C, uint y, uint x) {
  return s.nhwc != 0u ? ((n * s.H + y) * s.W + x) * C + c : ((n * C + c) * s.H + y) * s.W + x;
}
