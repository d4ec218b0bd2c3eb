#version 450
#extension GL_GOOGLE_include_directive : require
// team_forward.comp four elements per access: shaders/team_forward_vec4.glsl.
#include "team_forward_vec4.glsl"
