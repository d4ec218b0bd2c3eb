// The planner (planner.hpp): which kernels, grids, flags and workspace records a norm call
// uses on a device.
//  forward, batch statistics, many small groups: team_forward
//  forward, batch statistics, group fits on-chip: fused_forward
//    (either one -> stats_finalize over its one partial per group when running stats
//    are updated: the update averages over groups, across workgroups)
//  forward, batch statistics otherwise: stats_partial -> stats_finalize -> normalize
//  forward, running statistics: batch_norm_apply (scale and shift per channel, one FMA);
//    on a CPU device (or where tuned so), where it walks columns, batch_norm_coefficients
//    first (the coefficients into the workspace) and its cached variants
//    (eval_coefficients_first, EvalCoefficients)
//  backward, batch statistics, many small groups: team_backward
//            (+ grad_finalize for dgamma / dbeta when gamma is constant in a group)
//  backward otherwise: grad_partial -> grad_finalize -> grad_input
//  either (+ param_partial, or param_partial_planes for NCHW planes, -> param_finalize when
//  gamma varies inside a group; only param_finalize after team_backward over GroupNorm
//  NCHW planes, after team_backward_affine_blocks_vec4 over rows (FLAG_BLOCK_PARAMS), and
//  after grad_partial through the column view where its partials are few enough)
// normalize, team_forward, fused_forward and grad_input offer a _vec4 variant (4 elements
// per access) where the rows they walk are whole 4-element units (normalize and grad_input
// through columns where a column keeps its group and channel over a sample's rows,
// normalize_channel_columns_vec4 or its _pair_ twin and grad_input_columns_vec4:
// batch_statistics_columns); team_forward and
// team_backward offer _affine_vec4 (gamma in units along rows of adjacent channels),
// _channel_vec4 (gamma once per group) or _planes_vec4 (once per plane), team_forward also
// plain _vec4; param_partial offers param_partial_vec4 (adjacent channels, rows of whole
// units), stats_partial and grad_partial _columns_vec4 (the column view over rows of
// whole units); batch_norm_apply offers batch_norm_apply_vec4 (NCHW planes of 8 units or
// more) or batch_norm_apply_columns_vec4 (rows of whole units). The recorder runs it where every
// tensor's offset (and for _affine_vec4 the weight's and bias's) is 4-element aligned too
// (pass_for_offsets).
// Every grid is clamped to the device's maxComputeWorkGroupCount: the kernels loop over
// what a smaller grid leaves (grid-stride), except the chunk index of the partial passes,
// which is at most 1024, and batch_norm_apply_vec4's runs, which it does not offer where
// they would not fit.
#include "ops/planner.hpp"

#include <algorithm>
#include <string>

#include "ops/batchnorm_apply.hpp"
#include "ops/norm_kinds.hpp"
#include "vknorm/batchnorm_inference.hpp"

