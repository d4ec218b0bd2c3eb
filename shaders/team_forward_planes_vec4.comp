#version 450
#extension GL_GOOGLE_include_directive : require
// team_forward_vec4 plane by plane, gamma and beta once per plane: shaders/team_forward_vec4.glsl.
#define PLANE_AFFINE 1
#include "team_forward_vec4.glsl"
