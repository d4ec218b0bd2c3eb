// The planner's plans on the device: phases recorded one at a time give the bits of the
// whole plan, the forced split plan matches the reference, grids folded to a few
// workgroups give the same results, partials of two devices merge into the whole batch's
// statistics, and bindings past maxStorageBufferRange are refused.
#include <cstring>
#include <map>
#include <random>

#include "gpu_support.hpp"
#include "ops/norm_engine.hpp"
#include "kind_end_to_end.hpp"
#include "planner/planner_support.hpp"
#include "vknorm/sync_batchnorm.hpp"

namespace vknorm::test {
namespace {

// One standalone buffer per role the plans bind, as large as any of them binds it, with
// x, dy, weight, bias and running statistics filled from a seed.
struct RoleBuffers {
  std::map<Role, Buffer> buffers;

  RoleBuffers(Context& ctx, const ExecutionPlan& forward, const ExecutionPlan& backward, uint32_t seed) {
    std::mt19937 rng(seed);
    for (const ExecutionPlan* plan : {&forward, &backward})
      for (const SlotUse& use : plan->buffers) {
        if (use.role == Role::none) continue;
        Buffer& b = buffers[use.role];
        if (b.handle() && b.size() >= use.bytes()) continue;
        auto created = ctx.create_buffer(std::max<uint64_t>(4, use.bytes()));
        REQUIRE_MESSAGE(created.ok(), created.status().message());
        b = std::move(created.value());
        // Inputs: random float32 values (these tests run float32 tensors).
        std::vector<float> values = random_vector(b.size() / 4, rng, use.role == Role::running_var ? 1.0f : 0.5f);
        if (use.role == Role::running_var)
          for (float& v : values) v = std::fabs(v);
        std::memcpy(b.data(), values.data(), values.size() * 4);
      }
  }
  BufferRef operator[](Role role) const {
    auto it = buffers.find(role);
    return it == buffers.end() ? BufferRef{} : ref(it->second);
  }
  NormForwardBuffers forward() const {
    return {(*this)[Role::x],         (*this)[Role::y],        (*this)[Role::weight],    (*this)[Role::bias],
            (*this)[Role::running_mean], (*this)[Role::running_var], (*this)[Role::save_mean],
            (*this)[Role::save_invstd], (*this)[Role::workspace], (*this)[Role::residual]};
  }
  NormBackwardBuffers backward() const {
    NormBackwardBuffers b;
    b.x = (*this)[Role::x];
    b.dy = (*this)[Role::dy];
    b.dx = (*this)[Role::dx];
    b.weight = (*this)[Role::weight];
    b.save_mean = (*this)[Role::save_mean];
    b.save_invstd = (*this)[Role::save_invstd];
    b.running_mean = (*this)[Role::running_mean];
    b.running_var = (*this)[Role::running_var];
    b.dweight = (*this)[Role::dweight];
    b.dbias = (*this)[Role::dbias];
    b.workspace = (*this)[Role::workspace];
    return b;
  }
  std::vector<float> floats(Role role) const {
    const Buffer& b = buffers.at(role);
    return std::vector<float>(b.as<float>(), b.as<float>() + b.size() / 4);
  }
};

template <class Record>
void submit(Context& ctx, Record record) {
  auto rec = ctx.begin_commands();
  REQUIRE(rec.ok());
  Status st = record(*rec.value());
  REQUIRE_MESSAGE(st.ok(), st.message());
  Status done = ctx.submit_and_wait(*rec.value());
  REQUIRE_MESSAGE(done.ok(), done.message());
}

template <class Params>
NormPlan planned(const Params& params) {
  auto plan = plan_norm(params);
  REQUIRE_MESSAGE(plan.ok(), plan.status().message());
  return plan.value();
}

// The outputs of one run: what the forward writes, then what the backward writes.
std::map<Role, std::vector<float>> run_phases(Context& ctx, const NormPlan& p, const std::vector<uint32_t>& forward,
                                              const std::vector<uint32_t>& backward, bool check_records) {
  const PlanOptions split{.split = true};
  auto fplan = plan_forward(ctx.capabilities(), p, split);
  auto bplan = plan_backward(ctx.capabilities(), p, split);
  REQUIRE(fplan.ok());
  REQUIRE(bplan.ok());
  RoleBuffers buffers(ctx, fplan.value(), bplan.value(), 7);
  for (uint32_t phases : forward) {
    submit(ctx, [&](CommandRecorder& r) { return record_norm_forward(r, p, buffers.forward(), split, phases); });
    if (check_records && phases == static_cast<uint32_t>(Phase::statistics)) {
      // The statistics records (planner.hpp): the counts of a group's chunks add up to
      // its size.
      const std::vector<float> work = buffers.floats(Role::workspace);
      const uint64_t groups = p.B * p.K, chunks = fplan->chunks;
      for (uint64_t g = 0; g < groups; ++g) {
        uint64_t count = 0;
        for (uint64_t c = 0; c < chunks; ++c) {
          uint32_t bits;
          std::memcpy(&bits, &work[(g * chunks + c) * kStatsRecordFloats + VKNORM_STATS_RECORD_COUNT], 4);
          count += bits;
        }
        CHECK(count == p.O * p.I);
      }
    }
  }
  std::map<Role, std::vector<float>> out;
  for (Role role : {Role::y, Role::save_mean, Role::save_invstd, Role::running_mean, Role::running_var})
    if (buffers.buffers.count(role)) out[role] = buffers.floats(role);
  for (uint32_t phases : backward)
    submit(ctx, [&](CommandRecorder& r) { return record_norm_backward(r, p, buffers.backward(), split, phases); });
  for (Role role : {Role::dx, Role::dweight, Role::dbias}) out[role] = buffers.floats(role);
  return out;
}

}  // namespace

TEST_CASE("Split phases recorded one at a time give the bits of the whole split plan") {
  const uint32_t stats = static_cast<uint32_t>(Phase::statistics), finalize = static_cast<uint32_t>(Phase::finalize),
                 apply = static_cast<uint32_t>(Phase::apply), reduce = static_cast<uint32_t>(Phase::reduce),
                 elementwise = static_cast<uint32_t>(Phase::elementwise);
  BatchNormParams bn;
  bn.shape = {4, 3, 50};
  LayerNormParams ln;
  ln.shape = {6, 300};
  ln.normalized_shape = {300};
  GroupNormParams gn;
  gn.shape = {2, 6, 40};
  gn.num_groups = 3;
  for (TestDevice device : kDevices) {
    Context& ctx = context_for(device);
    for (const NormPlan& p : {planned(bn), planned(ln), planned(gn)}) {
      CAPTURE(name(device));
      CAPTURE(p.geometry.elements);
      const auto whole = run_phases(ctx, p, {kAllPhases}, {kAllPhases}, false);
      const auto phased = run_phases(ctx, p, {stats, finalize, apply}, {reduce, elementwise}, true);
      for (const auto& entry : whole) {  // not a structured binding: CAPTURE's lambda, clang 14
        CAPTURE(to_string(entry.first));
        CHECK(phased.at(entry.first) == entry.second);
      }
    }
  }
  check_no_validation_messages();
}

TEST_CASE("A phase of a plan with a fused pass is refused, naming PlanOptions::split") {
  Context& ctx = context_for(TestDevice::subgroup);
  LayerNormParams ln;
  ln.shape = {6, 300};
  ln.normalized_shape = {300};
  const NormPlan p = planned(ln);
  auto buffer = ctx.create_buffer(1 << 16);
  REQUIRE(buffer.ok());
  const BufferRef any = ref(*buffer);
  const NormForwardBuffers f{any, any, any, any, any, any, any, any, any};
  auto rec = ctx.begin_commands();
  REQUIRE(rec.ok());
  Status s = record_norm_forward(*rec.value(), p, f, {}, static_cast<uint32_t>(Phase::statistics));
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_MESSAGE(s.message().find("phases: ") == 0, s.message());
  CHECK(s.message().find("PlanOptions::split") != std::string::npos);
  CHECK(rec.value()->dispatch_count() == 0);
}

TEST_CASE("The forced split plan matches the CPU reference where the default is one pass") {
  LayerNormParams ln;
  ln.shape = {130, 33};
  ln.normalized_shape = {33};
  std::mt19937 rng(3);
  const auto x = random_vector(130 * 33, rng, 0.5f, 2.0f), dy = random_vector(130 * 33, rng),
             w = random_vector(33, rng, 1.0f, 0.5f), b = random_vector(33, rng, 0.0f, 0.5f);
  auto want = reference::layer_norm_forward(ln, x, w, b);
  auto want_back = reference::layer_norm_backward(ln, x, dy, w);
  REQUIRE(want.ok());
  REQUIRE(want_back.ok());
  for (TestDevice device : kDevices) {
    Context& ctx = context_for(device);
    CAPTURE(name(device));
    const NormPlan p = planned(ln);
    const PlanOptions split{.split = true};
    auto fplan = plan_forward(ctx.capabilities(), p, split);
    auto bplan = plan_backward(ctx.capabilities(), p, split);
    REQUIRE(fplan.ok());
    REQUIRE(bplan.ok());
    RoleBuffers buffers(ctx, fplan.value(), bplan.value(), 1);
    auto put = [&](Role role, const std::vector<float>& v) { std::memcpy(buffers.buffers.at(role).data(), v.data(), v.size() * 4); };
    put(Role::x, x);
    put(Role::weight, w);
    put(Role::bias, b);
    put(Role::dy, dy);
    submit(ctx, [&](CommandRecorder& r) { return record_norm_forward(r, p, buffers.forward(), split, kAllPhases); });
    submit(ctx, [&](CommandRecorder& r) { return record_norm_backward(r, p, buffers.backward(), split, kAllPhases); });
    auto head = [](std::vector<float> v, size_t n) { v.resize(n); return v; };
    check_close(head(buffers.floats(Role::y), x.size()), want->y, 3e-5, "y");
    check_close(head(buffers.floats(Role::save_mean), 130), want->save_mean, 3e-5, "save_mean");
    check_close(head(buffers.floats(Role::save_invstd), 130), want->save_invstd, 3e-5, "save_invstd");
    check_close(head(buffers.floats(Role::dx), x.size()), want_back->dx, 3e-5, "dx");
    check_close(head(buffers.floats(Role::dweight), 33), want_back->dweight, 3e-5, "dweight");
    check_close(head(buffers.floats(Role::dbias), 33), want_back->dbias, 3e-5, "dbias");
  }
  check_no_validation_messages();
}

}  // namespace vknorm::test

