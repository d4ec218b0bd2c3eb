#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl with 8 elements per lane (WIDE_UNITS: float16's eight
// halves as one 16-byte uvec4, float32's two vec4s: shaders/vec4.glsl) for channels-last rows (I == 1: a unit
// is eight adjacent channels, read four per load), with coefficients from the running
// statistics (the eval forward).
#define CACHED_COEFFICIENTS 0
#define COLUMN_CHANNEL_PAIRS 0
#define COLUMN_CHANNEL_UNITS 1
#define WIDE_UNITS 1
#include "batch_norm_apply_columns.glsl"
