// Tuning without a device: every candidate strategy is a valid plan that does what it
// was chosen for, a choice that cannot run falls back to the planner's rules, and the
// tuning cache's bytes load only on the device they were measured on.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ops/batchnorm_apply.hpp"
#include "ops/tuning.hpp"
#include "planner_support.hpp"

namespace vknorm::test {
namespace {

Result<ExecutionPlan> plan_for(const Capabilities& caps, const NormPlan& p, Direction d, const StrategyChoice& c) {
  PlanOptions options;
  options.choice = c;
  return d == Direction::forward ? plan_forward(caps, p, options) : plan_backward(caps, p, options);
}

}  // namespace

TEST_CASE("tuning: every candidate is a valid plan that runs what it was chosen for") {
  size_t checked = 0, with_choice = 0;
  for (const Capabilities& caps : modeled_devices())
    for (const Case& c : plan_cases())
      for (Direction d : {Direction::forward, Direction::backward}) {
        const auto rule = plan_for(caps, c.plan, d, {});
        if (!rule) continue;  // refused (beyond a binding) whatever the strategy
        const std::vector<StrategyChoice> choices = candidate_choices(caps, c.plan, d);
        REQUIRE(!choices.empty());
        if (choices.size() > 1) ++with_choice;
        // The eval forward (the running statistics' apply) chunks nothing: its choices are
        // the apply's rows per invocation, the same kernels on another grid, and where the
        // coefficients come from: the rules' passes, or batch_norm_coefficients added or
        // taken out before the same apply's cached or from-statistics twin.
        const bool eval = d == Direction::forward && !c.plan.geometry.uses_batch_stats;
        auto without_coefficients = [](const ExecutionPlan& plan) {
          std::vector<KernelId> k;
          for (const Pass& pass : plan)
            if (pass.kernel != KernelId::batch_norm_coefficients) k.push_back(pass.kernel);
          return k;
        };
        if (eval)
          for (const StrategyChoice& choice : choices) {
            CHECK(choice == StrategyChoice{.rows_per_invocation = choice.rows_per_invocation,
                                           .coefficients = choice.coefficients});
            CHECK((choice.rows_per_invocation == 0 || choice.coefficients == EvalCoefficients::automatic));
            const auto plan = plan_for(caps, c.plan, d, choice);
            REQUIRE(plan.ok());
            CHECK(without_coefficients(plan.value()) == without_coefficients(rule.value()));
            if (choice.coefficients == EvalCoefficients::automatic) {
              REQUIRE(plan->pass_count == rule->pass_count);
              for (uint32_t i = 0; i < plan->pass_count; ++i)
                CHECK(plan->passes[i].vec4_kernel == rule->passes[i].vec4_kernel);
            } else {
              CHECK(runs_kernel(plan.value(), KernelId::batch_norm_coefficients) ==
                    (choice.coefficients == EvalCoefficients::first));
              CHECK(runs_kernel(rule.value(), KernelId::batch_norm_coefficients) ==
                    (choice.coefficients == EvalCoefficients::in_apply));
            }
          }
        bool default_listed = choices.size() == 1;
        std::vector<ExecutionPlan> seen;
        for (const StrategyChoice& choice : choices) {
          CAPTURE(caps.device_name);
          CAPTURE(c.name);
          CAPTURE(d == Direction::forward ? "forward" : "backward");
          CAPTURE(to_string(choice));
          const auto plan = plan_for(caps, c.plan, d, choice);
          default_listed = default_listed || (plan && same_work(plan.value(), rule.value()));
          // A larger workspace may pass the binding limit: refused, never planned past it.
          if (!plan) {
            CHECK(plan.status().message().find("maxStorageBufferRange") != std::string::npos);
            continue;
          }
          ++checked;
          const std::string problem = fits(caps, plan.value(), c.plan);
          CHECK_MESSAGE(problem == "", problem);
          const KernelId team = d == Direction::forward ? KernelId::team_forward : KernelId::team_backward;
          if (choice.kernel == OnChipKernel::team) CHECK(runs_kernel(plan.value(), team));
          if (choice.kernel == OnChipKernel::fused) CHECK(runs_kernel(plan.value(), KernelId::fused_forward));
          if (choice.kernel == OnChipKernel::split) {
            CHECK(!runs_kernel(plan.value(), team));
            CHECK(!runs_kernel(plan.value(), KernelId::fused_forward));
          }
          for (const ExecutionPlan& s : seen) CHECK(!same_work(s, plan.value()));  // no two plan the same work
          seen.push_back(plan.value());
        }
        CHECK_MESSAGE(default_listed, caps.device_name << ", " << c.name << ": the rules' plan is not a candidate");
      }
  MESSAGE(checked << " candidate plans checked, " << with_choice << " calls with a choice");
  CHECK(with_choice > 1000);
}

TEST_CASE("tuning: a choice that cannot run falls back to the rules") {
  const Capabilities lavapipe = modeled_device("lavapipe");
  Capabilities no_subgroups = lavapipe;
  no_subgroups.subgroup_arithmetic = false;
  no_subgroups.reduction_path = ReductionPath::shared_memory;
  LayerNormParams ln;
  ln.shape = {4096, 1024};
  ln.normalized_shape = {1024};
  const NormPlan rows = plan_norm(ln).value();
  LayerNormParams wide = ln;
  wide.shape = {4, 1 << 20};
  wide.normalized_shape = {1 << 20};
  const NormPlan wide_rows = plan_norm(wide).value();
  BatchNormParams eval;
  eval.shape = {8, 64, 56, 56};
  eval.training = false;
  const NormPlan eval_plan = plan_norm(eval).value();
  BatchNormParams many_channels;
  many_channels.shape = {2, 1 << 24};
  many_channels.track_running_stats = false;  // their update would need a record per channel
  const NormPlan tiny_groups = plan_norm(many_channels).value();
  REQUIRE(!plan_forward(lavapipe, tiny_groups, PlanOptions{.split = true}).ok());  // the case is what it says
  struct Fallback {
    std::string what;
    const Capabilities& caps;
    const NormPlan& plan;
    Direction direction;
    StrategyChoice choice;
  };
  const Fallback fallbacks[] = {
      {"team without subgroup arithmetic", no_subgroups, rows, Direction::forward, {OnChipKernel::team}},
      {"team over a group past the team limit", lavapipe, wide_rows, Direction::forward, {OnChipKernel::team}},
      {"fused over a group past the registers", lavapipe, wide_rows, Direction::forward, {OnChipKernel::fused}},
      {"fused in a backward", lavapipe, rows, Direction::backward, {OnChipKernel::fused}},
      {"team with running statistics", lavapipe, eval_plan, Direction::forward, {OnChipKernel::team}},
      {"the column view where rows have no columns", lavapipe, rows, Direction::backward,
       {OnChipKernel::automatic, 0, ColumnView::on}},
      // 2^24 channels of 2 values: the rules need no workspace, the split passes 4 floats a
      // channel (256 MiB, past lavapipe's 128 MiB binding): tuning must not refuse the call.
      {"split whose workspace exceeds one binding", lavapipe, tiny_groups, Direction::forward,
       {OnChipKernel::split, 8}},
  };
  for (const Fallback& f : fallbacks) {
    CAPTURE(f.what);
    const auto rule = plan_for(f.caps, f.plan, f.direction, {});
    const auto chosen = plan_for(f.caps, f.plan, f.direction, f.choice);
    REQUIRE(rule.ok());
    REQUIRE_MESSAGE(chosen.ok(), chosen.status().message());
    CHECK(same_work(chosen.value(), rule.value()));
    PlanOptions options;
    options.choice = f.choice;
    CHECK(plan_workspace_bytes(f.caps, f.plan, options).value() == plan_workspace_bytes(f.caps, f.plan).value());
  }
  // And a valid choice does change the plan: the split passes where the rule takes a team.
  const auto split = plan_for(lavapipe, rows, Direction::forward, {OnChipKernel::split});
  REQUIRE(split.ok());
  CHECK(runs_kernel(plan_for(lavapipe, rows, Direction::forward, {}).value(), KernelId::team_forward));
  CHECK(runs_kernel(split.value(), KernelId::stats_partial));
  // PlanOptions::split wins over a chosen team.
  PlanOptions forced;
  forced.split = true;
  forced.choice = {OnChipKernel::team};
  CHECK(runs_kernel(plan_forward(lavapipe, rows, forced).value(), KernelId::stats_partial));
}

TEST_CASE("tuning: eval's candidates are the apply's blocks of rows, and the key tells eval from training") {
  const Capabilities lavapipe = modeled_device("lavapipe"), nvidia = modeled_device("NVIDIA");
  BatchNormParams bn;
  bn.shape = {32, 2048, 7, 7};
  bn.layout = Layout::nhwc;
  bn.training = false;
  const NormPlan eval = plan_norm(bn).value();
  // Rows of 512 units, 1568 of them: a lane per column unit, the grid's lanes whole rows,
  // each lane walking about `rows` of them: 8 by lavapipe's rule and a GPU's (16 by
  // SwiftShader's); the candidates add the others. The _wide_ units (8 elements per lane)
  // run on the 4-element grid for twice the rows: a step of ceil(1568 / (2 * rows)) rows
  // of 4-element units. (On lavapipe the coefficients first: eval_coefficients_first.)
  auto step_rows = [&](const Capabilities& caps, uint32_t rows) {
    const auto plan = plan_for(caps, eval, Direction::forward, {.rows_per_invocation = rows});
    REQUIRE(plan.ok());
    const bool first = eval_coefficients_first(caps);
    REQUIRE(plan->pass_count == (first ? 2u : 1u));
    const Pass& apply = plan->passes[plan->pass_count - 1];
    const KernelId units = first ? KernelId::batch_norm_apply_columns_units_cached_wide_vec4
                                 : KernelId::batch_norm_apply_columns_units_wide_vec4;
    REQUIRE(apply.vec4_kernel == units);
    CHECK(apply.vec4_grid_y == 1);
    const uint64_t lanes = uint64_t{apply.vec4_grid_x} * kernel_workgroup_size(caps, units);
    CHECK(lanes % 512 == 0);
    return lanes / 512;
  };
  CHECK(step_rows(lavapipe, 0) == 1568 / 16);
  CHECK(step_rows(nvidia, 0) == 1568 / 16);
  for (uint32_t rows : {8u, 16u, 32u, 64u}) {
    CAPTURE(rows);
    CHECK(step_rows(lavapipe, rows) == (1568 + 2 * rows - 1) / (2 * rows));
    CHECK(step_rows(nvidia, rows) == (1568 + 2 * rows - 1) / (2 * rows));
  }
  std::vector<uint32_t> listed;
  std::vector<EvalCoefficients> coefficients;
  for (const StrategyChoice& c : candidate_choices(lavapipe, eval, Direction::forward)) {
    listed.push_back(c.rows_per_invocation);
    coefficients.push_back(c.coefficients);
  }
  // 8 rows is the rule's, and so are the coefficients first on lavapipe: the one other
  // choice, the coefficients in the apply; on a GPU the reverse.
  using EC = EvalCoefficients;
  CHECK(listed == std::vector<uint32_t>{0, 16, 32, 64, 0});
  CHECK(coefficients == std::vector<EC>{EC::automatic, EC::automatic, EC::automatic, EC::automatic, EC::in_apply});
  CHECK(candidate_choices(nvidia, eval, Direction::forward).back() == StrategyChoice{.coefficients = EC::first});
  // Either way on either device: the choice, not the device, decides.
  for (const Capabilities* caps : {&lavapipe, &nvidia})
    for (EC c : {EC::first, EC::in_apply}) {
      const auto plan = plan_for(*caps, eval, Direction::forward, {.coefficients = c});
      REQUIRE(plan.ok());
      const bool first = c == EC::first;
      REQUIRE(plan->pass_count == (first ? 2u : 1u));
      CHECK(runs_kernel(plan.value(), KernelId::batch_norm_coefficients) == first);
      CHECK(plan->passes[plan->pass_count - 1].vec4_kernel ==
            (first ? KernelId::batch_norm_apply_columns_units_cached_wide_vec4
                   : KernelId::batch_norm_apply_columns_units_wide_vec4));
      CHECK(plan->workspace.floats == (first ? 2u * 2048 : 0u));
    }
  // The same rows walk the training forward's apply where a choice sets them, and tuning
  // offers them there too.
  bn.training = true;
  const NormPlan train = plan_norm(bn).value();
  auto apply_step_rows = [&](uint32_t rows) -> uint64_t {
    const auto plan = plan_for(lavapipe, train, Direction::forward, {.rows_per_invocation = rows});
    REQUIRE(plan.ok());
    for (const Pass& pass : plan.value())
      if (pass.kernel == KernelId::normalize) {
        CHECK(pass.vec4_kernel == KernelId::normalize_channel_columns_stats_units_wide_vec4);
        return uint64_t{pass.vec4_grid_x} * pass.vec4_grid_y *
               kernel_workgroup_size(lavapipe, KernelId::normalize_channel_columns_stats_units_wide_vec4) / 512;
      }
    FAIL("no normalize pass");
    return 0;
  };
  // (The _wide_ units: the 4-element grid for twice the rows.)
  CHECK(apply_step_rows(64) == 1568 / 128 + 1);
  CHECK(apply_step_rows(0) == 1568 / 16);
  std::vector<uint32_t> train_rows;
  for (const StrategyChoice& c : candidate_choices(lavapipe, train, Direction::forward))
    if (c.rows_per_invocation) train_rows.push_back(c.rows_per_invocation);
  // The rows other than the rules' 8 at least (8 itself where no other proposal's plan is
  // the rules').
  for (uint32_t rows : {16u, 32u, 64u})
    CHECK(std::find(train_rows.begin(), train_rows.end(), rows) != train_rows.end());
  CHECK(tuning_key(train, Direction::forward) != tuning_key(eval, Direction::forward));
  CHECK(tuning_key(train, Direction::forward).batch_stats);
  CHECK_FALSE(tuning_key(eval, Direction::forward).batch_stats);
  CHECK(to_string(tuning_key(eval, Direction::forward)).find(" eval ") != std::string::npos);
  // A planes shape (NCHW planes of 8 units or more) walks no rows: nothing to choose.
  bn.training = false;
  bn.shape = {8, 64, 56, 56};
  bn.layout = Layout::nchw;
  CHECK(candidate_choices(lavapipe, plan_norm(bn).value(), Direction::forward).size() == 1);
}

TEST_CASE("tuning: the shape class buckets group size and count by powers of two") {
  LayerNormParams a, b, c;
  a.shape = {512, 768};
  a.normalized_shape = {768};
  b.shape = {1000, 1000};  // 2^9..2^10 groups of 2^9..2^10: the same class
  b.normalized_shape = {1000};
  c.shape = {512, 1024};  // groups of 2^10: another class
  c.normalized_shape = {1024};
  const TuningKey ka = tuning_key(plan_norm(a).value(), Direction::forward);
  CHECK(ka.kind == Norm::layer_norm);
  CHECK(ka.group_size_log2 == 9);
  CHECK(ka.groups_log2 == 9);
  CHECK(!ka.columns);
  CHECK(tuning_key(plan_norm(b).value(), Direction::forward) == ka);
  CHECK(tuning_key(plan_norm(c).value(), Direction::forward) != ka);
  CHECK(tuning_key(plan_norm(a).value(), Direction::backward) != ka);
  BatchNormParams nhwc;
  nhwc.shape = {8, 64, 56, 56};
  nhwc.layout = Layout::nhwc;
  const TuningKey kn = tuning_key(plan_norm(nhwc).value(), Direction::forward);
  CHECK(kn.columns);
  CHECK_FALSE(kn.plane_columns);  // the two views' bits never overlap
  CHECK(kn.groups_log2 == 6);
  CHECK(kn.group_size_log2 == 14);  // 8 * 56 * 56 = 25088
  CHECK(to_string(ka) == "layer_norm forward f32 walk group 2^9 x 2^9 groups");
  // Groups of 1568 either way, but only planes of 49 can be read as columns (planes of up
  // to 64), in either direction: different classes.
  BatchNormParams small_planes, large_planes;
  small_planes.shape = {32, 64, 7, 7};
  large_planes.shape = {8, 64, 14, 14};
  const TuningKey ks = tuning_key(plan_norm(small_planes).value(), Direction::forward);
  const TuningKey kl = tuning_key(plan_norm(large_planes).value(), Direction::forward);
  CHECK(ks.plane_columns);
  CHECK_FALSE(ks.columns);
  CHECK_FALSE(kl.plane_columns);
  CHECK(ks.group_size_log2 == kl.group_size_log2);
  CHECK(ks.groups_log2 == kl.groups_log2);
  CHECK(ks != kl);
  CHECK(tuning_key(plan_norm(small_planes).value(), Direction::backward).plane_columns);
  CHECK_FALSE(tuning_key(plan_norm(large_planes).value(), Direction::backward).plane_columns);
  CHECK(to_string(ks) == "batch_norm forward f32 walk planes group 2^10 x 2^6 groups");
}

TEST_CASE("tuning: small planes' column view and the walk are both candidates, on a GPU and on a CPU device") {
  BatchNormParams bn;
  bn.shape = {32, 64, 7, 7};  // planes of 49
  const NormPlan p = plan_norm(bn).value();
  for (const char* name : {"NVIDIA", "lavapipe"}) {
    CAPTURE(name);
    const Capabilities caps = modeled_device(name);
    bool view = false, walk = false;
    for (const StrategyChoice& choice : candidate_choices(caps, p, Direction::forward)) {
      if (choice.kernel != OnChipKernel::split) continue;
      const auto plan = plan_for(caps, p, Direction::forward, choice);
      REQUIRE(plan.ok());
      for (const Pass& pass : plan.value())
        if (pass.kernel == KernelId::stats_partial) ((pass.push.flags & kFlagColumns) ? view : walk) = true;
    }
    CHECK(view);
    CHECK(walk);
  }
}

TEST_CASE("tuning: the cache's bytes load on the device they were measured on, and only there") {
  Capabilities caps = modeled_device("lavapipe");
  caps.vendor_id = 0x10005;
  caps.device_id = 0;
  caps.driver_version = 0x800005;
  for (uint8_t i = 0; i < 16; ++i) caps.pipeline_cache_uuid[i] = i;
  TuningCache cache(tuning_device(caps));
  const TuningKey k1{Norm::group_norm, Direction::backward, DType::f16, true, 12, 6};
  const TuningKey k2{Norm::layer_norm, Direction::forward, DType::f32, false, 10, 12};
  const TuningKey k3{Norm::batch_norm, Direction::forward, DType::f32, false, 10, 11, true};
  cache.set(k1, {OnChipKernel::split, 256, ColumnView::off});
  cache.set(k2, {OnChipKernel::team});
  const std::vector<uint8_t> bytes = cache.serialize();

  auto loaded = TuningCache::load(caps, bytes);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  CHECK(loaded->entries() == cache.entries());
  CHECK(loaded->device() == cache.device());
  REQUIRE(loaded->find(k1));
  CHECK(*loaded->find(k1) == StrategyChoice{OnChipKernel::split, 256, ColumnView::off});
  CHECK(loaded->find({Norm::rms_norm}) == nullptr);
  // The plane view's bit is its own part of the key, and round-trips.
  TuningCache planes(tuning_device(caps));
  planes.set(k3, {OnChipKernel::split, 64, ColumnView::off});
  auto planes_loaded = TuningCache::load(caps, planes.serialize());
  REQUIRE_MESSAGE(planes_loaded.ok(), planes_loaded.status().message());
  REQUIRE(planes_loaded->find(k3));
  CHECK(*planes_loaded->find(k3) == StrategyChoice{OnChipKernel::split, 64, ColumnView::off});
  TuningKey k3_walk = k3;
  k3_walk.plane_columns = false;
  CHECK(planes_loaded->find(k3_walk) == nullptr);
  // So is the eval bit, with a choice of rows per invocation and of the coefficients.
  TuningKey k3_eval = k3;
  k3_eval.batch_stats = false;
  const StrategyChoice eval_choice{.rows_per_invocation = 64, .coefficients = EvalCoefficients::in_apply};
  planes.set(k3_eval, eval_choice);
  auto eval_loaded = TuningCache::load(caps, planes.serialize());
  REQUIRE_MESSAGE(eval_loaded.ok(), eval_loaded.status().message());
  REQUIRE(eval_loaded->find(k3_eval));
  CHECK(*eval_loaded->find(k3_eval) == eval_choice);
  CHECK(to_string(eval_choice) == "automatic rows 64 coefficients in apply");
  CHECK(to_string({.coefficients = EvalCoefficients::first}) == "automatic coefficients first");
  CHECK(*eval_loaded->find(k3) == StrategyChoice{OnChipKernel::split, 64, ColumnView::off});

  // An untuned context's cache (no device, no entries) loads anywhere, as an empty cache;
  // an empty cache of another device does not.
  auto untuned = TuningCache::load(caps, TuningCache{}.serialize());
  REQUIRE_MESSAGE(untuned.ok(), untuned.status().message());
  CHECK(untuned->empty());
  Capabilities other = caps;
  other.driver_version = 0x800006;
  CHECK(!TuningCache::load(other, TuningCache(tuning_device(caps)).serialize()).ok());
  other.pipeline_cache_uuid[3] = 99;
  auto refused = TuningCache::load(other, bytes);
  REQUIRE(!refused.ok());
  CHECK(refused.status().code() == StatusCode::invalid_argument);
  const std::string m = refused.status().message();
  CHECK_MESSAGE(m.find("another device or driver") != std::string::npos, m);
  CHECK_MESSAGE(m.find("driverVersion 0x800005 in the cache, 0x800006 here") != std::string::npos, m);
  CHECK_MESSAGE(m.find("pipelineCacheUUID") != std::string::npos, m);
  CHECK_MESSAGE(m.find("vendorID") == std::string::npos, m);  // only what differs

  other = caps;
  other.subgroup_size = caps.subgroup_size * 2;
  CHECK(!TuningCache::load(other, bytes).ok());

  std::vector<uint8_t> truncated(bytes.begin(), bytes.end() - 1);
  auto short_read = TuningCache::load(caps, truncated);
  REQUIRE(!short_read.ok());
  CHECK_MESSAGE(short_read.status().message().find("expected") != std::string::npos, short_read.status().message());
  std::vector<uint8_t> not_a_cache = bytes;
  not_a_cache[0] = 'X';
  CHECK(TuningCache::load(caps, not_a_cache).status().message().find("VKNT") != std::string::npos);
  std::vector<uint8_t> bad_enum = bytes;
  // An entry: the key's 8 bytes, the kernel (byte 8), the view (9), the values (10-13) and
  // rows (14-17) per invocation, the eval coefficients (18).
  constexpr size_t kEntry = 19;
  REQUIRE(bad_enum.size() == 4 + 4 + 12 + 16 + 8 + 4 + 2 * kEntry);
  auto last_entry = [&](std::vector<uint8_t>& b, size_t byte) -> uint8_t& { return b.at(b.size() - kEntry + byte); };
  last_entry(bad_enum, 8) = 9;  // the kernel
  CHECK(TuningCache::load(caps, bad_enum).status().message().find("entry 1") != std::string::npos);
  std::vector<uint8_t> bad_planes = bytes;
  last_entry(bad_planes, 6) = 2;  // the plane view, a bool
  CHECK(TuningCache::load(caps, bad_planes).status().message().find("entry 1") != std::string::npos);
  std::vector<uint8_t> bad_eval = bytes;
  last_entry(bad_eval, 7) = 2;  // batch statistics, a bool
  CHECK(TuningCache::load(caps, bad_eval).status().message().find("entry 1") != std::string::npos);
  std::vector<uint8_t> bad_coefficients = bytes;
  last_entry(bad_coefficients, 18) = 3;  // EvalCoefficients has 3 values
  CHECK(TuningCache::load(caps, bad_coefficients).status().message().find("entry 1") != std::string::npos);
  last_entry(bad_coefficients, 18) = 2;
  CHECK(TuningCache::load(caps, bad_coefficients).ok());
  CHECK(TuningCache::load(caps, std::vector<uint8_t>{}).status().code() == StatusCode::invalid_argument);
  // Versions 1 (no byte for the plane view), 2 (none for eval, no rows) and 3 (no eval
  // coefficients): a cache with entries is refused, to be tuned again; an untuned context's
  // empty one still loads. A later version is refused.
  for (uint8_t version : {1, 2, 3}) {
    std::vector<uint8_t> old = bytes;
    old.at(4) = version;
    const std::string old_format = TuningCache::load(caps, old).status().message();
    CHECK_MESSAGE(old_format.find("format version " + std::to_string(version) + ", expected 4; tune again") !=
                      std::string::npos,
                  old_format);
    std::vector<uint8_t> untuned_old = TuningCache{}.serialize();
    untuned_old.at(4) = version;
    CHECK(TuningCache::load(caps, untuned_old).ok());
  }
  std::vector<uint8_t> later = TuningCache{}.serialize();
  later.at(4) = 5;
  CHECK_FALSE(TuningCache::load(caps, later).ok());
  // Values tune() never stores: a bucket past 63, values per invocation off its candidates,
  // the same class twice.
  std::vector<uint8_t> bad_bucket = bytes;
  last_entry(bad_bucket, 4) = 200;  // the group-size bucket
  CHECK(TuningCache::load(caps, bad_bucket).status().message().find("log2 bucket of 200") != std::string::npos);
  std::vector<uint8_t> bad_vpi = bytes;
  last_entry(bad_vpi, 10) = 1;  // values per invocation: 1
  last_entry(bad_vpi, 11) = last_entry(bad_vpi, 12) = last_entry(bad_vpi, 13) = 0;
  CHECK(TuningCache::load(caps, bad_vpi).status().message().find("1 values per invocation") != std::string::npos);
  std::vector<uint8_t> bad_rows = bytes;
  last_entry(bad_rows, 14) = 12;  // rows per invocation: 12
  const std::string rows_message = TuningCache::load(caps, bad_rows).status().message();
  CHECK_MESSAGE(rows_message.find("12 rows per invocation, expected 0, 8, 16, 32 or 64") != std::string::npos,
                rows_message);
  std::vector<uint8_t> repeated = bytes;
  std::copy(repeated.end() - 2 * kEntry, repeated.end() - kEntry, repeated.end() - kEntry);
  CHECK(TuningCache::load(caps, repeated).status().message().find("repeats the class") != std::string::npos);
}

}  // namespace vknorm::test
