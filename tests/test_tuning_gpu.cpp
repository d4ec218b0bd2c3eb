// Tuning on the device: every candidate strategy of a call (vknorm/tuning.hpp), taken
// through a context's tuning cache as a record call takes it, gives the CPU reference's
// results within the GPU tests' tolerances (3e-5 of the largest magnitude, plus float16's
// rounding); the cache's choice is what gets recorded; Context::tune times candidates and
// keeps one; engine mode refuses to tune and loads a cache from elsewhere.
#include <string>
#include <vector>

#include "gpu_support.hpp"
#include "kind_end_to_end.hpp"
#include "ops/tuning.hpp"
#include "test_engine.hpp"
#include "vknorm/recorder.hpp"
#include "vknorm/tuning.hpp"

namespace vknorm::test {
namespace {

// Clears the context's tuning when the test leaves (context_for's contexts are shared).
struct TuningGuard {
  Context& ctx;
  ~TuningGuard() { (void)ctx.set_tuning(TuningCache{}); }
};

// Shapes where the candidates differ: teams, fused and split passes over many small
// groups and a few long ones, channels-last groups of single columns (BatchNorm,
// InstanceNorm) and of 4 (GroupNorm) in rows of at least 32 (the column view); in eval,
// the apply's 8 to 64 rows per lane over 3456 rows of 10 units (NHWC: whole rows of lanes
// make 32 and 64 coincide with a workgroup of 256; NCHW planes of 36 units take the planes
// variant, with nothing to choose in the forward).
template <class Params>
std::vector<Params> shapes();
template <>
std::vector<BatchNormParams> shapes() {
  BatchNormParams p, eval;
  p.shape = {6, 40, 5, 5};
  eval.shape = {24, 40, 12, 12};
  eval.training = false;
  return {p, eval};
}
template <>
std::vector<InstanceNormParams> shapes() {
  InstanceNormParams p;
  p.shape = {2, 40, 6, 6};
  p.affine = p.track_running_stats = true;
  return {p};
}
template <>
std::vector<GroupNormParams> shapes() {
  GroupNormParams p;
  p.shape = {2, 64, 5, 5};
  p.num_groups = 16;
  return {p};
}
template <>
std::vector<LayerNormParams> shapes() {
  LayerNormParams many, long_rows;
  many.shape = {64, 100};
  many.normalized_shape = {100};
  long_rows.shape = {3, 3000};
  long_rows.normalized_shape = {3000};
  return {many, long_rows};
}
template <>
std::vector<RMSNormParams> shapes() {
  RMSNormParams p;
  p.shape = {64, 100};
  p.normalized_shape = {100};
  return {p};
}

std::string choice_names(const StrategyChoice& forward, const StrategyChoice& backward) {
  std::string s = "forward ";
  s += to_string(forward);
  s += ", backward ";
  s += to_string(backward);
  return s;
}

}  // namespace

TEST_CASE("Every candidate strategy, taken from the tuning cache, gives the reference's results") {
  size_t runs = 0;
  for (TestDevice device : {TestDevice::subgroup, TestDevice::mobile}) {
    Context& ctx = context_for(device);
    TuningGuard guard{ctx};
    const Capabilities& caps = ctx.capabilities();
    for_each_kind([&](auto kind) {
      using Params = typename decltype(kind)::type;
      for (Params params : shapes<Params>())
        for (Layout layout : {Layout::nchw, Layout::nhwc})
          for (DType dtype : {DType::f32, DType::f16}) {
            if constexpr (requires { params.layout; }) params.layout = layout;
            else if (layout == Layout::nhwc) continue;
            // The mobile configuration adds the shared-memory tree, packed float16 and folded
            // grids: float16 nchw only (SwiftShader compiles every pipeline: CI's time).
            if (device == TestDevice::mobile && (layout == Layout::nhwc || dtype == DType::f32)) continue;
            params.dtype = dtype;
            const NormPlan p = plan_norm(params).value();
            const auto forward = candidate_choices(caps, p, Direction::forward);
            const auto backward = candidate_choices(caps, p, Direction::backward);
            // Something to choose: with teams at least team and split in each direction; in
            // eval, channels-last, the rule's rows and at least one other block in the
            // forward (up to three: fewer where a larger workgroup makes blocks coincide).
            if (caps.reduction_path == ReductionPath::subgroup && p.geometry.uses_batch_stats)
              CHECK(forward.size() + backward.size() >= 4);
            if (!p.geometry.uses_batch_stats && layout == Layout::nhwc) CHECK(forward.size() >= 2);
            for (size_t i = 0; i < std::max(forward.size(), backward.size()); ++i) {
              const StrategyChoice f = forward[std::min(i, forward.size() - 1)];
              const StrategyChoice b = backward[std::min(i, backward.size() - 1)];
              TuningCache cache(tuning_device(caps));
              cache.set(tuning_key(p, Direction::forward), f);
              cache.set(tuning_key(p, Direction::backward), b);
              REQUIRE(ctx.set_tuning(cache).ok());
              const std::string failure = run_kind_end_to_end(ctx, params, 21);
              CHECK_MESSAGE(failure.empty(), name(device) << ", " << NormKind<Params>::info.name << " "
                                                          << shape_name(params.shape)
                                                          << (layout == Layout::nhwc ? " nhwc " : " nchw ")
                                                          << (dtype == DType::f16 ? "f16, " : "f32, ")
                                                          << choice_names(f, b) << ": " << failure);
              ++runs;
            }
          }
    });
  }
  MESSAGE(runs << " candidate runs against the reference");
  check_no_validation_messages();
}

TEST_CASE("A record call takes the tuning cache's choice for its shape class, and workspace queries follow it") {
  Context& ctx = context_for(TestDevice::subgroup);
  TuningGuard guard{ctx};
  LayerNormParams ln;
  ln.shape = {64, 100};
  ln.normalized_shape = {100};
  const NormPlan p = plan_norm(ln).value();
  auto untuned_workspace = layer_norm_workspace_size(ctx, ln);
  REQUIRE(untuned_workspace.ok());
  auto buffer = ctx.create_buffer(1 << 20);
  REQUIRE(buffer.ok());
  const BufferRef any = ref(*buffer);
  const NormForwardBuffers f{any, any, any, any, any, any, any, any, any};
  auto dispatches = [&] {
    auto rec = ctx.begin_commands();
    REQUIRE(rec.ok());
    Status s = record_layer_norm_forward(*rec.value(), ln, f);
    REQUIRE_MESSAGE(s.ok(), s.message());
    return rec.value()->dispatch_count();
  };
  const uint32_t rule = dispatches();
  TuningCache cache(tuning_device(ctx.capabilities()));
  cache.set(tuning_key(p, Direction::forward), {OnChipKernel::split, 8});
  REQUIRE(ctx.set_tuning(cache).ok());
  CHECK(ctx.tuning().entries().size() == 1);
  CHECK(dispatches() == 3);  // statistics, finalize, apply
  CHECK(rule != 3);
  auto tuned_workspace = layer_norm_workspace_size(ctx, ln);
  REQUIRE(tuned_workspace.ok());
  CHECK(tuned_workspace.value() >= untuned_workspace.value());
  // Another class (a longer row) keeps the rules.
  LayerNormParams other = ln;
  other.shape = {64, 1000};
  other.normalized_shape = {1000};
  CHECK(tuning_key(plan_norm(other).value(), Direction::forward) != tuning_key(p, Direction::forward));
  // A cache of another device is refused, and the context keeps its tuning.
  Capabilities elsewhere = ctx.capabilities();
  elsewhere.device_id ^= 1;
  Status refused = ctx.set_tuning(TuningCache(tuning_device(elsewhere)));
  CHECK(refused.ok());  // empty: clears
  REQUIRE(ctx.set_tuning(cache).ok());
  TuningCache foreign(tuning_device(elsewhere));
  foreign.set(tuning_key(p, Direction::forward), {OnChipKernel::team});
  refused = ctx.set_tuning(foreign);
  CHECK(refused.code() == StatusCode::invalid_argument);
  CHECK_MESSAGE(refused.message().find("deviceID") != std::string::npos, refused.message());
  CHECK(ctx.tuning().entries() == cache.entries());
  // A cache of this device with a choice no tune() stores is refused as its bytes would be,
  // naming the entry and the value, and the context keeps its tuning.
  struct Bad {
    StrategyChoice choice;
    const char* says;
  };
  const Bad bad[] = {{{static_cast<OnChipKernel>(7)}, "outside its enum"},
                     {{OnChipKernel::split, 12}, "12 values per invocation, expected 0, 8, 64 or 256"},
                     {{OnChipKernel::automatic, 0, ColumnView::automatic, 24}, "24 rows per invocation"}};
  for (const Bad& b : bad) {
    TuningCache edited(tuning_device(ctx.capabilities()));
    edited.set(tuning_key(p, Direction::forward), b.choice);
    refused = ctx.set_tuning(edited);
    CHECK(refused.code() == StatusCode::invalid_argument);
    CHECK_MESSAGE(refused.message().find(b.says) != std::string::npos, refused.message());
    CHECK_MESSAGE(refused.message().find("entry 0") != std::string::npos, refused.message());
    CHECK(ctx.tuning().entries() == cache.entries());
  }
}

TEST_CASE("Context::tune times every candidate and keeps the fastest; the cache round-trips") {
  // The shared context: its pipelines exist already (SwiftShader takes seconds for each).
  Context* ctx = &context_for(TestDevice::subgroup);
  TuningGuard guard{*ctx};
  if (!ctx->capabilities().timestamps) {
    skip_configuration("no timestamps on the compute queue");
    return;
  }
  LayerNormParams ln;
  ln.shape = {64, 100};
  ln.normalized_shape = {100};
  GroupNormParams gn;
  gn.shape = {2, 64, 5, 5};
  gn.num_groups = 16;
  gn.layout = Layout::nhwc;
  TuneRequest request;
  request.shapes = {ln, gn, ln};  // the second LayerNorm is the same class: timed once
  request.runs = 2;
  auto report = ctx->tune(request);
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  CHECK(report->classes.size() == 4);
  for (const TunedClass& c : report->classes) {
    CAPTURE(to_string(c.key));
    CHECK(c.candidates.size() >= 2);
    size_t defaults = 0;
    double best = 1e300;
    for (const TunedCandidate& t : c.candidates) {
      CHECK(t.milliseconds > 0);
      best = std::min(best, t.milliseconds);
      defaults += t.is_default;
    }
    CHECK(defaults == 1);
    bool winner_is_fastest = false;
    for (const TunedCandidate& t : c.candidates) winner_is_fastest |= t.choice == c.winner && t.milliseconds == best;
    CHECK(winner_is_fastest);
    REQUIRE(ctx->tuning().find(c.key));
    CHECK(*ctx->tuning().find(c.key) == c.winner);
  }
  CHECK(report->classes[0].shape == "layer_norm 64x100");
  // Saved and loaded on the same device: the same choices.
  const std::vector<uint8_t> bytes = ctx->tuning().serialize();
  auto loaded = TuningCache::load(ctx->capabilities(), bytes);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  CHECK(loaded->entries() == ctx->tuning().entries());
  // The tuned context still computes the reference's results.
  CHECK(run_kind_end_to_end(*ctx, ln, 4) == "");
  CHECK(run_kind_end_to_end(*ctx, gn, 5) == "");

  TuneRequest bad;
  bad.runs = 0;
  CHECK(ctx->tune(bad).status().message().find("request.runs") == 0);
  GroupNormParams wrong = gn;
  wrong.num_groups = 5;
  bad = {};
  bad.shapes = {ln, wrong};
  auto refused = ctx->tune(bad);
  CHECK(refused.status().code() == StatusCode::invalid_argument);
  CHECK_MESSAGE(refused.status().message().find("request.shapes[1]: ") == 0, refused.status().message());
}

TEST_CASE("prepare_kernels with a TuneRequest prepares, then tunes into the context's cache") {
  Context* ctx = &context_for(TestDevice::subgroup);
  TuningGuard guard{*ctx};
  if (!ctx->capabilities().timestamps) {
    skip_configuration("no timestamps on the compute queue");
    return;
  }
  REQUIRE(ctx->set_tuning(TuningCache{}).ok());
  GroupNormParams gn;
  gn.shape = {2, 64, 5, 5};
  gn.num_groups = 16;
  PrepareRequest prepare;
  prepare.kinds = {Norm::group_norm};
  TuneRequest tune;
  tune.shapes = {gn};
  tune.backward = false;
  tune.runs = 1;
  auto report = ctx->prepare_kernels(prepare, tune);
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  CHECK(report->timed_classes == 1);
  CHECK(report->created + report->already_prepared > 0);
  CHECK(ctx->tuning().entries().size() == 1);
  CHECK(ctx->tuning().find(tuning_key(plan_norm(gn).value(), Direction::forward)));
  // A bad tune request fails the call, after the preparation.
  tune.runs = 0;
  auto refused = ctx->prepare_kernels(prepare, tune);
  CHECK_MESSAGE(refused.status().message().find("request.runs") == 0, refused.status().message());
}

}  // namespace vknorm::test

