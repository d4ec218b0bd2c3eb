#version 450
#extension GL_GOOGLE_include_directive : require
// normalize_channel_columns_stats_units_vec4 with 8 channels per lane (WIDE_UNITS: float16's
// eight halves as one 16-byte uvec4, float32's two vec4s: shaders/vec4.glsl), on the
// 4-element kernel's grid for twice the rows, as the eval forward's _wide_ units. BatchNorm
// 8x64x56x56 NHWC's training forward, 4 runs alternating with the 4-channel kernel: lavapipe
// f32 / f16 1.89 / 1.48 -> 1.69 / 1.24 times the elementwise pass; SwiftShader f32 (3 runs)
// 1.47 -> 1.38.
#define BATCH_STATISTICS 1
#define COLUMN_CHANNEL_PAIRS 0
#define COLUMN_CHANNEL_UNITS 1
#define WIDE_UNITS 1
#include "batch_norm_apply_columns.glsl"
