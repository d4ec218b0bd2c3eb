#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl with the batch statistics, a group per channel and the
// channel the column (channels-last BatchNorm, InstanceNorm, GroupNorm(C) with a weight
// and a bias): a unit's statistics, gamma and beta four channels per load, 4 per-lane loads
// instead of normalize_channel_columns_vec4's 16 (the host binds them 16-byte aligned, else
// takes that kernel). BatchNorm 8x64x56x56 NHWC's training forward, f32, alternating runs:
// lavapipe 2.24 -> 1.95 times the elementwise pass (4 runs), SwiftShader 1.63 -> 1.39 (3);
// with constant coefficients in place of the loads (an experiment) lavapipe ran 1.61.
#define BATCH_STATISTICS 1
#define COLUMN_CHANNEL_PAIRS 0
#define COLUMN_CHANNEL_UNITS 1
#include "batch_norm_apply_columns.glsl"
