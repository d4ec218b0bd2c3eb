#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl for planes of at least 4 elements (a unit spans at most two
// channels), with cached coefficients (record_batch_norm_inference_apply).
#define CACHED_COEFFICIENTS 1
#define COLUMN_CHANNEL_PAIRS 1
#include "batch_norm_apply_columns.glsl"
