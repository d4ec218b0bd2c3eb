// The engine's own "producer" pass: writes the activations x[rows, cols] that vknorm then
// normalizes. A procedural pattern: hashed noise in [-2, 2) times a per-row gain, plus a
// slow ramp along the row and a per-row bias (so rows have |mean| well away from 0).
#version 450

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) writeonly buffer X { float x[]; };

layout(push_constant) uniform Push {
  uint rows;
  uint cols;
  uint seed;
  float row_bias_step;  // bias of row r: (r - rows / 2) * row_bias_step
} pc;

uint hash(uint v) {  // a 32-bit integer hash (lowbias32): identical on the host
  v ^= v >> 16;
  v *= 0x7feb352du;
  v ^= v >> 15;
  v *= 0x846ca68bu;
  v ^= v >> 16;
  return v;
}

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= pc.rows * pc.cols) return;
  const uint r = i / pc.cols, c = i % pc.cols;
  const float noise = float(hash(i ^ pc.seed) >> 8) * (4.0 / 16777216.0) - 2.0;  // exact: [-2, 2)
  const float gain = float(1u + r % 4u);
  const float ramp = float(c) * (1.0 / 1024.0);
  const float bias = (float(r) - float(pc.rows / 2u)) * pc.row_bias_step;
  x[i] = noise * gain + ramp + bias;
}