namespace vknorm {
namespace {

// How groups (and affine channels) are split over workgroups.
struct Strategy {
  uint32_t chunks = 0, chunk_size = 0;    // per statistics group
  uint32_t pchunks = 0, pchunk_size = 0;  // per affine channel (parameter gradients)
  bool team = false;   // team_forward / team_backward: a subgroup per group
  uint32_t teams_per_workgroup = 1;
  bool fused = false;  // fused_forward: a workgroup per group, values in registers
  bool plane_params = false;  // team_backward also sums dgamma / dbeta (param_partial's part)
  bool column_params = false;  // so does grad_partial through the column view
  bool block_params = false;   // so does team_backward_affine_blocks_vec4, a record per block
  // Split passes over the column view (shaders/common.glsl): channels-last groups (or a
  // forward over small planes, by a CPU device's rules or when chosen), a lane per column;
  // column_chunks workgroups in x (chunks over O), column_blocks in y.
  bool columns = false;
  uint32_t column_chunks = 0;
  uint64_t column_blocks = 0;
  // Rows per invocation of the passes that walk rows (StrategyChoice::rows_per_invocation;
  // 0: column_walk_rows's rule).
  uint32_t walk_rows = 0;
};

// Partials a finalize pass (one invocation per group or channel) adds up, at most.
constexpr uint64_t kMaxChunks = 1024;

// Splits `size` elements into chunks of about `target`, at most kMaxChunks of them so the
// finalize passes stay short, and no more than the grid holds in x (a workgroup column per
// chunk).
void split(uint64_t size, uint64_t target, uint32_t max_chunks, uint32_t& chunks, uint32_t& chunk_size) {
  chunks = chunk_size = 0;
  if (size == 0) return;
  const uint64_t n = std::clamp<uint64_t>((size + target - 1) / target, 1,
                                          std::clamp<uint64_t>(max_chunks, 1, kMaxChunks));
  chunk_size = static_cast<uint32_t>((size + n - 1) / n);
  chunks = static_cast<uint32_t>((size + chunk_size - 1) / chunk_size);
}

// The rules below that ask this stand for a CPU implementation's properties: few
// workgroups at once (Capabilities::host_threads), costly barriers and dispatches. Core
// Vulkan reports neither a GPU's concurrency (only some vendors' shader-core extensions
// do) nor any barrier cost, so no portable property replaces the device type here;
// Context::tune measures the candidates instead (vknorm/tuning.hpp).
bool is_cpu(const DeviceCaps& caps) { return caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU; }

// On a CPU device, groups of at least this many values take the split passes through the
// column view rather than a team (choose(), below). The smallest measured: 196.
constexpr uint64_t kCpuColumnSplitGroupSize = 128;

// Values each invocation reduces in a split pass before its workgroup's reduction. A GPU
// wants many workgroups in flight; a CPU implementation (lavapipe) runs a few threads,
// and its workgroup barriers are costly, so it wants fewer, longer chunks: through the
// column view 256 (`vknorm tune` on lavapipe: vpi 256 won 12 of the 14 channels-last
// classes of the bench's shapes), else 64.
uint64_t values_per_invocation(const DeviceCaps& caps, bool column_view) {
  if (!is_cpu(caps)) return 8;
  return column_view ? 256 : 64;
}

// The team kernels' 4-element variant (rows of whole units, I % 4 == 0), by how it reads
// gamma: in units along rows of adjacent channels with a weight (inner == 1: LayerNorm,
// RMSNorm, GroupNorm NHWC; gamma then varies, so there are no plane sums; the forward
// without a bias reads none), once per group
// where gamma is constant in a group, once per plane over a group of whole planes of whole
// units (O == 1, inner % 4 == 0: GroupNorm NCHW), else element by element (the forward
// only); count_: none.
bool affine_units(const NormPlan& p) { return p.I % 4 == 0 && p.inner == 1 && p.gamma_varies && p.has_weight; }
bool affine_planes(const NormPlan& p) { return p.gamma_varies && p.O == 1 && p.inner > 1 && p.inner % 4 == 0; }
// Where gamma varies by unit, the _blocks_ variants on a device that wants team blocks
// (team_block_rows).
KernelId team_vec4_kernel(const DeviceCaps& caps, const NormPlan& p, Direction direction) {
  const bool forward = direction == Direction::forward, blocks = team_block_rows(caps) > 1;
  if (p.I % 4 != 0) return KernelId::count_;
  if (affine_units(p) && forward && blocks)
    return p.has_bias ? KernelId::team_forward_affine_blocks_vec4 : KernelId::team_forward_weight_blocks_vec4;
  // Groups of one row walk by the row's index alone, without an epilogue
  // (shaders/team_forward_vec4.glsl). A weight without a bias comes only with rows
  // (LayerNorm, RMSNorm); with an epilogue, or were it to come with groups of several rows,
  // gamma per element (team_forward_vec4) serves.
  const bool epilogue = p.epilogue.residual || p.epilogue.relu;
  if (affine_units(p) && forward && p.O == 1 && !epilogue)
    return p.has_bias ? KernelId::team_forward_affine_rows_vec4 : KernelId::team_forward_weight_vec4;
  if (affine_units(p) && forward)
    return p.has_bias ? KernelId::team_forward_affine_vec4 : KernelId::team_forward_vec4;
  if (affine_units(p) && blocks) return KernelId::team_backward_affine_blocks_vec4;
  // The backward's likewise, with the batch's statistics (gamma varies: always).
  if (affine_units(p) && p.O == 1 && !epilogue && p.geometry.uses_batch_stats)
    return KernelId::team_backward_affine_rows_vec4;
  if (affine_units(p)) return KernelId::team_backward_affine_vec4;
  if (!p.gamma_varies) return forward ? KernelId::team_forward_channel_vec4 : KernelId::team_backward_channel_vec4;
  if (affine_planes(p)) return forward ? KernelId::team_forward_planes_vec4 : KernelId::team_backward_planes_vec4;
  return forward ? KernelId::team_forward_vec4 : KernelId::count_;
}

// Whether the on-chip kernels can run this call at all (their rules below add what is
// fast): a team needs subgroup arithmetic and a group within its size limit, fused a group
// within a workgroup's registers, and the forward (there is no fused backward).
bool team_valid(const DeviceCaps& caps, const NormPlan& p, uint64_t size) {
  const uint64_t limit = p.I > 1 ? kTeamMaxContiguousGroupSize : kTeamMaxGroupSize;
  return caps.reduction_path == ReductionPath::subgroup && size <= limit;
}
bool fused_valid(const DeviceCaps& caps, uint64_t size, Direction direction) {
  return direction == Direction::forward && size <= uint64_t{workgroup_size_for(caps)} * kFusedValuesPerInvocation;
}

uint32_t team_grid(const DeviceCaps& caps, const Strategy& s, uint64_t groups, uint64_t block_rows = 1);

Strategy choose(const DeviceCaps& caps, const NormPlan& p, const PlanOptions& options, Direction direction) {
  const uint32_t wg = workgroup_size_for(caps);
  const StrategyChoice& choice = options.choice;
  const uint64_t L = p.K * p.I;
  // Also the statistics and the gradient sums over small planes where gamma is constant in
  // a group (has_plane_column_view): the rules' own choice on a CPU device, elsewhere only when a
  // choice (a tuning cache) asks for the view; a GPU is not measured, and a large batch
  // would make thousands of records per group. Never where the caller forces the split
  // passes: SyncBatchNorm's exchange would carry a record per column and chunk (49 times as
  // many for planes of 49 on lavapipe).
  const bool asked = choice.columns == ColumnView::on || (choice.columns == ColumnView::automatic && is_cpu(caps));
  const bool plane_columns = has_plane_column_view(p) && !options.split && asked;
  const bool column_view = (has_column_view(p) && choice.columns != ColumnView::off) || plane_columns;
  const uint64_t vpi =
      choice.values_per_invocation ? choice.values_per_invocation : values_per_invocation(caps, column_view);
  const NormGeometry& g = p.geometry;
  const uint64_t groups = p.B * p.K, size = p.O * p.I;
  const uint32_t max_chunks = caps.max_workgroup_count_x;
  Strategy s;
  s.walk_rows = choice.rows_per_invocation;
  split(size, wg * vpi, max_chunks, s.chunks, s.chunk_size);
  // Channels-last rows with enough columns for the lanes: a lane per column reads
  // contiguous memory where a group walk would stride by a row. Fewer columns than lanes
  // share each column between `phases` lanes; every (phase, column of the group) is its
  // own partial.
  if (column_view) {
    const uint64_t width = std::min<uint64_t>(L, wg), phases = wg / width;
    s.columns = true;
    s.column_blocks = p.B * ((L + width - 1) / width);
    split(p.O, vpi * phases, max_chunks, s.column_chunks, s.chunk_size);
    s.chunks = static_cast<uint32_t>(s.column_chunks * phases * p.I);
  }
  // The on-chip kernels (team, fused) serve batch statistics only.
  const bool batch = g.uses_batch_stats && size > 0 && !options.split;
  // Many groups: a subgroup each, with no barrier, as long as there are enough of them to
  // fill two workgroups (else a workgroup per group uses more lanes). On a GPU a lane
  // takes at most 32 values (a warp per LayerNorm row up to 1024 on NVIDIA). A CPU
  // implementation (lavapipe) runs a workgroup per thread, with costly barriers and
  // dispatches: teams up to the kTeamMax* sizes, except for groups of at least
  // kCpuColumnSplitGroupSize values through the column view, where the split passes are
  // faster, and for so few groups that the teams' workgroups would leave most host threads
  // idle (fewer than a quarter of them busy: in the measurements that follow, one thread
  // of teams ran about 4x as fast as each thread of the split passes). Measured with
  // `vknorm tune` on lavapipe (2 threads), the
  // rules' choice before this one against the winner: the split passes over the column
  // view took 0.42-0.98x the team's time in 13 of the 14 channels-last classes of the
  // bench's shapes (groups of 1568 to 32768 values; the 14th, InstanceNorm 8x256x14x14
  // NHWC forward, groups of 196, kept the team until the elementwise passes walked blocks
  // of rows: then 0.38x forward, 0.36x backward, 2026-12-02); and for too few groups to
  // give each thread 4 workgroups of teams, the team took 0.25-0.53x the split passes'
  // time (LayerNorm 8x4097, GroupNorm(32) 1x64x56x56 NCHW).
  const bool cpu = is_cpu(caps);
  const uint64_t lanes = std::max<uint32_t>(1, caps.subgroup_size);
  s.teams_per_workgroup = static_cast<uint32_t>(std::max<uint64_t>(1, team_workgroup_size(caps) / lanes));
  const uint64_t team_limit = !cpu ? std::min(kTeamMaxGroupSize, 32 * lanes)
                              : p.I > 1 ? kTeamMaxContiguousGroupSize
                                        : kTeamMaxGroupSize;
  const bool cpu_split = cpu && s.columns && size >= kCpuColumnSplitGroupSize;
  const uint64_t team_workgroups = (groups + s.teams_per_workgroup - 1) / s.teams_per_workgroup;
  const bool team_rule = cpu ? !cpu_split && 4 * team_workgroups >= std::max<uint64_t>(1, caps.host_threads)
                             : groups >= 2 * s.teams_per_workgroup;
  s.team = batch && caps.reduction_path == ReductionPath::subgroup && size <= team_limit && team_rule;
  s.fused = batch && !s.team && !cpu_split && size <= uint64_t{wg} * kFusedValuesPerInvocation;
  // A chosen kernel where it can run (PlanOptions::choice); else the rule's.
  const bool chosen_team = choice.kernel == OnChipKernel::team && team_valid(caps, p, size);
  const bool chosen_fused = choice.kernel == OnChipKernel::fused && fused_valid(caps, size, direction);
  if (batch && (choice.kernel == OnChipKernel::split || chosen_team || chosen_fused)) {
    s.team = chosen_team;
    s.fused = chosen_fused;
  }
  if (p.gamma_varies && (p.has_weight || p.has_bias)) {
    // A team over a group of whole planes of one channel each (GroupNorm NCHW: O == 1)
    // sums every plane anyway: those sums are dgamma / dbeta's partials, one per b.
    s.plane_params = s.team && p.O == 1 && p.inner > 1;
    // The split backward through the column view: a column is one channel (inner == 1), so
    // grad_partial's sums of a column before gamma are dgamma / dbeta's partials, one per
    // (b, chunk, phase); they save param_partial's second read of x and dy, as long as
    // param_finalize has no more of them to add than a split's chunks (a GPU's short
    // chunks over a large batch would make many more).
    s.column_params = direction == Direction::backward && s.columns && !s.team && p.I > 0 &&
                      p.B * (s.chunks / p.I) <= kMaxChunks;
    if (s.plane_params)
      s.pchunks = static_cast<uint32_t>(p.B);
    else if (s.column_params)
      s.pchunks = static_cast<uint32_t>(p.B * (s.chunks / p.I));
    else if (p.Ip == 1)  // one invocation per channel: chunks of 64 rows (param_partial.comp)
      split(p.Op, 64, max_chunks, s.pchunks, s.pchunk_size);
    else
      split(p.Op * p.Ip, wg * vpi, max_chunks, s.pchunks, s.pchunk_size);
    // The backward's team blocks over groups of one row (O == 1: LayerNorm, RMSNorm) walk
    // each unit's channels once per row: summed over the block's rows too, those are
    // dgamma / dbeta's partials, a record per block, which save param_partial's second
    // read of x and dy. The blocks' rows are the host's then: as many as the team grid
    // leaves per team (the shader's own rule, team_blocks in shaders/reduce.glsl), as long
    // as that makes no more than kMaxChunks blocks. Where the recorder runs team_backward
    // instead (the tensors' offsets), param_partial runs, over chunks of as many rows into
    // the same records (Pass::skip_after).
    const uint64_t most = team_block_rows(caps);
    if (direction == Direction::backward && s.team && p.O == 1 && p.Op == p.B &&
        team_vec4_kernel(caps, p, direction) == KernelId::team_backward_affine_blocks_vec4) {
      const uint64_t teams = uint64_t{team_grid(caps, s, groups, most)} * s.teams_per_workgroup;
      const uint64_t rows = std::clamp<uint64_t>((groups + teams - 1) / teams, 1, most);
      const uint64_t blocks = (p.Op + rows - 1) / rows;
      if (blocks <= std::min<uint64_t>(max_chunks, kMaxChunks)) {
        s.block_params = true;
        s.pchunks = static_cast<uint32_t>(blocks);
        s.pchunk_size = static_cast<uint32_t>(rows);
      }
    }
  }
  return s;
}

uint32_t element_bytes(DType d) { return d == DType::f16 ? 2 : 4; }

// The tensor must fit one binding. Checked first, also by workspace queries: it bounds
// every size the planner computes (fewer than 2^32 elements, so groups, chunks and
// workspace floats stay far from 2^64).
Status check_tensor_size(const DeviceCaps& caps, const NormPlan& p) {
  const uint64_t elements = p.geometry.elements;
  if (elements >= (uint64_t{1} << 32))
    return Status::unsupported("x: " + std::to_string(elements) + " elements, more than the 2^32 - 1 a binding "
                               "indexes (the device's maxStorageBufferRange is " +
                               std::to_string(caps.max_storage_buffer_range) + " bytes)");
  const uint64_t bytes = elements * element_bytes(p.dtype);
  if (bytes > caps.max_storage_buffer_range)
    return Status::unsupported("x: " + std::to_string(elements) + " elements (" + std::to_string(bytes) +
                               " bytes) exceed the device's maxStorageBufferRange of " +
                               std::to_string(caps.max_storage_buffer_range) + " bytes");
  return {};
}

Status check_tensor_limits(const DeviceCaps& caps, const NormPlan& p) { return check_tensor_size(caps, p); }

Status check_workspace_limit(const DeviceCaps& caps, const WorkspaceLayout& w, const char* direction) {
  if (w.floats * 4 <= caps.max_storage_buffer_range) return {};
  return Status::unsupported("workspace: the " + std::string(direction) + " of this shape needs " +
                             std::to_string(w.floats * 4) + " bytes of workspace in one binding, more than the "
                             "device's maxStorageBufferRange of " + std::to_string(caps.max_storage_buffer_range) +
                             " bytes");
}

// Shared memory a kernel declares with `workgroup_size` invocations: the kernels that
// include shaders/reduce.glsl hold its reduce_scratch, a vec4 per invocation.
uint32_t kernel_shared_bytes(KernelId kernel, uint32_t workgroup_size) {
  switch (base_kernel(kernel)) {
    case KernelId::stats_partial:
    case KernelId::fused_forward:
    case KernelId::team_forward:
    case KernelId::grad_partial:
    case KernelId::team_backward:
    case KernelId::param_partial_planes:
      return 16 * workgroup_size;
    default:
      return 0;
  }
}

// A grid dimension: at least 1, at most the device's limit and 65535 (Vulkan's minimum
// limit: more workgroups than that buy nothing, the kernels loop over the rest).
uint32_t fold(uint64_t n, uint32_t limit) {
  return static_cast<uint32_t>(std::clamp<uint64_t>(n, 1, std::clamp<uint32_t>(limit, 1, 65535)));
}

// One invocation per item (the finalize passes), folded into the device's grid.
uint32_t per_item_grid(const DeviceCaps& caps, uint64_t items) {
  const uint64_t wg = workgroup_size_for(caps);
  return fold((items + wg - 1) / wg, caps.max_workgroup_count_x);
}

// The row length of the elementwise passes' row view (shaders/rows.glsl): a plane (inner)
// where planes are at least a workgroup long, else a vector row (K * I).
uint64_t row_length(const DeviceCaps& caps, const NormPlan& p) {
  return p.inner >= workgroup_size_for(caps) ? p.inner : p.K * p.I;
}

// The grid of the elementwise passes over the row view of shaders/rows.glsl: workgroups
// in x cover the columns of rows longer than a workgroup, workgroups in y walk the rows
// (several short rows per workgroup). At most kGridStrideWorkgroups in all, each looping.
// `width`: elements per access (4 for the vec4 kernels, whose columns are 4-element units).
void row_grid(const DeviceCaps& caps, const NormPlan& p, uint32_t width, uint32_t chosen_rows, uint32_t& grid_x,
              uint32_t& grid_y) {
  const uint64_t wg = workgroup_size_for(caps);
  const bool plane = p.inner >= wg;
  const uint64_t elements = row_length(caps, p);
  const uint64_t R = elements == 0 ? 0 : p.geometry.elements / elements;
  const uint64_t L = elements / width;
  const uint64_t packed = L >= wg ? 1 : wg / std::max<uint64_t>(L, 1);
  // A plane row shares one set of coefficients: let each invocation take many of its
  // elements (up to 16) before the row is split over more workgroups.
  const uint64_t cols_per_workgroup = plane ? wg * 16 / width : wg;
  grid_x = fold((L + cols_per_workgroup - 1) / cols_per_workgroup,
                std::min(caps.max_workgroup_count_x, kGridStrideWorkgroups));
  // Vector rows: a column's set-up is paid once per invocation, so give each invocation a
  // block of consecutive rows (column_walk_rows: 8 on a GPU, up to 32 on a CPU device, or
  // the tuned choice) before adding workgroups in y.
  const uint64_t row_steps = (R + packed - 1) / packed;
  const uint64_t rows = plane ? 1 : column_walk_rows(caps, L, chosen_rows);
  grid_y = fold((row_steps + rows - 1) / rows,
                std::min(caps.max_workgroup_count_y, kGridStrideWorkgroups / grid_x));
}

// The elementwise passes through columns where each column unit keeps its groups and
// channels over a sample's rows (shaders/sample_columns.glsl: normalize_channel_columns_vec4
// and its _pair_ twin, grad_input_columns_vec4; a lane loads its coefficients once for all
// its rows of one sample, where the row view's blocks load them per sample in a block): a
// group per channel where the eval forward walks columns (not its planes), or the channel
// the column itself (channels-last: BatchNorm, InstanceNorm, GroupNorm), with rows enough
// per sample for a lane's walk. GroupNorm(32) 2x320x64x64 NHWC's training forward on
// lavapipe (f32, three runs each, alternating): 2.57-3.15x the elementwise pass through
// normalize_vec4's blocks of rows, 1.93-2.81x through columns.
std::optional<ApplyVariant> batch_statistics_columns(const DeviceCaps& caps, const NormPlan& p, const Strategy& s,
                                                     WideUnits wide_units = {}) {
  const bool channel_per_group = p.cpg == 1 && !p.gamma_varies;
  const bool channel_per_column = p.inner == 1 && p.cpg == p.I;
  const auto eval_variant = batch_norm_apply_variant(caps, p.geometry.elements, p.K, p.I, s.walk_rows);
  const bool eval_columns = eval_variant && !eval_variant->planes;
  const bool columns = !p.rms && (channel_per_column || (channel_per_group && eval_columns));
  const bool rows_enough = p.B == 1 || p.O >= column_spread_rows(caps, s.walk_rows);
  if (!columns || !rows_enough) return std::nullopt;
  return batch_statistics_columns_variant(caps, p.B, p.O, p.K, p.I, p.cpg == 1, s.walk_rows, wide_units);
}

// Builds the passes of one direction.
class Builder {
 public:
  Builder(const DeviceCaps& caps, const NormPlan& p, const Strategy& s, ExecutionPlan& plan)
      : caps_(caps), p_(p), plan_(plan), walk_rows_(s.walk_rows) {
    const NormGeometry& g = p.geometry;
    const uint32_t eb = element_bytes(p.dtype);
    const bool batch = g.uses_batch_stats;
    tensor_ = {Role::none, g.elements, eb, tensor_storage(p.dtype, caps) == TensorStorage::f16_packed};
    stat_count_ = batch ? g.stat_groups : g.channels;
    base_.B = static_cast<uint32_t>(p.B);
    base_.O = static_cast<uint32_t>(p.O);
    base_.K = static_cast<uint32_t>(p.K);
    base_.I = static_cast<uint32_t>(p.I);
    base_.cpg = static_cast<uint32_t>(p.cpg);
    base_.inner = static_cast<uint32_t>(std::max<uint64_t>(1, p.inner));
    base_.Op = static_cast<uint32_t>(p.Op);
    base_.Kp = static_cast<uint32_t>(p.Kp);
    base_.Ip = static_cast<uint32_t>(p.Ip);
    base_.chunks = s.chunks;
    base_.chunk_size = s.chunk_size;
    base_.pchunks = s.pchunks;
    base_.pchunk_size = s.pchunk_size;
    base_.eps = p.eps;
    base_.momentum = p.momentum;
    if (p.has_weight) base_.flags |= kFlagWeight;
    if (p.has_bias) base_.flags |= kFlagBias;
    if (p.rms) base_.flags |= kFlagRms;
    if (p.batch_norm_stats) base_.flags |= kFlagBatchNormStats;
    if (p.welford_mean) base_.flags |= kFlagWelfordMean;
    if (p.gamma_varies) base_.flags |= kFlagGammaVaries;
    if (p.epilogue.residual) base_.flags |= kFlagResidual;
    if (p.epilogue.relu) base_.flags |= kFlagRelu;
    if (s.columns) base_.flags |= kFlagColumns;
  }

