// The planner without a device: plans for the capabilities of real GPUs (made up here
// from their published limits, no driver needed), with the passes some shapes must get
// stated by hand, and a proof that every planned dispatch fits every limit of its device.
// CTest runs this binary with no Vulkan driver at all (label `planner`).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ops/batchnorm_apply.hpp"
#include "planner_support.hpp"

namespace vknorm::test {
namespace {

constexpr uint32_t kNoLimit32 = 0xffffffffu;

// A device as vknorm's capability query would describe it (the reduction path follows
// from subgroup arithmetic, as in src/vk/capabilities.cpp).
Capabilities device(const char* name, VkPhysicalDeviceType type, uint32_t subgroup, uint32_t min_subgroup,
                    bool arithmetic, uint32_t shared_kib, uint32_t invocations, uint32_t count_x, uint32_t count_y,
                    uint64_t range, bool f16 = true) {
  Capabilities c;
  c.device_name = name;
  c.device_type = type;
  c.subgroup_size = c.max_subgroup_size = subgroup;
  c.min_subgroup_size = min_subgroup;
  c.subgroup_arithmetic = arithmetic;
  c.max_shared_memory = shared_kib * 1024;
  c.max_workgroup_invocations = c.max_workgroup_size_x = invocations;
  c.max_workgroup_count_x = count_x;
  c.max_workgroup_count_y = count_y;
  c.max_storage_buffer_range = range;
  c.storage_buffer_16bit = f16;
  c.host_threads = type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 2 : 1;
  c.reduction_path = arithmetic ? ReductionPath::subgroup : ReductionPath::shared_memory;
  c.workgroup_size = workgroup_size_for(c);
  // The two CPU implementations by driver, as capabilities.cpp reads it.
  const std::string_view n = name;
  if (n.starts_with("lavapipe")) c.driver_id = VK_DRIVER_ID_MESA_LLVMPIPE;
  if (n.starts_with("SwiftShader")) c.driver_id = VK_DRIVER_ID_GOOGLE_SWIFTSHADER;
  return c;
}

constexpr auto kGpu = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
constexpr auto kMobile = VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
constexpr auto kCpu = VK_PHYSICAL_DEVICE_TYPE_CPU;
constexpr uint64_t kMiB = 1024 * 1024;

// Seven GPUs and two CPU implementations: subgroups of 1 to 64 and a varying 128; 16/32/48/64
// KiB of shared memory; 128/256/1024 invocations; grids from 65535 (most) to 2^32 - 1
// workgroups in x; bindings from 128 MiB to 4 GiB; some without subgroup arithmetic.
std::vector<Capabilities> real_devices() {
  return {
      device("NVIDIA-like (subgroup 32, 48 KiB)", kGpu, 32, 32, true, 48, 1024, 2147483647, 65535, kNoLimit32),
      device("AMD-like (subgroup 64, 64 KiB)", kGpu, 64, 32, true, 64, 1024, kNoLimit32, kNoLimit32, kNoLimit32),
      device("Intel-like (subgroup 32 of 8..32, 64 KiB)", kMobile, 32, 8, true, 64, 1024, 65536, 65536, 1024 * kMiB),
      device("Adreno-like (varying 128, 32 KiB)", kMobile, 128, 64, true, 32, 1024, 65535, 65535, 128 * kMiB),
      device("Mali-like (subgroup 16, 32 KiB, 256 invocations)", kMobile, 16, 16, true, 32, 256, 65535, 65535,
             128 * kMiB, false),
      device("V3D-like (no subgroup arithmetic, 16 KiB, 256 invocations)", kMobile, 16, 16, false, 16, 256, 65535,
             65535, 128 * kMiB, false),
      device("Baseline mobile (no subgroups, 16 KiB, 128 invocations)", kMobile, 1, 1, false, 16, 128, 65535, 65535,
             128 * kMiB, false),
      device("lavapipe-like (CPU, subgroup 8)", kCpu, 8, 8, true, 32, 1024, 65535, 65535, 128 * kMiB),
      device("SwiftShader-like (CPU, subgroup 4, no 16-bit storage)", kCpu, 4, 4, true, 32, 256, 65535, 65535,
             1024 * kMiB, false),
  };
}

std::vector<KernelId> kernels(const ExecutionPlan& plan) {
  std::vector<KernelId> k;
  for (const Pass& pass : plan) k.push_back(pass.kernel);
  return k;
}

std::string names(const std::vector<KernelId>& k) {
  std::string s;
  for (KernelId id : k) s += std::string(s.empty() ? "" : ", ") + kernel_name(id);
  return s;
}

#define CHECK_PASSES(result, ...)                                                             \
  do {                                                                                        \
    auto r_ = (result);                                                                       \
    REQUIRE_MESSAGE(r_.ok(), r_.status().message());                                          \
    const std::vector<KernelId> expected_{__VA_ARGS__};                                       \
    CHECK_MESSAGE(kernels(r_.value()) == expected_,                                           \
                  "planned: " << names(kernels(r_.value())) << "; expected: " << names(expected_)); \
  } while (0)

using K = KernelId;

// The kind's plan row for params that pass its checks.
template <class Params>
NormPlan planned(const Params& params) {
  auto plan = plan_norm(params);
  REQUIRE_MESSAGE(plan.ok(), plan.status().message());
  return plan.value();
}

}  // namespace

TEST_CASE("planner: the passes of known shapes on known devices") {
  const Capabilities nvidia = modeled_device("NVIDIA"), mobile = modeled_device("Baseline");
  const Capabilities lavapipe = modeled_device("lavapipe");
  LayerNormParams ln;
  ln.shape = {512, 768};
  ln.normalized_shape = {768};
  // NVIDIA: a 768-value row fits a warp's lanes (24 values each): a subgroup per row.
  CHECK_PASSES(plan_forward(nvidia, planned(ln)), K::team_forward);
  CHECK_PASSES(plan_backward(nvidia, planned(ln)), K::team_backward, K::param_partial, K::param_finalize);
  // Without subgroup arithmetic: a workgroup per row keeps it in registers.
  CHECK_PASSES(plan_forward(mobile, planned(ln)), K::fused_forward);
  CHECK_PASSES(plan_backward(mobile, planned(ln)), K::grad_partial, K::grad_finalize, K::grad_input,
               K::param_partial, K::param_finalize);
  // The split forward when asked for (the cross-device seam).
  CHECK_PASSES(plan_forward(nvidia, planned(ln), {.split = true}), K::stats_partial, K::stats_finalize, K::normalize);

  // What `vknorm bench` and the README cite for lavapipe (2 host threads, subgroup 8).
  CHECK_PASSES(plan_forward(lavapipe, planned(ln)), K::team_forward);
  CHECK_PASSES(plan_backward(lavapipe, planned(ln)), K::team_backward, K::param_partial, K::param_finalize);
  GroupNormParams gn;
  gn.shape = {1, 64, 56, 56};
  gn.num_groups = 32;
  // 32 groups, one workgroup of teams per host thread: still teams on a CPU device (they
  // took 0.25-0.42x the split passes' time on lavapipe).
  CHECK_PASSES(plan_forward(lavapipe, planned(gn)), K::team_forward);
  CHECK_PASSES(plan_backward(lavapipe, planned(gn)), K::team_backward, K::param_finalize);
  // Channels-last groups of 3136 values: the split passes through the column view.
  gn.layout = Layout::nhwc;
  CHECK_PASSES(plan_forward(lavapipe, planned(gn)), K::stats_partial, K::stats_finalize, K::normalize);
  gn.layout = Layout::nchw;
  gn.shape = {4, 64, 56, 56};  // 128 groups: teams, whose plane sums are dgamma/dbeta's partials
  CHECK_PASSES(plan_forward(lavapipe, planned(gn)), K::team_forward);
  CHECK_PASSES(plan_backward(lavapipe, planned(gn)), K::team_backward, K::param_finalize);
  BatchNormParams bn;
  bn.shape = {32, 64, 56, 56};
  CHECK_PASSES(plan_forward(lavapipe, planned(bn)), K::stats_partial, K::stats_finalize, K::normalize);
  // gamma is constant per channel: dgamma/dbeta come with the group sums.
  CHECK_PASSES(plan_backward(lavapipe, planned(bn)), K::grad_partial, K::grad_finalize, K::grad_input);
  bn.training = false;
  CHECK_PASSES(plan_forward(lavapipe, planned(bn)), K::batch_norm_apply);
  InstanceNormParams in;
  in.shape = {8, 256, 14, 14};
  in.affine = in.track_running_stats = true;
  // 2048 groups of 196 on-chip, then one invocation per channel updates the running
  // statistics from their partials.
  CHECK_PASSES(plan_forward(lavapipe, planned(in)), K::team_forward, K::stats_finalize);
  CHECK_PASSES(plan_backward(lavapipe, planned(in)), K::team_backward, K::grad_finalize);
}

TEST_CASE("planner: a CPU device's teams take a workgroup per host thread while there are groups for them") {
  const Capabilities nvidia = modeled_device("NVIDIA"), lavapipe = modeled_device("lavapipe");
  auto team_grid_x = [](const Result<ExecutionPlan>& plan) {
    REQUIRE(plan.ok());
    const Pass& first = *plan->begin();
    REQUIRE((first.kernel == K::team_forward || first.kernel == K::team_backward));
    return first.grid_x;
  };
  LayerNormParams ln;
  ln.normalized_shape = {4097};
  for (int64_t rows : {1, 2, 3, 8, 17, 64}) {
    CAPTURE(rows);
    ln.shape = {rows, 4097};
    // lavapipe: 8 teams per workgroup, 2 host threads.
    const uint32_t fill = static_cast<uint32_t>((rows + 7) / 8);
    const uint32_t expected = std::max(fill, static_cast<uint32_t>(std::min<int64_t>(rows, 2)));
    CHECK(team_grid_x(plan_forward(lavapipe, planned(ln))) == expected);
    CHECK(team_grid_x(plan_backward(lavapipe, planned(ln))) == expected);
  }
  // A GPU's grid is what its teams fill.
  ln.shape = {68, 768};
  ln.normalized_shape = {768};
  const uint32_t teams = workgroup_size_for(nvidia) / nvidia.subgroup_size;
  CHECK(team_grid_x(plan_forward(nvidia, planned(ln))) == (68 + teams - 1) / teams);
}

TEST_CASE("planner: on lavapipe 4-element teams with gamma in units take blocks of rows; elsewhere a group per team") {
  const Capabilities nvidia = modeled_device("NVIDIA"), lavapipe = modeled_device("lavapipe");
  auto vec4_team = [](const Result<ExecutionPlan>& plan) {
    REQUIRE(plan.ok());
    return *plan->begin();
  };
  LayerNormParams ln;
  ln.normalized_shape = {1024};
  for (int64_t rows : {64, 130, 4096}) {
    CAPTURE(rows);
    ln.shape = {rows, 1024};
    // lavapipe: 8 teams per workgroup, each a block of up to VKNORM_TEAM_BLOCK_ROWS (4) rows.
    const uint32_t blocks = static_cast<uint32_t>((rows + 3) / 4);
    const Pass forward = vec4_team(plan_forward(lavapipe, planned(ln)));
    const Pass backward = vec4_team(plan_backward(lavapipe, planned(ln)));
    for (const Pass& team : {forward, backward}) {
      CHECK((team.vec4_kernel == K::team_forward_affine_blocks_vec4 ||
             team.vec4_kernel == K::team_backward_affine_blocks_vec4));
      CHECK(team.vec4_grid_x == (blocks + 7) / 8);
      CHECK(team.grid_x == (rows + 7) / 8);  // the scalar kernel: a group per team
    }
    // A GPU, and SwiftShader: a group per team (team_block_rows is 1 there), the forward
    // walking each row by its index alone (groups of one row).
    const uint32_t teams = workgroup_size_for(nvidia) / nvidia.subgroup_size;
    const Pass gpu = vec4_team(plan_forward(nvidia, planned(ln)));
    CHECK(gpu.vec4_kernel == K::team_forward_affine_rows_vec4);
    CHECK(gpu.vec4_grid_x == (rows + teams - 1) / teams);
    const Pass swiftshader = vec4_team(plan_backward(modeled_device("SwiftShader"), planned(ln)));
    CHECK(swiftshader.vec4_kernel == K::team_backward_affine_rows_vec4);
    CHECK(swiftshader.vec4_grid_x == swiftshader.grid_x);
  }
  CHECK(team_block_rows(lavapipe) == VKNORM_TEAM_BLOCK_ROWS);
  CHECK(team_block_rows(nvidia) == 1);
  CHECK(team_block_rows(modeled_device("SwiftShader")) == 1);
  // What preparing LayerNorm creates: each device's own team variants.
  auto prepares = [](const Capabilities& caps, KernelId id) {
    const std::vector<KernelId> k = candidate_kernels(Norm::layer_norm, Direction::forward, &caps);
    return std::find(k.begin(), k.end(), id) != k.end();
  };
  CHECK(prepares(lavapipe, K::team_forward_affine_blocks_vec4));
  CHECK_FALSE(prepares(lavapipe, K::team_forward_affine_vec4));
  CHECK_FALSE(prepares(lavapipe, K::team_forward_affine_rows_vec4));
  CHECK(prepares(nvidia, K::team_forward_affine_rows_vec4));
  // The rows kernels have no epilogue: with a residual or ReLU, LayerNorm's rows walk
  // (team_forward_affine_vec4), and without a bias gamma comes per element.
  CHECK(prepares(nvidia, K::team_forward_affine_vec4));
  {
    LayerNormParams with_relu;
    with_relu.shape = {4096, 1024};
    with_relu.normalized_shape = {1024};
    with_relu.epilogue.relu = true;
    CHECK(vec4_team(plan_forward(nvidia, planned(with_relu))).vec4_kernel == K::team_forward_affine_vec4);
    with_relu.bias = false;
    CHECK(vec4_team(plan_forward(nvidia, planned(with_relu))).vec4_kernel == K::team_forward_vec4);
    with_relu.epilogue = {.residual = true, .relu = false};
    CHECK(vec4_team(plan_forward(nvidia, planned(with_relu))).vec4_kernel == K::team_forward_vec4);
    with_relu.epilogue = {};
    CHECK(vec4_team(plan_forward(nvidia, planned(with_relu))).vec4_kernel == K::team_forward_weight_vec4);
    // The backward's rows kernel likewise: the walk with an epilogue.
    CHECK(vec4_team(plan_backward(nvidia, planned(with_relu))).vec4_kernel == K::team_backward_affine_rows_vec4);
    with_relu.epilogue.residual = true;
    CHECK(vec4_team(plan_backward(nvidia, planned(with_relu))).vec4_kernel == K::team_backward_affine_vec4);
  }
  // Channels-last GroupNorm in teams on a GPU: groups of several positions walk, groups of
  // one (1x1 planes) take the rows kernel, whose channels start at the group's.
  GroupNormParams gn;
  gn.layout = Layout::nhwc;
  gn.num_groups = 4;
  const PlanOptions team{.choice = {OnChipKernel::team}};
  gn.shape = {3, 32, 2, 2};
  CHECK(vec4_team(plan_forward(nvidia, planned(gn), team)).vec4_kernel == K::team_forward_affine_vec4);
  gn.shape = {3, 32, 1, 1};
  CHECK(vec4_team(plan_forward(nvidia, planned(gn), team)).vec4_kernel == K::team_forward_affine_rows_vec4);
  CHECK_FALSE(prepares(nvidia, K::team_forward_affine_blocks_vec4));
  // gamma constant in a group (InstanceNorm, channel by channel): no blocks.
  InstanceNormParams in;
  in.shape = {8, 256, 14, 14};
  in.affine = true;
  const Pass channel = vec4_team(plan_forward(lavapipe, planned(in)));
  CHECK(channel.vec4_kernel == K::team_forward_channel_vec4);
  CHECK(channel.vec4_grid_x == channel.grid_x);
}

TEST_CASE("planner: the backward's team blocks over rows store dgamma / dbeta per block; param_partial runs only after team_backward") {
  const Capabilities lavapipe = modeled_device("lavapipe");
  const uint32_t most = team_block_rows(lavapipe);
  REQUIRE(most > 1);
  auto passes = [](const Result<ExecutionPlan>& plan) {
    REQUIRE(plan.ok());
    return std::vector<Pass>(plan->begin(), plan->end());
  };
  auto check_blocks = [&](const NormPlan& p, uint64_t rows) {
    const std::vector<Pass> plan = passes(plan_backward(lavapipe, p));
    REQUIRE(plan.size() == 3);  // team, param_partial (skipped after the blocks), param_finalize
    CHECK(plan[0].vec4_kernel == K::team_backward_affine_blocks_vec4);
    CHECK((plan[0].push.flags & kFlagBlockParams) != 0);
    CHECK(plan[0].push.pchunk_size == most);  // the team grid leaves `most` rows per team
    CHECK(plan[0].push.pchunks == (rows + most - 1) / most);
    CHECK(plan[1].kernel == K::param_partial);
    CHECK(plan[1].skip_after == K::team_backward_affine_blocks_vec4);
    CHECK(plan[1].grid_x == plan[0].push.pchunks);  // its chunks: the blocks' rows
    CHECK(plan[1].push.pchunk_size == most);
    CHECK(plan[2].kernel == K::param_finalize);
    CHECK(plan[2].vec4_kernel == K::param_finalize_vec4);
    // Every pass lays the records out partial after partial.
    for (const Pass& pass : plan) CHECK((pass.push.flags & kFlagBlockParams) != 0);
    CHECK(plan_backward(lavapipe, p)->workspace.param % 4 == 0);  // records stored as vec4s
  };
  LayerNormParams ln;
  ln.normalized_shape = {1024};
  for (int64_t rows : {1003, 4096}) {
    CAPTURE(rows);
    ln.shape = {rows, 1024};
    check_blocks(planned(ln), static_cast<uint64_t>(rows));
  }
  // GroupNorm channels-last over 1x1 planes: 4 groups of 8 channels per row.
  GroupNormParams gn;
  gn.layout = Layout::nhwc;
  gn.num_groups = 4;
  gn.shape = {99, 32, 1, 1};
  check_blocks(planned(gn), 99);
  // More blocks than param_finalize adds (kMaxChunks, 1024): param_partial's own chunks.
  ln.shape = {int64_t{most} * 1024 + 1, 1024};
  std::vector<Pass> big = passes(plan_backward(lavapipe, planned(ln)));
  REQUIRE(big.size() == 3);
  CHECK((big[0].push.flags & kFlagBlockParams) == 0);
  CHECK(big[1].skip_after == K::count_);
  CHECK(big[2].vec4_kernel == K::count_);
  // Elsewhere no blocks: param_partial always runs.
  for (const char* device : {"NVIDIA", "SwiftShader"}) {
    CAPTURE(device);
    ln.shape = {4096, 1024};
    const std::vector<Pass> gpu = passes(plan_backward(modeled_device(device), planned(ln)));
    REQUIRE(gpu.size() == 3);
    CHECK((gpu[0].push.flags & kFlagBlockParams) == 0);
    CHECK(gpu[1].skip_after == K::count_);
  }
}

TEST_CASE("planner: eval BatchNorm takes the _wide_ columns where a unit of 8 fits; float16 before the planes on lavapipe") {
  const Capabilities lavapipe = modeled_device("lavapipe"), swiftshader = modeled_device("SwiftShader");
  const Capabilities nvidia = modeled_device("NVIDIA");
  // The apply pass. On a CPU device the columns apply coefficients computed first
  // (eval_coefficients_first): batch_norm_coefficients into the workspace, then the
  // _cached_ twin (`columns` gives the device's kernel); the planes compute their own.
  auto apply = [](const Capabilities& caps, const BatchNormParams& p) {
    auto plan = plan_forward(caps, planned(p));
    REQUIRE(plan.ok());
    const Pass last = plan->passes[plan->pass_count - 1];
    const bool first = eval_coefficients_first(caps) && last.vec4_kernel != K::batch_norm_apply_vec4;
    REQUIRE(plan->pass_count == (first ? 2u : 1u));
    if (first) CHECK(plan->passes[0].kernel == K::batch_norm_coefficients);
    CHECK(((last.push.flags & kFlagStatsAreVar) == 0) == first);
    CHECK(plan->workspace.floats == (first ? 2 * p.shape[1] : 0));
    return last;
  };
  auto columns = [](const Capabilities& caps, K from_statistics, K cached) {
    return eval_coefficients_first(caps) ? cached : from_statistics;
  };
  CHECK(eval_coefficients_first(lavapipe));
  CHECK(eval_coefficients_first(swiftshader));
  CHECK_FALSE(eval_coefficients_first(nvidia));
  BatchNormParams bn;
  bn.training = false;
  bn.dtype = DType::f16;
  // Planes of 3136 and 196 (8 units or more): on lavapipe the wide pairs, elsewhere the planes.
  for (int64_t side : {56, 14}) {
    CAPTURE(side);
    bn.shape = {8, 64, side, side};
    CHECK(apply(lavapipe, bn).vec4_kernel == K::batch_norm_apply_columns_pair_cached_wide_vec4);
    CHECK(apply(swiftshader, bn).vec4_kernel == K::batch_norm_apply_vec4);
    CHECK(apply(nvidia, bn).vec4_kernel == K::batch_norm_apply_vec4);
  }
  // One sample (a row per lane at most): the planes, on lavapipe too.
  bn.shape = {1, 64, 128, 128};
  CHECK(apply(lavapipe, bn).vec4_kernel == K::batch_norm_apply_vec4);
  // Planes of 49 (no planes kernel): the wide pairs on every device, in both dtypes, each
  // lane walking the rules' rows of 8-element units (32 rows of 12544 units).
  bn.shape = {32, 2048, 7, 7};
  for (const Capabilities* caps : {&lavapipe, &swiftshader, &nvidia}) {
    CAPTURE(caps->device_name);
    const Pass wide = apply(*caps, bn);
    const K pair_wide =
        columns(*caps, K::batch_norm_apply_columns_pair_wide_vec4, K::batch_norm_apply_columns_pair_cached_wide_vec4);
    CHECK(wide.vec4_kernel == pair_wide);
    const uint64_t lanes = uint64_t{wide.vec4_grid_x} * wide.vec4_grid_y * kernel_workgroup_size(*caps, pair_wide);
    CHECK(lanes == 32 / column_spread_rows(*caps) * (2048 * 49 / 8));
    BatchNormParams f32 = bn;
    f32.dtype = DType::f32;
    const Pass f32_wide = apply(*caps, f32);
    CHECK(f32_wide.vec4_kernel == pair_wide);
    CHECK(f32_wide.vec4_grid_x == wide.vec4_grid_x);
    // Float16 8 bytes past 16-byte alignment: the 4-element twin on the wide grid; 4
    // bytes: scalar.
    RoleOffsets offsets{};
    offsets[static_cast<size_t>(Role::x)] = offsets[static_cast<size_t>(Role::y)] = 8;
    const Pass twin = pass_for_offsets(wide, offsets);
    CHECK(twin.kernel ==
          columns(*caps, K::batch_norm_apply_columns_pair_vec4, K::batch_norm_apply_columns_pair_cached_vec4));
    CHECK(twin.grid_x == wide.vec4_grid_x);
    offsets[static_cast<size_t>(Role::x)] = 4;
    CHECK(pass_for_offsets(wide, offsets).kernel == K::batch_norm_apply);
  }
  // Channels-last, 64 channels: the wide units with a weight and a bias, in both dtypes
  // on every device (float32 at 4 bytes off: scalar); without, from the statistics the
  // 4-element per-channel kernel (no wide twin reads the statistics per channel), cached
  // the wide units still; 12 channels (rows of 12): no unit of 8, the 4-element units.
  // Cached coefficients 4 bytes past 16-byte alignment (the workspace): the per-channel
  // cached kernel.
  bn.layout = Layout::nhwc;
  for (DType dtype : {DType::f16, DType::f32})
    for (const Capabilities* caps : {&lavapipe, &swiftshader, &nvidia}) {
      CAPTURE(caps->device_name);
      CAPTURE(dtype == DType::f16);
      bn.dtype = dtype;
      bn.shape = {8, 64, 14, 14};
      const K units_wide =
          columns(*caps, K::batch_norm_apply_columns_units_wide_vec4, K::batch_norm_apply_columns_units_cached_wide_vec4);
      const Pass wide = apply(*caps, bn);
      CHECK(wide.vec4_kernel == units_wide);
      RoleOffsets offsets{};
      offsets[static_cast<size_t>(Role::x)] = 4;
      if (dtype == DType::f32) CHECK(pass_for_offsets(wide, offsets).kernel == K::batch_norm_apply);
      offsets = {};
      offsets[static_cast<size_t>(Role::workspace)] = 4;
      CHECK(pass_for_offsets(wide, offsets).kernel ==
            columns(*caps, units_wide, K::batch_norm_apply_columns_cached_vec4));
      bn.affine = false;
      CHECK(apply(*caps, bn).vec4_kernel == columns(*caps, K::batch_norm_apply_columns_vec4, units_wide));
      bn.affine = true;
      bn.shape = {8, 12, 14, 14};
      CHECK(apply(*caps, bn).vec4_kernel ==
            columns(*caps, K::batch_norm_apply_columns_units_vec4, K::batch_norm_apply_columns_units_cached_vec4));
    }
  CHECK(loads_loop_over_lanes(lavapipe));
  CHECK_FALSE(loads_loop_over_lanes(swiftshader));
}

TEST_CASE("planner: a group per channel walks columns; small planes take the column view by a CPU device's rules") {
  const Capabilities nvidia = modeled_device("NVIDIA"), lavapipe = modeled_device("lavapipe");
  auto pass_of = [](const ExecutionPlan& plan, KernelId kernel) {
    for (const Pass& pass : plan)
      if (pass.kernel == kernel) return pass;
    FAIL("no " << kernel_name(kernel) << " pass");
    return Pass{};
  };
  auto columns = [](const Pass& pass) { return (pass.push.flags & kFlagColumns) != 0; };
  BatchNormParams bn;
  bn.shape = {32, 64, 7, 7};  // planes of 49, groups of 1568
  bn.track_running_stats = false;
  // lavapipe, by its rules: the statistics through the column view, the apply through
  // columns with two channels per unit of 8 (rows of 3136: whole units of 8).
  auto forward = plan_forward(lavapipe, planned(bn));
  REQUIRE(forward.ok());
  CHECK(columns(pass_of(*forward, K::stats_partial)));
  const Pass wide = pass_of(*forward, K::normalize);
  CHECK(wide.vec4_kernel == K::normalize_channel_columns_pair_wide_vec4);
  // On the 4-element grid for twice the rows: each of the 784 units of 4 has 32 / 16 = 2
  // lanes (lavapipe's 8 rows per lane, doubled). Float16 8 bytes off 16: the 4-element twin
  // on the same grid.
  CHECK(uint64_t{wide.vec4_grid_x} * wide.vec4_grid_y *
            kernel_workgroup_size(lavapipe, K::normalize_channel_columns_pair_wide_vec4) >=
        784 * 2);
  CHECK(uint64_t{wide.vec4_grid_x} * wide.vec4_grid_y *
            kernel_workgroup_size(lavapipe, K::normalize_channel_columns_pair_wide_vec4) <
        784 * 2 + 256);
  BatchNormParams half = bn;
  half.dtype = DType::f16;
  auto half_forward = plan_forward(lavapipe, planned(half));
  REQUIRE(half_forward.ok());
  RoleOffsets half_offsets{};
  half_offsets[static_cast<size_t>(Role::x)] = half_offsets[static_cast<size_t>(Role::y)] = 8;
  const Pass pair_twin = pass_for_offsets(pass_of(*half_forward, K::normalize), half_offsets);
  CHECK(pair_twin.kernel == K::normalize_channel_columns_pair_vec4);
  CHECK(pair_twin.grid_x == wide.vec4_grid_x);
  // Planes of 5 (units of 8 would span three channels): the 4-element pairs.
  BatchNormParams short_planes = bn;
  short_planes.shape = {32, 64, 5};
  auto short_forward = plan_forward(lavapipe, planned(short_planes));
  REQUIRE(short_forward.ok());
  CHECK(pass_of(*short_forward, K::normalize).vec4_kernel == K::normalize_channel_columns_pair_vec4);
  // The backward likewise: the gradient sums through the view, dx through columns.
  auto backward = plan_backward(lavapipe, planned(bn));
  REQUIRE(backward.ok());
  CHECK(columns(pass_of(*backward, K::grad_partial)));
  CHECK(pass_of(*backward, K::grad_partial).vec4_kernel == K::grad_partial_columns_vec4);
  CHECK(pass_of(*backward, K::grad_input).vec4_kernel == K::grad_input_columns_vec4);
  // Not where the split passes are forced (SyncBatchNorm's exchange), nor on a GPU, nor
  // for planes past 64.
  forward = plan_forward(lavapipe, planned(bn), {.split = true});
  REQUIRE(forward.ok());
  CHECK_FALSE(columns(pass_of(*forward, K::stats_partial)));
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_pair_wide_vec4);
  backward = plan_backward(lavapipe, planned(bn), {.split = true});
  REQUIRE(backward.ok());
  CHECK_FALSE(columns(pass_of(*backward, K::grad_partial)));
  forward = plan_forward(nvidia, planned(bn), {.choice = {OnChipKernel::split}});
  REQUIRE(forward.ok());
  CHECK_FALSE(columns(pass_of(*forward, K::stats_partial)));
  // A GPU takes it when a choice asks (ColumnView::on, what tuning times), but not under
  // forced split passes.
  forward = plan_forward(nvidia, planned(bn), {.choice = {OnChipKernel::split, 0, ColumnView::on}});
  REQUIRE(forward.ok());
  CHECK(columns(pass_of(*forward, K::stats_partial)));
  forward = plan_forward(nvidia, planned(bn), {.split = true, .choice = {OnChipKernel::split, 0, ColumnView::on}});
  REQUIRE(forward.ok());
  CHECK_FALSE(columns(pass_of(*forward, K::stats_partial)));
  // On lavapipe `on` is its rule's choice.
  forward = plan_forward(lavapipe, planned(bn), {.choice = {OnChipKernel::split, 0, ColumnView::on}});
  REQUIRE(forward.ok());
  CHECK(columns(pass_of(*forward, K::stats_partial)));
  bn.shape = {32, 64, 5, 13};  // planes of 65
  forward = plan_forward(lavapipe, planned(bn), {.choice = {OnChipKernel::split}});
  REQUIRE(forward.ok());
  CHECK_FALSE(columns(pass_of(*forward, K::stats_partial)));
  bn.shape = {32, 64, 7, 7};
  forward = plan_forward(lavapipe, planned(bn), {.choice = {OnChipKernel::split, 0, ColumnView::off}});
  REQUIRE(forward.ok());
  CHECK_FALSE(columns(pass_of(*forward, K::stats_partial)));
  // The columns apply: a group per channel, or the channel the column (channels-last), each
  // sample with rows enough for a lane's walk (16 on lavapipe, 8 on a GPU); InstanceNorm
  // of two samples (groups (b, k)) takes it, and so does channels-last GroupNorm.
  InstanceNormParams in;
  in.shape = {2, 64, 7, 7};
  in.layout = Layout::nhwc;
  forward = plan_forward(lavapipe, planned(in), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_vec4);
  // A lane walks 16 rows on SwiftShader, 8 on lavapipe and a GPU: a sample of one fewer is
  // too short, one of that many not.
  const Capabilities swiftshader = modeled_device("SwiftShader");
  for (const DeviceCaps* caps : {&lavapipe, &nvidia, &swiftshader}) {
    CAPTURE(caps->device_name);
    const int64_t rows = caps == &swiftshader ? 16 : 8;
    in.shape = {2, 64, 1, rows - 1};
    forward = plan_forward(*caps, planned(in), {.split = true});
    REQUIRE(forward.ok());
    CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_vec4);
    in.shape = {2, 64, 2, rows / 2};
    forward = plan_forward(*caps, planned(in), {.split = true});
    REQUIRE(forward.ok());
    CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_vec4);
  }
  in.shape = {1, 64, 7, 7};
  forward = plan_forward(lavapipe, planned(in), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_vec4);
  // With a weight and a bias (InstanceNorm's default has none): the statistics, gamma and
  // beta as units, 8 channels per lane (64 channels: units of 8), where the four buffers are
  // 16-byte aligned, else per channel; float16 8 bytes off: the 4-element twin on the same
  // grid.
  in.affine = true;
  forward = plan_forward(lavapipe, planned(in), {.split = true});
  REQUIRE(forward.ok());
  const Pass& stats_units = pass_of(*forward, K::normalize);
  CHECK(stats_units.vec4_kernel == K::normalize_channel_columns_stats_units_wide_vec4);
  for (Role role : {Role::save_mean, Role::save_invstd, Role::weight, Role::bias}) {
    RoleOffsets at{};
    CHECK(pass_for_offsets(stats_units, at).kernel == K::normalize_channel_columns_stats_units_wide_vec4);
    at[static_cast<size_t>(role)] = 4;
    CHECK(pass_for_offsets(stats_units, at).kernel == K::normalize_channel_columns_vec4);
  }
  in.dtype = DType::f16;
  forward = plan_forward(lavapipe, planned(in), {.split = true});
  REQUIRE(forward.ok());
  const Pass& half_units = pass_of(*forward, K::normalize);
  CHECK(half_units.vec4_kernel == K::normalize_channel_columns_stats_units_wide_vec4);
  RoleOffsets eight{};
  eight[static_cast<size_t>(Role::x)] = eight[static_cast<size_t>(Role::y)] = 8;
  const Pass twin = pass_for_offsets(half_units, eight);
  CHECK(twin.kernel == K::normalize_channel_columns_stats_units_vec4);
  CHECK(twin.grid_x == half_units.vec4_grid_x);
  in.dtype = DType::f32;
  in.shape = {1, 12, 7, 7};  // rows of 12 channels: no unit of 8
  forward = plan_forward(lavapipe, planned(in), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_stats_units_vec4);
  in.shape = {1, 64, 7, 7};
  GroupNormParams gn;
  gn.shape = {1, 64, 7, 7};
  gn.num_groups = 64;
  gn.layout = Layout::nhwc;
  forward = plan_forward(nvidia, planned(gn), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_stats_units_wide_vec4);
  gn.affine = false;
  forward = plan_forward(nvidia, planned(gn), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_vec4);
  gn.affine = true;
  gn.num_groups = 32;  // two channels per group, gamma per column
  gn.shape = {2, 64, 7, 7};
  forward = plan_forward(nvidia, planned(gn), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_vec4);
  gn.num_groups = 8;  // eight channels per group: not the _pair_ twin (a channel per group),
  // the _units_ one (gamma and beta four channels per load, a unit in at most two groups)
  forward = plan_forward(nvidia, planned(gn), {.split = true});
  REQUIRE(forward.ok());
  const Pass& units = pass_of(*forward, K::normalize);
  CHECK(units.vec4_kernel == K::normalize_channel_columns_units_vec4);
  // gamma and beta 16-byte aligned, else the kernel that reads them per channel.
  RoleOffsets offsets{};
  CHECK(pass_for_offsets(units, offsets).kernel == K::normalize_channel_columns_units_vec4);
  offsets[static_cast<size_t>(Role::bias)] = 4;
  CHECK(pass_for_offsets(units, offsets).kernel == K::normalize_channel_columns_vec4);
  gn.shape = {2, 12, 7, 7};  // 6 channels per group in 2 groups: units that cross groups
  gn.num_groups = 2;
  forward = plan_forward(nvidia, planned(gn), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_channel_columns_units_vec4);
  gn.shape = {2, 64, 7, 7};
  // NCHW planes under a workgroup with several channels per group: the channel follows
  // neither the group nor the column.
  gn.layout = Layout::nchw;
  gn.shape = {2, 64, 4, 4};
  forward = plan_forward(nvidia, planned(gn), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_vec4);
  // LayerNorm's short rows: one row per group.
  LayerNormParams ln;
  ln.shape = {512, 64};
  ln.normalized_shape = {64};
  forward = plan_forward(lavapipe, planned(ln), {.split = true});
  REQUIRE(forward.ok());
  CHECK(pass_of(*forward, K::normalize).vec4_kernel == K::normalize_vec4);
}

