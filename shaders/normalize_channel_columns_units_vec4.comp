#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl with the batch statistics where the channel is the column and
// a group holds at least 4 channels (channels-last GroupNorm): a unit's gamma and beta four
// channels per load, its statistics those of at most two groups (the host binds weight and
// bias 16-byte aligned, else takes normalize_channel_columns_vec4).
#define BATCH_STATISTICS 1
#define COLUMN_CHANNEL_PAIRS 0
#define COLUMN_GROUP_UNITS 1
#include "batch_norm_apply_columns.glsl"
