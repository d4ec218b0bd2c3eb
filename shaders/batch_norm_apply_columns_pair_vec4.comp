#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl for planes of at least 4 elements (a unit spans at most two
// channels), with coefficients from the running statistics (the eval forward).
#define CACHED_COEFFICIENTS 0
#define COLUMN_CHANNEL_PAIRS 1
#include "batch_norm_apply_columns.glsl"
