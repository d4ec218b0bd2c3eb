// Backward through a statistics group: dx = invstd * (gamma * dy - b - xhat * c), where
// (through batch statistics) b = sum(g) / M and c = sum(g * xhat) / M over the group's M
// elements, g = gamma * dy (b = 0 for RMSNorm); b = c = 0 with fixed running statistics.
// Shared by grad_finalize / grad_input (split) and team_backward (on-chip).
#include "workspace.glsl"

struct Coefficients { float mean, invstd, b, c; };

// `sums` = (sum of g, sum of g * xhat), the order of the gradient sum records; with gamma
// constant inside the group, the caller has multiplied them by that gamma.
Coefficients group_coefficients(uint g, vec2 sums) {
  bool batch = has_flag(FLAG_BATCH_STATS) && group_size() > 0u;
  float inv_m = batch ? 1.0 / float(group_size()) : 0.0;
  return Coefficients(batch ? stat_mean(g) : 0.0, stat_invstd(g), has_flag(FLAG_RMS) ? 0.0 : sums.x * inv_m,
                      sums.y * inv_m);
}

// The coefficient record of group g (grad_finalize to grad_input); the mean is not stored.
void store_coefficients(uint g, Coefficients k) {
  uint at = coef_record(g);
  store_work(at + VKNORM_COEF_RECORD_INVSTD, k.invstd);
  store_work(at + VKNORM_COEF_RECORD_B, k.b);
  store_work(at + VKNORM_COEF_RECORD_C, k.c);
}
Coefficients load_coefficients(uint g, float mean) {
  uint at = coef_record(g);
  return Coefficients(mean, load_work(at + VKNORM_COEF_RECORD_INVSTD), load_work(at + VKNORM_COEF_RECORD_B),
                      load_work(at + VKNORM_COEF_RECORD_C));
}

// With the epilogue, dy is first masked by the ReLU and the residual's gradient written.
void grad_element(uint e, Coefficients k, float gamma) {
  float dz = load_dy(e);
  if (has_flag(FLAG_RESIDUAL)) store_dside(e, dz);  // d residual = dz
  float dx = dz * gamma - k.b;
  if (has_flag(FLAG_BATCH_STATS)) dx -= (load_x(e) - k.mean) * k.invstd * k.c;
  store_out(e, k.invstd * dx);
}
