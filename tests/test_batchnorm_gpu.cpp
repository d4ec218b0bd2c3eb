// BatchNorm on the device against the CPU reference (double accumulation), on both
// reduction paths, for every mode: training with and without tracked statistics, eval
// with running statistics, eval without them, affine on and off, forward and backward.
//
// Tolerance: |gpu - ref| <= 3e-5 * max(1, max|ref|). float32 carries 6e-8 relative; the
// kernels sum at most a few thousand terms per invocation and merge partials in a tree
// or in chunk order, which keeps accumulated rounding near 1e-6 of the largest value.
// 3e-5 is the bound the project promises against PyTorch.
#include <cstring>
#include <random>

#include "gpu_support.hpp"
#include "vknorm/batchnorm.hpp"

namespace vknorm::test {
namespace {

struct Mode {
  const char* name;
  bool training, track;
};
const Mode kModes[] = {{"train", true, true}, {"train-untracked", true, false},
                       {"eval", false, true}, {"eval-untracked", false, false}};

// Runs forward and backward on the GPU and on the CPU and compares every output.
// float16 storage: x and dy are rounded to float16 first (the reference sees the values the
// device holds), and y / dx may differ by their own float16 rounding (kHalfRounding).
void compare_with_reference(Context& ctx, const std::vector<int64_t>& shape, const Mode& mode, bool affine,
                            uint32_t seed, Layout layout = Layout::nchw, DType dtype = DType::f32) {
  if (skip_if_unsupported(ctx, dtype)) return;
  const float x_mean = 0.5f, x_std = 2.0f;
  BatchNormParams p;
  p.layout = layout;
  p.dtype = dtype;
  p.shape = shape;
  p.training = mode.training;
  p.track_running_stats = mode.track;
  p.affine = affine;
  p.momentum = 0.1f;
  auto geometry = check_batch_norm(p);
  REQUIRE_MESSAGE(geometry.ok(), geometry.status().message());
  const size_t E = geometry->elements, C = geometry->channels;
  std::mt19937 rng(seed);
  std::vector<float> x = random_vector(E, rng, x_mean, x_std);
  std::vector<float> dy = random_vector(E, rng);
  const double out_rel = dtype == DType::f16 ? kHalfRounding : 0.0;
  if (dtype == DType::f16) {
    x = round_to_half(x);
    dy = round_to_half(dy);
  }
  std::vector<float> w = affine ? random_vector(C, rng, 1.0f, 0.5f) : std::vector<float>();
  std::vector<float> b = affine ? random_vector(C, rng, 0.0f, 0.5f) : std::vector<float>();
  std::vector<float> rm, rv;
  if (mode.track) {
    rm = random_vector(C, rng, 0.3f, 0.2f);
    rv = random_vector(C, rng, 1.5f, 0.2f);
  }
  std::vector<float> rm_gpu = rm, rv_gpu = rv, rm_ref = rm, rv_ref = rv;

  auto want = reference::batch_norm_forward(p, x, w, b, rm_ref, rv_ref);
  REQUIRE_MESSAGE(want.ok(), want.status().message());
  auto got = batch_norm_forward(ctx, p, x, w, b, rm_gpu, rv_gpu);
  REQUIRE_MESSAGE(got.ok(), got.status().message());
  check_close(got->y, want->y, kTol, "y", {}, 1, out_rel);
  check_close(got->save_mean, want->save_mean, kTol, "save_mean");
  check_close(got->save_invstd, want->save_invstd, kTol, "save_invstd");
  check_close(rm_gpu, rm_ref, kTol, "running_mean");
  check_close(rv_gpu, rv_ref, kTol, "running_var");

  auto want_grad = reference::batch_norm_backward(p, x, dy, w, rm, rv);
  REQUIRE_MESSAGE(want_grad.ok(), want_grad.status().message());
  auto got_grad = batch_norm_backward(ctx, p, x, dy, w, got->save_mean, got->save_invstd, rm, rv);
  REQUIRE_MESSAGE(got_grad.ok(), got_grad.status().message());
  check_close(got_grad->dx, want_grad->dx, kTol, "dx", {}, 1, out_rel);
  check_close(got_grad->dweight, want_grad->dweight, kTol, "dweight");
  check_close(got_grad->dbias, want_grad->dbias, kTol, "dbias");
  check_no_validation_messages();
}

}  // namespace

TEST_CASE("BatchNorm GPU matches the CPU reference over shapes, modes and every device configuration") {
  // C = 1; N*spatial = 2; sizes that are no multiple of any workgroup or subgroup size;
  // 1-D, 2-D and 3-D BatchNorm; more channels than a workgroup has invocations; groups
  // split over several chunks.
  const std::vector<std::vector<int64_t>> shapes = {
      {2, 1}, {1, 1, 2}, {5, 3}, {3, 5, 7}, {2, 3, 17, 13}, {4, 7, 9, 11}, {2, 2, 3, 5, 7},
      {7, 1, 1000}, {3, 300, 5}, {3, 2, 5003}, {33, 4, 65},
      {9000, 40},     // BatchNorm1d: channels adjacent, split passes over the column view
      {2, 64, 90, 50}};  // 64 channels of 9000 in planes: a subgroup per channel on lavapipe
  uint32_t seed = 1;
  for (TestDevice device : kDevices) {
    Context& ctx = context_for(device);
    for (const auto& shape : shapes)
      for (const Mode& mode : kModes)
        for (bool affine : {true, false}) {
          const std::string device_name = name(device);
    CAPTURE(device_name);
          CAPTURE(shape_name(shape));
          CAPTURE(mode.name);
          CAPTURE(affine);
          compare_with_reference(ctx, shape, mode, affine, seed++);
        }
  }
}

TEST_CASE("BatchNorm GPU in channels-last layout and float16 storage matches the CPU reference") {
  const std::vector<std::vector<int64_t>> shapes = {{2, 1}, {5, 3}, {3, 5, 7}, {2, 3, 17, 13}, {2, 2, 3, 5, 7},
                                                    {3, 2, 5003},
                                                    {3, 40, 60, 50}};  // channels-last: the column view
  uint32_t seed = 1000;
  for (TestDevice device : kDevices) {
    Context& ctx = context_for(device);
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (DType dtype : {DType::f32, DType::f16}) {
        if (layout == Layout::nchw && dtype == DType::f32) continue;  // the test above
        for (const auto& shape : shapes)
          for (const Mode& mode : kModes)
            for (bool affine : {true, false}) {
              const std::string device_name = name(device);
              CAPTURE(device_name);
              CAPTURE(shape_name(shape));
              CAPTURE(mode.name);
              CAPTURE(affine);
              const bool nhwc = layout == Layout::nhwc, f16 = dtype == DType::f16;
              CAPTURE(nhwc);
              CAPTURE(f16);
              compare_with_reference(ctx, shape, mode, affine, seed++, layout, dtype);
            }
      }
  }
}

TEST_CASE("float16 storage on a device without 16-bit storage runs packed in 32-bit words, with subgroups too") {
  // The mobile configuration above runs float16 packed on the shared-memory path; this
  // context keeps subgroup arithmetic and takes only 16-bit storage away.
  StandaloneOptions options;
  options.descriptor_path = test_descriptor_path();
  options.capability_override.storage_buffer_16bit = false;
  OwnContext ctx(options);
  REQUIRE_FALSE(ctx->capabilities().storage_buffer_16bit);
  REQUIRE(ctx->capabilities().reduction_path == ReductionPath::subgroup);
  uint32_t seed = 3000;
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{2, 3, 5}, {3, 5, 7}, {3, 40, 60, 50}})
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (const Mode& mode : kModes) {
        CAPTURE(shape_name(shape));
        CAPTURE(layout == Layout::nhwc);
        CAPTURE(mode.name);
        compare_with_reference(*ctx, shape, mode, true, seed++, layout, DType::f16);
      }
}

