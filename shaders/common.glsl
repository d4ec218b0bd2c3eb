// Shared by every vknorm kernel: the host-shader contract of src/shader_contract.h (slots,
// push constants, flags) expanded into GLSL, and the views of a tensor:
//  - statistics view [B, O, K, I]: statistics per group (b, k), reduced over (o, i);
//  - affine channel of an element: k * cpg + i / inner (BatchNorm/InstanceNorm: k;
//    GroupNorm: the channel inside the group; LayerNorm/RMSNorm: i);
//  - parameter view [Op, Kp, Ip]: the elements of affine channel kp, for the column
//    reduction of dgamma/dbeta when gamma varies inside a statistics group.
#extension GL_EXT_control_flow_attributes : enable
// Tensor storage: float32; float16 through 16-bit storage (DTYPE_F16); or, on devices
// without storageBuffer16BitAccess, float16 halves packed two to a 32-bit word
// (DTYPE_F16_PACKED: element e is half e & 1 of word e >> 1; no 16-bit type anywhere).
#if DTYPE_F16
#extension GL_EXT_shader_16bit_storage : require
#define TENSOR_T float16_t
#elif DTYPE_F16_PACKED
#define TENSOR_T uint
#else
#define TENSOR_T float
#endif
#include "shader_contract.h"

layout(local_size_x_id = 0) in;
// The smallest subgroup size the device may use: it bounds how many subgroups a workgroup
// can hold, without trusting gl_NumSubgroups (lavapipe under-reports it).
layout(constant_id = 1) const uint MIN_SUBGROUP_SIZE = 1;

// Slot <name> is buffer slot_<name> at its binding: TENSOR_T elements for the tensors,
// float for parameters, statistics and the workspace.
#define VKNORM_ELEMENT_TENSOR TENSOR_T
#define VKNORM_ELEMENT_FLOAT float
#define VKNORM_SLOT_BUFFER(binding_, Name, name, element) \
  layout(std430, set = 0, binding = binding_) buffer Slot##Name { VKNORM_ELEMENT_##element data[]; } slot_##name;
VKNORM_SLOTS(VKNORM_SLOT_BUFFER)

#define VKNORM_PUSH_BASES(name) uint name[VKNORM_SLOT_COUNT];
#define VKNORM_PUSH_U32(name, default_) uint name;
#define VKNORM_PUSH_F32(name, default_) float name;
layout(push_constant) uniform Push { VKNORM_PUSH_CONSTANTS(VKNORM_PUSH_BASES, VKNORM_PUSH_U32, VKNORM_PUSH_F32) } pc;

#define VKNORM_FLAG_CONSTANT(Name, NAME, bit) const uint FLAG_##NAME = 1u << bit;
VKNORM_FLAGS(VKNORM_FLAG_CONSTANT)

// <name>_base(): the element offset of slot <name> inside its bound range. Float slots
// also get load_<name>(i) and store_<name>(i, v); the tensors' accessors are below.
#define VKNORM_SLOT_ACCESS_TENSOR(name)
#define VKNORM_SLOT_ACCESS_FLOAT(name)                                      \
  float load_##name(uint i) { return slot_##name.data[name##_base() + i]; } \
  void store_##name(uint i, float v) { slot_##name.data[name##_base() + i] = v; }
#define VKNORM_SLOT_ACCESSORS(binding_, Name, name, element) \
  uint name##_base() { return pc.base[binding_]; }           \
  VKNORM_SLOT_ACCESS_##element(name)
VKNORM_SLOTS(VKNORM_SLOT_ACCESSORS)

bool has_flag(uint f) { return (pc.flags & f) != 0u; }

// v itself, through an operation the compiler cannot see through (every vknorm dispatch is
// one workgroup deep: gl_NumWorkGroups.z - 1 is 0 at run time): batch_norm_apply_columns.glsl
// says why. (Not a push constant of its own: growing the push constants made lavapipe's
// float32 BatchNorm backward up to 1.4x slower.)
vec4 opaque(vec4 v) { return uintBitsToFloat(floatBitsToUint(v) ^ uvec4(gl_NumWorkGroups.z - 1u)); }

// Invocations in the grid along x: the stride of a loop that gives each item to one
// invocation whatever the grid.
uint invocation_count() { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }

