#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl with cached coefficients (record_batch_norm_inference_apply).
#define CACHED_COEFFICIENTS 1
#define COLUMN_CHANNEL_PAIRS 0
#include "batch_norm_apply_columns.glsl"
