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
// The coefficients of the batch_norm_apply variants, each compiled for one source (a
// choice at run time would cost both on lavapipe): the running statistics (the eval
// forward), or with CACHED_COEFFICIENTS those of batch_norm_coefficients.comp in slot work,
// K scales then K shifts (record_batch_norm_inference_apply). (The batch statistics of
// normalize_channel_columns are batch_norm_apply_columns.glsl's own.)
#if defined(CACHED_COEFFICIENTS) && CACHED_COEFFICIENTS
vec2 variant_coefficients(uint k) { return vec2(load_work(k), load_work(pc.K + k)); }
#else
vec2 variant_coefficients(uint k) { return running_coefficients(k); }
#endif
