// common.glsl's column view four columns per lane, for stats_partial_columns_vec4 and
// grad_partial_columns_vec4: a lane takes a unit of 4 adjacent columns of a row of
// L = K * I columns (L % 4 == 0), each column with its own group, channel and partial, and
// walks the rows of the scalar kernel's (chunk, phase), so that it writes exactly the
// scalar kernel's partials. Where the units need fewer lanes than the scalar phases do, a
// workgroup takes several chunks (the planner's column_vec4_grid divides by the same
// count). Needs common.glsl.
#ifndef VKNORM_COLUMNS_VEC4_GLSL
#define VKNORM_COLUMNS_VEC4_GLSL

// The scalar view's phases, and this one's: `width` lanes per row of units,
// `chunks_per_workgroup` chunks of `phases` phases each, `blocks` of units per row.
struct ColumnGeometry { uint phases, width, chunks_per_workgroup, blocks, column_chunks; };
ColumnGeometry column_vec4_geometry() {
  uint units = pc.K * pc.I / 4u, wg = gl_WorkGroupSize.x;
  uint phases = wg / column_width();
  uint width = min(units, wg);
  uint chunks_per_workgroup = max(1u, (wg / width) / phases);
  return ColumnGeometry(phases, width, chunks_per_workgroup, (units + width - 1u) / width, pc.chunks / (phases * pc.I));
}

// The lane's chunk and phase and its unit q in a block; live false where it has none.
struct ColumnSlot { bool live; uint chunk, phase, q; };
ColumnSlot column_vec4_slot(ColumnGeometry geo) {
  uint lid = gl_LocalInvocationID.x;
  uint slot = lid / geo.width, q = lid - slot * geo.width;
  uint local_chunk = slot / geo.phases, phase = slot - local_chunk * geo.phases;
  uint chunk = gl_WorkGroupID.x * geo.chunks_per_workgroup + local_chunk;
  return ColumnSlot(local_chunk < geo.chunks_per_workgroup && chunk < geo.column_chunks, chunk, phase, q);
}

// The lane's unit in row block y (y walks (b, block)): column col + j is in group g[j]
// (channel k[j] of b, column i[j] of the group: channel[j] with inner == 1, read only where
// gamma varies) with partial p[j]; rows o = o_begin, o_begin + o_step, ... below o_end at
// elements e, e + e_step, ...
struct ColumnUnit { bool live; uvec4 g, channel, partial; uint o_begin, o_end, o_step, e, e_step; };
ColumnUnit column_vec4_unit(ColumnGeometry geo, ColumnSlot s, uint y) {
  uint L = pc.K * pc.I;
  uint b = y / geo.blocks, col = 4u * ((y - b * geo.blocks) * geo.width + s.q);
  uvec4 cols = uvec4(col) + uvec4(0u, 1u, 2u, 3u);
  uvec4 k = cols / pc.I, i = cols - k * pc.I;
  uint begin = s.chunk * pc.chunk_size;
  ColumnUnit c;
  c.live = col < L;
  c.g = b * pc.K + k;
  c.channel = k * pc.cpg + i;
  c.partial = (s.chunk * geo.phases + s.phase) * pc.I + i;
  c.o_begin = begin + s.phase;
  c.o_end = min(pc.O, begin + pc.chunk_size);
  c.o_step = geo.phases;
  c.e = (b * pc.O + c.o_begin) * L + col;
  c.e_step = geo.phases * L;
  return c;
}

#endif  // VKNORM_COLUMNS_VEC4_GLSL
