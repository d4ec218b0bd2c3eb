// Recorders as an engine uses them with frames in flight (include/vknorm/recorder.hpp):
// recording into secondary command buffers, one recorder re-targeted at each frame's
// command buffer with reset(cmd), several calls sharing one workspace, the sync2 closing
// barrier, and the caller's own barrier in place of vknorm's. On the shared test contexts
// (validation and synchronization validation on), in every device configuration and, run
// by CTest, on both descriptor paths.
#include "recorder_support.hpp"

namespace vknorm::test {

TEST_CASE("A recorder records into secondary command buffers, re-targeted frame after frame with reset(cmd)") {
  for (TestDevice device : kDevices) {
    CAPTURE(name(device));
    Context& ctx = context_for(device);
    TestCommandPool pool(ctx);
    // Two frames' secondary command buffers, used in turn; one recorder for all frames.
    VkCommandBuffer frames[2] = {pool.allocate(VK_COMMAND_BUFFER_LEVEL_SECONDARY),
                                 pool.allocate(VK_COMMAND_BUFFER_LEVEL_SECONDARY)};
    std::unique_ptr<CommandRecorder> recorder;
    for (uint32_t frame = 0; frame < 4; ++frame) {
      CAPTURE(frame);
      VkCommandBuffer cmd = frames[frame % 2];
      TestCommandPool::begin_secondary(cmd);
      if (!recorder) {
        auto made = CommandRecorder::create(ctx, cmd, {.descriptor_capacity = 4});
        REQUIRE(made.ok());
        recorder = std::move(made.value());
      } else {
        // The previous frame has finished (submit_primary waited): re-target, reallocate nothing.
        const uint32_t pools = state_of(ctx).live_descriptor_pools;
        REQUIRE(recorder->reset(cmd).ok());
        CHECK(state_of(ctx).live_descriptor_pools == pools);
      }
      CHECK(recorder->command_buffer() == cmd);
      CHECK(recorder->dispatch_count() == 0);
      LayerNormCall call(ctx, {9, 40 + frame}, 100 + frame);
      Status s = call.record(*recorder, nullptr, true);  // 3 dispatches of the 4 sets
      REQUIRE_MESSAGE(s.ok(), s.message());
      // The frame's closing barrier: the sync2 form where the context uses synchronization2.
      if (ctx.capabilities().synchronization2) {
        s = recorder->close_with_barrier2(VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_READ_BIT);
        REQUIRE_MESSAGE(s.ok(), s.message());
      } else {
        recorder->close_with_barrier(VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
      }
      REQUIRE(vkEndCommandBuffer(cmd) == VK_SUCCESS);
      submit_primary(ctx, [&](VkCommandBuffer primary) { vkCmdExecuteCommands(primary, 1, &cmd); });
      call.check("y of frame " + std::to_string(frame));
    }
    recorder.reset();
  }
  check_no_validation_messages();
}

TEST_CASE("Calls on one recorder may share one workspace: the results of separate recorders") {
  for (TestDevice device : kDevices) {
    CAPTURE(name(device));
    Context& ctx = context_for(device);
    // Three calls with different shapes (and workspace layouts), split so that each
    // writes and reads the workspace.
    LayerNormCall calls[3] = {{ctx, {6, 300}, 1}, {ctx, {40, 17}, 2}, {ctx, {3, 1000}, 3}};
    size_t most = 0;
    for (const LayerNormCall& c : calls) most = std::max<size_t>(most, c.bws.size());
    Buffer shared = LayerNormCall::make(ctx, most / 4, nullptr);
    std::vector<float> separate[3];
    for (int i = 0; i < 3; ++i) {
      auto rec = ctx.begin_commands();
      REQUIRE(rec.ok());
      REQUIRE(calls[i].record(*rec.value(), nullptr, true).ok());
      REQUIRE(ctx.submit_and_wait(*rec.value()).ok());
      separate[i] = calls[i].y();
      std::fill(calls[i].by.as<float>(), calls[i].by.as<float>() + calls[i].x.size(), 0.0f);
    }
    auto rec = ctx.begin_commands({.descriptor_capacity = 9});
    REQUIRE(rec.ok());
    for (const LayerNormCall& c : calls) {
      Status s = c.record(*rec.value(), &shared, true);
      REQUIRE_MESSAGE(s.ok(), s.message());
    }
    REQUIRE(ctx.submit_and_wait(*rec.value()).ok());
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(calls[i].y() == separate[i]);
      calls[i].check("y through the shared workspace");
    }
  }
  check_no_validation_messages();
}

// The caller's barrier replaces vknorm's: the second call reads the first's output.
// Without the caller's barrier the synchronization validation then reports the hazard,
// which shows that vknorm recorded none of its own.
TEST_CASE("note_external_barrier: the next dispatch records no barrier of its own") {
  Context& ctx = context_for(TestDevice::subgroup);
  LayerNormCall first(ctx, {8, 64}, 7);
  LayerNormCall second(ctx, {8, 64}, 8);
  second.bx = LayerNormCall::make(ctx, 1, nullptr);  // replaced: second reads first's y
  for (bool own_barrier : {true, false}) {
    CAPTURE(own_barrier);
    if (!own_barrier && skip_without_validation_layer("note_external_barrier: the hazard without the caller's barrier"))
      continue;
    auto rec = ctx.begin_commands();
    REQUIRE(rec.ok());
    REQUIRE(first.record(*rec.value()).ok());
    if (own_barrier) {
      VkMemoryBarrier b{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
      b.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
      b.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
      vkCmdPipelineBarrier(rec.value()->command_buffer(), VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                           VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &b, 0, nullptr, 0, nullptr);
    }
    rec.value()->note_external_barrier();
    NormForwardBuffers f = second.buffers();
    f.x = ref(first.by);
    auto plan = plan_norm(second.params);
    REQUIRE(plan.ok());
    REQUIRE(record_norm_forward(*rec.value(), plan.value(), f, {}, kAllPhases).ok());
    REQUIRE(ctx.submit_and_wait(*rec.value()).ok());
    const std::vector<std::string> messages = take_validation_messages();
    if (own_barrier) {
      for (const std::string& m : messages) FAIL_CHECK("validation layer: " << m);
      auto want = reference::layer_norm_forward(second.params, first.y(), second.w, second.b);
      REQUIRE(want.ok());
      check_close(second.y(), want->y, 3e-5, "y of the second call");
    } else {
      bool hazard = false;
      for (const std::string& m : messages) hazard = hazard || m.find("SYNC-HAZARD-READ") != std::string::npos ||
                                                    m.find("READ_AFTER_WRITE") != std::string::npos;
      CHECK_MESSAGE(hazard, "no read-after-write hazard reported: vknorm recorded a barrier of its own");
    }
  }
}

}  // namespace vknorm::test
