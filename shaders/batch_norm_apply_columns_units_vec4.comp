#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl for channels-last rows (I == 1: a unit is four adjacent
// channels), their coefficients from the running statistics four channels per load (the
// eval forward with a weight and a bias).
#define CACHED_COEFFICIENTS 0
#define COLUMN_CHANNEL_PAIRS 0
#define COLUMN_CHANNEL_UNITS 1
#include "batch_norm_apply_columns.glsl"
