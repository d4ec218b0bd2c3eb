// SyncBatchNorm: a batch split into shards over several ranks (a standalone context and a
// thread each, the in-process communicator) gives the single-context BatchNorm of the
// whole batch, and every rank the same bits of the statistics and running statistics.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <thread>

#include "gpu_support.hpp"
#include "vknorm/sync_batchnorm.hpp"

namespace vknorm::test {
namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

struct RankResult {
  std::string error;
  NormForwardResult out;
  std::vector<float> running_mean, running_var;
};

struct World {
  std::vector<std::unique_ptr<OwnContext>> contexts;
  explicit World(int size) {
    for (int r = 0; r < size; ++r) contexts.push_back(std::make_unique<OwnContext>(StandaloneOptions{}));
  }
};

// Runs one forward per rank, rank r on shards[r] samples of the batch `x` of `full`.
std::vector<RankResult> run_forward(World& world, const BatchNormParams& full, const std::vector<int64_t>& shards,
                                    const std::vector<float>& x, const std::vector<float>& w,
                                    const std::vector<float>& b, const std::vector<float>& rm,
                                    const std::vector<float>& rv, const std::vector<float>& residual) {
  const int size = static_cast<int>(shards.size());
  auto comms = make_thread_communicators(size);
  const size_t per_sample = product(std::vector<int64_t>(full.shape.begin() + 1, full.shape.end()));
  std::vector<RankResult> results(size);
  std::vector<std::thread> threads;
  size_t first = 0;
  for (int r = 0; r < size; ++r) {
    BatchNormParams local = full;
    local.shape[0] = shards[r];
    const size_t count = static_cast<size_t>(shards[r]) * per_sample;
    std::vector<float> shard(x.begin() + first, x.begin() + first + count), res;
    if (!residual.empty()) res.assign(residual.begin() + first, residual.begin() + first + count);
    first += count;
    threads.emplace_back([&, r, local, shard, res] {
      RankResult& out = results[r];
      out.running_mean = rm;
      out.running_var = rv;
      auto y = sync_batch_norm_forward(**world.contexts[r], *comms[r], local, shard, w, b, out.running_mean,
                                       out.running_var, res);
      if (y) out.out = std::move(y.value());
      else out.error = y.status().message();
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

struct RankGrads {
  std::string error;
  NormBackwardResult out;
};

// Runs one backward per rank with the statistics of rank r's forward.
std::vector<RankGrads> run_backward(World& world, const BatchNormParams& full, const std::vector<int64_t>& shards,
                                    const std::vector<float>& x, const std::vector<float>& dy,
                                    const std::vector<float>& w, const std::vector<RankResult>& forward) {
  const int size = static_cast<int>(shards.size());
  auto comms = make_thread_communicators(size);
  const size_t per_sample = product(std::vector<int64_t>(full.shape.begin() + 1, full.shape.end()));
  const uint64_t merged_count = per_sample / static_cast<uint64_t>(full.shape[1]) * static_cast<uint64_t>(full.shape[0]);
  std::vector<RankGrads> results(size);
  std::vector<std::thread> threads;
  size_t first = 0;
  for (int r = 0; r < size; ++r) {
    BatchNormParams local = full;
    local.shape[0] = shards[r];
    const size_t count = static_cast<size_t>(shards[r]) * per_sample;
    std::vector<float> xs(x.begin() + first, x.begin() + first + count), dys(dy.begin() + first, dy.begin() + first + count);
    first += count;
    threads.emplace_back([&, r, local, xs, dys] {
      auto g = sync_batch_norm_backward(**world.contexts[r], *comms[r], local, xs, dys, w, forward[r].out.save_mean,
                                        forward[r].out.save_invstd, merged_count, forward[r].out.y);
      if (g) results[r].out = std::move(g.value());
      else results[r].error = g.status().message();
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

std::vector<float> sum_over_ranks(const std::vector<RankGrads>& grads, std::vector<float> NormBackwardResult::*member) {
  std::vector<float> sum((grads[0].out.*member).size(), 0.0f);
  for (const RankGrads& g : grads)
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += (g.out.*member)[i];
  return sum;
}


// Runs `full` split into `shards` over the world's first shards.size() contexts, forward
// and backward, against the single context (the world's first) on the whole batch.
// Tolerance for float32 tensors 1e-6 (of max(1, max|want|)): the shards merge the same
// values as the single context, in double on the host where the single context merges
// chunks in float, so the statistics differ by a few float roundings (~1e-7 relative);
// y = (x - mean) * invstd with |x - mean| * invstd <= 4 here adds a few more. Float16
// tensors add the float16 rounding of each stored value: two float results a few float
// ulps apart that straddle a rounding boundary round to neighbours, one float16 ulp apart
// (2 * kHalfRounding relative; seen under the 4-lane subgroup configuration).
void check_world(World& world, BatchNormParams full, const std::vector<int64_t>& shards) {
  Context& single = **world.contexts[0];
  int64_t n = 0;
  for (int64_t s : shards) n += s;
  full.shape[0] = n;
  const uint64_t C = static_cast<uint64_t>(full.shape[1]);
  CAPTURE(shape_name(full.shape));
  CAPTURE(shards.size());
  CAPTURE(shards[1]);
  CAPTURE(full.layout == Layout::nhwc);
  CAPTURE(full.dtype == DType::f16);
  CAPTURE(full.epilogue.relu);
  const bool half = full.dtype == DType::f16;
  const double rel = half ? 2 * kHalfRounding : 0.0;
  std::mt19937 rng(7);
  auto as_stored = [&](std::vector<float> v) { return half ? round_to_half(v) : v; };
  const auto x = as_stored(random_vector(product(full.shape), rng, 2.0f, 1.5f));
  const auto w = random_vector(C, rng, 1.0f, 0.5f), b = random_vector(C, rng, 0.0f, 0.5f);
  const auto residual = full.epilogue.residual ? as_stored(random_vector(x.size(), rng, 0.0f, 1.0f)) : std::vector<float>{};
  const std::vector<float> rm0(C, 0.25f), rv0(C, 2.0f);
  auto want_rm = rm0, want_rv = rv0;
  auto want = batch_norm_forward(single, full, x, w, b, want_rm, want_rv, residual);
  REQUIRE_MESSAGE(want.ok(), want.status().message());

  auto got = run_forward(world, full, shards, x, w, b, rm0, rv0, residual);
  std::vector<float> y;
  for (size_t r = 0; r < got.size(); ++r) {
    CAPTURE(r);
    REQUIRE_MESSAGE(got[r].error.empty(), got[r].error);
    y.insert(y.end(), got[r].out.y.begin(), got[r].out.y.end());
    // Bitwise: every rank finalized the same merged record (NaN for an empty batch).
    CHECK(same_bits(got[r].out.save_mean, got[0].out.save_mean));
    CHECK(same_bits(got[r].out.save_invstd, got[0].out.save_invstd));
    CHECK(got[r].running_mean == got[0].running_mean);
    CHECK(got[r].running_var == got[0].running_var);
  }
  check_close(y, want->y, 1e-6, "y of the shards, concatenated", {}, 1, rel);
  check_close(got[0].out.save_mean, want->save_mean, 1e-6, "save_mean");
  check_close(got[0].out.save_invstd, want->save_invstd, 1e-6, "save_invstd");
  check_close(got[0].running_mean, want_rm, 1e-6, "running_mean");
  check_close(got[0].running_var, want_rv, 1e-6, "running_var (unbiased over the whole batch)");

  // Backward: dx of each shard, and dweight / dbias whose sum over the ranks is the
  // whole batch's (each rank's own contribution).
  const auto dy = as_stored(random_vector(x.size(), rng, 0.0f, 1.0f));
  auto want_grads = batch_norm_backward(single, full, x, dy, w, want->save_mean, want->save_invstd, rm0, rv0, want->y);
  REQUIRE(want_grads.ok());
  auto grads = run_backward(world, full, shards, x, dy, w, got);
  std::vector<float> dx, dresidual;
  for (size_t r = 0; r < grads.size(); ++r) {
    CAPTURE(r);
    REQUIRE_MESSAGE(grads[r].error.empty(), grads[r].error);
    dx.insert(dx.end(), grads[r].out.dx.begin(), grads[r].out.dx.end());
    dresidual.insert(dresidual.end(), grads[r].out.dresidual.begin(), grads[r].out.dresidual.end());
  }
  check_close(dx, want_grads->dx, 1e-6, "dx of the shards, concatenated", {}, 1, rel);
  if (full.epilogue.residual) check_close(dresidual, want_grads->dresidual, 0.0, "dresidual of the shards");
  check_close(sum_over_ranks(grads, &NormBackwardResult::dweight), want_grads->dweight, 1e-6, "sum of dweight");
  check_close(sum_over_ranks(grads, &NormBackwardResult::dbias), want_grads->dbias, 1e-6, "sum of dbias");
  for (size_t r = 0; r < shards.size(); ++r)
    if (shards[r] == 0) CHECK(grads[r].out.dweight == std::vector<float>(C, 0.0f));  // an empty shard's part
}

}  // namespace

TEST_CASE("SyncBatchNorm: shards over 2 and 3 ranks give the whole batch's BatchNorm, the same bits on every rank") {
  World world(3);
  for (const std::vector<int64_t>& shards : {std::vector<int64_t>{3, 5}, std::vector<int64_t>{2, 0, 4}})
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      BatchNormParams full;
      full.shape = {0, 6, 3, 5};
      full.layout = layout;
      full.momentum = 0.3f;
      check_world(world, full, shards);
    }
}

TEST_CASE("SyncBatchNorm: float16 storage, the residual and ReLU epilogue, one-value shards, empty shards") {
  World world(3);
  BatchNormParams full;
  full.shape = {0, 6, 3, 5};
  full.dtype = DType::f16;
  full.layout = Layout::nhwc;
  if (!skip_if_unsupported(*world.contexts[0]->ctx, DType::f16)) check_world(world, full, {3, 0, 2});
  full.dtype = DType::f32;
  full.layout = Layout::nchw;
  full.epilogue.residual = full.epilogue.relu = true;
  check_world(world, full, {2, 3});
  // BatchNorm1d (N, C): a shard of one sample holds one value per channel, which the
  // whole batch does not; an empty shard between.
  BatchNormParams rows;
  rows.shape = {0, 40};
  rows.dims = BatchNormDims::d1;
  check_world(world, rows, {1, 0, 1});
  // Rank 0 empty (the merge rebases to rank 1's pivot), and a batch empty on every rank
  // (nothing to normalize; the running statistics stay as they were, as for BatchNorm).
  full.epilogue = {};
  check_world(world, full, {0, 5, 3});
  check_world(world, full, {0, 0});
}

TEST_CASE("SyncBatchNorm with momentum None: BatchNormState on every rank gives the cumulative average of the whole batches") {
  World world(2);
  const std::vector<int64_t> shards = {1, 3};
  BatchNormParams full;
  full.shape = {4, 3, 2, 2};
  std::mt19937 rng(11);
  std::vector<float> rm(3, 0.0f), rv(3, 1.0f), want_rm = rm, want_rv = rv;
  BatchNormState single_state{.momentum = std::nullopt};
  std::vector<BatchNormState> states(2, single_state);
  std::vector<RankResult> got;
  for (int step = 0; step < 3; ++step) {
    const auto x = random_vector(product(full.shape), rng, 0.5f, 2.0f);
    const std::vector<float> w(3, 1.0f), b(3, 0.0f);
    full.momentum = single_state.next_training_factor();
    REQUIRE(batch_norm_forward(**world.contexts[0], full, x, w, b, want_rm, want_rv).ok());
    for (BatchNormState& s : states) CHECK(s.next_training_factor() == full.momentum);  // every rank's factor
    got = run_forward(world, full, shards, x, w, b, rm, rv, {});
    for (const RankResult& r : got) REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK(got[1].running_mean == got[0].running_mean);
    CHECK(got[1].running_var == got[0].running_var);
    rm = got[0].running_mean;
    rv = got[0].running_var;
  }
  CHECK(states[0].num_batches_tracked == 3);
  check_close(rm, want_rm, 1e-6, "running_mean after 3 steps");
  check_close(rv, want_rv, 1e-6, "running_var after 3 steps");
}

TEST_CASE("SyncBatchNorm forward refuses on every rank what one rank cannot run, without a hang") {
  World world(2);
  auto comms = make_thread_communicators(2);
  BatchNormParams p;
  p.shape = {2, 3, 4};
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      BatchNormParams local = p;
      if (r == 1) local.training = false;  // eval: no exchange on this rank
      std::vector<float> x(24, 1.0f), w(3, 1.0f), b(3, 0.0f), rm(3, 0.0f), rv(3, 1.0f);
      auto y = sync_batch_norm_forward(**world.contexts[r], *comms[r], local, x, w, b, rm, rv);
      errors[r] = y.ok() ? "" : y.status().message();
    });
  for (auto& t : threads) t.join();
  CHECK(errors[1].find("params.training") == 0);
  CHECK(!errors[0].empty());

  // One value per channel over all ranks: PyTorch's message, from the merged batch.
  BatchNormParams one;
  one.shape = {1, 2};
  std::vector<float> gathered(8, 0.0f);
  const uint32_t n = 1;
  std::memcpy(&gathered[0], &n, 4);
  std::memcpy(&gathered[4], &n, 4);
  auto merged = merge_sync_batch_norm_statistics(one, gathered.data(), 1);
  REQUIRE(!merged.ok());
  CHECK(merged.status().message().find("Expected more than 1 value per channel") != std::string::npos);
}

}  // namespace vknorm::test

#include "test_engine.hpp"

namespace vknorm::test {

// The flow the header documents, as an engine records it: two engines (two VkDevices),
// each with its workspace in its own buffer; the partial records leave through a
// transfer copy to a staging region and the merged ones come back through one, with the
// documented barriers (synchronization validation on), and the exchange on the host.
TEST_CASE("SyncBatchNorm in engine mode: statistics, copy out, exchange, copy in, apply, with the documented barriers") {
  const std::vector<int64_t> shards = {2, 3};
  BatchNormParams full;
  full.shape = {5, 4, 3, 3};
  const size_t C = 4, per_sample = 4 * 3 * 3;
  std::mt19937 rng(3);
  // (With |mean| >> std, y would differ from the single context's by the float rounding
  // of the mean, ulp(mean) * invstd, more than 1e-6 of y's scale: tests/test_planner_gpu.cpp
  // covers that case against the double reference.)
  const auto x = random_vector(5 * per_sample, rng, 2.0f, 1.5f);
  const auto w = random_vector(C, rng, 1.0f, 0.5f), b = random_vector(C, rng, 0.0f, 0.5f);
  const std::vector<float> rm0(C, 0.25f), rv0(C, 2.0f);
  auto want_rm = rm0, want_rv = rv0;
  auto want = batch_norm_forward(context_for(TestDevice::subgroup), full, x, w, b, want_rm, want_rv);
  REQUIRE(want.ok());

  struct Rank {
    std::unique_ptr<TestEngine> engine;
    std::unique_ptr<Context> ctx;
    EngineBuffer memory;
    std::vector<VkDeviceSize> offsets, sizes;
    BatchNormParams params;
    SyncBatchNormExchange layout;
    float* region(int i) const { return reinterpret_cast<float*>(static_cast<char*>(memory.mapped) + offsets[i]); }
    BufferRef ref(int i) const { return BufferRef{memory.buffer, offsets[i], sizes[i] * 4}; }
  };
  enum { kX, kY, kW, kB, kRm, kRv, kSm, kSi, kWs, kStaging };
  std::vector<Rank> ranks(2);
  size_t first = 0;
  for (int r = 0; r < 2; ++r) {
    Rank& k = ranks[r];
    k.engine = std::make_unique<TestEngine>();
    EngineHandles handles = k.engine->handles();
    handles.get_instance_proc_addr = vkGetInstanceProcAddr;
    handles.get_device_proc_addr = vkGetDeviceProcAddr;
    auto ctx = Context::create_from_engine(handles);
    REQUIRE_MESSAGE(ctx.ok(), ctx.status().message());
    k.ctx = std::move(ctx.value());
    k.params = full;
    k.params.shape[0] = shards[r];
    auto layout = sync_batch_norm_exchange_layout(*k.ctx, k.params);
    auto ws = sync_batch_norm_workspace_size(*k.ctx, k.params);
    REQUIRE(layout.ok());
    REQUIRE(ws.ok());
    k.layout = layout.value();
    const size_t E = static_cast<size_t>(shards[r]) * per_sample;
    k.sizes = {E, E, C, C, C, C, C, C, ws.value() / 4, std::max(k.layout.download_bytes, k.layout.upload_bytes) / 4};
    VkDeviceSize at = 0;
    for (VkDeviceSize floats : k.sizes) {
      at = (at + 255) / 256 * 256 + 4;  // not storage-buffer aligned
      k.offsets.push_back(at);
      at += floats * 4;
    }
    k.engine->make_buffer(at, true, k.memory);
    std::memcpy(k.region(kX), x.data() + first, E * 4);
    first += E;
    std::memcpy(k.region(kW), w.data(), C * 4);
    std::memcpy(k.region(kB), b.data(), C * 4);
    std::memcpy(k.region(kRm), rm0.data(), C * 4);
    std::memcpy(k.region(kRv), rv0.data(), C * 4);
  }
  auto buffers = [](const Rank& k) {
    return BatchNormForwardBuffers{k.ref(kX),  k.ref(kY),  k.ref(kW),  k.ref(kB), k.ref(kRm),
                                   k.ref(kRv), k.ref(kSm), k.ref(kSi), k.ref(kWs)};
  };
  auto memory_barrier = [](VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access,
                           VkPipelineStageFlags dst, VkAccessFlags dst_access) {
    VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    barrier.srcAccessMask = src_access;
    barrier.dstAccessMask = dst_access;
    vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &barrier, 0, nullptr, 0, nullptr);
  };

  // Steps 1 and 2 on each device: statistics, then compute write -> transfer read, the
  // copy of the records out, transfer write -> host read.
  std::vector<float> gathered;
  for (Rank& k : ranks) {
    VkCommandBuffer cmd = k.engine->begin();
    {
      auto recorder = CommandRecorder::create(*k.ctx, cmd);
      REQUIRE(recorder.ok());
      Status st = record_sync_batch_norm_statistics(*recorder.value(), k.params, buffers(k));
      REQUIRE_MESSAGE(st.ok(), st.message());
      recorder.value()->close_with_barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
      VkBufferCopy out{k.offsets[kWs] + k.layout.download_offset, k.offsets[kStaging], k.layout.download_bytes};
      vkCmdCopyBuffer(cmd, k.memory.buffer, k.memory.buffer, 1, &out);
      memory_barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                     VK_ACCESS_HOST_READ_BIT);
      ENGINE_CHECK(vkEndCommandBuffer(cmd));
      k.engine->submit_and_wait(cmd);
    }
    k.engine->free(cmd);
    // Step 3: the compact record, "all-gathered" in rank order.
    std::vector<float> send(k.layout.send_bytes / 4);
    REQUIRE(compact_sync_batch_norm_statistics(k.params, k.layout, k.region(kStaging), send.data()).ok());
    gathered.insert(gathered.end(), send.begin(), send.end());
  }
  // Steps 4 to 6: merge, copy in (transfer write -> compute read/write), finalize and apply.
  for (Rank& k : ranks) {
    auto merged = merge_sync_batch_norm_statistics(k.params, gathered.data(), 2);
    REQUIRE_MESSAGE(merged.ok(), merged.status().message());
    CHECK(merged->count == 5 * 9);
    REQUIRE(merged->upload.size() * 4 == k.layout.upload_bytes);
    std::memcpy(k.region(kStaging), merged->upload.data(), k.layout.upload_bytes);
    VkCommandBuffer cmd = k.engine->begin();
    {
      VkBufferCopy in{k.offsets[kStaging], k.offsets[kWs] + k.layout.upload_offset, k.layout.upload_bytes};
      vkCmdCopyBuffer(cmd, k.memory.buffer, k.memory.buffer, 1, &in);
      memory_barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
      auto recorder = CommandRecorder::create(*k.ctx, cmd);
      REQUIRE(recorder.ok());
      Status st = record_sync_batch_norm_apply(*recorder.value(), k.params, buffers(k), merged->count);
      REQUIRE_MESSAGE(st.ok(), st.message());
      recorder.value()->close_with_barrier(VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
      ENGINE_CHECK(vkEndCommandBuffer(cmd));
      k.engine->submit_and_wait(cmd);
    }
    k.engine->free(cmd);
  }
  std::vector<float> y;
  for (const Rank& k : ranks) {
    y.insert(y.end(), k.region(kY), k.region(kY) + k.sizes[kY]);
    for (int i : {kSm, kSi, kRm, kRv})
      CHECK(std::vector<float>(k.region(i), k.region(i) + C) == std::vector<float>(ranks[0].region(i), ranks[0].region(i) + C));
  }
  check_close(y, want->y, 1e-6, "y of both engines");
  check_close(std::vector<float>(ranks[0].region(kSm), ranks[0].region(kSm) + C), want->save_mean, 1e-6, "save_mean");
  check_close(std::vector<float>(ranks[0].region(kSi), ranks[0].region(kSi) + C), want->save_invstd, 1e-6, "save_invstd");
  check_close(std::vector<float>(ranks[0].region(kRm), ranks[0].region(kRm) + C), want_rm, 1e-6, "running_mean");
  check_close(std::vector<float>(ranks[0].region(kRv), ranks[0].region(kRv) + C), want_rv, 1e-6, "running_var");
  check_no_validation_messages();
  for (Rank& k : ranks) k.ctx.reset();  // vknorm first, then the engine's objects
}

}  // namespace vknorm::test
