#version 450
#extension GL_GOOGLE_include_directive : require
// team_backward.comp four elements per access, plane by plane, gamma once per plane: shaders/team_backward_vec4.glsl.
#define PLANE_AFFINE 1
#include "team_backward_vec4.glsl"
