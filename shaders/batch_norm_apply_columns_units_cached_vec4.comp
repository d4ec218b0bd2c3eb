#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl for channels-last rows (I == 1: a unit is four adjacent
// channels), cached coefficients four channels per load (record_batch_norm_inference_apply).
#define CACHED_COEFFICIENTS 1
#define COLUMN_CHANNEL_PAIRS 0
#define COLUMN_CHANNEL_UNITS 1
#include "batch_norm_apply_columns.glsl"
