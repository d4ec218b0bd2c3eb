#version 450
#extension GL_GOOGLE_include_directive : require
// team_forward_affine_rows_vec4 without a bias (RMSNorm; LayerNorm with bias=False: groups
// of one row): gamma four channels per load, beta zero, so the bias slot is not read at all. On SwiftShader the
// bias stand-in's load (the weight again) was a fifth of the RMSNorm forward's time
// (2048x4096 f32: 49.5 -> 40 ms with it gone, three `vknorm tune` runs each).
#define AFFINE_UNITS 1
#define WEIGHT_ONLY 1
#define ONE_ROW 1
#include "team_forward_vec4.glsl"
