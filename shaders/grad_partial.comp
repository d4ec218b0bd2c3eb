#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 1: workgroup (chunk, group) sums g and g * xhat over one chunk of a
// statistics group, xhat = (x - mean) * invstd. g = gamma * dy when gamma varies inside
// the group (GroupNorm, LayerNorm, RMSNorm); otherwise g = dy and grad_finalize applies
// the group's gamma (and also has the sums it needs for dgamma / dbeta). With
// FLAG_COLUMNS, over the column view as stats_partial, a column's gamma applied to its
// sums of dy once (column_main).
#include "common.glsl"
#include "reduce.glsl"
#include "workspace.glsl"

// Channels-last (common.glsl's column view): a column's elements share one channel, so
// its gamma applies to its sums once, and the sums before it are dgamma / dbeta's
// partials (FLAG_COLUMN_PARAMS: no param_partial pass).
void column_main() {
  for (uint y = gl_WorkGroupID.y; y < column_rows_y(); y += gl_NumWorkGroups.y) {
    ColumnLane c = column_lane(y);
    if (!c.live) continue;
    float mean = stat_mean(c.g), invstd = stat_invstd(c.g);
    vec2 sums = vec2(0.0);
    for (uint o = c.o, e = c.e; o < c.o_end; o += c.o_step, e += c.e_step) {
      float dy = load_dy(e);
      sums += vec2(dy, dy * (load_x(e) - mean) * invstd);
    }
    if (has_flag(FLAG_COLUMN_PARAMS))
      store_sums(param_sums_record(c.channel, column_param_partial(c.g, c.partial)), sums);
    if (has_flag(FLAG_GAMMA_VARIES)) sums *= gamma_of(c.channel);
    store_sums(grad_sums_record(c.g, c.partial), sums);
  }
}

void main() {
  if (has_flag(FLAG_COLUMNS)) {
    column_main();
    return;
  }
  uint chunk = gl_WorkGroupID.x;
  uint lid = gl_LocalInvocationID.x;
  bool weighted = has_flag(FLAG_GAMMA_VARIES);
  for (uint g = gl_WorkGroupID.y; g < group_count(); g += gl_NumWorkGroups.y) {
    float mean = stat_mean(g);
    float invstd = stat_invstd(g);
    uint begin = chunk * pc.chunk_size;
    uint end = min(group_size(), begin + pc.chunk_size);
    vec2 sums = vec2(0.0);
    for (GroupWalk at = group_walk(g, begin + lid, gl_WorkGroupSize.x); at.m < end; walk_next(at)) {
      uint e = walk_element(at);
      float dy = load_dy(e);
      if (weighted) dy *= gamma_of(walk_channel(at));
      sums += vec2(dy, dy * (load_x(e) - mean) * invstd);
    }
    sums = workgroup_sum2(sums);
    if (lid == 0u) store_sums(grad_sums_record(g, chunk), sums);
  }
}
