#version 450
#extension GL_GOOGLE_include_directive : require
// team_forward_weight_vec4 (no bias) over blocks of rows that share their channels, gamma
// loaded once per unit of a block (lavapipe): shaders/team_forward_vec4.glsl.
#define AFFINE_UNITS 1
#define WEIGHT_ONLY 1
#define TEAM_BLOCKS 1
#include "team_forward_vec4.glsl"