TEST_CASE("planner: the batch statistics' columns grid takes every unit of every row of every sample once") {
  // The shader's mapping (shaders/batch_norm_apply_columns.glsl, BATCH_STATISTICS), run
  // here: step = lanes / (B * Lu); lane v takes sample v / (step * Lu), and within it column
  // unit v % Lu and rows (v / Lu) % step, + step, .. below O.
  std::vector<Capabilities> devices = real_devices();
  devices.push_back(device("tiny grid (3 x 3 workgroups)", kGpu, 32, 32, true, 32, 256, 3, 3, kNoLimit32));
  struct Shape {
    uint64_t B, O, K, I;
  };
  const std::vector<Shape> shapes = {
      {1, 25088, 64, 1}, {8, 196, 256, 1}, {2, 4096, 32, 10}, {1, 32, 2048, 49}, {3, 5, 4, 1},
      {7, 17, 2, 2},     {1, 1, 4, 1},     {5, 1000, 6, 2},   {2, 9, 4100, 1},   {300, 16, 1, 4},
  };
  size_t grids = 0;
  for (const Capabilities& caps : devices)
    for (const Shape& s : shapes)
      for (uint64_t rows : {0, 1, 8, 16, 64, 5000}) {
        CAPTURE(caps.device_name);
        CAPTURE(s.B);
        CAPTURE(s.O);
        CAPTURE(s.K);
        CAPTURE(s.I);
        CAPTURE(rows);
        const auto v = batch_statistics_columns_variant(caps, s.B, s.O, s.K, s.I, s.I == 1, rows);
        if (!v) continue;
        ++grids;
        const uint64_t Lu = s.K * s.I / 4;
        const uint64_t wg = kernel_workgroup_size(caps, KernelId::normalize_channel_columns_vec4);
        const uint64_t lanes = uint64_t{v->grid.x} * v->grid.y * wg;
        CHECK(v->grid.x <= caps.max_workgroup_count_x);
        CHECK(v->grid.y <= caps.max_workgroup_count_y);
        CHECK(lanes <= (uint64_t{1} << 31));
        REQUIRE(lanes >= s.B * Lu);
        const uint64_t step = lanes / (s.B * Lu);
        std::vector<uint8_t> seen(s.B * s.O * Lu);
        for (uint64_t lane = 0; lane < lanes; ++lane) {
          const uint64_t b = lane / (step * Lu), in_b = lane % (step * Lu);
          if (b >= s.B) continue;
          for (uint64_t o = in_b / Lu; o < s.O; o += step) ++seen[(b * s.O + o) * Lu + in_b % Lu];
        }
        CHECK(std::count(seen.begin(), seen.end(), uint8_t{1}) == static_cast<std::ptrdiff_t>(seen.size()));
        // About `rows` rows per lane (the rules' where 0): at least that many steps.
        const uint64_t want = column_spread_rows(caps, rows);
        CHECK(step >= std::min<uint64_t>((s.O + want - 1) / want, (uint64_t{1} << 30) / (s.B * Lu)));
      }
  CHECK(grids > 200);
}

