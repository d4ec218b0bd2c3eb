#version 450
#extension GL_GOOGLE_include_directive : require
// team_forward_vec4 with gamma and beta loaded once per group: shaders/team_forward_vec4.glsl.
#define CHANNEL_AFFINE 1
#include "team_forward_vec4.glsl"