  PushConstants& push() { return base_; }
  void bind(Slot slot, Role role, uint64_t count) { use(slot, {role, count, 4}); }
  // A buffer the call names even where no pass binds it (an empty tensor, no records).
  void require(Role role, uint64_t count) { need({role, count, 4}); }
  void bind_tensor(Slot slot, Role role) { use(slot, {role, tensor_.count, tensor_.element_bytes, tensor_.packed}); }
  void unbind(Slot slot) { slots_[slot] = {}; }
  uint64_t stat_count() const { return stat_count_; }

  void add(KernelId kernel, Phase phase, uint32_t grid_x, uint32_t grid_y = 1, const PushConstants* push = nullptr) {
    Pass& pass = plan_.passes[plan_.pass_count++];
    pass.kernel = kernel;
    pass.phase = phase;
    pass.grid_x = grid_x;
    pass.grid_y = grid_y;
    pass.workgroup_size = kernel_workgroup_size(caps_, kernel);
    pass.shared_bytes = kernel_shared_bytes(kernel, pass.workgroup_size);
    pass.push = push ? *push : base_;
    pass.slots = slots_;
  }
  // The last pass added also runs as `vec4_kernel` (a group pass whose group rows are
  // whole 4-element units: I % 4 == 0), on the same grid unless the caller sets another.
  Pass& last_pass() { return plan_.passes[plan_.pass_count - 1]; }
  void offer_vec4(KernelId vec4_kernel) {
    Pass& pass = last_pass();
    pass.vec4_kernel = vec4_kernel;
    pass.vec4_grid_x = pass.grid_x;
    pass.vec4_grid_y = pass.grid_y;
  }
  // A 4-element variant of batch_norm_apply's walk (`kernel`: batch_norm_apply's own, or the
  // training forward's normalize_channel_columns*), with its own grid and, for the planes
  // one, its segments per plane (chunks, chunk_size: batch_norm_apply reads neither).
  void offer_apply_variant(const ApplyVariant& variant, KernelId kernel) {
    offer_vec4(kernel);
    Pass& pass = last_pass();
    pass.vec4_grid_x = variant.grid.x;
    pass.vec4_grid_y = variant.grid.y;
    if (!variant.planes) return;
    pass.push.chunks = variant.chunks;
    pass.push.chunk_size = variant.chunk_size;
  }
  // An elementwise pass over the row view, with its vec4 variant where rows are whole
  // 4-element units (the recorder checks the offsets).
  void add_rows(KernelId kernel, Phase phase, KernelId vec4_kernel = KernelId::count_) {
    uint32_t grid_x = 1, grid_y = 1;
    row_grid(caps_, p_, 1, walk_rows_, grid_x, grid_y);
    add(kernel, phase, grid_x, grid_y);
    if (vec4_kernel == KernelId::count_ || row_length(caps_, p_) % 4 != 0) return;
    Pass& pass = plan_.passes[plan_.pass_count - 1];
    pass.vec4_kernel = vec4_kernel;
    row_grid(caps_, p_, 4, walk_rows_, pass.vec4_grid_x, pass.vec4_grid_y);
  }

