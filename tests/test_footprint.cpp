// A standalone context's objects: the allocation callbacks reach all of them, footprint()
// counts them as they come and go, and prepare_kernels(request) creates only what the
// named kinds and directions can record (tests/planner proves the kernel sets).
#include <random>
#include <set>

#include "allocation_support.hpp"
#include "gpu_support.hpp"
#include "test_engine.hpp"
#include "kernels.hpp"
#include "ops/norm_kinds.hpp"
#include "ops/planner.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm::test {
namespace {

// A context of the test's own on the tests' descriptor path (see OwnContext).
StandaloneOptions test_options(const VkAllocationCallbacks* allocator, bool subgroup = true) {
  StandaloneOptions options;
  options.descriptor_path = test_descriptor_path();
  options.allocation_callbacks = allocator;
  if (!subgroup) options.capability_override.subgroup_arithmetic = false;
  return options;
}

// Everything but the kernels' objects, which preparation and first use add: each kernel
// has its own pipeline, pipeline layout, set layout and update template.
void check_same_but_pipelines(const Footprint& a, const Footprint& b) {
  for (const Footprint* f : {&a, &b}) {
    CHECK(f->pipeline_layouts == f->pipelines);
    CHECK(f->descriptor_set_layouts == f->pipelines);
    CHECK(f->descriptor_update_templates == f->pipelines);  // every kernel writes a buffer
  }
  CHECK(a.descriptor_pools == b.descriptor_pools);
  CHECK(a.command_pools == b.command_pools);
  CHECK(a.buffers == b.buffers);
  CHECK(a.device_memory_allocations == b.device_memory_allocations);
  CHECK(a.device_memory_bytes == b.device_memory_bytes);
}

Status record_layer_norm(Context& ctx, CommandRecorder& recorder, std::vector<Buffer>& keep) {
  LayerNormParams p;
  p.shape = {4, 64};
  p.normalized_shape = {64};
  auto ws = layer_norm_workspace_size(ctx, p);
  if (!ws) return ws.status();
  for (VkDeviceSize bytes : {VkDeviceSize{4 * 64 * 4}, VkDeviceSize{4 * 64 * 4}, VkDeviceSize{64 * 4},
                             VkDeviceSize{64 * 4}, VkDeviceSize{16}, VkDeviceSize{16}, ws.value()}) {
    auto b = ctx.create_buffer(bytes);
    if (!b) return b.status();
    keep.push_back(std::move(b.value()));
  }
  const size_t at = keep.size() - 7;
  NormForwardBuffers io;
  io.x = ref(keep[at]);
  io.y = ref(keep[at + 1]);
  io.weight = ref(keep[at + 2]);
  io.bias = ref(keep[at + 3]);
  io.save_mean = ref(keep[at + 4]);
  io.save_invstd = ref(keep[at + 5]);
  io.workspace = ref(keep[at + 6]);
  return record_layer_norm_forward(recorder, p, io);
}

}  // namespace

TEST_CASE("Standalone: every allocation through the callbacks is freed with the context") {
  if (skip_under_wine("Standalone: every allocation through the callbacks is freed with the context",
                      "wine's vulkan-1.dll gives the driver no allocation callbacks"))
    return;
  CountingAllocator allocator;
  uint32_t templates = 0;
  {
    OwnContext ctx(test_options(allocator.callbacks()));
    const size_t created = allocator.live();
    CHECK(created > 0);  // the instance, the device, the cache, the layouts, ...
    REQUIRE(ctx->prepare_kernels().ok());
    std::vector<Buffer> buffers;
    auto recorder = ctx->begin_commands();
    REQUIRE(recorder.ok());
    Status st = record_layer_norm(*ctx, *recorder.value(), buffers);
    REQUIRE_MESSAGE(st.ok(), st.message());
    st = ctx->submit_and_wait(*recorder.value());
    REQUIRE_MESSAGE(st.ok(), st.message());
    templates = ctx->footprint().descriptor_update_templates;
  }
  CHECK(allocator.total() > 0);
  const TestEngine probe;  // the same driver's own habits, on a device of the test's
  CHECK(allocator.live() == expected_driver_kept(probe, templates));
  CHECK(allocator.foreign_frees() == 0);
}

