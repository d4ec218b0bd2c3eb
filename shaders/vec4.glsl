// Four elements per access, for the *_vec4 kernels: each tensor slot also seen as an array
// of 4-element units (vec4; f16vec4 with 16-bit storage; packed halves: uvec2, two whole
// words). The host runs a *_vec4 kernel only where every tensor it binds starts at a
// multiple of 4 elements (its base, too, then: src/ops/planner.cpp, pass_for_offsets) and
// every row it walks is whole units, so unit (base + e) / 4 holds elements e .. e + 3.
// Packed halves are stored as whole words: no compare-and-swap.
#if DTYPE_F16
#define TENSOR4_T f16vec4
#elif DTYPE_F16_PACKED
#define TENSOR4_T uvec2
#else
#define TENSOR4_T vec4
#endif

// A second block at the tensor slot's binding (aliasing is allowed in Vulkan).
#define VKNORM_SLOT_UNITS_TENSOR(binding_, Name, name) \
  layout(std430, set = 0, binding = binding_) buffer Slot##Name##Units { TENSOR4_T data[]; } slot4_##name;
// Float slots as vec4 units too, read-only (team_forward_affine_vec4 reads gamma and beta
// so, team_backward_affine_vec4 gamma, the batch_norm_apply_columns_units variants the
// running statistics, gamma and beta, or the cached coefficients; the host binds them
// 16-byte aligned then: tensors_vec4_aligned in src/ops/planner.cpp). A kernel may declare
// them without `readonly` (VKNORM_FLOAT_UNITS_ACCESS empty: batch_norm_apply_columns.glsl
// says why).
#ifndef VKNORM_FLOAT_UNITS_ACCESS
#define VKNORM_FLOAT_UNITS_ACCESS readonly
#endif
#define VKNORM_SLOT_UNITS_FLOAT(binding_, Name, name)                                           \
  layout(std430, set = 0, binding = binding_) VKNORM_FLOAT_UNITS_ACCESS buffer Slot##Name##Units { \
    vec4 data[];                                                                                 \
  } slot4_##name;
#define VKNORM_SLOT_UNITS(binding_, Name, name, element) VKNORM_SLOT_UNITS_##element(binding_, Name, name)
VKNORM_SLOTS(VKNORM_SLOT_UNITS)

#if DTYPE_F16_PACKED
vec4 from_unit(uvec2 u) { return vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y)); }
uvec2 to_unit(vec4 v) { return uvec2(packHalf2x16(v.xy), packHalf2x16(v.zw)); }
#else
// Macros: 16-bit storage allows no float16 function parameter or return value.
#define from_unit(u) vec4(u)
#define to_unit(v) TENSOR4_T(v)
#endif

// e: the first of the four elements, a multiple of 4.
#define VKNORM_TENSOR_LOAD4(name) \
  vec4 load4_##name(uint e) { return from_unit(slot4_##name.data[(name##_base() + e) >> 2u]); }
#define VKNORM_TENSOR_STORE4(name) \
  void store4_##name(uint e, vec4 v) { slot4_##name.data[(name##_base() + e) >> 2u] = to_unit(v); }
VKNORM_TENSOR_LOAD4(x)
VKNORM_TENSOR_LOAD4(side)
VKNORM_TENSOR_LOAD4(dy)
VKNORM_TENSOR_STORE4(out)
VKNORM_TENSOR_STORE4(dside)
// Channels c .. c + 3 of a float slot, c a multiple of 4.
#define VKNORM_FLOAT_LOAD4(name) \
  vec4 load4_##name(uint c) { return slot4_##name.data[(name##_base() + c) >> 2u]; }
VKNORM_FLOAT_LOAD4(weight)
VKNORM_FLOAT_LOAD4(bias)
VKNORM_FLOAT_LOAD4(mean)
VKNORM_FLOAT_LOAD4(stat)
VKNORM_FLOAT_LOAD4(work)

// load_dy and epilogue of shaders/common.glsl, four at a time.
vec4 load4_dy_through_relu(uint e) {
  vec4 dy = load4_dy(e);
  if (has_flag(FLAG_RELU)) dy = mix(vec4(0.0), dy, greaterThan(load4_side(e), vec4(0.0)));
  return dy;
}
vec4 epilogue4(uint e, vec4 y) {
  if (has_flag(FLAG_RESIDUAL)) y += load4_side(e);
  if (has_flag(FLAG_RELU)) y = max(y, vec4(0.0));
  return y;
}

// Eight elements per access, for the _wide_ kernels (batch_norm_apply_columns.glsl with
// WIDE_UNITS), whose host binds their tensors 16-byte aligned: float16's eight halves as
// one uvec4 of packed words, with or without 16-bit storage (16 bytes per load and store,
// as float32's vec4, where f16vec4 moves 8: on lavapipe every load is a loop over the
// lanes, and the bench's f16vec4 reference lost to its uvec4 one by 1.1-2.4x); float32 as
// two vec4.
#if defined(WIDE_UNITS) && WIDE_UNITS
struct Wide { vec4 lo, hi; };
#if DTYPE_F16 || DTYPE_F16_PACKED
#define VKNORM_SLOT_WIDE_TENSOR(binding_, Name, name) \
  layout(std430, set = 0, binding = binding_) buffer Slot##Name##Wide { uvec4 data[]; } slot8_##name;
#define VKNORM_SLOT_WIDE_FLOAT(binding_, Name, name)
#define VKNORM_SLOT_WIDE(binding_, Name, name, element) VKNORM_SLOT_WIDE_##element(binding_, Name, name)
VKNORM_SLOTS(VKNORM_SLOT_WIDE)
Wide from_wide(uvec4 u) {
  return Wide(vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y)), vec4(unpackHalf2x16(u.z), unpackHalf2x16(u.w)));
}
uvec4 to_wide(Wide v) {
  return uvec4(packHalf2x16(v.lo.xy), packHalf2x16(v.lo.zw), packHalf2x16(v.hi.xy), packHalf2x16(v.hi.zw));
}
// e: the first of the eight elements, a multiple of 8.
#define VKNORM_TENSOR_LOAD8(name) \
  Wide load8_##name(uint e) { return from_wide(slot8_##name.data[(name##_base() + e) >> 3u]); }
#define VKNORM_TENSOR_STORE8(name) \
  void store8_##name(uint e, Wide v) { slot8_##name.data[(name##_base() + e) >> 3u] = to_wide(v); }
#else
#define VKNORM_TENSOR_LOAD8(name) \
  Wide load8_##name(uint e) { return Wide(load4_##name(e), load4_##name(e + 4u)); }
#define VKNORM_TENSOR_STORE8(name) \
  void store8_##name(uint e, Wide v) { store4_##name(e, v.lo); store4_##name(e + 4u, v.hi); }
#endif
VKNORM_TENSOR_LOAD8(x)
VKNORM_TENSOR_LOAD8(side)
VKNORM_TENSOR_STORE8(out)
#endif