namespace vknorm::test {

TEST_CASE("Bindings beyond maxStorageBufferRange are refused before anything is recorded") {
  StandaloneOptions options;
  options.descriptor_path = test_descriptor_path();
  options.capability_override.max_storage_buffer_range = 4 * 768 * 4;  // exactly x of 4 rows of 768
  auto ctx = Context::create_standalone(options);
  REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
  const Capabilities& caps = ctx.value()->capabilities();
  REQUIRE(caps.max_storage_buffer_range == 4 * 768 * 4);
  auto buffer = ctx.value()->create_buffer(1 << 16);
  REQUIRE(buffer.ok());
  LayerNormParams ln;
  ln.shape = {4, 768};
  ln.normalized_shape = {768};
  const BufferRef any = ref(*buffer);
  NormForwardBuffers f{any, any, any, any, any, any, any, any, any};
  auto rec = ctx.value()->begin_commands();
  REQUIRE(rec.ok());
  CHECK(record_layer_norm_forward(*rec.value(), ln, f).ok());  // x fits exactly
  if (caps.min_storage_buffer_offset_alignment > 4) {
    // Bound from the offset rounded down to the alignment: 4 bytes more than the range.
    f.x.offset = 4;
    f.x.size = 4 * 768 * 4;
    Status s = record_layer_norm_forward(*rec.value(), ln, f);
    CHECK(s.code() == StatusCode::unsupported);
    CHECK_MESSAGE(s.message().find("buffers.x: binding 12292 bytes (12288 from an offset of 4) exceeds the device's "
                                   "maxStorageBufferRange of 12288 bytes") == 0,
                  s.message());
  }
  ln.shape = {5, 768};
  f.x.offset = 0;
  f.x.size = VK_WHOLE_SIZE;
  const uint32_t before = rec.value()->dispatch_count();
  Status s = record_layer_norm_forward(*rec.value(), ln, f);
  CHECK(s.code() == StatusCode::unsupported);
  CHECK_MESSAGE(s.message().find("x: 3840 elements (15360 bytes) exceed the device's maxStorageBufferRange of 12288") == 0,
                s.message());
  CHECK(rec.value()->dispatch_count() == before);
}

}  // namespace vknorm::test

