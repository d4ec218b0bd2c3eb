#version 450
#extension GL_GOOGLE_include_directive : require
// team_backward_affine_vec4 over groups of one row (O == 1: LayerNorm, RMSNorm; channels-last
// GroupNorm over 1x1 planes) without an epilogue, walked by the row's index alone:
// shaders/team_backward_vec4.glsl.
#define AFFINE_UNITS 1
#define ONE_ROW 1
#include "team_backward_vec4.glsl"