uint group_count() { return pc.B * pc.K; }
uint group_size() { return pc.O * pc.I; }
uint element_count() { return pc.B * pc.O * pc.K * pc.I; }

// Address of element m (0 <= m < group_size) of group g.
uint group_element(uint g, uint m) {
  uint b = g / pc.K;
  uint k = g - b * pc.K;
  uint o = m / pc.I;
  uint i = m - o * pc.I;
  return ((b * pc.O + o) * pc.K + k) * pc.I + i;
}

// A group of whole planes (O == 1: GroupNorm NCHW): plane ci of group g is channel
// k * cpg + ci, its elements from plane_start(g, ci) on, inner of them.
uint plane_start(uint g, uint ci) { return g * pc.I + ci * pc.inner; }
uint plane_channel(uint g, uint ci) { return (g % pc.K) * pc.cpg + ci; }

// Walks elements m, m + step, m + 2 * step, ... of group g, stepping (o, i) and the
// affine channel's (i / inner, i % inner) by carries instead of dividing per element
// (lavapipe runs a vector division as one division per lane).
struct GroupWalk { uint m, o, i, ci, ri, step, step_o, step_i, step_ci, step_ri, base, channel_base, ci_per_row; };

GroupWalk group_walk(uint g, uint m, uint step) {
  uint b = g / pc.K;
  uint k = g - b * pc.K;
  uint o = m / pc.I;
  uint i = m - o * pc.I;
  uint step_i = step % pc.I;
  return GroupWalk(m, o, i, i / pc.inner, i % pc.inner, step, step / pc.I, step_i, step_i / pc.inner,
                   step_i % pc.inner, (b * pc.O * pc.K + k) * pc.I, k * pc.cpg, pc.I / pc.inner);
}
uint walk_element(GroupWalk w) { return w.base + w.o * pc.K * pc.I + w.i; }
uint walk_channel(GroupWalk w) { return w.channel_base + w.ci; }
void walk_next(inout GroupWalk w) {
  w.m += w.step;
  w.o += w.step_o;
  w.i += w.step_i;
  w.ci += w.step_ci;
  w.ri += w.step_ri;
  if (w.ri >= pc.inner) {
    w.ri -= pc.inner;
    w.ci += 1u;
  }
  if (w.i >= pc.I) {  // I is a multiple of inner: ri stays
    w.i -= pc.I;
    w.o += 1u;
    w.ci -= w.ci_per_row;
  }
}

// The column view of the split reduction for channels-last tensors (inner == 1, small
// I), and on a CPU device for the forward's statistics over small planes whose gamma is
// constant in a group (kColumnMaxPlaneColumns in src/kernels.hpp; `channel` is then
// unused): a row (b, o) holds L = K * I contiguous columns, group (b, k) owns columns
// [k * I, (k + 1) * I) of the rows of b. A lane per column reads contiguous memory with
// its neighbours and keeps its own partial, with no workgroup reduction. With fewer
// columns than lanes, P lanes share a column, taking every P-th row of the chunk. Each
// (chunk, phase, column of the group) is one partial of the group:
// pc.chunks = chunks over O * P * I.
struct ColumnLane { bool live; uint g, channel, partial, o, o_end, o_step, e, e_step; };

uint column_width() { return min(pc.K * pc.I, gl_WorkGroupSize.x); }
uint column_blocks() { return (pc.K * pc.I + column_width() - 1u) / column_width(); }
uint column_rows_y() { return pc.B * column_blocks(); }

// Lane of workgroup (chunk, y); y walks (b, block of columns).
ColumnLane column_lane(uint y) {
  uint L = pc.K * pc.I, width = column_width(), phases = gl_WorkGroupSize.x / width, blocks = column_blocks();
  uint phase = gl_LocalInvocationID.x / width, lane = gl_LocalInvocationID.x - phase * width;
  uint b = y / blocks, col = (y - b * blocks) * width + lane;
  uint k = col / pc.I, i = col - k * pc.I;
  uint begin = gl_WorkGroupID.x * pc.chunk_size;
  ColumnLane c;
  c.live = phase < phases && col < L && b < pc.B;
  c.g = b * pc.K + k;
  c.channel = k * pc.cpg + i;  // inner == 1 (read only where gamma varies, which needs it)
  c.partial = (gl_WorkGroupID.x * phases + phase) * pc.I + i;
  c.o = begin + phase;
  c.o_end = min(pc.O, begin + pc.chunk_size);
  c.o_step = phases;
  c.e = (b * pc.O + c.o) * L + col;
  c.e_step = phases * L;
  return c;
}