namespace vknorm::test {
namespace {

// Shapes with more groups (or channels) than the mobile configuration's grid of
// kMobileGridLimit workgroups of 128 invocations covers at once: the finalize, team,
// fused and elementwise passes must loop over the rest.
void set_fold_job(BatchNormParams& p) { p.shape = {3, 1500}; }  // 1500 channels, running statistics
void set_fold_job(LayerNormParams& p) {
  p.shape = {1500, 3};
  p.normalized_shape = {3};
}
void set_fold_job(RMSNormParams& p) {
  p.shape = {1500, 5};
  p.normalized_shape = {5};
}
void set_fold_job(GroupNormParams& p) {
  p.shape = {2, 1400, 2};
  p.num_groups = 700;
}
void set_fold_job(InstanceNormParams& p) {
  p.shape = {2, 700, 3};
  p.affine = p.track_running_stats = true;
}

}  // namespace

TEST_CASE("Grids folded to a few workgroups (mobile configuration) give the reference's results") {
  Context& ctx = context_for(TestDevice::mobile);
  REQUIRE(ctx.capabilities().max_workgroup_count_x == kMobileGridLimit);
  for_each_kind([&](auto kind) {
    using Params = typename decltype(kind)::type;
    Params p;
    set_fold_job(p);
    CAPTURE(std::string(NormKind<Params>::info.name));
    auto g = NormKind<Params>::check(p);
    REQUIRE(g.ok());
    REQUIRE(g->stat_groups > kMobileGridLimit * ctx.capabilities().workgroup_size);
    const std::string failure = run_kind_end_to_end(ctx, p, 11);
    CHECK_MESSAGE(failure.empty(), failure);
  });
  check_no_validation_messages();
}

}  // namespace vknorm::test

