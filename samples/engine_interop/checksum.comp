// The engine's own "consumer" pass: reads vknorm's output y[rows, cols] and reduces each
// row to (sum of y, number of positive elements), one workgroup per row, with a
// shared-memory tree (no subgroup operations needed).
#version 450

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Y { float y[]; };
layout(std430, binding = 1) writeonly buffer Sums { vec2 sums[]; };  // (sum, positives) per row

layout(push_constant) uniform Push {
  uint rows;
  uint cols;
} pc;

shared float partial_sum[gl_WorkGroupSize.x];
shared uint partial_positive[gl_WorkGroupSize.x];

void main() {
  const uint row = gl_WorkGroupID.x, lane = gl_LocalInvocationID.x;
  float sum = 0.0;
  uint positive = 0u;
  if (row < pc.rows) {
    for (uint c = lane; c < pc.cols; c += gl_WorkGroupSize.x) {
      const float v = y[row * pc.cols + c];
      sum += v;
      positive += v > 0.0 ? 1u : 0u;
    }
  }
  partial_sum[lane] = sum;
  partial_positive[lane] = positive;
  barrier();
  for (uint width = gl_WorkGroupSize.x / 2u; width > 0u; width /= 2u) {  // size: a power of two
    if (lane < width) {
      partial_sum[lane] += partial_sum[lane + width];
      partial_positive[lane] += partial_positive[lane + width];
    }
    barrier();
  }
  if (lane == 0u && row < pc.rows) sums[row] = vec2(partial_sum[0], float(partial_positive[0]));
}