namespace vknorm::test {

TEST_CASE("Engine mode refuses to tune, saying to load a cache tuned elsewhere, and takes that cache") {
  TestEngine engine;
  EngineHandles handles = engine.handles();
  handles.get_instance_proc_addr = vkGetInstanceProcAddr;
  handles.get_device_proc_addr = vkGetDeviceProcAddr;
  auto ctx = Context::create_from_engine(handles);
  REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
  LayerNormParams ln;
  ln.shape = {64, 100};
  ln.normalized_shape = {100};
  TuneRequest request;
  request.shapes = {ln};
  auto refused = ctx.value()->tune(request);
  CHECK(refused.status().code() == StatusCode::unsupported);
  CHECK_MESSAGE(refused.status().message().find("never submits") != std::string::npos, refused.status().message());
  CHECK(refused.status().message().find("TuningCache::load") != std::string::npos);
  // A cache from a standalone context on the same device loads here.
  Context& standalone = context_for(TestDevice::subgroup);
  TuningCache cache(tuning_device(standalone.capabilities()));
  cache.set(tuning_key(plan_norm(ln).value(), Direction::forward), {OnChipKernel::split, 64});
  auto loaded = TuningCache::load(ctx.value()->capabilities(), cache.serialize());
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  CHECK(ctx.value()->set_tuning(loaded.value()).ok());
}

}  // namespace vknorm::test
