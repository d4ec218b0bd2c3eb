#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : enable
// The bench's vector reference (tools/vknorm/bench_references.cpp): copy (SCALE_SHIFT=0,
// y = x) or the elementwise pass (SCALE_SHIFT=1, y = a * x + b; a and b come in the eps and
// momentum push constants) with the widest loads and stores the storage has:
//  - float32: vec4 (16 bytes);
//  - float16 with 16-bit storage (DTYPE_F16): f16vec4 (8 bytes);
//  - float16 halves packed in 32-bit words (DTYPE_F16_PACKED): uvec4 of 8 halves (16
//    bytes), unpacked with unpackHalf2x16: no 16-bit type, so no float16 storage feature.
// Each invocation takes ITEMS vectors per step of a grid-stride loop, a workgroup or a run
// of lanes apart (the host picks the grid and the run), and the elements past the last whole vector are a scalar tail.
// Slots as src/shader_contract.h: x at binding 0, the output at binding 2; pc.I holds the
// element count, pc.base[] each slot's offset in whole vectors (the host binds only
// 16-byte-aligned ranges here).
#include "shader_contract.h"

#ifndef ITEMS
#define ITEMS 1
#endif

#if DTYPE_F16
#extension GL_EXT_shader_16bit_storage : require
#define VEC_T f16vec4
#define SCALAR_T float16_t
#define VALUE_T vec4  // 16-bit storage allows no float16 values outside buffers
const uint LANES = 4u;  // elements per vector
#elif DTYPE_F16_PACKED
#define VEC_T uvec4
#define SCALAR_T uint
#define VALUE_T uvec4
const uint LANES = 8u;
#else
#define VEC_T vec4
#define SCALAR_T float
#define VALUE_T vec4
const uint LANES = 4u;
#endif
// Scalars (SCALAR_T) per vector: a packed vector is 4 words of 2 halves.
const uint SCALARS = DTYPE_F16_PACKED != 0 ? 4u : LANES;

layout(local_size_x_id = 0) in;

// The same binding seen as vectors and as scalars (the tail).
layout(std430, set = 0, binding = 0) readonly buffer XVec { VEC_T data[]; } x_vec;
layout(std430, set = 0, binding = 0) readonly buffer XScalar { SCALAR_T data[]; } x_scalar;
layout(std430, set = 0, binding = 2) writeonly buffer YVec { VEC_T data[]; } y_vec;
layout(std430, set = 0, binding = 2) buffer YScalar { SCALAR_T data[]; } y_scalar;

#define VKNORM_PUSH_BASES(name) uint name[VKNORM_SLOT_COUNT];
#define VKNORM_PUSH_U32(name, default_) uint name;
#define VKNORM_PUSH_F32(name, default_) float name;
layout(push_constant) uniform Push { VKNORM_PUSH_CONSTANTS(VKNORM_PUSH_BASES, VKNORM_PUSH_U32, VKNORM_PUSH_F32) } pc;

#if DTYPE_F16_PACKED
// Two halves in a word, through float32.
uint apply_word(uint w) {
#if SCALE_SHIFT
  return packHalf2x16(pc.eps * unpackHalf2x16(w) + pc.momentum);
#else
  return w;
#endif
}
VALUE_T apply(VALUE_T v) { return uvec4(apply_word(v.x), apply_word(v.y), apply_word(v.z), apply_word(v.w)); }
#else
VALUE_T apply(VALUE_T v) {
#if SCALE_SHIFT
  return pc.eps * v + pc.momentum;
#else
  return v;
#endif
}
float apply_scalar(float v) {
#if SCALE_SHIFT
  return pc.eps * v + pc.momentum;
#else
  return v;
#endif
}
#endif

void main() {
  const uint vectors = pc.I / LANES;
  const uint xb = pc.base[0], yb = pc.base[2];
  const uint wg = gl_WorkGroupSize.x;
  const uint stride = gl_NumWorkGroups.x * wg * ITEMS;
  // A workgroup's step covers wg * ITEMS consecutive vectors, in runs of `run` lanes
  // (pc.chunk_size; 0: the whole workgroup): run r's lanes take vectors j * run apart, so
  // with run < wg each lane's ITEMS vectors lie close together (on a CPU device a SIMD
  // chunk of lanes then walks one stretch of memory).
  const uint run = pc.chunk_size == 0u ? wg : pc.chunk_size;
  const uint lid = gl_LocalInvocationID.x, first = (lid / run) * run * ITEMS + lid % run;
  for (uint v = gl_WorkGroupID.x * wg * ITEMS + first; v < vectors; v += stride) {
    if (v + (ITEMS - 1u) * run < vectors) {
      // All ITEMS in range: loads first, then stores, so that they overlap.
      VALUE_T values[ITEMS];
      [[unroll]] for (uint j = 0u; j < ITEMS; ++j) values[j] = VALUE_T(x_vec.data[xb + v + j * run]);
      [[unroll]] for (uint j = 0u; j < ITEMS; ++j) y_vec.data[yb + v + j * run] = VEC_T(apply(values[j]));
    } else {
      [[unroll]] for (uint j = 0u; j < ITEMS; ++j)
        if (v + j * run < vectors) y_vec.data[yb + v + j * run] = VEC_T(apply(VALUE_T(x_vec.data[xb + v + j * run])));
    }
  }

  // The tail: fewer than LANES elements, one per invocation of the first workgroup.
  const uint t = gl_GlobalInvocationID.x;
#if DTYPE_F16_PACKED
  const uint tail_words = (pc.I - vectors * LANES + 1u) / 2u;
  if (t < tail_words) {
    const uint w = vectors * SCALARS + t;
    const uint value = apply_word(x_scalar.data[xb * SCALARS + w]);
    // An odd count ends with half a word: its other half is not the tensor's, keep it.
    const bool half_word = 2u * w + 1u == pc.I;
    const uint old = half_word ? y_scalar.data[yb * SCALARS + w] : 0u;
    y_scalar.data[yb * SCALARS + w] = half_word ? (old & 0xffff0000u) | (value & 0xffffu) : value;
  }
#else
  if (t < pc.I - vectors * LANES) {
    const uint e = vectors * LANES + t;
    y_scalar.data[yb * SCALARS + e] = SCALAR_T(apply_scalar(float(x_scalar.data[xb * SCALARS + e])));
  }
#endif
}