TEST_CASE("planner: batch_norm_apply_columns' grid takes every unit of every row exactly once") {
  // The shader's mapping (shaders/batch_norm_apply_columns.glsl), run here: lane v of the
  // grid takes column unit v % Lu and rows v / Lu, v / Lu + lanes / Lu, ..
  std::vector<Capabilities> devices = real_devices();
  devices.push_back(device("tiny grid (3 x 3 workgroups)", kGpu, 32, 32, true, 32, 256, 3, 3, kNoLimit32));
  struct Shape {
    uint64_t K, I, R;
  };
  const std::vector<Shape> shapes = {
      {64, 1, 25088},  {256, 1, 1568}, {2048, 49, 32}, {3, 4, 5},  {1, 4, 1},       {5, 4, 7},
      {7, 12, 3},      {2, 6, 1000},   {4100, 1, 9},   {4, 7, 3},  {1, 4 * 1025, 5}, {2, 49, 300},
  };
  size_t grids = 0;
  for (const Capabilities& caps : devices)
    for (const Shape& s : shapes)
      for (uint64_t rows : {0, 1, 8, 16, 64, 5000}) {
        CAPTURE(caps.device_name);
        CAPTURE(s.K);
        CAPTURE(s.I);
        CAPTURE(s.R);
        CAPTURE(rows);
        const uint64_t L = s.K * s.I, Lu = L / 4;
        const auto v = batch_norm_apply_variant(caps, L * s.R, s.K, s.I, rows);
        if (!v || v->planes) continue;
        ++grids;
        const uint64_t wg = kernel_workgroup_size(caps, KernelId::batch_norm_apply_columns_vec4);
        const uint64_t lanes = uint64_t{v->grid.x} * v->grid.y * wg;
        CHECK(v->grid.x <= caps.max_workgroup_count_x);
        CHECK(v->grid.y <= caps.max_workgroup_count_y);
        CHECK(lanes <= (uint64_t{1} << 31));
        // Whole rows, or a lane for every unit.
        CHECK((lanes % Lu == 0 || lanes >= Lu * s.R));
        std::vector<uint8_t> seen(Lu * s.R);
        for (uint64_t lane = 0; lane < lanes && lane < Lu * s.R; ++lane)
          for (uint64_t r = lane / Lu; r < s.R; r += lanes / Lu) ++seen[r * Lu + lane % Lu];
        CHECK(std::count(seen.begin(), seen.end(), uint8_t{1}) == static_cast<std::ptrdiff_t>(seen.size()));
        // About `rows` rows per lane, the rules' where 0: no more lanes than the rows ask for
        // plus a rounding to whole rows.
        const uint64_t want = column_spread_rows(caps, rows);
        if (lanes % Lu == 0 && v->grid.y == 1) CHECK(lanes / Lu >= (s.R + want - 1) / want);
      }
  CHECK(grids > 300);
}

