// A recorder from begin_commands() records, is submitted, and after reset() records and
// is submitted again: reset() begins its own command buffer anew.
#include <doctest/doctest.h>

#include <vector>

#include "gpu_support.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/recorder.hpp"

using namespace vknorm;
using namespace vknorm::test;

TEST_CASE("A standalone recorder records again after submit_and_wait and reset()") {
  Context& ctx = context_for(TestDevice::subgroup);
  LayerNormParams p;
  p.shape = {3, 5};
  p.normalized_shape = {5};
  p.elementwise_affine = false;
  p.bias = false;
  auto ws = layer_norm_workspace_size(ctx, p);
  REQUIRE(ws.ok());
  auto x = ctx.create_buffer(15 * 4), y = ctx.create_buffer(15 * 4), mean = ctx.create_buffer(3 * 4),
       invstd = ctx.create_buffer(3 * 4), work = ctx.create_buffer(ws.value());
  REQUIRE((x.ok() && y.ok() && mean.ok() && invstd.ok() && work.ok()));
  NormForwardBuffers b;
  b.x = vknorm::ref(x.value());
  b.y = vknorm::ref(y.value());
  b.save_mean = vknorm::ref(mean.value());
  b.save_invstd = vknorm::ref(invstd.value());
  b.workspace = vknorm::ref(work.value());

  auto rec = ctx.begin_commands();
  REQUIRE(rec.ok());
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    std::vector<float> in(15);
    for (int i = 0; i < 15; ++i) in[i] = static_cast<float>((i * (round + 2)) % 7) - 2.5f * round;
    std::copy(in.begin(), in.end(), x.value().as<float>());
    std::fill_n(y.value().as<float>(), 15, -99.0f);
    if (round > 0) REQUIRE(rec.value()->reset().ok());
    CHECK(rec.value()->dispatch_count() == 0);
    Status st = record_layer_norm_forward(*rec.value(), p, b);
    REQUIRE_MESSAGE(st.ok(), st.message());
    st = ctx.submit_and_wait(*rec.value());
    REQUIRE_MESSAGE(st.ok(), st.message());
    auto want = reference::layer_norm_forward(p, in, {}, {});
    REQUIRE(want.ok());
    check_close(std::vector<float>(y.value().as<float>(), y.value().as<float>() + 15), want->y, 3e-5, "y");
  }
  // Re-targeting is for engine command buffers: the standalone recorder keeps its own.
  VkCommandBuffer other = reinterpret_cast<VkCommandBuffer>(rec.value().get());  // never used
  Status st = rec.value()->reset(other);
  CHECK(st.code() == StatusCode::invalid_argument);
  CHECK(st.message().find("begin_commands") != std::string::npos);
  check_no_validation_messages();
}
