#version 450
#extension GL_GOOGLE_include_directive : require
// team_backward.comp four elements per access, gamma once per group: shaders/team_backward_vec4.glsl.
#include "team_backward_vec4.glsl"