TEST_CASE("planner: grids fold into maxComputeWorkGroupCount, workspaces within maxStorageBufferRange") {
  // BatchNorm (2, 2^24) training: 2^24 channels. Its finalize used to dispatch 65536
  // workgroups of 256 where the limit is 65535.
  BatchNormParams bn;
  bn.shape = {2, int64_t{1} << 24};
  for (const char* name : {"NVIDIA", "AMD", "Intel"}) {
    const Capabilities caps = modeled_device(name);
    for (auto plan : {plan_forward(caps, planned(bn)), plan_backward(caps, planned(bn))}) {
      REQUIRE_MESSAGE(plan.ok(), plan.status().message());
      CHECK(fits(caps, plan.value(), planned(bn)) == "");
    }
  }
  // LayerNorm (2^24, 2) backward used to bind 320 MiB of workspace where the limit is
  // 128 MiB: the team pass stores no group sums that nobody reads, and dgamma/dbeta's
  // partials are small.
  LayerNormParams ln;
  ln.shape = {int64_t{1} << 24, 2};
  ln.normalized_shape = {2};
  const Capabilities adreno = modeled_device("Adreno");
  auto backward = plan_backward(adreno, planned(ln));
  REQUIRE_MESSAGE(backward.ok(), backward.status().message());
  CHECK(backward->workspace.floats == 2 * 1024 * 2);  // dgamma, dbeta of 2 columns in 1024 chunks of rows
  CHECK(fits(adreno, backward.value(), planned(ln)) == "");
  // Without subgroups the split backward needs 5 floats per row (320 MiB, and 16 KiB of
  // dgamma/dbeta partials): refused, naming the limit.
  auto refused = plan_backward(modeled_device("Baseline"), planned(ln));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::unsupported);
  CHECK_MESSAGE(refused.status().message().find("workspace: the backward of this shape needs 335560704 bytes") == 0,
                refused.status().message());
  CHECK(refused.status().message().find("maxStorageBufferRange of 134217728") != std::string::npos);
}

