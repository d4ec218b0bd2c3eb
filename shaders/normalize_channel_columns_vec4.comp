#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl with the batch statistics, a group per channel (BatchNorm,
// InstanceNorm, GroupNorm(C)) or the channel the column (channels-last GroupNorm): the
// training forward's apply, in place of normalize_vec4 (src/ops/planner.cpp says where).
#define BATCH_STATISTICS 1
#define COLUMN_CHANNEL_PAIRS 0
#include "batch_norm_apply_columns.glsl"
