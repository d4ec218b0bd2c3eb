// The workspace records of src/shader_contract.h: where each sits in slot Work, and its
// loads and stores. Needs common.glsl.
#ifndef VKNORM_WORKSPACE_GLSL
#define VKNORM_WORKSPACE_GLSL

// Statistics partial record of partial p of group g: count, and mean and M2 of x - pivot.
uint stats_record(uint g, uint p) { return (g * pc.chunks + p) * VKNORM_STATS_RECORD_FLOATS; }
void store_stats_record(uint at, uint count, float mean, float m2) {
  store_work(at + VKNORM_STATS_RECORD_COUNT, uintBitsToFloat(count));
  store_work(at + VKNORM_STATS_RECORD_MEAN, mean);
  store_work(at + VKNORM_STATS_RECORD_M2, m2);
}
// The pivot of group g's statistics records (after every group's records).
uint pivot_record(uint g) { return group_count() * pc.chunks * VKNORM_STATS_RECORD_FLOATS + g; }
void store_pivot(uint g, float pivot) { store_work(pivot_record(g), pivot); }
float load_pivot(uint g) { return load_work(pivot_record(g)); }
uint stats_record_count(uint at) { return floatBitsToUint(load_work(at + VKNORM_STATS_RECORD_COUNT)); }
float stats_record_mean(uint at) { return load_work(at + VKNORM_STATS_RECORD_MEAN); }
float stats_record_m2(uint at) { return load_work(at + VKNORM_STATS_RECORD_M2); }

// Gradient sum records, as vec2(sum of dy, sum of dy * xhat): of partial p of group g,
// and of partial p of affine channel c.
uint grad_sums_record(uint g, uint p) { return (g * pc.chunks + p) * VKNORM_SUMS_RECORD_FLOATS; }
// Three functions, not one with the choice inside: grad_partial_columns_vec4 with the
// choice compiled in ran GroupNorm 2x320x64x64 NHWC's backward 1.7x as slow on lavapipe.
uint param_sums_record(uint c, uint p) { return pc.param_base + (c * pc.pchunks + p) * VKNORM_SUMS_RECORD_FLOATS; }
// FLAG_BLOCK_PARAMS's layout: partial after partial (src/shader_contract.h).
uint block_param_record(uint c, uint p) { return pc.param_base + (p * pc.Kp + c) * VKNORM_SUMS_RECORD_FLOATS; }
// Either, by the flag: the passes that serve both layouts (param_partial, param_finalize).
uint param_record(uint c, uint p) {
  return has_flag(FLAG_BLOCK_PARAMS) ? block_param_record(c, p) : param_sums_record(c, p);
}
// Through the column view (FLAG_COLUMN_PARAMS), a column's parameter partial: its group
// partial p of group g taken per sample b (src/shader_contract.h).
uint column_param_partial(uint g, uint p) { return (g / pc.K) * (pc.chunks / pc.I) + p / pc.I; }
void store_sums(uint at, vec2 sums) {
  store_work(at + VKNORM_SUMS_RECORD_DY, sums.x);
  store_work(at + VKNORM_SUMS_RECORD_DY_XHAT, sums.y);
}
vec2 load_sums(uint at) {
  return vec2(load_work(at + VKNORM_SUMS_RECORD_DY), load_work(at + VKNORM_SUMS_RECORD_DY_XHAT));
}

// Coefficient record of group g: invstd, b, c.
uint coef_record(uint g) { return pc.coef_base + g * VKNORM_COEF_RECORD_FLOATS; }

#endif  // VKNORM_WORKSPACE_GLSL