// Every plan the tests below check: on each modeled device, and on one whose grids are at
// most 3 workgroups a dimension (no real device has that, so every pass folds), for every
// case (float16 ones packed in words where the device has no 16-bit storage), both
// directions, with and without forced split passes. `visit(caps, c, forward, split, plan)`
// sees refusals too.
template <class Visit>
void for_each_plan(Visit&& visit) {
  std::vector<Capabilities> devices = real_devices();
  devices.push_back(device("3 workgroups a dimension", kGpu, 32, 32, true, 48, 1024, 3, 3, kNoLimit32));
  for (const Capabilities& caps : devices)
    for (const Case& c : plan_cases()) {
      for (bool forward : {true, false})
        for (bool split : {false, true}) {
          const auto plan =
              forward ? plan_forward(caps, c.plan, {.split = split}) : plan_backward(caps, c.plan, {.split = split});
          visit(caps, c, forward, split, plan);
        }
    }
}

// "<device>, <case> forward|backward[ split]": where a plan came from, for messages.
std::string plan_name(const Capabilities& caps, const Case& c, bool forward, bool split) {
  return caps.device_name + ", " + c.name + (forward ? " forward" : " backward") + (split ? " split" : "");
}

TEST_CASE("planner: every planned dispatch fits every limit of its device") {
  size_t planned = 0, refused = 0;
  for_each_plan([&](const Capabilities& caps, const Case& c, bool forward, bool split, const auto& plan) {
    if (!plan.ok()) {
      // The only refusal: a tensor or workspace beyond one binding.
      CHECK_MESSAGE(plan.status().code() == StatusCode::unsupported, c.name << ": " << plan.status().message());
      CHECK_MESSAGE(plan.status().message().find("maxStorageBufferRange") != std::string::npos,
                    c.name << ": " << plan.status().message());
      ++refused;
      return;
    }
    ++planned;
    const std::string problem = fits(caps, plan.value(), c.plan);
    CHECK_MESSAGE(problem == "", plan_name(caps, c, forward, split) << ": " << problem);
  });
  MESSAGE(planned << " plans checked against their device's limits, " << refused << " refused");
  CHECK(planned > 1000);
}