uint element_group(uint e) {
  uint k = (e / pc.I) % pc.K;
  uint b = e / (pc.O * pc.K * pc.I);
  return b * pc.K + k;
}

uint element_channel(uint e) {
  uint i = e % pc.I;
  uint k = (e / pc.I) % pc.K;
  return k * pc.cpg + i / pc.inner;
}

#if DTYPE_F16_PACKED
// Element `at` (base included) of a packed tensor: half at & 1 of word at >> 1. A base may
// be odd (a tensor starting 2 bytes into a word): the host binds from the word below.
#define VKNORM_TENSOR_LOAD(name)                                 \
  float load_tensor_##name(uint e) {                             \
    uint at = name##_base() + e;                                 \
    return unpackHalf2x16(slot_##name.data[at >> 1u])[at & 1u]; \
  }
// A store writes half a word, whose other half another invocation (or, at a tensor's
// ends, another tensor) may be writing at the same time: compare-and-swap until the word
// changed only in our half. The first guess is a plain read; a stale one costs a retry.
#define VKNORM_TENSOR_STORE(name)                                                          \
  void store_tensor_##name(uint e, float v) {                                              \
    uint at = name##_base() + e, word = at >> 1u, shift = (at & 1u) * 16u;                 \
    uint mask = 0xffffu << shift, bits = (packHalf2x16(vec2(v, 0.0)) & 0xffffu) << shift; \
    uint seen = slot_##name.data[word];                                                    \
    for (;;) {                                                                             \
      uint was = atomicCompSwap(slot_##name.data[word], seen, (seen & ~mask) | bits);      \
      if (was == seen) break;                                                              \
      seen = was;                                                                          \
    }                                                                                      \
  }
#else
#define VKNORM_TENSOR_LOAD(name) \
  float load_tensor_##name(uint e) { return float(slot_##name.data[name##_base() + e]); }
#define VKNORM_TENSOR_STORE(name) \
  void store_tensor_##name(uint e, float v) { slot_##name.data[name##_base() + e] = TENSOR_T(v); }
#endif
VKNORM_TENSOR_LOAD(x)
VKNORM_TENSOR_LOAD(side)
VKNORM_TENSOR_LOAD(dy)
VKNORM_TENSOR_STORE(out)
VKNORM_TENSOR_STORE(dside)

float load_x(uint e) { return load_tensor_x(e); }
float load_side(uint e) { return load_tensor_side(e); }
// The gradient reaching the norm's output: through the ReLU, dy where the forward's
// output y was > 0 (PyTorch's threshold_backward), else 0.
float load_dy(uint e) {
  float dy = load_tensor_dy(e);
  if (has_flag(FLAG_RELU) && !(load_side(e) > 0.0)) dy = 0.0;
  return dy;
}
void store_out(uint e, float v) { store_tensor_out(e, v); }
void store_dside(uint e, float v) { store_tensor_dside(e, v); }

// The forward epilogue: residual add, then ReLU.
float epilogue(uint e, float y) {
  if (has_flag(FLAG_RESIDUAL)) y += load_side(e);
  if (has_flag(FLAG_RELU)) y = max(y, 0.0);
  return y;
}

float gamma_of(uint channel) { return has_flag(FLAG_WEIGHT) ? load_weight(channel) : 1.0; }
float beta_of(uint channel) { return has_flag(FLAG_BIAS) ? load_bias(channel) : 0.0; }

// Mean and invstd of group g from the statistics slots (RMSNorm has no mean). Running
// statistics are kept per channel k, batch statistics per group (b, k).
uint stat_index(uint g) { return has_flag(FLAG_STATS_ARE_VAR) ? g % pc.K : g; }
float stat_mean(uint g) { return has_flag(FLAG_RMS) ? 0.0 : load_mean(stat_index(g)); }
float stat_invstd(uint g) {
  float s = load_stat(stat_index(g));
  return has_flag(FLAG_STATS_ARE_VAR) ? 1.0 / sqrt(s + pc.eps) : s;
}

