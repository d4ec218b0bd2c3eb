// Eval BatchNorm's coefficients of channel k from the running statistics (slots mean and
// stat) and the affine parameters, in the float32 operations of
// include/vknorm/batchnorm_inference.hpp. `precise` keeps the compiler from fusing or
// reassociating them (an FMA for the shift, an inverse square root for 1 / sqrt), so that
// every kernel that computes them, and the host function, gives the same values.
vec2 running_coefficients(uint k) {
  precise float invstd = 1.0 / sqrt(load_stat(k) + pc.eps);
  precise float scale = invstd * gamma_of(k);
  precise float shift = beta_of(k) - load_mean(k) * scale;
  return vec2(scale, shift);
}
