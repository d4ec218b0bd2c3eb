#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl with the batch statistics of a group per channel (BatchNorm;
// InstanceNorm and GroupNorm(C) of one sample): the training forward's apply, in place of
// normalize_vec4 where the eval forward would take the columns variant.
#define BATCH_STATISTICS 1
#define COLUMN_CHANNEL_PAIRS 0
#include "batch_norm_apply_columns.glsl"