namespace vknorm::test {

// What cross-device BatchNorm needs of the seams: each device records its partial
// statistics, the engine merges them (Chan's formula, in rank order, rebased to one pivot)
// and writes the merged record back, and each device finalizes and applies. Two contexts
// with different reduction paths stand for the two devices; the ranks hold different batch
// sizes.
TEST_CASE("Statistics partials of two devices merge into the statistics of the whole batch") {
  const uint32_t stats = static_cast<uint32_t>(Phase::statistics);
  const uint32_t finalize_apply = static_cast<uint32_t>(Phase::finalize) | static_cast<uint32_t>(Phase::apply);
  // (N, C, L) with a group walk over each channel's rows, and (N, C) with 40 channels,
  // which the partial pass reads through the column view (a partial per lane).
  for (const std::vector<int64_t>& tail : {std::vector<int64_t>{3, 40}, std::vector<int64_t>{40}}) {
    const int64_t ranks_n[2] = {2, 5};
    std::vector<int64_t> full_shape = {ranks_n[0] + ranks_n[1]};
    full_shape.insert(full_shape.end(), tail.begin(), tail.end());
    CAPTURE(shape_name(full_shape));
    BatchNormParams full;
    full.shape = full_shape;
    const uint64_t C = static_cast<uint64_t>(tail[0]);
    const uint64_t per_sample = product(tail);
    std::mt19937 rng(5);
    const auto x = random_vector(product(full_shape), rng, 1000.0f, 3.0f);  // |mean| >> std: the pivot matters
    const auto w = random_vector(C, rng, 1.0f, 0.5f), b = random_vector(C, rng, 0.0f, 0.5f);
    const std::vector<float> rm0(C, 0.25f), rv0(C, 2.0f);
    auto ref_rm = rm0, ref_rv = rv0;
    auto want = reference::batch_norm_forward(full, x, w, b, ref_rm, ref_rv);
    REQUIRE(want.ok());

    const PlanOptions split{.split = true};
    Context* devices[2] = {&context_for(TestDevice::subgroup), &context_for(TestDevice::shared_memory)};
    std::vector<std::unique_ptr<RoleBuffers>> buffers;
    std::vector<ExecutionPlan> plans;
    std::vector<NormPlan> norm_plans;
    uint64_t first = 0;
    for (int r = 0; r < 2; ++r) {
      BatchNormParams local = full;
      local.shape[0] = ranks_n[r];
      norm_plans.push_back(planned(local));
      auto fplan = plan_forward(devices[r]->capabilities(), norm_plans[r], split);
      auto bplan = plan_backward(devices[r]->capabilities(), norm_plans[r], split);
      REQUIRE(fplan.ok());
      REQUIRE(bplan.ok());
      plans.push_back(fplan.value());
      buffers.push_back(std::make_unique<RoleBuffers>(*devices[r], fplan.value(), bplan.value(), 9));
      auto put = [&](Role role, const float* v, size_t n) { std::memcpy(buffers[r]->buffers.at(role).data(), v, n * 4); };
      const uint64_t count = static_cast<uint64_t>(ranks_n[r]) * per_sample;
      put(Role::x, x.data() + first, count);
      first += count;
      put(Role::weight, w.data(), C);
      put(Role::bias, b.data(), C);
      put(Role::running_mean, rm0.data(), C);
      put(Role::running_var, rv0.data(), C);
      submit(*devices[r], [&](CommandRecorder& rec) {
        return record_norm_forward(rec, norm_plans[r], buffers[r]->forward(), split, stats);
      });
    }

    // The engine's exchange: every rank's records of group g, in rank order, rebased to
    // rank 0's pivot and merged into one record.
    std::vector<float> merged(C * 3), pivots(C);
    for (uint64_t g = 0; g < C; ++g) {
      double n = 0, mean = 0, m2 = 0;
      std::vector<float> work0 = buffers[0]->floats(Role::workspace);
      const uint32_t chunks0 = plans[0].chunks;
      const float pivot0 = work0[C * chunks0 * kStatsRecordFloats + g];
      for (int r = 0; r < 2; ++r) {
        const std::vector<float> work = buffers[r]->floats(Role::workspace);
        const uint32_t chunks = plans[r].chunks;
        const float pivot = work[C * chunks * kStatsRecordFloats + g];
        CHECK(pivot == x[(r == 0 ? 0 : ranks_n[0] * per_sample) + g * (per_sample / C)]);  // x's first of the group
        for (uint32_t c = 0; c < chunks; ++c) {
          const float* rec = &work[(g * chunks + c) * kStatsRecordFloats];
          uint32_t nb;
          std::memcpy(&nb, &rec[VKNORM_STATS_RECORD_COUNT], 4);
          if (nb == 0) continue;
          const double mb = static_cast<double>(rec[VKNORM_STATS_RECORD_MEAN]) + (pivot - pivot0);
          const double total = n + nb, delta = mb - mean;
          mean += delta * nb / total;
          m2 += rec[VKNORM_STATS_RECORD_M2] + delta * delta * n * nb / total;
          n = total;
        }
      }
      const uint32_t count = static_cast<uint32_t>(n);
      std::memcpy(&merged[g * 3 + VKNORM_STATS_RECORD_COUNT], &count, 4);
      merged[g * 3 + VKNORM_STATS_RECORD_MEAN] = static_cast<float>(mean);
      merged[g * 3 + VKNORM_STATS_RECORD_M2] = static_cast<float>(m2);
      pivots[g] = pivot0;
    }
    std::map<Role, std::vector<float>> out[2];
    for (int r = 0; r < 2; ++r) {
      // The merged record as each group's first chunk, the other chunks empty.
      float* work = buffers[r]->buffers.at(Role::workspace).as<float>();
      const uint32_t chunks = plans[r].chunks;
      std::memset(work, 0, C * chunks * kStatsRecordFloats * 4);
      for (uint64_t g = 0; g < C; ++g) std::memcpy(&work[g * chunks * kStatsRecordFloats], &merged[g * 3], 12);
      std::memcpy(&work[C * chunks * kStatsRecordFloats], pivots.data(), C * 4);
      submit(*devices[r], [&](CommandRecorder& rec) {
        return record_norm_forward(rec, norm_plans[r], buffers[r]->forward(), split, finalize_apply);
      });
      for (Role role : {Role::y, Role::save_mean, Role::save_invstd, Role::running_mean, Role::running_var})
        out[r][role] = buffers[r]->floats(role);
    }
    // Every rank holds the same bits of the statistics, and they are the whole batch's.
    for (Role role : {Role::save_mean, Role::save_invstd, Role::running_mean, Role::running_var}) {
      CAPTURE(to_string(role));
      CHECK(out[0][role] == out[1][role]);
    }
    auto head = [](std::vector<float> v, size_t n) { v.resize(n); return v; };
    check_close(head(out[0][Role::save_mean], C), want->save_mean, 3e-5, "save_mean");
    check_close(head(out[0][Role::save_invstd], C), want->save_invstd, 3e-5, "save_invstd");
    check_close(head(out[0][Role::running_mean], C), ref_rm, 3e-5, "running_mean (unbiased over the whole batch)");
    check_close(head(out[0][Role::running_var], C), ref_rv, 3e-5, "running_var (unbiased over the whole batch)");
    std::vector<float> y = head(out[0][Role::y], ranks_n[0] * per_sample), y1 = head(out[1][Role::y], ranks_n[1] * per_sample);
    y.insert(y.end(), y1.begin(), y1.end());
    check_close(y, want->y, 3e-5, "y of both ranks");
  }
  check_no_validation_messages();
}

}  // namespace vknorm::test