// float16 without 16-bit storage is planned, not refused: its tensor slots are packed
// halves (the recorder binds them as whole words, the kernels are the f16_packed modules).
TEST_CASE("planner: float16 tensors are packed in words exactly where the device has no 16-bit storage") {
  size_t packed_plans = 0, native_plans = 0;
  for_each_plan([&](const Capabilities& caps, const Case& c, bool forward, bool split, const auto& plan) {
    if (!plan.ok()) return;  // beyond a binding: the limits test checks the refusal
    const bool packed = tensor_storage(c.plan.dtype, caps) == TensorStorage::f16_packed;
    CHECK(packed == (c.plan.dtype == DType::f16 && !caps.storage_buffer_16bit));
    if (c.plan.dtype == DType::f16) ++(packed ? packed_plans : native_plans);
    for (const Pass& pass : plan.value())
      for (const SlotUse& use : pass.slots) {
        if (use.role == Role::none) continue;
        const bool tensor = use.role == Role::x || use.role == Role::y || use.role == Role::dy ||
                            use.role == Role::dx || use.role == Role::residual || use.role == Role::dresidual;
        CHECK_MESSAGE(use.packed == (tensor && packed), plan_name(caps, c, forward, split)
                                                            << ", " << kernel_name(pass.kernel) << ": "
                                                            << to_string(use.role) << " packed " << use.packed);
        CHECK(use.element_bytes == (tensor && c.plan.dtype == DType::f16 ? 2u : 4u));
      }
  });
  MESSAGE(packed_plans << " float16 plans packed in words, " << native_plans << " with 16-bit storage");
  CHECK(packed_plans > 100);
  CHECK(native_plans > 100);
  // A packed tensor's binding reaches the end of its last element's word.
  const SlotUse halves{Role::x, 5, 2, true};
  CHECK(halves.bytes_from(0) == 12);
  CHECK(halves.bytes_from(2) == 10);
  CHECK(SlotUse{Role::x, 5, 2, false}.bytes_from(0) == 10);
}

TEST_CASE("planner: the apply pass offers normalize_vec4 for rows of whole units; offsets decide") {
  const Capabilities lavapipe = modeled_device("lavapipe");
  const PlanOptions split{.split = true};
  auto apply_pass = [&](const ExecutionPlan& plan) {
    for (const Pass& pass : plan)
      if (pass.phase == Phase::apply) return pass;
    FAIL("no apply pass");
    return Pass{};
  };
  LayerNormParams p;
  p.shape = {6, 12};
  p.normalized_shape = {12};
  auto plan = plan_forward(lavapipe, planned(p), split);
  REQUIRE(plan.ok());
  const Pass pass = apply_pass(plan.value());
  CHECK(pass.kernel == KernelId::normalize);
  CHECK(pass.vec4_kernel == KernelId::normalize_vec4);
  RoleOffsets offsets{};
  CHECK(pass_for_offsets(pass, offsets).kernel == KernelId::normalize_vec4);
  offsets[static_cast<size_t>(Role::weight)] = 4;  // not a tensor: no matter
  CHECK(pass_for_offsets(pass, offsets).kernel == KernelId::normalize_vec4);
  for (Role tensor : {Role::x, Role::y}) {
    RoleOffsets off{};
    off[static_cast<size_t>(tensor)] = 4;
    CHECK(pass_for_offsets(pass, off).kernel == KernelId::normalize);
    off[static_cast<size_t>(tensor)] = 32;
    CHECK(pass_for_offsets(pass, off).kernel == KernelId::normalize_vec4);
  }
  // The residual counts once the pass binds it.
  p.epilogue.residual = true;
  plan = plan_forward(lavapipe, planned(p), split);
  REQUIRE(plan.ok());
  offsets = {};
  offsets[static_cast<size_t>(Role::residual)] = 20;
  CHECK(pass_for_offsets(apply_pass(plan.value()), offsets).kernel == KernelId::normalize);
  // float16: 4 elements are 8 bytes.
  p.dtype = DType::f16;
  plan = plan_forward(lavapipe, planned(p), split);
  REQUIRE(plan.ok());
  offsets[static_cast<size_t>(Role::residual)] = 24;
  CHECK(pass_for_offsets(apply_pass(plan.value()), offsets).kernel == KernelId::normalize_vec4);
  // The team forward of whole-unit rows with a weight reads gamma and beta as units too:
  // they must be 16-byte aligned as well. Without a bias the weight stands in for it.
  const PlanOptions team{.choice = {OnChipKernel::team}};
  for (bool bias : {true, false}) {
    CAPTURE(bias);
    LayerNormParams ln;
    ln.shape = {6, 12};
    ln.normalized_shape = {12};
    ln.bias = bias;
    auto team_plan = plan_forward(lavapipe, planned(ln), team);
    REQUIRE(team_plan.ok());
    REQUIRE(team_plan->pass_count == 1);
    const Pass& t = team_plan->passes[0];
    CHECK(t.kernel == KernelId::team_forward);
    // Without a bias, the variant that reads none (and the pass binds none); on lavapipe
    // their blocks of rows.
    const KernelId variant =
        bias ? KernelId::team_forward_affine_blocks_vec4 : KernelId::team_forward_weight_blocks_vec4;
    CHECK(t.vec4_kernel == variant);
    CHECK(t.slots[kSlotBias].role == (bias ? Role::bias : Role::none));
    RoleOffsets aligned{};
    aligned[static_cast<size_t>(Role::weight)] = 32;
    aligned[static_cast<size_t>(Role::bias)] = 48;
    CHECK(pass_for_offsets(t, aligned).kernel == variant);
    for (Role param : {Role::weight, Role::bias}) {
      RoleOffsets off = aligned;
      off[static_cast<size_t>(param)] += 4;
      // A misaligned bias matters only where the pass binds one.
      const bool bound = param == Role::weight || bias;
      CHECK(pass_for_offsets(t, off).kernel == (bound ? KernelId::team_forward : variant));
    }
  }
  // Without a weight, the plain team_forward_vec4.
  LayerNormParams plain;
  plain.shape = {6, 12};
  plain.normalized_shape = {12};
  plain.elementwise_affine = plain.bias = false;
  auto plain_plan = plan_forward(lavapipe, planned(plain), team);
  REQUIRE(plain_plan.ok());
  CHECK(plain_plan->passes[0].vec4_kernel == KernelId::team_forward_vec4);
  // The team backward: gamma in units with a weight (aligned, else team_backward), none
  // without one, once per group where gamma is constant in a group (BatchNorm), once per
  // plane over GroupNorm NCHW's planes of whole units (their sums are dgamma / dbeta's
  // partials), none over planes that are not.
  auto team_backward_pass = [&](const auto& params) {
    auto planned_backward = plan_backward(lavapipe, planned(params), team);
    REQUIRE(planned_backward.ok());
    REQUIRE(planned_backward->passes[0].kernel == KernelId::team_backward);
    return planned_backward->passes[0];
  };
  LayerNormParams weighted;
  weighted.shape = {6, 12};
  weighted.normalized_shape = {12};
  const Pass affine_backward = team_backward_pass(weighted);
  CHECK(affine_backward.vec4_kernel == KernelId::team_backward_affine_blocks_vec4);
  RoleOffsets params_at{};
  CHECK(pass_for_offsets(affine_backward, params_at).kernel == KernelId::team_backward_affine_blocks_vec4);
  params_at[static_cast<size_t>(Role::weight)] = 4;
  CHECK(pass_for_offsets(affine_backward, params_at).kernel == KernelId::team_backward);
  CHECK(team_backward_pass(plain).vec4_kernel == KernelId::count_);
  BatchNormParams bn_team;
  bn_team.shape = {2, 3, 32, 32};
  CHECK(team_backward_pass(bn_team).vec4_kernel == KernelId::team_backward_channel_vec4);
  GroupNormParams gn_planes;
  gn_planes.shape = {4, 64, 8, 8};
  gn_planes.num_groups = 32;
  CHECK(team_backward_pass(gn_planes).vec4_kernel == KernelId::team_backward_planes_vec4);
  auto gn_forward = plan_forward(lavapipe, planned(gn_planes), team);
  REQUIRE(gn_forward.ok());
  CHECK(gn_forward->passes[0].vec4_kernel == KernelId::team_forward_planes_vec4);
  GroupNormParams gn_odd_planes = gn_planes;
  gn_odd_planes.shape = {4, 64, 2, 3};  // planes of 6, groups of 12: units would span two planes
  CHECK(team_backward_pass(gn_odd_planes).vec4_kernel == KernelId::count_);
  gn_forward = plan_forward(lavapipe, planned(gn_odd_planes), team);
  REQUIRE(gn_forward.ok());
  CHECK(gn_forward->passes[0].vec4_kernel == KernelId::team_forward_vec4);
  // dgamma / dbeta over adjacent channels (Ip == 1) take 4 channels per invocation where
  // rows are whole units, on a grid of units; GroupNorm NCHW's channels are planes apart.
  // Without the column view: through it, GroupNorm NHWC's grad_partial stores these partials
  // itself (the next test case).
  const PlanOptions walk{.split = true, .choice = {OnChipKernel::split, 0, ColumnView::off}};
  auto param_partial_pass = [&](const auto& params) {
    auto planned_backward = plan_backward(lavapipe, planned(params), walk);
    REQUIRE(planned_backward.ok());
    for (const Pass& pass : planned_backward.value())
      if (pass.kernel == KernelId::param_partial || pass.kernel == KernelId::param_partial_planes) return pass;
    FAIL("no param_partial pass");
    return Pass{};
  };
  const Pass ln_params = param_partial_pass(weighted);
  CHECK(ln_params.vec4_kernel == KernelId::param_partial_vec4);
  CHECK(ln_params.vec4_grid_x == ln_params.grid_x);
  CHECK(ln_params.vec4_grid_y == 1);  // 3 units, one workgroup
  CHECK(pass_for_offsets(ln_params, RoleOffsets{}).kernel == KernelId::param_partial_vec4);
  for (Role tensor : {Role::x, Role::dy}) {
    RoleOffsets off{};
    off[static_cast<size_t>(tensor)] = 4;
    CHECK(pass_for_offsets(ln_params, off).kernel == KernelId::param_partial);
  }
  GroupNormParams gn_nhwc;
  gn_nhwc.shape = {2, 64, 4, 4};
  gn_nhwc.num_groups = 16;  // 4 channels per group: whole units
  gn_nhwc.layout = Layout::nhwc;
  CHECK(param_partial_pass(gn_nhwc).vec4_kernel == KernelId::param_partial_vec4);
  gn_nhwc.num_groups = 32;  // 2 channels per group: a unit spans two groups
  CHECK(param_partial_pass(gn_nhwc).vec4_kernel == KernelId::param_partial_vec4);
  gn_nhwc.shape = {2, 62, 4, 4};
  gn_nhwc.num_groups = 31;  // rows of 62 channels: not whole units
  CHECK(param_partial_pass(gn_nhwc).vec4_kernel == KernelId::count_);
  CHECK(param_partial_pass(gn_nhwc).kernel == KernelId::param_partial);
  // Channels planes apart: a workgroup's reduction per (chunk, channel), in a kernel of its
  // own (a barrier in param_partial would slow it on SwiftShader, also where unreached).
  CHECK(param_partial_pass(gn_planes).kernel == KernelId::param_partial_planes);
  CHECK(param_partial_pass(gn_planes).shared_bytes > 0);
  CHECK(param_partial_pass(weighted).shared_bytes == 0);
  CHECK(param_partial_pass(gn_planes).vec4_kernel == KernelId::count_);
  // Rows of 13: no vec4 variant at any offset.
  p.shape = {6, 13};
  p.normalized_shape = {13};
  plan = plan_forward(lavapipe, planned(p), split);
  REQUIRE(plan.ok());
  CHECK(apply_pass(plan.value()).vec4_kernel == KernelId::count_);
}