// From merged Welford statistics (count n, mean, M2) to what normalization uses.
float second_moment_from(float n, float mean, float m2) {
  float second_moment = m2 / n;
  if (has_flag(FLAG_RMS)) second_moment += mean * mean;  // mean(x^2) = var + mean^2
  return second_moment;
}
float invstd_from(float n, float mean, float m2) {
  float denominator = second_moment_from(n, mean, m2) + pc.eps;
  // PyTorch's batch_norm (its InvStd) special-cases a zero denominator (eps = 0 on a
  // constant group): invstd 0, so y = beta. The other kinds give inf, and y NaN.
  if (has_flag(FLAG_BATCH_NORM_STATS) && denominator == 0.0) return 0.0;
  return 1.0 / sqrt(denominator);
}

// ---- The scaled path (src/shader_contract.h, "scaled records") ----
// Float32 statistics overflow once squared deviations pass 3.4e38 (|x| from about 1.8e19),
// and Welford's mean turns NaN past an Inf where PyTorch's sum gives ±inf. A group (or
// chunk) whose statistics come out non-finite is computed again, rarely, from values
// scaled by 2^-VKNORM_STATS_SCALE_LOG2 (exact: a power of two), in one more pass by one
// invocation (welford.glsl's Scaled, scaled_walk): Welford, and alongside a plain sum for
// the mean where an Inf makes Welford's NaN. The common path only tests its result, once
// per group.
const float SCALE_DOWN = 7.8886090522101180541e-31;  // 2^-100
const float SCALE_UP = 1.2676506002282294015e30;     // 2^100
const float FLOAT_MAX = 3.40282347e38;
// v * 2^-200 and v * 2^200 as two steps: `precise` keeps the compiler (NIR reassociates
// constant factors) from folding them into 2^±200, which is 0 or inf in float.
float scale_down_twice(float v) {
  precise float once = v * SCALE_DOWN;
  precise float twice = once * SCALE_DOWN;
  return twice;
}
float scale_up_twice(float v) {
  precise float once = v * SCALE_UP;
  precise float twice = once * SCALE_UP;
  return twice;
}
bool is_finite(float v) { return abs(v) <= FLOAT_MAX; }  // false for NaN
float quiet_nan() { return uintBitsToFloat(0x7fc00000u); }

// The pivot statistics are taken relative to (the group's first element): 0 where that
// is not finite, so that one Inf does not make every difference NaN.
float stats_pivot(uint g) {
  float p = load_x(group_element(g, 0u));
  return is_finite(p) ? p : 0.0;
}

// Whether statistics (n, mean and M2 of x - pivot) need the scaled path.
bool stats_overflowed(float n, float pivot, float mean, float m2) {
  if (n == 0.0) return false;
  return !(is_finite(mean) && is_finite(m2) && is_finite(second_moment_from(n, pivot + mean, m2)));
}

// A group's statistics as normalization uses them: the mean of x - pivot and invstd.
struct GroupStats { float mean, invstd; };

// From scaled statistics (src/shader_contract.h, scaled records): n, s_mean = mean of
// (x - pivot) * 2^-100, s_m2 their M2 (RMSNorm: see the contract). The saved mean follows PyTorch: ±inf
// or NaN as its sum gives, except NaN for the Welford kinds (FLAG_WELFORD_MEAN).
// eps is left out: scaled it is below float's range, and a group gets here with a
// variance above 1e28 (or with an Inf or NaN, where eps changes nothing).
GroupStats scaled_group_stats(float n, float pivot, float s_mean, float s_m2) {
  float s_full_mean = pivot * SCALE_DOWN + s_mean;  // RMSNorm: 0 for a record of the scaled path
  float invstd = SCALE_DOWN / sqrt(s_m2 / n + (has_flag(FLAG_RMS) ? s_full_mean * s_full_mean : 0.0));
  if (has_flag(FLAG_RMS)) return GroupStats(0.0, invstd);
  float mean = s_mean * SCALE_UP;
  if (has_flag(FLAG_WELFORD_MEAN) && !is_finite(mean)) mean = quiet_nan();
  return GroupStats(mean, invstd);
}

// One value's scaled deviation from the pivot (pivot_s = pivot * 2^-100).
float scaled_value(float x, float pivot_s) { return has_flag(FLAG_RMS) ? x * SCALE_DOWN : x * SCALE_DOWN - pivot_s; }
