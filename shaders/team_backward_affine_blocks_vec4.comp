#version 450
#extension GL_GOOGLE_include_directive : require
// team_backward_affine_vec4 over blocks of rows that share their channels, gamma loaded
// once per unit of a block (lavapipe): shaders/team_backward_vec4.glsl.
#define AFFINE_UNITS 1
#define TEAM_BLOCKS 1
#include "team_backward_vec4.glsl"