TEST_CASE("planner: a split backward through the column view stores dgamma / dbeta's partials in grad_partial") {
  const PlanOptions split{.split = true};
  const PlanOptions walk{.split = true, .choice = {OnChipKernel::split, 0, ColumnView::off}};
  auto has = [](const ExecutionPlan& plan, KernelId kernel) {
    for (const Pass& pass : plan)
      if (pass.kernel == kernel) return true;
    return false;
  };
  auto grad_partial_flags = [](const ExecutionPlan& plan) {
    for (const Pass& pass : plan)
      if (pass.kernel == KernelId::grad_partial) return pass.push.flags;
    FAIL("no grad_partial pass");
    return 0u;
  };
  GroupNormParams gn;
  gn.shape = {2, 64, 6, 6};
  gn.num_groups = 16;  // 4 channels per group
  gn.layout = Layout::nhwc;
  for (const char* model : {"lavapipe", "NVIDIA", "Baseline"}) {
    CAPTURE(model);
    const Capabilities caps = modeled_device(model);
    auto plan = plan_backward(caps, planned(gn), split);
    REQUIRE(plan.ok());
    CHECK((grad_partial_flags(*plan) & kFlagColumns) != 0);
    CHECK((grad_partial_flags(*plan) & kFlagColumnParams) != 0);
    CHECK_FALSE(has(*plan, KernelId::param_partial));
    CHECK(plan->passes[plan->pass_count - 1].kernel == KernelId::param_finalize);
    // A partial per (b, chunk, phase): the group's records over its 4 columns, per sample.
    REQUIRE(plan->chunks % 4 == 0);
    CHECK(plan->pchunks == 2 * plan->chunks / 4);
    CHECK(plan->workspace.param_floats == 64 * plan->pchunks * kSumsRecordFloats);
    // Along the group's elements: param_partial reads x and dy again.
    auto walked = plan_backward(caps, planned(gn), walk);
    REQUIRE(walked.ok());
    CHECK((grad_partial_flags(*walked) & kFlagColumnParams) == 0);
    CHECK(has(*walked, KernelId::param_partial));
    // No weight or bias: no parameter partials at all.
    GroupNormParams plain = gn;
    plain.affine = false;
    auto unweighted = plan_backward(caps, planned(plain), split);
    REQUIRE(unweighted.ok());
    CHECK((grad_partial_flags(*unweighted) & kFlagColumnParams) == 0);
    CHECK_FALSE(has(*unweighted, KernelId::param_finalize));
    // gamma constant in a group (BatchNorm): grad_finalize computes dgamma / dbeta.
    BatchNormParams bn;
    bn.shape = {8, 64, 6, 6};
    bn.layout = Layout::nhwc;
    auto batch = plan_backward(caps, planned(bn), split);
    REQUIRE(batch.ok());
    CHECK((grad_partial_flags(*batch) & kFlagColumns) != 0);
    CHECK((grad_partial_flags(*batch) & kFlagColumnParams) == 0);
  }
  // A GPU's short chunks over a large batch: more partials than a split makes (1024), so
  // param_partial reads x and dy again rather than param_finalize adding them all.
  GroupNormParams large = gn;
  large.shape = {8, 320, 64, 64};
  large.num_groups = 32;
  auto many = plan_backward(modeled_device("NVIDIA"), planned(large), split);
  REQUIRE(many.ok());
  CHECK((grad_partial_flags(*many) & kFlagColumnParams) == 0);
  CHECK(has(*many, KernelId::param_partial));
  CHECK(many->pchunks <= 1024);
  auto few = plan_backward(modeled_device("lavapipe"), planned(large), split);
  REQUIRE(few.ok());
  CHECK((grad_partial_flags(*few) & kFlagColumnParams) != 0);
  CHECK(few->pchunks <= 1024);
}

TEST_CASE("planner: each <name>[_<how>]_vec4 kernel is a variant of <name>, with its workgroup size, runs where <name> runs") {
  const Capabilities lavapipe = modeled_device("lavapipe");
  size_t variants = 0;
  for (uint32_t i = 0; i < static_cast<uint32_t>(KernelId::count_); ++i) {
    const KernelId id = static_cast<KernelId>(i);
    const std::string name = kernel_name(id);
    CAPTURE(name);
    const bool vec4 = name.size() > 5 && name.substr(name.size() - 5) == "_vec4";
    CHECK((base_kernel(id) != id) == vec4);
    if (!vec4) continue;
    ++variants;
    // <name>_vec4, or <name>_<how>_vec4 where a kernel has more than one.
    const std::string base = kernel_name(base_kernel(id));
    CHECK(name.substr(0, base.size()) == base);
    CHECK(kernel_workgroup_size(lavapipe, id) == kernel_workgroup_size(lavapipe, base_kernel(id)));
    // It needs subgroup operations only where its base does, so it runs wherever its base runs.
    CHECK((!has_subgroup_variant(id) || has_subgroup_variant(base_kernel(id))));
  }
  CHECK(variants == 39);
}

