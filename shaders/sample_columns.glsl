// The lanes of the column kernels over batch statistics (normalize_channel_columns*, the
// BATCH_STATISTICS walk of batch_norm_apply_columns.glsl, and grad_input_columns_vec4): the
// tensor as B samples of O rows of L = K * I elements (whole units of `unit` elements: 4,
// or 8 for the _wide_ kernels), a lane per column unit of one sample, walking that
// sample's rows `step` apart, so that its elements' groups (b * K + k) and channels hold
// for all its rows and their coefficients are loaded once. Lanes are numbered across
// workgroups; each sample has step * L / unit of them, and step = lanes / (B * L / unit):
// the host gives at least B * L / 4 lanes, about O / step rows each
// (batch_statistics_columns_variant in src/ops/batchnorm_inference.cpp), and those past
// B * step * L / unit have no work. Needs common.glsl.
#ifndef VKNORM_SAMPLE_COLUMNS_GLSL
#define VKNORM_SAMPLE_COLUMNS_GLSL

struct SampleColumn {
  bool live;
  uint b, c;                           // sample, column unit
  uint first_row, end_row, row_step;   // rows first_row, + row_step, .. below end_row
};

SampleColumn sample_column(uint unit) {
  uint wg = gl_WorkGroupSize.x, Lu = pc.K * pc.I / unit;
  uint lanes = gl_NumWorkGroups.x * gl_NumWorkGroups.y * wg;
  uint v = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * wg + gl_LocalInvocationID.x;
  uint step = lanes / (pc.B * Lu);
  SampleColumn lane;
  lane.b = v / (step * Lu);
  uint in_b = v - lane.b * (step * Lu), first = in_b / Lu;
  lane.c = in_b - first * Lu;
  lane.live = lane.b < pc.B && first < pc.O;
  lane.first_row = lane.b * pc.O + first;
  lane.end_row = lane.b * pc.O + pc.O;
  lane.row_step = step;
  return lane;
}

// The channels element 4c + j lies past channel k0 = 4c / I, from s = 4c - k0 * I + j
// (s < I + 3, so below 4I): the compares do what a division per element would, and on
// lavapipe a division is a loop over the lanes. Subtracting instead of comparing with 2I
// and 3I: those could wrap for I above 2^31.
uint spans(uint s) {
  uint one = uint(s >= pc.I);
  s -= one * pc.I;
  uint two = uint(s >= pc.I);
  s -= two * pc.I;
  return one + two + uint(s >= pc.I);
}

// The affine channel of column col in group k: k where a group is one channel (cpg == 1),
// else the column itself (the host's other case: inner == 1 and cpg == I, channels-last
// GroupNorm).
uint column_channel(uint k, uint col) { return pc.cpg == 1u ? k : col; }

#endif  // VKNORM_SAMPLE_COLUMNS_GLSL
