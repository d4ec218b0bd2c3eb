// Reductions (Welford's update and Chan's merge: welford.glsl): the teams of team_forward
// and team_backward, and workgroup reductions in a fixed order so that results are bitwise
// identical run to run. USE_SUBGROUP selects subgroup arithmetic inside each subgroup
// (then a tree across subgroups); otherwise a plain shared-memory tree.
#if USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#endif

shared vec4 reduce_scratch[gl_WorkGroupSize.x];

#include "welford.glsl"

#if USE_SUBGROUP
// The merged state of the subgroup's invocations, in every invocation: the parallel form
// of Chan's merge, the deviations taken from the merged mean.
Welford subgroup_welford(Welford w) {
  float n = subgroupAdd(w.n);
  float mean = n > 0.0 ? subgroupAdd(w.n * w.mean) / n : 0.0;
  float d = w.mean - mean;
  return Welford(n, mean, subgroupAdd(w.m2 + w.n * d * d));
}
#endif

// The teams of team_forward / team_backward: each subgroup owns a group (without
// subgroup operations, each invocation does). Subgroups are full (the workgroup size is
// a multiple of the subgroup size), so a workgroup holds exactly
// gl_WorkGroupSize.x / gl_SubgroupSize of them. Teams are numbered across the workgroups
// first, so that a grid of more workgroups than the groups fill (the planner's team_grid,
// on a CPU device: one per host thread) spreads a few groups over all of them.
struct Team { uint lanes, lane, index, count; };

Team invocation_team() {
#if USE_SUBGROUP
  uint per_workgroup = gl_WorkGroupSize.x / gl_SubgroupSize;
  return Team(gl_SubgroupSize, gl_SubgroupInvocationID, gl_SubgroupID * gl_NumWorkGroups.x + gl_WorkGroupID.x,
              gl_NumWorkGroups.x * per_workgroup);
#else
  return Team(1u, 0u, gl_GlobalInvocationID.x, gl_NumWorkGroups.x * gl_WorkGroupSize.x);
#endif
}

// The team's merged state and sums, in every lane of the team.
Welford team_welford(Welford w) {
#if USE_SUBGROUP
  return subgroup_welford(w);
#else
  return w;
#endif
}

vec2 team_sum2(vec2 v) {
#if USE_SUBGROUP
  return subgroupAdd(v);
#else
  return v;
#endif
}

// Team blocks (team_forward_vec4.glsl and team_backward_vec4.glsl with TEAM_BLOCKS: the
// AFFINE_UNITS kernels on lavapipe, src/kernels.cpp's team_block_rows): a team takes the
// groups (b, k) .. (b + n - 1, k) together, which share k and so their elements' channels,
// so that each unit's gamma (and beta) is loaded once for all of them. Rows per block: as
// many as the host's grid leaves per team (team_grid in src/ops/planner.cpp), up to
// VKNORM_TEAM_BLOCK_ROWS, or as the host asks (team_blocks_of: team_backward's
// FLAG_BLOCK_PARAMS, whose records are per block). A team walks its blocks j = t.index,
// + t.count, ...: block j's first group is g0, its rows n (at least 1), its row r the
// group g0 + r * K.
struct TeamBlocks { uint j, rows, g0, n; };
void team_blocks_locate(inout TeamBlocks blk) {
  uint b0 = blk.j / pc.K * blk.rows;
  blk.g0 = b0 * pc.K + blk.j % pc.K;
  blk.n = min(blk.rows, pc.B - b0);
}
TeamBlocks team_blocks_of(Team t, uint rows) {
  TeamBlocks blk = TeamBlocks(t.index, rows, 0u, 0u);
  team_blocks_locate(blk);
  return blk;
}
TeamBlocks team_blocks(Team t) {
  return team_blocks_of(t, clamp((group_count() + t.count - 1u) / t.count, 1u, VKNORM_TEAM_BLOCK_ROWS));
}
bool team_blocks_more(TeamBlocks blk) { return blk.j < pc.K * ((pc.B + blk.rows - 1u) / blk.rows); }
void team_blocks_next(inout TeamBlocks blk, Team t) {
  blk.j += t.count;
  team_blocks_locate(blk);
}
uint team_row_stride() { return pc.O * pc.K * pc.I; }  // elements from group (b, k) to (b + 1, k)
// Whether row r of a block of n is there: true for r = 0 where the loops over r unroll, so
// that the first row's code runs unmasked (lavapipe runs a branch no lane takes, masked).
bool in_block(uint r, uint n) { return r == 0u || r < n; }

// Tree over reduce_scratch[0, width): width is a power of two.
void tree_merge_welford(uint width) {
  uint lid = gl_LocalInvocationID.x;
  for (uint stride = width / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      vec4 a = reduce_scratch[lid], b = reduce_scratch[lid + stride];
      Welford m = welford_merge(Welford(a.x, a.y, a.z), Welford(b.x, b.y, b.z));
      reduce_scratch[lid] = vec4(m.n, m.mean, m.m2, 0.0);
    }
    barrier();
  }
}

void tree_sum(uint width) {
  uint lid = gl_LocalInvocationID.x;
  for (uint stride = width / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) reduce_scratch[lid] += reduce_scratch[lid + stride];
    barrier();
  }
}

#if USE_SUBGROUP
const uint SUBGROUP_SLOTS = gl_WorkGroupSize.x / MIN_SUBGROUP_SIZE;

// Clears the per-subgroup slots, so slots of subgroups that do not exist merge as empty.
void clear_subgroup_slots() {
  if (gl_LocalInvocationID.x < SUBGROUP_SLOTS) reduce_scratch[gl_LocalInvocationID.x] = vec4(0.0);
  barrier();
}
#endif

// Every invocation passes its state; invocation 0 gets the workgroup's.
Welford workgroup_welford(Welford w) {
#if USE_SUBGROUP
  clear_subgroup_slots();
  Welford s = subgroup_welford(w);
  if (subgroupElect()) reduce_scratch[gl_SubgroupID] = vec4(s.n, s.mean, s.m2, 0.0);
  barrier();
  tree_merge_welford(SUBGROUP_SLOTS);
#else
  reduce_scratch[gl_LocalInvocationID.x] = vec4(w.n, w.mean, w.m2, 0.0);
  barrier();
  tree_merge_welford(gl_WorkGroupSize.x);
#endif
  vec4 r = reduce_scratch[0];
  barrier();  // the caller may reduce again with the same scratch
  return Welford(r.x, r.y, r.z);
}

// Sums two values over the workgroup; invocation 0 gets the result (all do, in fact).
vec2 workgroup_sum2(vec2 v) {
#if USE_SUBGROUP
  clear_subgroup_slots();
  vec2 s = subgroupAdd(v);
  if (subgroupElect()) reduce_scratch[gl_SubgroupID] = vec4(s, 0.0, 0.0);
  barrier();
  tree_sum(SUBGROUP_SLOTS);
#else
  reduce_scratch[gl_LocalInvocationID.x] = vec4(v, 0.0, 0.0);
  barrier();
  tree_sum(gl_WorkGroupSize.x);
#endif
  vec2 r = reduce_scratch[0].xy;
  barrier();
  return r;
}
