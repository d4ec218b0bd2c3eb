// The row view of the elementwise passes (normalize, grad_input): the tensor as R rows of
// L contiguous elements, chosen so that a row's statistics group and affine channel cost
// no per-element division:
//  - plane rows (inner >= workgroup size: NCHW BatchNorm, InstanceNorm, GroupNorm with
//    large planes): a row is one plane (b, o, k, ci) of `inner` elements; group and
//    channel are the same for the whole row;
//  - vector rows (otherwise: channels-last, small planes, LayerNorm, RMSNorm): a row is
//    (b, o) with L = K * I; the channel follows the column, so it is fixed per
//    invocation, and the rows of one b (one group per column) come as a run with one
//    division and one load of statistics per run.
// Workgroup x covers the columns of long rows; rows shorter than the workgroup are packed
// several to a workgroup. Workgroup y walks the rows: plane rows a grid apart, vector rows
// in blocks of consecutive rows, one block per row set of a workgroup, so that an
// invocation's rows lie together and its column's set-up (channel, gamma, beta: per-lane
// loads and divisions, each a loop over the lanes on lavapipe) serves all of them.
// src/ops/planner.cpp sizes the grid the same way (row_grid). The *_vec4 kernels walk a
// row in units of 4 elements (row_view_units(4): L, first_col and col_step count units;
// the host runs them only where L is whole units).
struct RowView {
  bool plane;
  uint R, L;
  uint first_row, end_row, row_step;  // this invocation's rows: from first_row by row_step, below end_row
  uint first_col, col_step;   // and columns
  bool has_work;               // lanes beyond the packed rows have nothing to do
};

RowView row_view_units(uint width) {
  RowView v;
  uint wg = gl_WorkGroupSize.x, lid = gl_LocalInvocationID.x;
  v.plane = pc.inner >= wg;
  uint elements = v.plane ? pc.inner : pc.K * pc.I;
  v.R = elements == 0u ? 0u : element_count() / elements;
  v.L = elements / width;
  uint packed = v.L >= wg ? 1u : wg / v.L;  // rows per workgroup step
  uint sub = v.L >= wg ? 0u : lid / v.L;
  v.has_work = sub < packed;
  if (v.plane) {
    v.first_row = gl_WorkGroupID.y * packed + sub;
    v.row_step = gl_NumWorkGroups.y * packed;
    v.end_row = v.R;
  } else {
    uint steps = (v.R + packed - 1u) / packed;
    uint per_set = (steps + gl_NumWorkGroups.y - 1u) / gl_NumWorkGroups.y;
    v.first_row = (gl_WorkGroupID.y * packed + sub) * per_set;
    v.row_step = 1u;
    v.end_row = v.has_work ? min(v.R, v.first_row + per_set) : 0u;
  }
  v.first_col = v.L >= wg ? gl_WorkGroupID.x * wg + lid : lid - sub * v.L;
  v.col_step = v.L >= wg ? gl_NumWorkGroups.x * wg : v.L;
  return v;
}
RowView row_view() { return row_view_units(1u); }

// Plane row r = ((b * O + o) * K + k) * (I / inner) + ci: its group and affine channel.
uvec2 plane_group_channel(uint r) {
  uint planes = pc.I / pc.inner;
  uint ci = r % planes;
  uint t = r / planes;
  uint k = t % pc.K;
  uint b = t / (pc.K * pc.O);
  return uvec2(b * pc.K + k, k * pc.cpg + ci);
}

// Vector rows: column col = k * I + i has channel k * cpg + i / inner; row r = b * O + o
// puts it in group b * K + k.
uint vector_k(uint col) { return col / pc.I; }
uint vector_channel(uint col, uint k) { return k * pc.cpg + (col - k * pc.I) / pc.inner; }
