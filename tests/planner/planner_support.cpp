#include "planner_support.hpp"

#include "test_support.hpp"

namespace vknorm::test {
namespace {

template <class Params>
void add(std::vector<Case>& cases, const std::string& name, const Params& params) {
  auto plan = plan_norm(params);
  if (plan.ok()) cases.push_back({name, plan.value(), NormKind<Params>::info.id});
}

// "<kind> <shape><details>", built by appending (GCC 12 warns falsely, -Wrestrict, about
// some chains of string + string).
std::string case_name(const std::string& kind, const std::vector<int64_t>& shape, const std::string& details) {
  std::string name = kind;
  name += ' ';
  name += shape_name(shape);
  name += details;
  return name;
}

const char* dtype_name(DType d) { return d == DType::f16 ? "f16" : "f32"; }

}  // namespace

std::vector<Case> plan_cases() {
  constexpr int64_t M = int64_t{1} << 20;
  // (N, C, *) shapes for the channel kinds: tiny, typical, many channels, huge planes,
  // one sample (InstanceNorm's groups are then channels; with planes of 49, units that cross
  // channels), past the grid limits (2^24 channels; 2^25 planes), and short planes.
  const std::vector<std::vector<int64_t>> channel_shapes = {
      {2, 3},           {3, 5, 7},         {4, 64, 56, 56}, {32, 64, 28, 28}, {8, 256, 14, 14},
      {2, 16 * M},      {16 * M, 2},       {2, 3, 8 * M},   {1, 2, 8192, 8},  {64, 4096, 2, 2},
      {1, 64, 128, 128}, {2, 32 * M, 1, 2}, {1, 0, 5},      {0, 4, 3},       {1, 4, 7, 7},
      {1, 8, 4, 4},  // planes of 16: too short for the planes kernel, whole 8-element units
  };
  const std::vector<std::pair<std::vector<int64_t>, int64_t>> group_shapes = {
      {{1, 64, 56, 56}, 32}, {{4, 64, 56, 56}, 32}, {{2, 320, 64, 64}, 32}, {{16 * M, 4}, 2},
      {{2, 4096, 2048}, 4096}, {{3, 6, 5}, 3}, {{2, 8, 4 * M}, 1}, {{64 * M, 2}, 1}, {{0, 6, 5}, 3},
      {{8, 64, 4, 4}, 4},  // 16 channels per group: NHWC rows of whole units of channels
      {{2, 8, 3, 3}, 2},   // NCHW groups of 4 planes of 9: whole units, which planes are not
      {{1, 8, 4, 4}, 8}, {{1, 8, 3, 3}, 8},  // GroupNorm(C) of one sample: a group per channel
      {{99, 32, 1, 1}, 4},  // planes of one element (O == 1): NHWC team blocks store dgamma / dbeta
  };
  const std::vector<std::vector<int64_t>> rows = {
      {512, 768}, {4096, 1024}, {8, 4097}, {16 * M, 2}, {2, 16 * M}, {7, 1}, {3, 4 * M, 2}, {64 * M, 2}, {0, 8},
  };
  std::vector<Case> cases;
  for (DType dtype : {DType::f32, DType::f16})
    for (bool epilogue : {false, true})
      for (Layout layout : {Layout::nchw, Layout::nhwc}) {
        const std::string suffix = std::string(" ") + dtype_name(dtype) + (layout == Layout::nhwc ? " nhwc" : " nchw") +
                                   (epilogue ? " residual+relu" : "");
        const Epilogue e{epilogue, epilogue};
        for (const auto& shape : channel_shapes) {
          for (int mode = 0; mode < 3; ++mode) {  // training with running stats, without, eval
            auto add_mode = [&](auto params, const char* kind) {
              params.shape = shape;
              params.training = mode != 2;
              params.track_running_stats = mode != 1;
              params.affine = true;
              params.layout = layout;
              params.dtype = dtype;
              params.epilogue = e;
              add(cases, case_name(kind, shape, " mode " + std::to_string(mode) + suffix), params);
            };
            add_mode(BatchNormParams{}, "BatchNorm");
            add_mode(InstanceNormParams{}, "InstanceNorm");
          }
        }
        for (const auto& [shape, groups] : group_shapes) {
          GroupNormParams gn;
          gn.shape = shape;
          gn.num_groups = groups;
          gn.layout = layout;
          gn.dtype = dtype;
          gn.epilogue = e;
          add(cases, case_name("GroupNorm(" + std::to_string(groups) + ")", shape, suffix), gn);
        }
        if (layout == Layout::nhwc) continue;  // rows have one layout
        for (const auto& shape : rows) {
          auto add_rows = [&](auto params, const char* kind) {
            params.shape = shape;
            params.normalized_shape = {shape.back()};
            params.dtype = dtype;
            params.epilogue = e;
            add(cases, case_name(kind, shape, suffix), params);
          };
          add_rows(LayerNormParams{}, "LayerNorm");
          add_rows(RMSNormParams{}, "RMSNorm");
          // Without a bias, and without any affine parameter (the kernels that read them
          // in units stand the weight in for the bias, or are not taken).
          LayerNormParams no_bias, no_affine;
          no_bias.bias = false;
          no_affine.elementwise_affine = no_affine.bias = false;
          RMSNormParams rms_no_affine;
          rms_no_affine.elementwise_affine = false;
          add_rows(no_bias, "LayerNorm(bias=False)");
          add_rows(no_affine, "LayerNorm(elementwise_affine=False)");
          add_rows(rms_no_affine, "RMSNorm(elementwise_affine=False)");
        }
      }
  return cases;
}

// The workspace ranges a pass reads or writes, of each kind of record, as the kernels
// address them (shaders/workspace.glsl, src/shader_contract.h): from the push constants
// alone, not from the planner's layout.
struct Extent {
  const char* kind;
  uint64_t begin, end;
};
std::vector<Extent> workspace_extents(const Pass& pass) {
  const PushConstants& pc = pass.push;
  const uint64_t G = uint64_t{pc.B} * pc.K, stats = G * pc.chunks * kStatsRecordFloats;
  const uint64_t sums = G * pc.chunks * kSumsRecordFloats, coef = G * kCoefRecordFloats;
  const uint64_t params = uint64_t{pc.Kp} * pc.pchunks * kSumsRecordFloats;
  auto flag = [&](uint32_t f) { return (pc.flags & f) != 0; };
  const Extent stats_records{"statistics records", 0, stats}, pivots{"pivots", stats, stats + G};
  switch (pass.kernel) {
    case KernelId::stats_partial:
    case KernelId::stats_finalize: return {stats_records, pivots};
    case KernelId::team_forward:
    case KernelId::fused_forward:
      if (flag(kFlagUpdateRunning)) return {stats_records, pivots};
      return {};
    case KernelId::grad_partial:
      if (flag(kFlagColumnParams))
        return {{"gradient sums", 0, sums}, {"parameter sums", pc.param_base, pc.param_base + params}};
      return {{"gradient sums", 0, sums}};
    case KernelId::team_backward: {
      std::vector<Extent> e;
      if (!flag(kFlagGammaVaries) && (flag(kFlagWeight) || flag(kFlagBias))) e.push_back({"gradient sums", 0, sums});
      if (flag(kFlagPlaneParams) || flag(kFlagBlockParams))
        e.push_back({"parameter sums", pc.param_base, pc.param_base + params});
      return e;
    }
    case KernelId::grad_finalize:
      return {{"gradient sums", 0, sums}, {"coefficients", pc.coef_base, pc.coef_base + coef}};
    case KernelId::grad_input: return {{"coefficients", pc.coef_base, pc.coef_base + coef}};
    case KernelId::param_partial:
    case KernelId::param_partial_planes:
    case KernelId::param_finalize: return {{"parameter sums", pc.param_base, pc.param_base + params}};
    // The eval forward's coefficients on a CPU device: K scales, then K shifts, from the
    // slot's start (batch_norm_coefficients writes them; the apply reads them where
    // FLAG_STATS_ARE_VAR is off).
    case KernelId::batch_norm_coefficients: return {{"eval coefficients", 0, 2 * uint64_t{pc.K}}};
    case KernelId::batch_norm_apply:
      if (!flag(kFlagStatsAreVar)) return {{"eval coefficients", 0, 2 * uint64_t{pc.K}}};
      return {};
    default: return {};
  }
}

// Every record a pass touches lies inside the workspace it binds, and records of different
// kinds never share a float.
std::string workspace_problem(const ExecutionPlan& plan) {
  std::vector<Extent> all;
  for (const Pass& pass : plan) {
    const SlotUse& work = pass.slots[kSlotWork];
    for (const Extent& e : workspace_extents(pass)) {
      if (e.begin == e.end) continue;
      if (work.role != Role::workspace || e.end > work.count)
        return std::string(kernel_name(pass.kernel)) + ": its " + e.kind + " [" + std::to_string(e.begin) + ", " +
               std::to_string(e.end) + ") lie outside the " + std::to_string(work.count) + " floats of workspace it binds";
      all.push_back(e);
    }
  }
  for (const Extent& a : all)
    for (const Extent& b : all)
      if (std::string(a.kind) != b.kind && a.begin < b.end && b.begin < a.end)
        return std::string(a.kind) + " and " + b.kind + " overlap in the workspace";
  return "";
}

std::string fits(const Capabilities& caps, const ExecutionPlan& plan, const NormPlan& p, uint64_t merged_count) {
  auto fail = [](const Pass& pass, const std::string& what) { return std::string(kernel_name(pass.kernel)) + ": " + what; };
  const WorkspaceLayout& w = plan.workspace;
  if (w.floats * 4 > caps.max_storage_buffer_range) return "workspace over maxStorageBufferRange";
  if (std::string problem = workspace_problem(plan); !problem.empty()) return problem;
  if (plan.pass_count == 0 && p.geometry.elements > 0) return "no pass for a non-empty tensor";
  for (const Pass& pass : plan) {
    if (pass.grid_x < 1 || pass.grid_x > caps.max_workgroup_count_x)
      return fail(pass, "grid x " + std::to_string(pass.grid_x) + " outside [1, " +
                            std::to_string(caps.max_workgroup_count_x) + "]");
    if (pass.grid_y < 1 || pass.grid_y > caps.max_workgroup_count_y)
      return fail(pass, "grid y " + std::to_string(pass.grid_y) + " outside [1, " +
                            std::to_string(caps.max_workgroup_count_y) + "]");
    if (pass.vec4_kernel != KernelId::count_ &&
        (pass.vec4_grid_x < 1 || pass.vec4_grid_x > caps.max_workgroup_count_x || pass.vec4_grid_y < 1 ||
         pass.vec4_grid_y > caps.max_workgroup_count_y))
      return fail(pass, "its vec4 variant's grid " + std::to_string(pass.vec4_grid_x) + " x " +
                            std::to_string(pass.vec4_grid_y) + " is outside the device's workgroup counts");
    // batch_norm_apply_vec4 does not loop: a run of 8 lanes per segment of each plane
    // (shaders/batch_norm_apply_planes.glsl), the segments covering the plane, the
    // workgroups' runs every segment.
    if (pass.vec4_kernel == KernelId::batch_norm_apply_vec4) {
      const uint64_t runs = uint64_t{pass.vec4_grid_x} * pass.vec4_grid_y * (pass.workgroup_size / 8);
      if (pass.workgroup_size % 8 != 0 || pass.push.chunks < 1 ||
          uint64_t{pass.push.chunks} * pass.push.chunk_size * 8 * 4 < p.I ||
          runs < uint64_t{p.B} * p.O * p.K * pass.push.chunks)
        return fail(pass, "batch_norm_apply_vec4's runs do not cover the planes");
    }
    const uint32_t wg = pass.workgroup_size;
    if (wg < 1 || wg > caps.max_workgroup_invocations || wg > caps.max_workgroup_size_x || (wg & (wg - 1)) != 0)
      return fail(pass, "workgroup size " + std::to_string(wg));
    // Teams need full subgroups: a workgroup of whole subgroups of the largest size.
    if (caps.reduction_path == ReductionPath::subgroup && wg % caps.max_subgroup_size != 0 &&
        wg >= caps.max_subgroup_size)
      return fail(pass, "workgroup size " + std::to_string(wg) + " is not a multiple of the subgroup size");
    if (pass.shared_bytes > caps.max_shared_memory)
      return fail(pass, "shared memory " + std::to_string(pass.shared_bytes));
    for (const SlotUse& use : pass.slots)
      if (use.role != Role::none && use.bytes() > caps.max_storage_buffer_range)
        return fail(pass, std::string(to_string(use.role)) + " binds " + std::to_string(use.bytes()) + " bytes");
    // The shape reaches the kernel untruncated.
    const PushConstants& pc = pass.push;
    const bool merged_finalize =
        merged_count > 0 && (pass.kernel == KernelId::stats_finalize || pass.kernel == KernelId::grad_finalize);
    const bool group_fits = merged_finalize ? uint64_t{pc.O} * pc.I == merged_count : pc.O == p.O && pc.I == p.I;
    if (pc.B != p.B || !group_fits || pc.K != p.K || pc.Op != p.Op || pc.Kp != p.Kp || pc.Ip != p.Ip ||
        pc.cpg != p.cpg)
      return fail(pass, "the view does not fit the push constants");
    // The partial passes do not loop over chunks: one workgroup column per chunk, and the
    // chunks cover the group.
    const bool columns = (pc.flags & kFlagColumns) != 0;
    if ((pass.kernel == KernelId::stats_partial || pass.kernel == KernelId::grad_partial) && !columns) {
      if (pass.grid_x != pc.chunks) return fail(pass, "grid x is not one workgroup per chunk");
      if (uint64_t{pc.chunks} * pc.chunk_size < p.O * p.I) return fail(pass, "chunks do not cover a group");
    }
    // The column view's vec4 variants loop over no chunk either, and a workgroup takes several
    // (shaders/columns_vec4.glsl, as written there): their grid must cover every chunk, with
    // no more lanes than the workgroup has.
    if (pass.vec4_kernel == KernelId::stats_partial_columns_vec4 ||
        pass.vec4_kernel == KernelId::grad_partial_columns_vec4) {
      const uint64_t L = uint64_t{pc.K} * pc.I, units = L / 4;
      const uint64_t phases = wg / std::min(L, uint64_t{wg}), width = std::min(units, uint64_t{wg});
      const uint64_t per_workgroup = std::max<uint64_t>(1, wg / width / phases);
      const uint64_t column_chunks = pc.chunks / (phases * pc.I);
      if (!columns || L % 4 != 0 || column_chunks * phases * pc.I != pc.chunks)
        return fail(pass, "its columns vec4 variant does not fit the column view's chunks");
      if (uint64_t{pass.vec4_grid_x} * per_workgroup < column_chunks || per_workgroup * phases * width > wg)
        return fail(pass, "its columns vec4 grid does not cover the chunks");
    }
    if (pass.kernel == KernelId::param_partial || pass.kernel == KernelId::param_partial_planes) {
      if ((pass.kernel == KernelId::param_partial) != (pc.Ip == 1))
        return fail(pass, "param_partial serves adjacent channels (Ip == 1), param_partial_planes the rest");
      if (pass.grid_x != pc.pchunks) return fail(pass, "grid x is not one workgroup per parameter chunk");
      const uint64_t per_channel = pc.Ip == 1 ? p.Op : p.Op * p.Ip;
      if (uint64_t{pc.pchunks} * pc.pchunk_size < per_channel) return fail(pass, "chunks do not cover a channel");
    }
    if (pc.coef_base != w.coef || pc.param_base != w.param || pc.pchunks != plan.pchunks)
      return fail(pass, "workspace offsets or parameter chunks do not fit the push constants");
  }
  return "";
}

}  // namespace vknorm::test