namespace vknorm::test {

TEST_CASE("Recording checks buffers in the call's order, and the backward always names its workspace") {
  Context& ctx = context_for(TestDevice::subgroup);
  auto buffer = ctx.create_buffer(1 << 16);
  REQUIRE(buffer.ok());
  const BufferRef any = ref(*buffer);
  LayerNormParams ln;
  ln.shape = {130, 33};
  ln.normalized_shape = {33};
  ln.elementwise_affine = ln.bias = false;  // a team backward with no records at all (on subgroup devices)
  auto rec = ctx.begin_commands();
  REQUIRE(rec.ok());
  auto refusal = [&](const NormBackwardBuffers& b) { return record_layer_norm_backward(*rec.value(), ln, b).message(); };
  NormBackwardBuffers b;
  b.x = b.dy = b.dx = b.save_mean = b.save_invstd = b.workspace = any;
  CHECK(record_layer_norm_backward(*rec.value(), ln, b).ok());
  NormBackwardBuffers no_workspace = b;
  no_workspace.workspace = {};
  CHECK(refusal(no_workspace).find("buffers.workspace: expected a VkBuffer") == 0);
  NormBackwardBuffers several = no_workspace;  // dx is checked before the statistics and the workspace
  several.dx = {};
  several.save_mean = {};
  CHECK(refusal(several).find("buffers.dx: expected a VkBuffer") == 0);
  NormForwardBuffers f{any, any, any, any, any, any, any, any, any};
  f.residual = {};
  f.save_mean = {};
  ln.epilogue.residual = true;  // the residual is checked right after x, y, weight and bias
  CHECK(record_layer_norm_forward(*rec.value(), ln, f).message().find("buffers.residual: expected a VkBuffer") == 0);
}

}  // namespace vknorm::test

