#version 450
#extension GL_GOOGLE_include_directive : require
// team_backward.comp four elements per access, gamma four channels per load: shaders/team_backward_vec4.glsl.
#define AFFINE_UNITS 1
#include "team_backward_vec4.glsl"