TEST_CASE("Standalone footprint: the instance and device, recorders' pools and buffers, counted as they come and go") {
  OwnContext ctx(test_options(nullptr));
  const bool push = ctx->capabilities().push_descriptors;
  const Footprint base = ctx->footprint();
  CHECK(base.instances == 1);
  CHECK(base.devices == 1);
  CHECK(base.pipeline_caches == 1);
  CHECK(base.debug_messengers == (running_without_validation_layer() ? 0u : 1u));  // the layer's messenger
  CHECK(base.pipelines == 0);
  CHECK(base.command_pools == 0);
  CHECK(base.descriptor_pools == 0);

  {  // A buffer: one VkBuffer and one allocation of at least its size, while it lives.
    auto buffer = ctx->create_buffer(1000);
    REQUIRE(buffer.ok());
    const Footprint f = ctx->footprint();
    CHECK(f.buffers == base.buffers + 1);
    CHECK(f.device_memory_allocations == base.device_memory_allocations + 1);
    CHECK(f.device_memory_bytes >= base.device_memory_bytes + 1000);
    Buffer moved = std::move(buffer.value());  // a move leaves one owner
    CHECK(ctx->footprint().buffers == base.buffers + 1);
  }
  check_same_but_pipelines(ctx->footprint(), base);

  // Recorders: a command pool each, and on the pool path a descriptor pool each (none with
  // push descriptors); all of it gone with them.
  std::vector<Buffer> buffers;
  auto first = ctx->begin_commands();
  REQUIRE(first.ok());
  CHECK(ctx->footprint().command_pools == 1);
  Status st = record_layer_norm(*ctx, *first.value(), buffers);
  REQUIRE_MESSAGE(st.ok(), st.message());
  const uint32_t pools_one = ctx->footprint().descriptor_pools;
  CHECK(pools_one == (push ? 0u : 1u));
  auto second = ctx->begin_commands();
  REQUIRE(second.ok());
  st = record_layer_norm(*ctx, *second.value(), buffers);
  REQUIRE_MESSAGE(st.ok(), st.message());
  Footprint f = ctx->footprint();
  CHECK(f.command_pools == 2);
  CHECK(f.descriptor_pools == 2 * pools_one);
  CHECK(f.buffers == base.buffers + buffers.size());
  REQUIRE(ctx->submit_and_wait(*first.value()).ok());
  REQUIRE(ctx->submit_and_wait(*second.value()).ok());
  first.value().reset();
  f = ctx->footprint();
  CHECK(f.command_pools == 1);
  CHECK(f.descriptor_pools == pools_one);
  second.value().reset();
  buffers.clear();
  check_same_but_pipelines(ctx->footprint(), base);
}

TEST_CASE("prepare_kernels(request): LayerNorm forward creates its pipelines only, once, and recording creates none") {
  for (bool subgroup : {true, false}) {
    CAPTURE(subgroup);
    OwnContext ctx(test_options(nullptr, subgroup));
    // The device's own: of the team variants with gamma in units, the four with blocks of
    // rows (param_finalize_vec4 among them, which reads the backward blocks' records) or the
    // five without (the forward's over rows and over walked groups, the weight-only one, the
    // backward's over rows and over walked groups), by team_block_rows; every other kernel.
    const Capabilities& caps = ctx->capabilities();
    const uint32_t candidates =
        static_cast<uint32_t>(candidate_kernels(Norm::layer_norm, Direction::forward, &caps).size());
    std::set<KernelId> device_kernels;
    for (const KindInfo& kind : kNormKinds)
      for (Direction d : {Direction::forward, Direction::backward})
        for (KernelId id : candidate_kernels(kind.id, d, &caps)) device_kernels.insert(id);
    const uint32_t all = static_cast<uint32_t>(device_kernels.size());
    CHECK(all == static_cast<uint32_t>(KernelId::count_) - (team_block_rows(caps) > 1 ? 5 : 4));
    PrepareRequest request;
    request.kinds = {Norm::layer_norm};
    request.backward = false;
    auto first = ctx->prepare_kernels(request);
    REQUIRE_MESSAGE(first.ok(), first.status().message());
    CHECK(first->created == candidates);
    CHECK(first->created > 0);
    CHECK(first->created < all);
    CHECK(first->already_prepared == 0);
    CHECK(first->milliseconds > 0);
    CHECK(ctx->footprint().pipelines == first->created);

    auto again = ctx->prepare_kernels(request);
    REQUIRE(again.ok());
    CHECK(again->created == 0);
    CHECK(again->already_prepared == first->created);
    const Footprint prepared = ctx->footprint();

    // Shapes that take each strategy on lavapipe: teams (many short rows), a workgroup
    // per row, split passes (a long row), and an empty tensor.
    std::mt19937 rng(11);
    for (std::vector<int64_t> shape : std::vector<std::vector<int64_t>>{
             {512, 96}, {3, 1000}, {2, 200000}, {7, 1}, {0, 16}, {2, 3, 4097}}) {
      CAPTURE(shape_name(shape));
      LayerNormParams p;
      p.shape = shape;
      p.normalized_shape = {shape.back()};
      size_t elements = 1, d = static_cast<size_t>(shape.back());
      for (int64_t s : shape) elements *= static_cast<size_t>(s);
      auto y = layer_norm_forward(*ctx, p, random_vector(elements, rng), random_vector(d, rng), random_vector(d, rng));
      REQUIRE_MESSAGE(y.ok(), y.status().message());
      const Footprint now = ctx->footprint();
      CHECK(now.pipelines == prepared.pipelines);
      check_same_but_pipelines(now, prepared);
    }

    // The whole table: every other pipeline of the dtype, counted as created.
    request.kinds.clear();
    request.backward = true;
    auto rest = ctx->prepare_kernels(request);
    REQUIRE(rest.ok());
    CHECK(rest->created == all - candidates);
    CHECK(rest->already_prepared == candidates);
    CHECK(ctx->footprint().pipelines == all);
  }
}

TEST_CASE("prepare_kernels(request) refuses a request that names nothing or no kind") {
  Context& ctx = context_for(TestDevice::subgroup);
  PrepareRequest none;
  none.forward = none.backward = false;
  auto r = ctx.prepare_kernels(none);
  CHECK(r.status().code() == StatusCode::invalid_argument);
  CHECK(r.status().message().find("request.forward, request.backward") == 0);
  PrepareRequest bad;
  bad.kinds = {Norm::rms_norm, static_cast<Norm>(42)};
  r = ctx.prepare_kernels(bad);
  CHECK(r.status().code() == StatusCode::invalid_argument);
  CHECK_MESSAGE(r.status().message().find("request.kinds: expected Norm values") == 0, r.status().message());
  check_no_validation_messages();
}

}  // namespace vknorm::test