TEST_CASE("BatchNorm GPU keeps precision with a large mean over 2^20 elements per channel") {
  // mean 1e4, std 1: naive E[x^2] - E[x]^2 in float32 gives a variance off by ~16.
  // Beyond 3e-5, each y may differ by the rounding of the float32 mean itself (half an
  // ulp of 1e4 = 4.9e-4, times invstd * |gamma|), which no float32 kernel can avoid.
  for (TestDevice device : kDevices) {
    const std::string device_name = name(device);
    CAPTURE(device_name);
    Context& ctx = context_for(device);
    BatchNormParams p;
    p.shape = {16, 2, 256, 256};
    std::mt19937 rng(7);
    const size_t E = 16 * 2 * 256 * 256, C = 2, S = 256 * 256;
    std::vector<float> x = random_vector(E, rng, 1e4f, 1.0f);
    std::vector<float> w = {1.5f, 0.75f}, b = {0.1f, -0.2f};
    std::vector<float> rm(C, 0.0f), rv(C, 1.0f), rm_ref = rm, rv_ref = rv;
    auto want = reference::batch_norm_forward(p, x, w, b, rm_ref, rv_ref);
    auto got = batch_norm_forward(ctx, p, x, w, b, rm, rv);
    REQUIRE(want.ok());
    REQUIRE_MESSAGE(got.ok(), got.status().message());
    for (size_t c = 0; c < C; ++c) CHECK(got->save_invstd[c] == doctest::Approx(want->save_invstd[c]).epsilon(1e-4));
    std::vector<double> mean_rounding(C);
    for (size_t c = 0; c < C; ++c)
      mean_rounding[c] = 0.5 * std::ldexp(1.0, -10) * want->save_invstd[c] * std::fabs(w[c]);
    check_close(got->y, want->y, kTol, "y", mean_rounding, S);
    check_close(got->save_mean, want->save_mean, 1e-7, "save_mean");  // relative to 1e4
    check_close(rv, rv_ref, kTol, "running_var");
    check_no_validation_messages();
  }
}