 private:
  void use(Slot slot, SlotUse u) {
    slots_[slot] = u;
    need(u);
  }
  void need(SlotUse u) {
    SlotUse& all = plan_.buffers[static_cast<size_t>(u.role)];
    if (u.count >= all.count) all = u;
  }

  const DeviceCaps& caps_;
  const NormPlan& p_;
  ExecutionPlan& plan_;
  uint32_t walk_rows_;
  SlotUse tensor_;
  uint64_t stat_count_ = 0;
  PushConstants base_;
  std::array<SlotUse, kSlotCount> slots_{};
};

// The finalize passes of a merged plan (PlanOptions::merged): one record per group, and
// the whole batch's count per group as the group size (O * I).
PushConstants merged_push(PushConstants push, const PlanOptions& options) {
  push.chunks = 1;
  push.I = std::max<uint32_t>(push.I, 1);
  push.O = static_cast<uint32_t>(options.merged_count / push.I);
  return push;
}

// Enough workgroups for the teams; on a CPU device (a workgroup per host thread) also at
// least one per thread while there are groups for them (invocation_team deals the groups
// out across workgroups first): LayerNorm 8x4097's 8 teams ran in one workgroup, on one
// thread, at 2.5-2.7x the elementwise pass on lavapipe, 1.7-2.1x on two.
uint32_t team_grid(const DeviceCaps& caps, const Strategy& s, uint64_t groups, uint64_t block_rows) {
  groups = (groups + block_rows - 1) / block_rows;
  uint64_t workgroups = (groups + s.teams_per_workgroup - 1) / s.teams_per_workgroup;
  if (is_cpu(caps)) workgroups = std::max<uint64_t>(workgroups, std::min<uint64_t>(groups, caps.host_threads));
  return fold(workgroups, caps.max_workgroup_count_x);
}
// Groups per team block of a team kernel's 4-element variant: team_block_rows for the
// _blocks_ variants (shaders/reduce.glsl: team blocks), else 1. On lavapipe LayerNorm
// 4096x1024's forward ran at 2.56x the elementwise pass, and at 1.69x with its two loads of
// gamma and beta per unit taken out.
uint64_t vec4_team_block_rows(const DeviceCaps& caps, KernelId vec4_kernel) {
  return is_team_blocks_kernel(vec4_kernel) ? team_block_rows(caps) : 1;
}
uint32_t partial_grid_x(const Strategy& s) { return s.columns ? s.column_chunks : s.chunks; }
uint32_t partial_grid_y(const DeviceCaps& caps, const Strategy& s, uint64_t groups) {
  return fold(s.columns ? s.column_blocks : groups, caps.max_workgroup_count_y);
}

// The grid of stats_partial_columns_vec4 and grad_partial_columns_vec4
// (shaders/columns_vec4.glsl's column_vec4_geometry): a lane per unit of 4
// columns, the scalar column view's chunks and phases, and as many chunks per workgroup as
// the lanes left over hold.
void column_vec4_grid(const DeviceCaps& caps, const NormPlan& p, const Strategy& s, uint32_t& x, uint32_t& y) {
  const uint64_t wg = workgroup_size_for(caps), L = p.K * p.I, units = L / 4;
  const uint64_t phases = wg / std::min(L, wg), width = std::min(units, wg);
  const uint64_t chunks_per_workgroup = std::max<uint64_t>(1, wg / width / phases);
  x = static_cast<uint32_t>((s.column_chunks + chunks_per_workgroup - 1) / chunks_per_workgroup);
  y = fold(p.B * ((units + width - 1) / width), caps.max_workgroup_count_y);
}

}  // namespace

bool has_column_view(const NormPlan& p) {
  return p.inner == 1 && p.I <= kColumnMaxGroupColumns && p.K * p.I >= kColumnMinColumns;
}

bool has_plane_column_view(const NormPlan& p) {
  return !p.gamma_varies && p.inner > 1 && p.I <= kColumnMaxPlaneColumns && p.K * p.I >= kColumnMinColumns;
}

const char* to_string(Phase phase) {
  switch (phase) {
    case Phase::statistics: return "statistics";
    case Phase::finalize: return "finalize";
    case Phase::apply: return "apply";
    case Phase::reduce: return "reduce";
    case Phase::elementwise: return "elementwise";
    case Phase::fused: return "fused";
  }
  return "unknown";
}

const char* to_string(Role role) {
  switch (role) {
    case Role::none: return "none";
    case Role::x: return "x";
    case Role::y: return "y";
    case Role::dy: return "dy";
    case Role::dx: return "dx";
    case Role::weight: return "weight";
    case Role::bias: return "bias";
    case Role::running_mean: return "running_mean";
    case Role::running_var: return "running_var";
    case Role::save_mean: return "save_mean";
    case Role::save_invstd: return "save_invstd";
    case Role::workspace: return "workspace";
    case Role::residual: return "residual";
    case Role::dweight: return "dweight";
    case Role::dbias: return "dbias";
    case Role::dresidual: return "dresidual";
  }
  return "unknown";
}

static Result<ExecutionPlan> forward_passes(const DeviceCaps& caps, const NormPlan& p, const PlanOptions& options) {
  const NormGeometry& g = p.geometry;
  const Strategy s = choose(caps, p, options, Direction::forward);
  const uint64_t E = g.elements, A = g.affine_size, G = g.stat_groups, C = g.channels;
  ExecutionPlan plan;
  plan.chunks = s.chunks;
  plan.pchunks = s.pchunks;
  // Partials (count, shifted mean, M2) per group and chunk, and a pivot per group; one
  // chunk per group after team/fused, and only when stats_finalize must update running
  // statistics.
  WorkspaceLayout& w = plan.workspace;
  if (g.uses_batch_stats && options.merged)
    w.stats_floats = G * kStatsRecordFloats + G;
  else if (g.uses_batch_stats && !(s.fused || s.team))
    w.stats_floats = G * s.chunks * kStatsRecordFloats + G;
  else if (g.uses_batch_stats && g.updates_running)
    w.stats_floats = G * kStatsRecordFloats + G;
  w.floats = w.stats_floats;
  VKNORM_TRY(check_workspace_limit(caps, w, "forward"));

  Builder b(caps, p, s, plan);
  b.bind_tensor(kSlotX, Role::x);
  b.bind_tensor(kSlotOut, Role::y);
  if (p.has_weight) b.bind(kSlotWeight, Role::weight, A);
  if (p.has_bias) b.bind(kSlotBias, Role::bias, A);
  if (p.epilogue.residual) b.bind_tensor(kSlotSide, Role::residual);
  if (!g.uses_batch_stats) {
    b.bind(kSlotMean, Role::running_mean, C);
    b.bind(kSlotStat, Role::running_var, C);
    b.push().flags |= kFlagStatsAreVar;
    // y = x * scale + shift, the coefficients computed from the running statistics once
    // per row or column an invocation walks: one FMA per element, 128-bit where the rows
    // allow (shaders/batch_norm_apply.comp; measured 1.5-3x faster than normalize on lavapipe).
    if (E > 0) {
      // No chunking and no column view: the strategy's would make plans of the same work
      // look different (tuning would time them all). The planes variant sets its parts.
      b.push().chunks = b.push().chunk_size = b.push().pchunks = b.push().pchunk_size = 0;
      b.push().flags &= ~kFlagColumns;
      // Tensors aligned: NCHW planes of 8 whole units or more, a run of 8 lanes per
      // segment of a plane; else rows of whole units, an invocation per column.
      // The _wide_ kernels where there is one: the pairs, and the units with a weight and a
      // bias or cached coefficients (else the apply reads the statistics per channel);
      // pass_for_offsets takes their twins where float16 sits 8 bytes off.
      const bool affine = p.has_weight && p.has_bias, half = p.dtype == DType::f16;
      const EvalCoefficients asked = options.choice.coefficients;
      const bool first = asked == EvalCoefficients::automatic ? eval_coefficients_first(caps)
                                                               : asked == EvalCoefficients::first;
      const WideUnits wide{.pairs = true, .units = affine || first, .half = half};
      const auto variant = batch_norm_apply_variant(caps, E, p.K, p.I, s.walk_rows, wide);
      // The columns' coefficients computed first, into the workspace (K scales, then K
      // shifts), where the rule or the choice asks for it and the binding holds them;
      // batch_norm_apply reads them there too (without FLAG_STATS_ARE_VAR) where the
      // offsets leave it.
      WorkspaceLayout cached = w;
      cached.coef_floats = kBatchNormCoefficientsPerChannel * p.K;
      cached.floats = cached.coef_floats;
      if (first && variant && !variant->planes && check_workspace_limit(caps, cached, "forward").ok()) {
        w = cached;
        b.bind(kSlotWork, Role::workspace, w.floats);
        b.add(KernelId::batch_norm_coefficients, Phase::finalize, per_item_grid(caps, p.K));
        b.push().flags &= ~kFlagStatsAreVar;
      }
      const bool from_workspace = w.floats > 0;
      const ApplyGrid grid = batch_norm_apply_grid(caps, E, p.K, p.I);
      b.add(KernelId::batch_norm_apply, Phase::apply, grid.x, grid.y);
      if (variant) b.offer_apply_variant(*variant, variant->kernel(from_workspace, affine));
    }
    return plan;
  }
  if (!p.rms) b.bind(kSlotMean, Role::save_mean, G);
  b.bind(kSlotStat, Role::save_invstd, G);
  if (!(s.fused || s.team) || g.updates_running) b.require(Role::workspace, w.floats);
  if (w.floats > 0) b.bind(kSlotWork, Role::workspace, w.floats);
  if (g.updates_running) {
    b.bind(kSlotAux0, Role::running_mean, C);
    b.bind(kSlotAux1, Role::running_var, C);
    b.push().flags |= kFlagUpdateRunning;
  }
  // No group (an empty batch): no statistics to compute or save, and the running ones
  // stay as they are. The call still names its buffers (checked, bound by no pass).
  if (G == 0) return plan;
  if (s.team || s.fused) {
    // FLAG_UPDATE_RUNNING asks them for their one partial per group.
    b.push().chunks = 1;
    if (s.team) {
      // Without a bias, gamma in units is team_forward_weight_vec4's, which reads no bias.
      b.add(KernelId::team_forward, Phase::fused, team_grid(caps, s, G));
      b.offer_vec4(team_vec4_kernel(caps, p, Direction::forward));
      b.last_pass().vec4_grid_x = team_grid(caps, s, G, vec4_team_block_rows(caps, b.last_pass().vec4_kernel));
    } else {
      b.add(KernelId::fused_forward, Phase::fused, fold(G, caps.max_workgroup_count_x));
      if (p.I % 4 == 0) b.offer_vec4(KernelId::fused_forward_vec4);
    }
    if (g.updates_running) b.add(KernelId::stats_finalize, Phase::finalize, per_item_grid(caps, p.K));
    return plan;
  }
  if (s.chunks > 0 && !options.merged) {
    b.add(KernelId::stats_partial, Phase::statistics, partial_grid_x(s), partial_grid_y(caps, s, G));
    // The column view over rows of whole units: a lane per 4 columns.
    if (s.columns && (p.K * p.I) % 4 == 0) {
      b.offer_vec4(KernelId::stats_partial_columns_vec4);
      column_vec4_grid(caps, p, s, b.last_pass().vec4_grid_x, b.last_pass().vec4_grid_y);
    }
  }
  const PushConstants finalize = options.merged ? merged_push(b.push(), options) : b.push();
  b.add(KernelId::stats_finalize, Phase::finalize, per_item_grid(caps, g.updates_running ? p.K : G), 1, &finalize);
  b.push().flags &= ~kFlagUpdateRunning;
  b.unbind(kSlotAux0);
  b.unbind(kSlotAux1);
  b.unbind(kSlotWork);
  if (E > 0) {
    b.add_rows(KernelId::normalize, Phase::apply, KernelId::normalize_vec4);
    // The eval apply's body with the batch statistics (batch_statistics_columns).
    // A group per channel, the channel the column, with a weight and a bias: the statistics,
    // gamma and beta as units (normalize_channel_columns_stats_units_vec4), 8 channels per
    // lane where the rows hold units of 8 (its _wide_ twin). Planes of 8 elements or more:
    // the pairs' _wide_ twin where the rows hold units of 8. pass_for_offsets takes the
    // 4-element twins where float16 sits 8 bytes off.
    const bool stats_units = p.I == 1 && p.cpg == 1 && p.has_weight && p.has_bias;
    if (const auto variant = batch_statistics_columns(caps, p, s, {.pairs = true, .units = stats_units})) {
      using K = KernelId;
      const K pairs = variant->wide ? K::normalize_channel_columns_pair_wide_vec4 : K::normalize_channel_columns_pair_vec4;
      const K units =
          variant->wide ? K::normalize_channel_columns_stats_units_wide_vec4 : K::normalize_channel_columns_stats_units_vec4;
      b.offer_apply_variant(*variant, variant->pairs   ? pairs
                                      : variant->units ? K::normalize_channel_columns_units_vec4
                                      : stats_units    ? units
                                                       : K::normalize_channel_columns_vec4);
    }
  }
  return plan;
}

static Result<ExecutionPlan> backward_passes(const DeviceCaps& caps, const NormPlan& p, const PlanOptions& options) {
  const NormGeometry& g = p.geometry;
  const Strategy s = choose(caps, p, options, Direction::backward);
  const uint64_t E = g.elements, A = g.affine_size, G = g.stat_groups;
  const bool params = p.has_weight || p.has_bias;
  const bool team = s.team;  // batch statistics only: choose() makes teams for them only
  ExecutionPlan plan;
  plan.chunks = s.chunks;
  plan.pchunks = s.pchunks;
  // Records: gradient sums per (group, chunk) where grad_finalize reads them (always
  // after grad_partial; after team_backward only for a group-constant gamma), the
  // coefficients grad_input reads, and the parameter partials when gamma varies.
  WorkspaceLayout& w = plan.workspace;
  // Merged (SyncBatchNorm): two records per group, the whole batch's and this device's.
  const uint32_t merged_records = 2;
  w.grad_floats = options.merged ? G * merged_records * kSumsRecordFloats
                  : !team        ? G * s.chunks * kSumsRecordFloats
                  : (!p.gamma_varies && params) ? G * kSumsRecordFloats
                                                : 0;
  w.coef = w.grad_floats;
  // grad_finalize writes the coefficients, also after team_backward (which needs none).
  const bool finalized = !team || (!p.gamma_varies && params);
  w.coef_floats = finalized ? G * kCoefRecordFloats : 0;
  w.param = (w.coef + w.coef_floats + 3) / 4 * 4;  // 16-byte units (FLAG_BLOCK_PARAMS stores vec4s)
  w.param_floats = p.gamma_varies && params ? p.Kp * s.pchunks * kSumsRecordFloats : 0;
  w.floats = w.param + w.param_floats;
  VKNORM_TRY(check_workspace_limit(caps, w, "backward"));

  Builder b(caps, p, s, plan);
  const bool batch = g.uses_batch_stats;
  b.push().flags |= batch ? kFlagBatchStats : kFlagStatsAreVar;
  // The parameter records' layout, for every pass that touches them (the scalar
  // team_backward, which stores none, reads nothing else of the flag).
  if (s.block_params) b.push().flags |= kFlagBlockParams;
  b.push().coef_base = static_cast<uint32_t>(w.coef);
  b.push().param_base = static_cast<uint32_t>(w.param);
  b.bind_tensor(kSlotX, Role::x);
  b.bind_tensor(kSlotDy, Role::dy);
  b.bind_tensor(kSlotOut, Role::dx);
  if (p.has_weight) b.bind(kSlotWeight, Role::weight, A);
  if (!p.rms) b.bind(kSlotMean, batch ? Role::save_mean : Role::running_mean, b.stat_count());
  b.bind(kSlotStat, batch ? Role::save_invstd : Role::running_var, b.stat_count());
  // Bound even when an empty batch leaves no record (the call names a workspace anyway,
  // of norm_workspace_size's 4 bytes at least): param_finalize then reads none of it, but
  // its layout holds the slot, and every binding of a layout needs a buffer.
  b.bind(kSlotWork, Role::workspace, std::max<uint64_t>(w.floats, 1));
  if (p.epilogue.relu) b.bind_tensor(kSlotSide, Role::y);
  if (p.epilogue.residual) b.bind_tensor(kSlotDside, Role::dresidual);
  if (!p.gamma_varies) {
    if (p.has_weight) b.bind(kSlotAux0, Role::dweight, A);
    if (p.has_bias) b.bind(kSlotAux1, Role::dbias, A);
  }
  // No element and no parameter gradient to zero (LayerNorm over 0 elements, no affine):
  // nothing to record, whatever the number of (empty) groups.
  if (E == 0 && (!params || A == 0)) return plan;
  if (team) {
    PushConstants one_chunk = b.push();
    one_chunk.chunks = 1;
    if (s.plane_params) one_chunk.flags |= kFlagPlaneParams;
    b.add(KernelId::team_backward, Phase::fused, team_grid(caps, s, G), 1, &one_chunk);
    b.offer_vec4(team_vec4_kernel(caps, p, Direction::backward));
    b.last_pass().vec4_grid_x = team_grid(caps, s, G, vec4_team_block_rows(caps, b.last_pass().vec4_kernel));
    if (!p.gamma_varies && params)
      b.add(KernelId::grad_finalize, Phase::elementwise, per_item_grid(caps, p.K), 1, &one_chunk);
  } else {
    // No group (an empty batch): no sums to write, and no workspace to write them to;
    // grad_finalize still zeroes dweight and dbias where it computes them (a gamma
    // constant per group), and has nothing else to do.
    if (s.chunks > 0 && G > 0 && !options.merged) {
      PushConstants partial = b.push();
      if (s.column_params) partial.flags |= kFlagColumnParams;
      b.add(KernelId::grad_partial, Phase::reduce, partial_grid_x(s), partial_grid_y(caps, s, G), &partial);
      if (s.columns && (p.K * p.I) % 4 == 0) {  // as stats_partial's
        b.offer_vec4(KernelId::grad_partial_columns_vec4);
        column_vec4_grid(caps, p, s, b.last_pass().vec4_grid_x, b.last_pass().vec4_grid_y);
      }
    }
    PushConstants finalize = b.push();
    if (options.merged) {
      finalize = merged_push(finalize, options);
      finalize.chunks = merged_records;
      finalize.flags |= kFlagMergedSums;
    }
    if (G > 0 || (params && !p.gamma_varies))
      b.add(KernelId::grad_finalize, Phase::elementwise, per_item_grid(caps, p.gamma_varies ? G : p.K), 1, &finalize);
    if (E > 0) {
      b.add_rows(KernelId::grad_input, Phase::elementwise, KernelId::grad_input_vec4);
      if (const auto variant = batch_statistics_columns(caps, p, s))
        b.offer_apply_variant(*variant, KernelId::grad_input_columns_vec4);
    }
  }
  if (!p.gamma_varies || !params) return plan;

  if (p.has_weight) b.bind(kSlotAux0, Role::dweight, A);
  if (p.has_bias) b.bind(kSlotAux1, Role::dbias, A);
  if (s.pchunks > 0 && !s.plane_params && !s.column_params) {
    // Adjacent channels: an invocation per channel, no reduction; else a workgroup per
    // (chunk, channel) reduces (param_partial_planes).
    const bool adjacent = p.Ip == 1;
    const uint64_t channel_groups = adjacent ? per_item_grid(caps, p.Kp) : p.Kp;
    b.add(adjacent ? KernelId::param_partial : KernelId::param_partial_planes, Phase::reduce, s.pchunks,
          fold(channel_groups, caps.max_workgroup_count_y));
    // Adjacent channels in rows of whole units: an invocation per unit of 4 channels.
    if (adjacent && p.Kp % 4 == 0) {
      b.offer_vec4(KernelId::param_partial_vec4);
      b.last_pass().vec4_grid_y = fold(per_item_grid(caps, p.Kp / 4), caps.max_workgroup_count_y);
    }
    if (s.block_params) b.last_pass().skip_after = KernelId::team_backward_affine_blocks_vec4;
  }
  b.add(KernelId::param_finalize, Phase::reduce, per_item_grid(caps, p.Kp));
  // The blocks' records (partial after partial) four channels per load.
  if (s.block_params && p.Kp % 4 == 0) {
    b.offer_vec4(KernelId::param_finalize_vec4);
    b.last_pass().vec4_grid_x = per_item_grid(caps, p.Kp / 4);
  }
  return plan;
}

// A tuned choice serves a whole shape class; where it cannot be planned for this shape
// (its workspace past maxStorageBufferRange, say) the rules plan instead, as for a choice
// the shape cannot take (vknorm/tuning.hpp): tuning never refuses a call the rules accept.
template <class Passes>
Result<ExecutionPlan> plan_or_rules(const DeviceCaps& caps, const NormPlan& p, const PlanOptions& options,
                                    Passes passes) {
  VKNORM_TRY(check_tensor_limits(caps, p));
  Result<ExecutionPlan> planned = passes(caps, p, options);
  if (planned.ok() || options.choice == StrategyChoice{}) return planned;
  PlanOptions rules = options;
  rules.choice = StrategyChoice{};
  return passes(caps, p, rules);
}

Result<ExecutionPlan> plan_forward(const DeviceCaps& caps, const NormPlan& p, const PlanOptions& options) {
  return plan_or_rules(caps, p, options, forward_passes);
}

Result<ExecutionPlan> plan_backward(const DeviceCaps& caps, const NormPlan& p, const PlanOptions& options) {
  return plan_or_rules(caps, p, options, backward_passes);
}

// What forward_passes and backward_passes can add, branch by branch: keep in step with them
// (tests/planner proves that every plan's kernels are among these, and each of these is
// in some plan). With a device, only its team variants: the _blocks_ ones where it takes
// team blocks (team_vec4_kernel), else the others.
std::vector<KernelId> candidate_kernels(Norm kind, Direction direction, const DeviceCaps* caps) {
  const KindInfo* row = find_kind(kind);
  if (!row) return {};
  const bool blocks = !caps || team_block_rows(*caps) > 1, plain = !caps || team_block_rows(*caps) == 1;
  if (direction == Direction::forward) {
    // On-chip (team, fused) with stats_finalize for running statistics; split
    // statistics -> finalize -> apply; batch_norm_apply alone with running statistics.
    std::vector<KernelId> k = {KernelId::team_forward,   KernelId::fused_forward, KernelId::fused_forward_vec4,
                               KernelId::stats_partial,  KernelId::stats_finalize, KernelId::normalize,
                               KernelId::normalize_vec4};
    if (row->channel_layouts)  // the split forward's apply through columns (batch_statistics_columns)
      k.insert(k.end(), {KernelId::normalize_channel_columns_vec4, KernelId::normalize_channel_columns_pair_vec4,
                         KernelId::normalize_channel_columns_pair_wide_vec4,
                         KernelId::normalize_channel_columns_stats_units_vec4,
                         KernelId::normalize_channel_columns_stats_units_wide_vec4});
    if (row->channel_layouts && row->gamma_may_vary)  // channels-last GroupNorm's groups of 4 channels or more
      k.push_back(KernelId::normalize_channel_columns_units_vec4);
    // The team's units: gamma per element, in units, or per group.
    if (row->gamma_may_vary) k.push_back(KernelId::team_forward_vec4);
    if (row->gamma_may_vary && row->has_bias && plain) k.push_back(KernelId::team_forward_affine_rows_vec4);
    // Gamma in units over groups of several rows (channels-last GroupNorm), or rows with an
    // epilogue.
    if (row->gamma_may_vary && row->has_bias && plain) k.push_back(KernelId::team_forward_affine_vec4);
    if (row->gamma_may_vary && row->weight_without_bias && plain) k.push_back(KernelId::team_forward_weight_vec4);
    if (row->gamma_may_vary && row->has_bias && blocks) k.push_back(KernelId::team_forward_affine_blocks_vec4);
    if (row->gamma_may_vary && row->weight_without_bias && blocks)
      k.push_back(KernelId::team_forward_weight_blocks_vec4);
    if (row->gamma_may_vary && row->channel_layouts) k.push_back(KernelId::team_forward_planes_vec4);  // GroupNorm NCHW
    if (row->channel_layouts) k.push_back(KernelId::team_forward_channel_vec4);
    if (row->channel_layouts) k.push_back(KernelId::stats_partial_columns_vec4);  // channels-last columns
    if (row->running_stats)
      k.insert(k.end(), {KernelId::batch_norm_apply, KernelId::batch_norm_apply_vec4,
                         KernelId::batch_norm_apply_columns_vec4, KernelId::batch_norm_apply_columns_pair_vec4,
                         KernelId::batch_norm_apply_columns_units_vec4, KernelId::batch_norm_apply_columns_pair_wide_vec4,
                         KernelId::batch_norm_apply_columns_units_wide_vec4});
    // The coefficients' own pass and the columns' cached variants: the eval forward's where
    // it computes the coefficients first (the rule on a CPU device, eval_coefficients_first,
    // or a tuned choice on any: EvalCoefficients), and BatchNorm's inference calls
    // (batchnorm_inference.cpp), which add the planes' cached variant.
    const bool inference = kind == Norm::batch_norm;
    if (row->running_stats)
      k.insert(k.end(), {KernelId::batch_norm_coefficients, KernelId::batch_norm_apply_columns_cached_vec4,
                         KernelId::batch_norm_apply_columns_pair_cached_vec4,
                         KernelId::batch_norm_apply_columns_units_cached_vec4,
                         KernelId::batch_norm_apply_columns_pair_cached_wide_vec4,
                         KernelId::batch_norm_apply_columns_units_cached_wide_vec4});
    if (inference) k.push_back(KernelId::batch_norm_apply_cached_vec4);
    return k;
  }
  // team_backward (+ grad_finalize), or grad_partial -> grad_finalize -> grad_input; then
  // dgamma / dbeta's own passes where gamma varies inside a group.
  std::vector<KernelId> k = {KernelId::team_backward, KernelId::grad_partial, KernelId::grad_finalize,
                             KernelId::grad_input, KernelId::grad_input_vec4};
  if (row->channel_layouts) k.push_back(KernelId::team_backward_channel_vec4);  // gamma per group
  if (row->channel_layouts) k.push_back(KernelId::grad_partial_columns_vec4);   // channels-last columns
  if (row->channel_layouts) k.push_back(KernelId::grad_input_columns_vec4);     // (batch_statistics_columns)
  if (row->gamma_may_vary && row->channel_layouts)  // GroupNorm NCHW
    k.insert(k.end(), {KernelId::team_backward_planes_vec4, KernelId::param_partial_planes});
  if (row->gamma_may_vary)
    k.insert(k.end(), {KernelId::param_partial, KernelId::param_partial_vec4, KernelId::param_finalize});
  if (row->gamma_may_vary && plain)
    k.insert(k.end(), {KernelId::team_backward_affine_vec4, KernelId::team_backward_affine_rows_vec4});
  if (row->gamma_may_vary && blocks)
    k.insert(k.end(), {KernelId::team_backward_affine_blocks_vec4, KernelId::param_finalize_vec4});
  return k;
}

bool tensors_vec4_aligned(const Pass& pass, const RoleOffsets& offsets) {
#define VKNORM_IS_TENSOR_TENSOR true
#define VKNORM_IS_TENSOR_FLOAT false
#define VKNORM_IS_TENSOR(binding, Name, name, element) VKNORM_IS_TENSOR_##element,
  constexpr bool kTensorSlot[kSlotCount] = {VKNORM_SLOTS(VKNORM_IS_TENSOR)};
#undef VKNORM_IS_TENSOR
#undef VKNORM_IS_TENSOR_FLOAT
#undef VKNORM_IS_TENSOR_TENSOR
  // team_forward_affine[_blocks]_vec4 reads gamma and beta as units too,
  // team_forward_weight[_blocks]_vec4 and team_backward_affine[_blocks|_rows]_vec4 gamma,
  // normalize_channel_columns_units_vec4 gamma and beta, batch_norm_apply_columns_units_vec4
  // also the running statistics, normalize_channel_columns_stats_units_vec4 the batch ones
  // (pass_for_offsets falls back to the variants that read them per channel).
  const bool affine_units = pass.vec4_kernel == KernelId::team_forward_affine_vec4 ||
                            pass.vec4_kernel == KernelId::team_forward_affine_rows_vec4 ||
                            pass.vec4_kernel == KernelId::team_forward_weight_vec4 ||
                            pass.vec4_kernel == KernelId::team_backward_affine_vec4 ||
                            pass.vec4_kernel == KernelId::team_backward_affine_rows_vec4 ||
                            is_team_blocks_kernel(pass.vec4_kernel) ||
                            pass.vec4_kernel == KernelId::batch_norm_apply_columns_units_vec4 ||
                            pass.vec4_kernel == KernelId::batch_norm_apply_columns_units_wide_vec4 ||
                            pass.vec4_kernel == KernelId::normalize_channel_columns_units_vec4 ||
                            pass.vec4_kernel == KernelId::normalize_channel_columns_stats_units_vec4 ||
                            pass.vec4_kernel == KernelId::normalize_channel_columns_stats_units_wide_vec4;
  const bool stats_units = pass.vec4_kernel == KernelId::batch_norm_apply_columns_units_vec4 ||
                           pass.vec4_kernel == KernelId::batch_norm_apply_columns_units_wide_vec4 ||
                           pass.vec4_kernel == KernelId::normalize_channel_columns_stats_units_vec4 ||
                           pass.vec4_kernel == KernelId::normalize_channel_columns_stats_units_wide_vec4;
  // team_backward_affine_blocks_vec4 with FLAG_BLOCK_PARAMS stores its records as units,
  // param_finalize_vec4 reads them so.
  // batch_norm_apply_columns_units_cached[_wide]_vec4 reads the coefficients so.
  const bool work_units = ((pass.vec4_kernel == KernelId::team_backward_affine_blocks_vec4 ||
                            pass.vec4_kernel == KernelId::param_finalize_vec4) &&
                           (pass.push.flags & kFlagBlockParams) != 0) ||
                          pass.vec4_kernel == KernelId::batch_norm_apply_columns_units_cached_vec4 ||
                          pass.vec4_kernel == KernelId::batch_norm_apply_columns_units_cached_wide_vec4;
  // The _wide_ kernels' tensors in 16-byte units whatever the dtype.
  const bool wide = without_wide_units(pass.vec4_kernel) != pass.vec4_kernel;
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    const SlotUse& use = pass.slots[slot];
    const bool units = kTensorSlot[slot] || (affine_units && (slot == kSlotWeight || slot == kSlotBias)) ||
                       (stats_units && (slot == kSlotMean || slot == kSlotStat)) ||
                       (work_units && slot == kSlotWork);
    if (!units || use.role == Role::none) continue;
    const uint64_t unit_bytes = wide && kTensorSlot[slot] ? 16 : 4 * uint64_t{use.element_bytes};
    if (offsets[static_cast<size_t>(use.role)] % unit_bytes != 0) return false;
  }
  return true;
}

