#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl with coefficients from the running statistics (the eval forward).
#define CACHED_COEFFICIENTS 0
#define COLUMN_CHANNEL_PAIRS 0
#include "batch_norm_apply_columns.glsl"
