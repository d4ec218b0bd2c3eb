#version 450
#extension GL_GOOGLE_include_directive : require
// batch_norm_apply_columns.glsl for planes of at least 4 elements (a unit spans at most two
// channels), with the batch statistics of a group per channel (the training forward's apply;
// the host takes it only where a group is one channel).
#define BATCH_STATISTICS 1
#define COLUMN_CHANNEL_PAIRS 1
#include "batch_norm_apply_columns.glsl"