TEST_CASE("BatchNorm GPU with momentum=None averages cumulatively like PyTorch") {
  Context& ctx = context_for(TestDevice::subgroup);
  BatchNormState state{std::nullopt, 0};
  BatchNormState ref_state = state;
  BatchNormParams p;
  p.shape = {4, 3, 5};
  std::vector<float> rm(3, 0.0f), rv(3, 1.0f), rm_ref = rm, rv_ref = rv, w, b;
  p.affine = false;
  std::mt19937 rng(3);
  for (int step = 0; step < 3; ++step) {
    std::vector<float> x = random_vector(60, rng, static_cast<float>(step), 1.0f + step);
    p.momentum = state.next_training_factor();
    REQUIRE(batch_norm_forward(ctx, p, x, w, b, rm, rv).ok());
    BatchNormParams pr = p;
    pr.momentum = ref_state.next_training_factor();
    REQUIRE(reference::batch_norm_forward(pr, x, w, b, rm_ref, rv_ref).ok());
  }
  CHECK(state.num_batches_tracked == 3);
  check_close(rm, rm_ref, kTol, "running_mean");
  check_close(rv, rv_ref, kTol, "running_var");
  check_no_validation_messages();
}

TEST_CASE("BatchNorm GPU on an empty batch leaves running statistics and gives zero gradients") {
  for (TestDevice device : kDevices) {
    const std::string device_name = name(device);
    CAPTURE(device_name);
    Context& ctx = context_for(device);
    BatchNormParams p;
    p.shape = {0, 3, 4, 4};
    std::vector<float> x, dy, w = {1, 2, 3}, b = {0, 0, 0}, rm = {1, 2, 3}, rv = {4, 5, 6};
    auto f = batch_norm_forward(ctx, p, x, w, b, rm, rv);
    REQUIRE_MESSAGE(f.ok(), f.status().message());
    CHECK(f->y.empty());
    CHECK(rm == std::vector<float>{1, 2, 3});
    CHECK(rv == std::vector<float>{4, 5, 6});
    auto g = batch_norm_backward(ctx, p, x, dy, w, f->save_mean, f->save_invstd, rm, rv);
    REQUIRE_MESSAGE(g.ok(), g.status().message());
    CHECK(g->dx.empty());
    CHECK(g->dweight == std::vector<float>{0, 0, 0});
    CHECK(g->dbias == std::vector<float>{0, 0, 0});
    check_no_validation_messages();
  }
}