namespace vknorm::test {

// Sizes past one binding: every kind's workspace query refuses them (before, LayerNorm
// (2^61, 2) got a workspace of 2^61 * 5 floats, which wrapped in bytes), and so does
// SyncBatchNorm's; a shape just inside the limit still answers with a sane size.
TEST_CASE("Workspace queries refuse tensors past one binding instead of wrapping") {
  Context& ctx = context_for(TestDevice::subgroup);
  const int64_t big = int64_t{1} << 61;
  auto refused = [](const auto& result, const std::string& what) {
    CAPTURE(what);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::unsupported);
    CHECK_MESSAGE(result.status().message().find("elements, more than the 2^32 - 1 a binding indexes") !=
                      std::string::npos, result.status().message());
  };
  LayerNormParams ln;
  ln.shape = {big, 2};
  ln.normalized_shape = {2};
  refused(layer_norm_workspace_size(ctx, ln), "LayerNorm (2^61, 2)");
  ln.shape = {int64_t{1} << 31, 2};
  refused(layer_norm_workspace_size(ctx, ln), "LayerNorm (2^31, 2)");
  RMSNormParams rms;
  rms.shape = {big, 2};
  rms.normalized_shape = {2};
  refused(rms_norm_workspace_size(ctx, rms), "RMSNorm (2^61, 2)");
  BatchNormParams bn;
  bn.shape = {2, big / 4, 2};
  refused(batch_norm_workspace_size(ctx, bn), "BatchNorm (2, 2^59, 2)");
  refused(sync_batch_norm_workspace_size(ctx, bn), "SyncBatchNorm (2, 2^59, 2)");
  InstanceNormParams in;
  in.shape = {int64_t{1} << 20, int64_t{1} << 20, 4};
  refused(instance_norm_workspace_size(ctx, in), "InstanceNorm (2^20, 2^20, 4)");
  GroupNormParams gn;
  gn.shape = {int64_t{1} << 30, 4, 1024};
  gn.num_groups = 2;
  refused(group_norm_workspace_size(ctx, gn), "GroupNorm (2^30, 4, 1024)");
  // Inside the limits: rows of 2 need at least a statistics record per row.
  ln.shape = {1 << 20, 2};
  auto fits = layer_norm_workspace_size(ctx, ln);
  REQUIRE_MESSAGE(fits.ok(), fits.status().message());
  CHECK(fits.value() >= 4);
}

}  // namespace vknorm::test
