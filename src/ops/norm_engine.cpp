// Recording of any norm on the shared kernels.
//  forward, batch statistics, many small groups: team_forward
//  forward, batch statistics, group fits on-chip: fused_forward
//    (either one -> stats_finalize over its one partial per group when running stats
//    are updated: the update averages over groups, across workgroups)
//  forward, batch statistics otherwise: stats_partial -> stats_finalize -> normalize
//  forward, running statistics: normalize
//  backward, batch statistics, many small groups: team_backward
//            (+ grad_finalize for dgamma / dbeta when gamma is constant in a group)
//  backward otherwise: grad_partial -> grad_finalize -> grad_input
//  either (+ param_partial -> param_finalize when gamma varies inside a group; only
//  param_finalize after team_backward over GroupNorm NCHW planes)
#include <algorithm>
#include <string>
#include <thread>

#include "ops/norm_plan.hpp"
#include "recorder_impl.hpp"

namespace vknorm {
namespace {

// How groups (and affine channels) are split over workgroups, and where each part of the
// workspace starts (in floats).
struct SplitPlan {
  uint32_t chunks = 0, chunk_size = 0;    // per statistics group
  uint32_t pchunks = 0, pchunk_size = 0;  // per affine channel (parameter gradients)
  bool team = false;   // team_forward / team_backward: a subgroup per group
  uint32_t teams_per_workgroup = 1;
  bool fused = false;  // fused_forward: a workgroup per group, values in registers
  bool plane_params = false;  // team_backward also sums dgamma / dbeta (param_partial's part)
  // Split passes over the column view (shaders/common.glsl): channels-last groups, a lane
  // per column; column_chunks workgroups in x (chunks over O), column_blocks in y.
  bool columns = false;
  uint32_t column_chunks = 0;
  uint64_t column_blocks = 0;
  uint64_t forward_floats = 0;
  uint64_t coef_base = 0, param_base = 0, backward_floats = 0;
};

// Splits `size` elements into chunks of about `target`, at most 1024 of them so the
// finalize passes (one invocation per group or channel) stay short.
void split(uint64_t size, uint64_t target, uint32_t& chunks, uint32_t& chunk_size) {
  chunks = chunk_size = 0;
  if (size == 0) return;
  const uint64_t n = std::clamp<uint64_t>((size + target - 1) / target, 1, 1024);
  chunk_size = static_cast<uint32_t>((size + n - 1) / n);
  chunks = static_cast<uint32_t>((size + chunk_size - 1) / chunk_size);
}

// Values each invocation reduces in a split pass before its workgroup's reduction. A GPU
// wants many workgroups in flight; a CPU implementation (lavapipe) runs a few threads,
// and its workgroup barriers are costly, so it wants fewer, longer chunks.
uint64_t values_per_invocation(const Capabilities& caps) {
  return caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 64 : 8;
}

SplitPlan plan_split(const Capabilities& caps, const NormPlan& p) {
  const uint32_t wg = workgroup_size_for(caps);
  const uint64_t vpi = values_per_invocation(caps);
  const NormGeometry& g = p.geometry;
  const uint64_t groups = p.B * p.K, size = p.O * p.I;
  SplitPlan s;
  split(size, wg * vpi, s.chunks, s.chunk_size);
  // Channels-last rows with enough columns for the lanes: a lane per column reads
  // contiguous memory where a group walk would stride by a row. Fewer columns than lanes
  // share each column between `phases` lanes; every (phase, column of the group) is its
  // own partial.
  const uint64_t L = p.K * p.I;
  if (p.inner == 1 && p.I <= kColumnMaxGroupColumns && L >= kColumnMinColumns) {
    const uint64_t width = std::min<uint64_t>(L, wg), phases = wg / width;
    s.columns = true;
    s.column_blocks = p.B * ((L + width - 1) / width);
    split(p.O, vpi * phases, s.column_chunks, s.chunk_size);
    s.chunks = static_cast<uint32_t>(s.column_chunks * phases * p.I);
  }
  // The on-chip kernels (team, fused) serve batch statistics only.
  const bool batch = g.uses_batch_stats && size > 0;
  // Many groups: a subgroup each, with no barrier, as long as there are enough of them to
  // fill two workgroups (else a workgroup per group uses more lanes). On a GPU a lane
  // takes at most 32 values (a warp per LayerNorm row up to 1024 on NVIDIA). A CPU
  // implementation (lavapipe) runs a workgroup per thread, with costly barriers and
  // dispatches: teams, up to the kTeamMax* sizes, as soon as every thread of the host
  // (where such a driver runs) gets 4 workgroups, which keeps the threads balanced.
  const bool cpu = caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  const uint64_t lanes = std::max<uint32_t>(1, caps.subgroup_size);
  s.teams_per_workgroup = static_cast<uint32_t>(std::max<uint64_t>(1, team_workgroup_size(caps) / lanes));
  const uint64_t team_limit = !cpu ? std::min(kTeamMaxGroupSize, 32 * lanes)
                              : p.I > 1 ? kTeamMaxContiguousGroupSize
                                        : kTeamMaxGroupSize;
  const uint64_t team_workgroups = cpu ? 4 * std::max<uint64_t>(1, std::thread::hardware_concurrency()) : 2;
  s.team = batch && caps.reduction_path == ReductionPath::subgroup && size <= team_limit &&
           groups >= team_workgroups * s.teams_per_workgroup;
  s.fused = batch && !s.team && size <= uint64_t{wg} * kFusedValuesPerInvocation;
  // Partials (count, shifted mean, M2) per group and chunk; one chunk per group after
  // team/fused, and only when stats_finalize must update running statistics.
  if (!s.fused && !s.team)
    s.forward_floats = groups * s.chunks * 3;
  else if (g.updates_running)
    s.forward_floats = groups * 3;
  s.coef_base = groups * s.chunks * 2;
  s.param_base = s.coef_base + groups * 3;
  s.backward_floats = s.param_base;
  if (p.gamma_varies && (p.has_weight || p.has_bias)) {
    // A team over a group of whole planes of one channel each (GroupNorm NCHW: O == 1)
    // sums every plane anyway: those sums are dgamma / dbeta's partials, one per b.
    s.plane_params = s.team && p.O == 1 && p.inner > 1;
    if (s.plane_params)
      s.pchunks = static_cast<uint32_t>(p.B);
    else if (p.Ip == 1)  // one invocation per channel: chunks of 64 rows (param_partial.comp)
      split(p.Op, 64, s.pchunks, s.pchunk_size);
    else
      split(p.Op * p.Ip, wg * vpi, s.pchunks, s.pchunk_size);
    s.backward_floats += p.Kp * s.pchunks * 2;
  }
  return s;
}

bool forward_needs_workspace(const SplitPlan& s, const NormGeometry& g) {
  return g.uses_batch_stats && (!(s.team || s.fused) || g.updates_running);
}

uint32_t element_bytes(DType d) { return d == DType::f16 ? 2 : 4; }

Status check_device_limits(const Capabilities& caps, const NormPlan& p) {
  const uint64_t bytes = p.geometry.elements * element_bytes(p.dtype);
  if (p.geometry.elements >= (uint64_t{1} << 32) || bytes > caps.max_storage_buffer_range)
    return Status::unsupported("x: " + std::to_string(p.geometry.elements) + " elements (" + std::to_string(bytes) +
                               " bytes) exceed the device's maxStorageBufferRange of " +
                               std::to_string(caps.max_storage_buffer_range) + " bytes");
  if (p.dtype == DType::f16 && !caps.storage_buffer_16bit)
    return Status::unsupported("dtype: float16 storage needs storageBuffer16BitAccess, which " + caps.device_name +
                               " does not offer (or the context did not enable)");
  return {};
}

// A buffer the call needs: present, aligned to its element, and (when its size is known)
// large enough.
Status check_ref(const char* name, const BufferRef& r, uint64_t count, uint32_t elem = 4) {
  const std::string arg = std::string("buffers.") + name;
  if (r.empty()) return Status::invalid_argument(arg + ": expected a VkBuffer, got VK_NULL_HANDLE");
  if (r.offset % elem != 0)
    return Status::invalid_argument(arg + ": offset " + std::to_string(r.offset) + " is not a multiple of " +
                                    std::to_string(elem));
  if (r.size != VK_WHOLE_SIZE && r.size < count * elem)
    return Status::invalid_argument(arg + ": range of " + std::to_string(r.size) + " bytes, expected at least " +
                                    std::to_string(count * elem) + " (" + std::to_string(count) + " elements)");
  return {};
}

SlotBinding slot(const BufferRef& r, uint64_t count, uint32_t elem = 4) {
  return {r.buffer, r.offset, count * elem, elem};
}

PushConstants base_push(const NormPlan& p, const SplitPlan& s) {
  PushConstants pc;
  pc.B = static_cast<uint32_t>(p.B);
  pc.O = static_cast<uint32_t>(p.O);
  pc.K = static_cast<uint32_t>(p.K);
  pc.I = static_cast<uint32_t>(p.I);
  pc.cpg = static_cast<uint32_t>(p.cpg);
  pc.inner = static_cast<uint32_t>(std::max<uint64_t>(1, p.inner));
  pc.Op = static_cast<uint32_t>(p.Op);
  pc.Kp = static_cast<uint32_t>(p.Kp);
  pc.Ip = static_cast<uint32_t>(p.Ip);
  pc.chunks = s.chunks;
  pc.chunk_size = s.chunk_size;
  pc.pchunks = s.pchunks;
  pc.pchunk_size = s.pchunk_size;
  pc.coef_base = static_cast<uint32_t>(s.coef_base);
  pc.param_base = static_cast<uint32_t>(s.param_base);
  pc.eps = p.eps;
  pc.momentum = p.momentum;
  if (p.has_weight) pc.flags |= kFlagWeight;
  if (p.has_bias) pc.flags |= kFlagBias;
  if (p.rms) pc.flags |= kFlagRms;
  if (p.gamma_varies) pc.flags |= kFlagGammaVaries;
  if (p.epilogue.residual) pc.flags |= kFlagResidual;
  if (p.epilogue.relu) pc.flags |= kFlagRelu;
  if (s.columns) pc.flags |= kFlagColumns;
  return pc;
}

uint32_t clamp_grid(uint64_t n, uint32_t limit) {
  return static_cast<uint32_t>(std::clamp<uint64_t>(n, 1, std::min(limit, 65535u)));
}
// The grid of the elementwise passes over the row view of shaders/rows.glsl: workgroups
// in x cover the columns of rows longer than a workgroup, workgroups in y walk the rows
// (several short rows per workgroup). At most kGridStrideWorkgroups in all, each looping.
struct Grid {
  uint32_t x = 1, y = 1;
};
Grid row_grid(const Capabilities& caps, const NormPlan& p) {
  const uint64_t wg = workgroup_size_for(caps);
  const bool plane = p.inner >= wg;
  const uint64_t L = plane ? p.inner : p.K * p.I;
  const uint64_t R = L == 0 ? 0 : p.geometry.elements / L;
  const uint64_t packed = L >= wg ? 1 : wg / L;
  // A plane row shares one set of coefficients: let each invocation take many of its
  // elements (up to 16) before the row is split over more workgroups.
  const uint64_t cols_per_workgroup = plane ? wg * 16 : wg;
  Grid g;
  g.x = clamp_grid((L + cols_per_workgroup - 1) / cols_per_workgroup,
                   static_cast<uint32_t>(std::min<uint64_t>(caps.max_workgroup_count_x, uint64_t{kGridStrideWorkgroups})));
  // Vector rows: a column's channel setup is paid once per invocation, so give each
  // invocation several rows (up to 8) before adding workgroups in y.
  const uint64_t row_steps = (R + packed - 1) / packed;
  g.y = clamp_grid(plane ? row_steps : (row_steps + 7) / 8,
                   static_cast<uint32_t>(std::min<uint64_t>(caps.max_workgroup_count_y, uint64_t{kGridStrideWorkgroups} / g.x)));
  return g;
}

// The grid of team_forward / team_backward: a subgroup per group.
uint32_t team_grid(const Capabilities& caps, const SplitPlan& s, uint64_t groups) {
  return clamp_grid((groups + s.teams_per_workgroup - 1) / s.teams_per_workgroup, caps.max_workgroup_count_x);
}

// The grid of stats_partial / grad_partial: (chunk, group), or over the column view.
uint32_t partial_grid_x(const SplitPlan& s) { return s.columns ? s.column_chunks : s.chunks; }
uint32_t partial_grid_y(const Capabilities& caps, const SplitPlan& s, uint64_t groups) {
  return clamp_grid(s.columns ? s.column_blocks : groups, caps.max_workgroup_count_y);
}

uint32_t per_item_grid(const Capabilities& caps, uint64_t items) {
  const uint64_t wg = workgroup_size_for(caps);
  return static_cast<uint32_t>(std::max<uint64_t>(1, (items + wg - 1) / wg));
}

}  // namespace

Result<uint64_t> norm_workspace_size(const Context& context, const NormPlan& plan) {
  SplitPlan s = plan_split(context.capabilities(), plan);
  return std::max<uint64_t>({s.forward_floats, s.backward_floats, 1}) * 4;
}

Status record_norm_forward(CommandRecorder& recorder, const NormPlan& p, const NormForwardBuffers& b) {
  CommandRecorder::Impl& rec = impl_of(recorder);
  const Capabilities& caps = rec.state->caps;
  VKNORM_TRY(check_device_limits(caps, p));
  const NormGeometry& g = p.geometry;
  const SplitPlan s = plan_split(caps, p);
  const uint32_t eb = element_bytes(p.dtype);
  const uint64_t E = g.elements, A = g.affine_size, G = g.stat_groups, C = g.channels;
  VKNORM_TRY(check_ref("x", b.x, E, eb));
  VKNORM_TRY(check_ref("y", b.y, E, eb));
  if (p.has_weight) VKNORM_TRY(check_ref("weight", b.weight, A));
  if (p.has_bias) VKNORM_TRY(check_ref("bias", b.bias, A));
  if (p.epilogue.residual) VKNORM_TRY(check_ref("residual", b.residual, E, eb));
  const bool running = !g.uses_batch_stats || g.updates_running;
  if (running) {
    VKNORM_TRY(check_ref("running_mean", b.running_mean, C));
    VKNORM_TRY(check_ref("running_var", b.running_var, C));
  }
  if (g.uses_batch_stats) {
    if (!p.rms) VKNORM_TRY(check_ref("save_mean", b.save_mean, G));
    VKNORM_TRY(check_ref("save_invstd", b.save_invstd, G));
    if (forward_needs_workspace(s, g)) VKNORM_TRY(check_ref("workspace", b.workspace, s.forward_floats));
  }

  PushConstants pc = base_push(p, s);
  SlotBinding slots[kSlotCount] = {};
  slots[kSlotX] = slot(b.x, E, eb);
  slots[kSlotOut] = slot(b.y, E, eb);
  if (p.has_weight) slots[kSlotWeight] = slot(b.weight, A);
  if (p.has_bias) slots[kSlotBias] = slot(b.bias, A);
  if (p.epilogue.residual) slots[kSlotSide] = slot(b.residual, E, eb);
  if (!g.uses_batch_stats) {
    slots[kSlotMean] = slot(b.running_mean, C);
    slots[kSlotStat] = slot(b.running_var, C);
    pc.flags |= kFlagStatsAreVar;
    if (E == 0) return {};
    const Grid grid = row_grid(caps, p);
    return rec.dispatch(KernelId::normalize, p.dtype, slots, pc, grid.x, grid.y);
  }
  if (!p.rms) slots[kSlotMean] = slot(b.save_mean, G);
  slots[kSlotStat] = slot(b.save_invstd, G);
  if (forward_needs_workspace(s, g)) slots[kSlotWork] = slot(b.workspace, s.forward_floats);
  if (g.updates_running) {
    slots[kSlotAux0] = slot(b.running_mean, C);
    slots[kSlotAux1] = slot(b.running_var, C);
    pc.flags |= kFlagUpdateRunning;
  }
  if (s.team || s.fused) {
    // FLAG_UPDATE_RUNNING asks them for their one partial per group.
    pc.chunks = 1;
    if (s.team)
      VKNORM_TRY(rec.dispatch(KernelId::team_forward, p.dtype, slots, pc, team_grid(caps, s, G)));
    else
      VKNORM_TRY(rec.dispatch(KernelId::fused_forward, p.dtype, slots, pc, clamp_grid(G, caps.max_workgroup_count_x)));
    if (!g.updates_running) return {};
    return rec.dispatch(KernelId::stats_finalize, p.dtype, slots, pc, per_item_grid(caps, p.K));
  }
  if (s.chunks > 0)
    VKNORM_TRY(rec.dispatch(KernelId::stats_partial, p.dtype, slots, pc, partial_grid_x(s),
                            partial_grid_y(caps, s, G)));
  VKNORM_TRY(rec.dispatch(KernelId::stats_finalize, p.dtype, slots, pc,
                          per_item_grid(caps, g.updates_running ? p.K : G)));
  pc.flags &= ~kFlagUpdateRunning;
  if (E == 0) return {};
  const Grid grid = row_grid(caps, p);
  return rec.dispatch(KernelId::normalize, p.dtype, slots, pc, grid.x, grid.y);
}

Status record_norm_backward(CommandRecorder& recorder, const NormPlan& p, const NormBackwardBuffers& b) {
  CommandRecorder::Impl& rec = impl_of(recorder);
  const Capabilities& caps = rec.state->caps;
  VKNORM_TRY(check_device_limits(caps, p));
  const NormGeometry& g = p.geometry;
  const SplitPlan s = plan_split(caps, p);
  const uint32_t eb = element_bytes(p.dtype);
  const uint64_t E = g.elements, A = g.affine_size, G = g.stat_groups, C = g.channels;
  VKNORM_TRY(check_ref("x", b.x, E, eb));
  VKNORM_TRY(check_ref("dy", b.dy, E, eb));
  VKNORM_TRY(check_ref("dx", b.dx, E, eb));
  if (p.has_weight) {
    VKNORM_TRY(check_ref("weight", b.weight, A));
    VKNORM_TRY(check_ref("dweight", b.dweight, A));
  }
  if (p.has_bias) VKNORM_TRY(check_ref("dbias", b.dbias, A));
  if (p.epilogue.relu) VKNORM_TRY(check_ref("y", b.y, E, eb));
  if (p.epilogue.residual) VKNORM_TRY(check_ref("dresidual", b.dresidual, E, eb));
  const bool batch = g.uses_batch_stats;
  const BufferRef& mean = batch ? b.save_mean : b.running_mean;
  const BufferRef& stat = batch ? b.save_invstd : b.running_var;
  const uint64_t stat_count = batch ? G : C;
  if (!p.rms) VKNORM_TRY(check_ref(batch ? "save_mean" : "running_mean", mean, stat_count));
  VKNORM_TRY(check_ref(batch ? "save_invstd" : "running_var", stat, stat_count));
  VKNORM_TRY(check_ref("workspace", b.workspace, s.backward_floats));

  PushConstants pc = base_push(p, s);
  pc.flags |= batch ? kFlagBatchStats : kFlagStatsAreVar;
  SlotBinding slots[kSlotCount] = {};
  slots[kSlotX] = slot(b.x, E, eb);
  slots[kSlotDy] = slot(b.dy, E, eb);
  slots[kSlotOut] = slot(b.dx, E, eb);
  if (p.has_weight) slots[kSlotWeight] = slot(b.weight, A);
  if (!p.rms) slots[kSlotMean] = slot(mean, stat_count);
  slots[kSlotStat] = slot(stat, stat_count);
  slots[kSlotWork] = slot(b.workspace, s.backward_floats);
  if (p.epilogue.relu) slots[kSlotSide] = slot(b.y, E, eb);
  if (p.epilogue.residual) slots[kSlotDside] = slot(b.dresidual, E, eb);
  if (!p.gamma_varies) {
    if (p.has_weight) slots[kSlotAux0] = slot(b.dweight, A);
    if (p.has_bias) slots[kSlotAux1] = slot(b.dbias, A);
  }
  if (s.team) {  // batch statistics: plan_split chose it for them only
    PushConstants one_chunk = pc;
    one_chunk.chunks = 1;
    if (s.plane_params) one_chunk.flags |= kFlagPlaneParams;
    VKNORM_TRY(rec.dispatch(KernelId::team_backward, p.dtype, slots, one_chunk, team_grid(caps, s, G)));
    if (!p.gamma_varies && (p.has_weight || p.has_bias))
      VKNORM_TRY(rec.dispatch(KernelId::grad_finalize, p.dtype, slots, one_chunk, per_item_grid(caps, p.K)));
  } else {
    if (s.chunks > 0)
      VKNORM_TRY(rec.dispatch(KernelId::grad_partial, p.dtype, slots, pc, partial_grid_x(s),
                              partial_grid_y(caps, s, G)));
    VKNORM_TRY(rec.dispatch(KernelId::grad_finalize, p.dtype, slots, pc,
                            per_item_grid(caps, p.gamma_varies ? G : p.K)));
    if (E > 0) {
      const Grid grid = row_grid(caps, p);
      VKNORM_TRY(rec.dispatch(KernelId::grad_input, p.dtype, slots, pc, grid.x, grid.y));
    }
  }
  if (!p.gamma_varies || !(p.has_weight || p.has_bias)) return {};

  if (p.has_weight) slots[kSlotAux0] = slot(b.dweight, A);
  if (p.has_bias) slots[kSlotAux1] = slot(b.dbias, A);
  if (s.pchunks > 0 && !s.plane_params) {
    const uint64_t channel_groups = p.Ip == 1 ? per_item_grid(caps, p.Kp) : p.Kp;
    VKNORM_TRY(rec.dispatch(KernelId::param_partial, p.dtype, slots, pc, s.pchunks,
                            clamp_grid(channel_groups, caps.max_workgroup_count_y)));
  }
  return rec.dispatch(KernelId::param_finalize, p.dtype, slots, pc, per_item_grid(caps, p.Kp));
}

}  // namespace vknorm
