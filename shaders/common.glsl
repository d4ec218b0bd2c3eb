// Shared by every vknorm kernel: eight storage-buffer slots, one push-constant block, and
// the [B, O, K, I] view of a tensor (statistics per (b, k), reduced over (o, i)).
#extension GL_EXT_control_flow_attributes : enable

layout(local_size_x_id = 0) in;
// The smallest subgroup size the device may use: it bounds how many subgroups a workgroup
// can hold, without trusting gl_NumSubgroups (lavapipe under-reports it).
layout(constant_id = 1) const uint MIN_SUBGROUP_SIZE = 1;

layout(std430, set = 0, binding = 0) buffer Slot0 { float data[]; } slot0;
layout(std430, set = 0, binding = 1) buffer Slot1 { float data[]; } slot1;
layout(std430, set = 0, binding = 2) buffer Slot2 { float data[]; } slot2;
layout(std430, set = 0, binding = 3) buffer Slot3 { float data[]; } slot3;
layout(std430, set = 0, binding = 4) buffer Slot4 { float data[]; } slot4;
layout(std430, set = 0, binding = 5) buffer Slot5 { float data[]; } slot5;
layout(std430, set = 0, binding = 6) buffer Slot6 { float data[]; } slot6;
layout(std430, set = 0, binding = 7) buffer Slot7 { float data[]; } slot7;

// Must match src/kernels.hpp (PushConstants).
layout(push_constant) uniform Push {
  uint base[8];      // element offset of each slot inside its bound range
  uint B, O, K, I;   // the tensor as [B, O, K, I]
  uint groups;       // B * K statistics groups
  uint count;        // O * I elements per group
  uint chunks;       // workgroups per group in the split reduction
  uint chunk_size;   // elements per chunk (the last chunk may be shorter)
  uint elements;     // B * O * K * I
  uint flags;        // FLAG_* below
  float eps;
  float momentum;
} pc;

const uint FLAG_WEIGHT = 1u;          // slot holds gamma
const uint FLAG_BIAS = 2u;            // slot holds beta
const uint FLAG_UPDATE_RUNNING = 4u;  // update running_mean / running_var
const uint FLAG_STATS_ARE_VAR = 8u;   // the statistics slot holds a variance, not invstd
const uint FLAG_BATCH_STATS = 16u;    // backward through batch statistics

bool has_flag(uint f) { return (pc.flags & f) != 0u; }

// Address of element m (0 <= m < count) of group g.
uint group_element(uint g, uint m) {
  uint b = g / pc.K;
  uint k = g - b * pc.K;
  uint o = m / pc.I;
  uint i = m - o * pc.I;
  return ((b * pc.O + o) * pc.K + k) * pc.I + i;
}

// The group an element belongs to (its (b, k)).
uint element_group(uint e) {
  uint k = (e / pc.I) % pc.K;
  uint b = e / (pc.O * pc.K * pc.I);
  return b * pc.K + k;
}