Pass pass_for_offsets(const Pass& pass, const RoleOffsets& offsets) {
  if (pass.vec4_kernel == KernelId::count_) return pass;
  if (!tensors_vec4_aligned(pass, offsets)) {
    // A _wide_ kernel's 4-element twin (its tensors at multiples of 4 elements, not of 16
    // bytes, or per-channel buffers off); then, the tensors aligned, the per-channel buffers
    // not: the variant that reads those per channel.
    Pass narrower = pass;
    narrower.vec4_kernel = without_wide_units(pass.vec4_kernel);
    if (narrower.vec4_kernel == pass.vec4_kernel) narrower.vec4_kernel = without_channel_units(pass.vec4_kernel);
    return narrower.vec4_kernel != pass.vec4_kernel ? pass_for_offsets(narrower, offsets) : pass;
  }
  Pass vec4 = pass;
  vec4.kernel = pass.vec4_kernel;
  vec4.grid_x = pass.vec4_grid_x;
  vec4.grid_y = pass.vec4_grid_y;
  return vec4;
}

// Without the float16 check: a workspace query for float16 on a device without 16-bit
// storage answers (the record call refuses).
Result<uint64_t> plan_workspace_bytes(const DeviceCaps& caps, const NormPlan& p, const PlanOptions& options) {
  auto forward = plan_forward(caps, p, options);
  if (!forward) return forward.status();
  auto backward = plan_backward(caps, p, options);
  if (!backward) return backward.status();
  return std::max<uint64_t>({forward->workspace.floats, backward->workspace.floats, 1}) * 4;
}

}  // namespace vknorm
