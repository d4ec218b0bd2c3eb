// The two descriptor paths (include/vknorm/recorder.hpp): push descriptors where the
// device has VK_KHR_push_descriptor (lavapipe does), else one pool per recorder, sized at
// creation and never grown; and the kernel cache's record path (require_prepared_kernels,
// ensure, counts).
#include "recorded_calls.hpp"
#include "recorder_support.hpp"

namespace vknorm::test {
namespace {

bool is_lavapipe(const Context& ctx) { return ctx.capabilities().device_name.find("llvmpipe") != std::string::npos; }

// Runs `record`, which must be refused, with the context's function table counted: the
// refusal must come before anything reaches the command buffer (no vkCmd* at all) or the
// recorder's pool (no set allocated or written).
template <class Record>
Status refused_without_recording(Context& ctx, Record record) {
  RecordedCalls calls(ctx);
  Status s = record();
  CHECK_FALSE(s.ok());
  CHECK_MESSAGE(calls.total() == 0, "the refused call still made: " << calls.describe());
  return s;
}

// The counts of a call that recorded `dispatches` dispatches, the first of them after
// `barriers_before` (1 when the recorder already holds a dispatch), on `ctx`'s path.
void check_recorded(const Context& ctx, const RecordedCalls& calls, uint64_t dispatches, uint64_t barriers_before) {
  INFO("recorded: " << calls.describe());
  const bool push = ctx.capabilities().push_descriptors;
  CHECK(calls.of(recorded_CmdDispatch) == dispatches);
  CHECK(calls.of(recorded_CmdBindPipeline) == dispatches);
  CHECK(calls.of(recorded_CmdPushConstants) == dispatches);
  CHECK(calls.of(recorded_CmdPipelineBarrier) == dispatches - 1 + barriers_before);
  CHECK(calls.of(recorded_CmdPushDescriptorSetWithTemplateKHR) == (push ? dispatches : 0));
  CHECK(calls.of(recorded_AllocateDescriptorSets) == (push ? 0 : dispatches));
  CHECK(calls.of(recorded_UpdateDescriptorSetWithTemplate) == (push ? 0 : dispatches));
  CHECK(calls.of(recorded_CmdBindDescriptorSets) == (push ? 0 : dispatches));
}

}  // namespace

TEST_CASE("Descriptor paths: lavapipe pushes descriptors, DescriptorPath::pool forces the pool, same results") {
  OwnContext automatic({.descriptor_path = DescriptorPath::automatic});
  OwnContext pool({.descriptor_path = DescriptorPath::pool});
  if (is_lavapipe(*automatic.ctx)) {
    CHECK(automatic.ctx->capabilities().push_descriptors);
    CHECK(automatic.ctx->capabilities().synchronization2);  // lavapipe is Vulkan 1.3
  }
  CHECK_FALSE(pool.ctx->capabilities().push_descriptors);

  std::vector<float> y[2];
  OwnContext* contexts[2] = {&automatic, &pool};
  for (int i = 0; i < 2; ++i) {
    Context& ctx = *contexts[i]->ctx;
    LayerNormCall call(ctx, {7, 300}, 11);
    auto rec = ctx.begin_commands();
    REQUIRE(rec.ok());
    // The pool path's one pool is made with the recorder; the push path makes none.
    CHECK(state_of(ctx).live_descriptor_pools == (ctx.capabilities().push_descriptors ? 0u : 1u));
    CHECK(state_of(ctx).live_command_pools == 1u);
    Status s = call.record(*rec.value(), nullptr, true);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(rec.value()->dispatch_count() == 3);  // split: statistics, finalize, apply
    s = ctx.submit_and_wait(*rec.value());
    REQUIRE_MESSAGE(s.ok(), s.message());
    call.check(i == 0 ? "y (automatic)" : "y (pool)");
    y[i] = call.y();
    rec.value().reset();
    CHECK(state_of(ctx).live_descriptor_pools == 0u);
    CHECK(state_of(ctx).live_command_pools == 0u);
  }
  CHECK(y[0] == y[1]);  // the same kernels on the same inputs: the same bits
}

TEST_CASE("Pool path: a call past descriptor_capacity fails before recording anything, naming the fix") {
  OwnContext own({.descriptor_path = DescriptorPath::pool});
  Context& ctx = *own.ctx;
  LayerNormCall call(ctx, {5, 64}, 3);
  auto rec = ctx.begin_commands({.descriptor_capacity = 2});
  REQUIRE(rec.ok());
  CommandRecorder& r = *rec.value();

  Status s = refused_without_recording(ctx, [&] { return call.record(r, nullptr, true); });  // 3 passes, 3 sets
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_MESSAGE(s.message().find("RecorderOptions::descriptor_capacity (C: vknorm_recorder_options.descriptor_capacity): "
                                 "this call records 3 dispatches") == 0,
                s.message());
  CHECK(s.message().find("the recorder's pool has 2 of its 2 left since the last reset()") != std::string::npos);
  CHECK(s.message().find("larger descriptor_capacity, or reset() it once the GPU has finished") != std::string::npos);
  CHECK(r.dispatch_count() == 0);

  {  // The same counters see what a call that fits records: one set, one dispatch.
    RecordedCalls calls(ctx);
    REQUIRE(call.record(r).ok());  // one fused pass: one set
    check_recorded(ctx, calls, 1, 0);
  }
  CHECK(r.dispatch_count() == 1);
  s = refused_without_recording(ctx, [&] { return call.record(r, nullptr, true); });
  CHECK(s.message().find("the recorder's pool has 1 of its 2 left") != std::string::npos);
  CHECK(r.dispatch_count() == 1);
  {
    RecordedCalls calls(ctx);
    REQUIRE(call.record(r).ok());
    check_recorded(ctx, calls, 1, 1);  // after a barrier on the first dispatch's writes
  }
  CHECK(r.dispatch_count() == 2);
  s = refused_without_recording(ctx, [&] { return call.record(r); });  // full
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK(r.dispatch_count() == 2);
  REQUIRE(ctx.submit_and_wait(r).ok());
  call.check("y");

  CHECK(ctx.begin_commands({.descriptor_capacity = 0}).status().message().find("options.descriptor_capacity") == 0);
  CHECK(ctx.begin_commands({.descriptor_capacity = UINT32_MAX}).status().message().find(
            "options.descriptor_capacity: expected at most 357913941") == 0);
}

TEST_CASE("Push path: descriptor_capacity does not limit a recorder") {
  OwnContext own({.descriptor_path = DescriptorPath::automatic});
  Context& ctx = *own.ctx;
  if (!ctx.capabilities().push_descriptors) return;  // a device without VK_KHR_push_descriptor
  LayerNormCall call(ctx, {5, 64}, 3);
  auto rec = ctx.begin_commands({.descriptor_capacity = 1});
  REQUIRE(rec.ok());
  for (int i = 0; i < 3; ++i) REQUIRE(call.record(*rec.value(), nullptr, true).ok());
  CHECK(rec.value()->dispatch_count() == 9);
  CHECK(state_of(ctx).live_descriptor_pools == 0u);
  REQUIRE(ctx.submit_and_wait(*rec.value()).ok());
  call.check("y");
}

TEST_CASE("require_prepared_kernels: a record call that would create a pipeline fails, naming prepare_kernels") {
  OwnContext own({.descriptor_path = test_descriptor_path(), .require_prepared_kernels = true});
  Context& ctx = *own.ctx;
  LayerNormCall call(ctx, {5, 64}, 3);
  auto rec = ctx.begin_commands();
  REQUIRE(rec.ok());
  Status s = refused_without_recording(ctx, [&] { return call.record(*rec.value(), nullptr, true); });
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_MESSAGE(s.message() ==
                    "kernel stats_partial (float32) is not prepared, and require_prepared_kernels forbids creating "
                    "its pipeline while recording: call prepare_kernels for it first",
                s.message());
  CHECK(rec.value()->dispatch_count() == 0);
  CHECK(state_of(ctx).kernels.counts().pipelines == 0);

  // ensure() creates one: true the first time, false after.
  KernelCache& cache = state_of(ctx).kernels;
  auto made = cache.ensure(state_of(ctx), KernelId::stats_partial, DType::f32);
  REQUIRE(made.ok());
  CHECK(made.value());
  made = cache.ensure(state_of(ctx), KernelId::stats_partial, DType::f32);
  REQUIRE(made.ok());
  CHECK_FALSE(made.value());
  const ObjectCounts one = cache.counts();
  CHECK(one.pipelines == 1);
  CHECK(one.pipeline_layouts == 1);
  CHECK(one.set_layouts == 1);
  CHECK(one.update_templates == 1);
  // The finalize pass is still missing: the statistics pass, whose pipeline exists, must
  // not be recorded either.
  s = refused_without_recording(ctx, [&] { return call.record(*rec.value(), nullptr, true); });
  CHECK(s.message().find("kernel stats_finalize (float32)") == 0);
  CHECK(rec.value()->dispatch_count() == 0);

  REQUIRE(ctx.prepare_kernels(DType::f32).ok());
  CHECK(cache.counts().pipelines == static_cast<uint32_t>(KernelId::count_));
  {  // The same counters see what the call records once it can: 3 passes, barriers between.
    RecordedCalls calls(ctx);
    s = call.record(*rec.value(), nullptr, true);
    REQUIRE_MESSAGE(s.ok(), s.message());
    check_recorded(ctx, calls, 3, 0);
  }
  REQUIRE(ctx.submit_and_wait(*rec.value()).ok());
  call.check("y");
}

}  // namespace vknorm::test
