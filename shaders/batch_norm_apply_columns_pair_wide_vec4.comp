#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl with 8 elements per lane (WIDE_UNITS: float16's eight
// halves as one 16-byte uvec4, float32's two vec4s, shaders/vec4.glsl) for planes of at
// least 8 elements (a unit spans at most two channels), with coefficients from the running
// statistics (the eval forward).
#define CACHED_COEFFICIENTS 0
#define COLUMN_CHANNEL_PAIRS 1
#define COLUMN_CHANNEL_UNITS 0
#define WIDE_UNITS 1
#include "batch_norm_apply_columns.glsl"