TEST_CASE("planner: a kind's candidate kernels are exactly those its plans use, on every device") {
  // What Context::prepare_kernels(request) creates must cover every plan the record call
  // can make (or recording would create a pipeline after preparation), and should hold
  // nothing no plan uses (or preparation would create pipelines for nothing).
  std::map<std::pair<Norm, bool>, std::set<KernelId>> used;
  size_t plans = 0;
  for_each_plan([&](const Capabilities& caps, const Case& c, bool forward, bool split, const auto& plan) {
    if (!plan.ok()) return;  // refused for a binding limit: the previous test checks why
    ++plans;
    const std::vector<KernelId> candidates = candidate_kernels(c.kind, forward ? Direction::forward : Direction::backward);
    for (const Pass& pass : plan.value())
      // The recorder may run any of these: the vec4 variant's per-channel fallback where only
      // the per-channel buffers are not aligned, a _wide_ one's 4-element twin where the
      // tensors are not 16-byte aligned (pass_for_offsets).
      for (KernelId id : {pass.kernel, pass.vec4_kernel, without_channel_units(pass.vec4_kernel),
                          without_wide_units(pass.vec4_kernel)}) {
        if (id == KernelId::count_) continue;  // no vec4 variant
        used[std::make_pair(c.kind, forward)].insert(id);
        CHECK_MESSAGE(std::find(candidates.begin(), candidates.end(), id) != candidates.end(),
                      plan_name(caps, c, forward, split) << ": " << kernel_name(id)
                                                         << " is not among the candidates " << names(candidates));
      }
  });
  CHECK(plans > 1000);
  for (const KindInfo& kind : kNormKinds)
    for (bool forward : {true, false}) {
      CAPTURE(kind.name);
      CAPTURE(forward);
      const std::vector<KernelId> candidates =
          candidate_kernels(kind.id, forward ? Direction::forward : Direction::backward);
      const std::set<KernelId> distinct(candidates.begin(), candidates.end());
      std::set<KernelId> in_plans = used[std::make_pair(kind.id, forward)];
      // record_batch_norm_inference_apply's planes kernel: a BatchNorm forward call outside
      // the plans (its other kernels are the CPU devices' eval forward's too).
      if (kind.id == Norm::batch_norm && forward) in_plans.insert(KernelId::batch_norm_apply_cached_vec4);
      CHECK(distinct.size() == candidates.size());
      CHECK_MESSAGE(distinct == in_plans, "candidates " << names(candidates) << "; used by some plan: "
                                                        << names(std::vector<KernelId>(in_plans.begin(), in_plans.end())));
      // Only the norms' own kernels: the bench's reference passes (copy, scale_shift) are
      // pipelines of the bench, outside KernelId, and no candidate names one.
      for (KernelId id : candidates) {
        CHECK(id < KernelId::count_);
        CHECK(std::string(kernel_name(id)) != "copy");
        CHECK(std::string(kernel_name(id)) != "scale_shift");
      }
    }
  // A forward needs none of the backward's kernels, and the kinds whose gamma is constant
  // in a group (BatchNorm, InstanceNorm) none of dgamma / dbeta's own passes.
  // (Any device's: LayerNorm's team variants with gamma in units come with and without blocks.)
  CHECK(candidate_kernels(Norm::layer_norm, Direction::forward).size() == 13);
  CHECK(candidate_kernels(Norm::batch_norm, Direction::backward).size() == 8);
  CHECK(candidate_kernels(Norm::layer_norm, Direction::backward).size() == 12);
  const Capabilities nvidia = modeled_device("NVIDIA");
  CHECK(candidate_kernels(Norm::layer_norm, Direction::forward, &nvidia).size() == 11);
  CHECK(candidate_kernels(Norm::layer_norm, Direction::backward, &nvidia).size() == 10);
  CHECK(candidate_kernels(static_cast<Norm>(99), Direction::forward).empty());
}

// Each kernel's descriptor set layout holds the slots its SPIR-V uses (reflected when
// its pipeline is made), and the recorder writes those only (a pass's other slots name
// buffers of the call that this kernel does not touch). Every one of them the pass leaves
// unbound (its flags keep the kernel away from it) must have a stand-in, a bound slot the
// kernel accesses the same way, since each binding of a layout needs a valid descriptor.
TEST_CASE("planner: each slot a pass's kernel uses is bound or has a stand-in") {
  size_t passes = 0, stand_ins = 0;
  for_each_plan([&](const Capabilities& caps, const Case& c, bool forward, bool split, const auto& plan) {
    if (!plan.ok()) return;  // beyond a binding: the limits test checks the refusal
    for (const Pass& pass : plan.value()) {
      auto masks = kernel_slot_masks(pass.kernel, caps.reduction_path == ReductionPath::subgroup,
                                     tensor_storage(c.plan.dtype, caps));
      REQUIRE_MESSAGE(masks.ok(), masks.status().message());
      uint32_t bound = 0;
      for (uint32_t slot = 0; slot < kSlotCount; ++slot)
        if (pass.slots[slot].role != Role::none) bound |= 1u << slot;
      for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
        if (!(masks->used & (1u << slot)) || (bound & (1u << slot))) continue;
        ++stand_ins;
        CHECK_MESSAGE(stand_in_slot(slot, masks->used, masks->written, bound) >= 0,
                      plan_name(caps, c, forward, split) << ", " << kernel_name(pass.kernel) << ": slot " << slot
                                                         << " is used, unbound, and has no stand-in");
      }
      ++passes;
    }
  });
  MESSAGE(passes << " passes checked, " << stand_ins << " unbound slots given a stand-in");
  CHECK(passes > 1000);
  CHECK(stand_ins > 0);  // plans do leave used slots unbound: the stand-in is needed
}

// The reflection itself, against slots read off the shaders by hand: normalize reads x,
// weight, bias, mean, stat and the residual (side) and writes y (out); stats_finalize
// reads the workspace's records and writes the statistics and the running statistics
// (aux0, aux1, which it also reads).
TEST_CASE("kernel slot reflection: normalize and stats_finalize use exactly the slots their shaders name") {
  const uint32_t normalize_used = 1u << kSlotX | 1u << kSlotOut | 1u << kSlotWeight | 1u << kSlotBias |
                                  1u << kSlotMean | 1u << kSlotStat | 1u << kSlotSide;
  for (TensorStorage storage : {TensorStorage::f32, TensorStorage::f16, TensorStorage::f16_packed}) {
    for (bool subgroup : {false, true}) {
      auto n = kernel_slot_masks(KernelId::normalize, subgroup, storage);
      REQUIRE(n.ok());
      CHECK(n->used == normalize_used);
      CHECK(n->written == (1u << kSlotOut));
    }
  }
  const uint32_t finalize_written = 1u << kSlotMean | 1u << kSlotStat | 1u << kSlotAux0 | 1u << kSlotAux1;
  for (TensorStorage storage : {TensorStorage::f32, TensorStorage::f16, TensorStorage::f16_packed}) {
    auto f = kernel_slot_masks(KernelId::stats_finalize, false, storage);
    REQUIRE(f.ok());
    CHECK(f->used == (finalize_written | 1u << kSlotWork));
    CHECK(f->written == finalize_written);
  }
  CHECK(stand_in_slot(kSlotWeight, normalize_used, 1u << kSlotOut, 1u << kSlotX | 1u << kSlotOut) == kSlotX);
  CHECK(stand_in_slot(kSlotWeight, normalize_used, 1u << kSlotOut, 1u << kSlotOut) == -1);
  CHECK(stand_in_slot(kSlotDy, normalize_used, 1u << kSlotOut, 1u << kSlotX) == -1);  // not used: no stand-in
}

}  // namespace vknorm::test

namespace vknorm::test {

TEST_CASE("planner: SyncBatchNorm's merged plans read one merged record per channel and count the whole batch") {
  // Shards of an (N, 6, 3, 5) batch of 8 samples, the empty one included, on every device.
  for (const Capabilities& caps : real_devices()) {
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{5}}) {
      for (Layout layout : {Layout::nchw, Layout::nhwc}) {
        CAPTURE(caps.device_name);
        CAPTURE(n);
        BatchNormParams bn;
        bn.shape = {n == 1 ? 2 : n, 6, 3, 5};  // the shard of 1 sample: planned as 2, then set back
        bn.layout = layout;
        NormPlan p = planned(bn);
        if (n == 1) {
          p.geometry.outer = 1;
          p.geometry.group_size = 15;
          p.geometry.elements = 90;
          if (layout == Layout::nhwc) p.O = 15;
          else p.O = 1;
        }
        const uint64_t whole = 8 * 15;  // values per channel over all shards
        const PlanOptions merged{.split = true, .merged = true, .merged_count = whole};
        auto forward = plan_forward(caps, p, merged);
        REQUIRE_MESSAGE(forward.ok(), forward.status().message());
        if (n == 0) CHECK_PASSES(forward, K::stats_finalize);
        else CHECK_PASSES(forward, K::stats_finalize, K::normalize);
        CHECK(forward->workspace.stats_floats == 6 * 3 + 6);
        const PushConstants& fin = forward->passes[0].push;
        CHECK(fin.chunks == 1);
        CHECK(uint64_t{fin.O} * fin.I == whole);
        if (n > 0) CHECK(uint64_t{forward->passes[1].push.O} * forward->passes[1].push.I == p.geometry.group_size);
        CHECK(fits(caps, forward.value(), p, whole) == "");

        auto backward = plan_backward(caps, p, merged);
        REQUIRE_MESSAGE(backward.ok(), backward.status().message());
        if (n == 0) CHECK_PASSES(backward, K::grad_finalize);
        else CHECK_PASSES(backward, K::grad_finalize, K::grad_input);
        const PushConstants& gf = backward->passes[0].push;
        CHECK(gf.chunks == 2);
        CHECK((gf.flags & kFlagMergedSums) != 0);
        CHECK(uint64_t{gf.O} * gf.I == whole);
        CHECK(backward->workspace.grad_floats == 6 * 2 * 2);
        if (n > 0) CHECK((backward->passes[1].push.flags & kFlagMergedSums) == 0);
        CHECK(fits(caps, backward.value(), p, whole) == "");
      }
    }
  }
}

}  // namespace vknorm::test

namespace vknorm::test {
// The modeled devices, for the tuning tests (tuning_test.cpp).
std::vector<Capabilities> modeled_devices() { return real_devices(); }

Capabilities modeled_device(const char* prefix) {
  for (const Capabilities& c : real_devices())
    if (c.device_name.rfind(prefix, 0) == 0) return c;
  FAIL("no device " << prefix);
  return {};
}
}  // namespace vknorm::test