TEST_CASE("BatchNorm GPU training forward and backward are bitwise identical run to run") {
  for (TestDevice device : kDevices) {
    const std::string device_name = name(device);
    CAPTURE(device_name);
    Context& ctx = context_for(device);
    BatchNormParams p;
    p.shape = {8, 5, 37, 29};
    std::mt19937 rng(11);
    const size_t E = 8 * 5 * 37 * 29;
    std::vector<float> x = random_vector(E, rng, 3.0f, 2.0f), dy = random_vector(E, rng);
    std::vector<float> w = random_vector(5, rng), b = random_vector(5, rng);
    std::vector<std::vector<float>> runs;
    for (int run = 0; run < 2; ++run) {
      std::vector<float> rm(5, 0.0f), rv(5, 1.0f);
      auto f = batch_norm_forward(ctx, p, x, w, b, rm, rv);
      REQUIRE(f.ok());
      auto g = batch_norm_backward(ctx, p, x, dy, w, f->save_mean, f->save_invstd, {}, {});
      REQUIRE(g.ok());
      std::vector<float> all = f->y;
      for (const auto* v : {&f->save_mean, &f->save_invstd, &rm, &rv, &g->dx, &g->dweight, &g->dbias})
        all.insert(all.end(), v->begin(), v->end());
      runs.push_back(all);
    }
    CHECK(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * 4) == 0);
    check_no_validation_messages();
  }
}

TEST_CASE("BatchNorm GPU refuses bad input before dispatching anything") {
  Context& ctx = context_for(TestDevice::subgroup);
  std::vector<float> none, rm(3, 0.0f), rv(3, 1.0f);
  auto message = [&](BatchNormParams p, std::vector<float> x, std::vector<float> w, std::vector<float> b) {
    auto r = batch_norm_forward(ctx, p, x, w, b, rm, rv);
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::invalid_argument);
    return r.status().message();
  };
  BatchNormParams p;
  p.shape = {1, 3, 1, 1};
  p.dims = BatchNormDims::d2;
  CHECK(message(p, std::vector<float>(3), std::vector<float>(3, 1), std::vector<float>(3)).find(
            "Expected more than 1 value per channel when training") != std::string::npos);
  p.training = false;  // eval with running statistics accepts one value per channel
  CHECK(batch_norm_forward(ctx, p, std::vector<float>(3), std::vector<float>(3, 1), std::vector<float>(3), rm, rv).ok());
  p.training = true;
  p.shape = {2, 3, 4};
  CHECK(message(p, std::vector<float>(24), std::vector<float>(3, 1), std::vector<float>(3)).find(
            "expected 4D input (got 3D input)") != std::string::npos);
  p.dims = BatchNormDims::any;
  CHECK(message(p, std::vector<float>(24), std::vector<float>(4, 1), std::vector<float>(3)).find(
            "weight should contain 3 elements not 4") != std::string::npos);
  CHECK(message(p, std::vector<float>(23), std::vector<float>(3, 1), std::vector<float>(3)).find("x: expected 24") !=
        std::string::npos);
  check_no_validation_messages();
}

TEST_CASE("BatchNorm recording refuses missing, misaligned and short buffers") {
  Context& ctx = context_for(TestDevice::subgroup);
  BatchNormParams p;
  p.shape = {2, 3, 4};
  auto big = ctx.create_buffer(1024);
  REQUIRE(big.ok());
  BatchNormForwardBuffers b;
  b.x = b.y = b.weight = b.bias = b.running_mean = b.running_var = b.save_mean = b.save_invstd = b.workspace =
      ref(*big);
  auto rec = ctx.begin_commands();
  REQUIRE(rec.ok());
  auto refuse = [&](const BatchNormForwardBuffers& buffers, const std::string& text) {
    Status s = record_batch_norm_forward(*rec.value(), p, buffers);
    CHECK(s.code() == StatusCode::invalid_argument);
    CHECK_MESSAGE(s.message().find(text) != std::string::npos, s.message());
  };
  BatchNormForwardBuffers missing = b;
  missing.workspace = {};
  refuse(missing, "buffers.workspace: expected a VkBuffer");
  BatchNormForwardBuffers misaligned = b;
  misaligned.y.offset = 6;
  refuse(misaligned, "buffers.y: offset 6 is not a multiple of 4");
  BatchNormForwardBuffers short_range = b;
  short_range.weight.size = 8;
  refuse(short_range, "buffers.weight: range of 8 bytes, expected at least 12");
  check_no_validation_messages();
}

}  // namespace vknorm::test
