#version 450
#extension GL_GOOGLE_include_directive : require
// team_forward_vec4 with gamma and beta four channels per load: shaders/team_forward_vec4.glsl.
#define AFFINE_UNITS 1
#include "team_forward_vec4.glsl"
