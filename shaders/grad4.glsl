// grad.glsl's grad_element on a 4-element unit (the _vec4 backward kernels), each element
// with its own coefficients (grad_input_vec4: a unit's columns may lie in several groups)
// or all four with the group's (coefficients4). Needs grad.glsl and vec4.glsl.
#ifndef VKNORM_GRAD4_GLSL
#define VKNORM_GRAD4_GLSL

struct Coefficients4 { vec4 mean, invstd, b, c; };
Coefficients4 coefficients4(Coefficients k) { return Coefficients4(vec4(k.mean), vec4(k.invstd), vec4(k.b), vec4(k.c)); }

void grad_unit(uint e, Coefficients4 k, vec4 gamma) {
  vec4 dz = load4_dy_through_relu(e);
  if (has_flag(FLAG_RESIDUAL)) store4_dside(e, dz);  // d residual = dz
  vec4 dx = dz * gamma - k.b;
  if (has_flag(FLAG_BATCH_STATS)) dx -= (load4_x(e) - k.mean) * k.invstd * k.c;
  store4_out(e, k.invstd * dx);
}

#endif  // VKNORM_GRAD4_GLSL
