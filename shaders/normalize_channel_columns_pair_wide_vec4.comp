#version 450
#extension GL_GOOGLE_include_directive : require
// normalize_channel_columns_pair_vec4 with 8 elements per lane (WIDE_UNITS: float16's eight
// halves as one 16-byte uvec4, float32's two vec4s: shaders/vec4.glsl) for planes of at
// least 8 elements (a unit of 8 spans at most two channels), on the 4-element kernel's grid
// for twice the rows, as the eval forward's _pair_wide_ kernel: a lane's two channels'
// statistics, gamma and beta (8 per-lane loads) serve 8 elements per row instead of 4.
#define BATCH_STATISTICS 1
#define COLUMN_CHANNEL_PAIRS 1
#define COLUMN_CHANNEL_UNITS 0
#define WIDE_UNITS 1
#include "batch_norm_apply_columns.glsl"
