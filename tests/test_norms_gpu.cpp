// LayerNorm, RMSNorm, GroupNorm and InstanceNorm on the device against the CPU reference
// (double accumulation), on every device configuration, both layouts where they apply,
// float32 and float16 storage, forward and backward. Tolerances as in
// test_batchnorm_gpu.cpp: 3e-5 of the largest magnitude, plus the float16 rounding of
// each stored output (kHalfRounding) when the tensors are float16 (inputs are rounded to
// float16 before either side sees them).
#include <random>

#include "gpu_support.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/rmsnorm.hpp"

namespace vknorm::test {
namespace {

// Inputs of one case; float16 cases hold values already rounded to float16.
struct NormInputs {
  std::vector<float> x, dy, w, b;
};

NormInputs make_inputs(size_t elements, size_t affine, DType dtype, uint32_t seed, float mean = 0.5f, float stddev = 2.0f) {
  std::mt19937 rng(seed);
  NormInputs in{random_vector(elements, rng, mean, stddev), random_vector(elements, rng),
            random_vector(affine, rng, 1.0f, 0.5f), random_vector(affine, rng, 0.0f, 0.5f)};
  if (dtype == DType::f16) {
    in.x = round_to_half(in.x);
    in.dy = round_to_half(in.dy);
  }
  return in;
}

void compare_forward(const Result<NormForwardResult>& got, const Result<NormForwardResult>& want, DType dtype) {
  REQUIRE_MESSAGE(want.ok(), want.status().message());
  REQUIRE_MESSAGE(got.ok(), got.status().message());
  const double rel = dtype == DType::f16 ? kHalfRounding : 0.0;
  check_close(got->y, want->y, kTol, "y", {}, 1, rel);
  check_close(got->save_mean, want->save_mean, kTol, "save_mean");
  check_close(got->save_invstd, want->save_invstd, kTol, "save_invstd");
}

void compare_backward(const Result<NormBackwardResult>& got, const Result<NormBackwardResult>& want, DType dtype) {
  REQUIRE_MESSAGE(want.ok(), want.status().message());
  REQUIRE_MESSAGE(got.ok(), got.status().message());
  const double rel = dtype == DType::f16 ? kHalfRounding : 0.0;
  check_close(got->dx, want->dx, kTol, "dx", {}, 1, rel);
  check_close(got->dweight, want->dweight, kTol, "dweight");
  check_close(got->dbias, want->dbias, kTol, "dbias");
}

struct Trailing {
  std::vector<int64_t> shape;
  int normalized_dims;
};

// LayerNorm rows of 1, 7, 768, 4097 and 65536 elements (the last two take the split
// reduction), and a normalized_shape of two dims.
const Trailing kRows[] = {{{3, 1}, 1}, {{5, 7}, 1}, {{4, 768}, 1}, {{3, 4097}, 1}, {{2, 65536}, 1}, {{2, 3, 4, 5}, 2},
                          {{130, 33}, 1},   // enough rows for a subgroup per row at every subgroup size
                          {{130, 32}, 1}};  // whole units: on lavapipe blocks of 4 rows per team, the last of 2

std::vector<int64_t> trailing(const Trailing& t) {
  return std::vector<int64_t>(t.shape.end() - t.normalized_dims, t.shape.end());
}

}  // namespace

TEST_CASE("LayerNorm GPU matches the CPU reference") {
  uint32_t seed = 1;
  for (TestDevice device : kDevices)
    for (DType dtype : {DType::f32, DType::f16})
      for (const Trailing& t : kRows)
        for (int affine = 0; affine < 3; ++affine) {  // none, weight only, weight and bias
          const std::string device_name = name(device), shape = shape_name(t.shape);
          const bool f16 = dtype == DType::f16;
          CAPTURE(device_name);
          CAPTURE(shape);
          CAPTURE(affine);
          CAPTURE(f16);
          LayerNormParams p;
          p.shape = t.shape;
          p.normalized_shape = trailing(t);
          p.elementwise_affine = affine > 0;
          p.bias = affine == 2;
          p.dtype = dtype;
          NormInputs in = make_inputs(product(t.shape), product(p.normalized_shape), dtype, seed++);
          Context& ctx = context_for(device);
          if (skip_if_unsupported(ctx, dtype)) continue;
          auto got = layer_norm_forward(ctx, p, in.x, in.w, in.b);
          compare_forward(got, reference::layer_norm_forward(p, in.x, in.w, in.b), dtype);
          compare_backward(layer_norm_backward(ctx, p, in.x, in.dy, in.w, got->save_mean, got->save_invstd),
                           reference::layer_norm_backward(p, in.x, in.dy, in.w), dtype);
          check_no_validation_messages();
        }
}

TEST_CASE("RMSNorm GPU matches the CPU reference") {
  uint32_t seed = 100;
  for (TestDevice device : kDevices)
    for (DType dtype : {DType::f32, DType::f16})
      for (const Trailing& t : kRows)
        for (bool affine : {true, false})
          for (bool default_eps : {true, false}) {
            const std::string device_name = name(device), shape = shape_name(t.shape);
            const bool f16 = dtype == DType::f16;
            CAPTURE(device_name);
            CAPTURE(shape);
            CAPTURE(affine);
            CAPTURE(f16);
            RMSNormParams p;
            p.shape = t.shape;
            p.normalized_shape = trailing(t);
            p.elementwise_affine = affine;
            if (!default_eps) p.eps = 1e-3f;
            p.dtype = dtype;
            NormInputs in = make_inputs(product(t.shape), product(p.normalized_shape), dtype, seed++);
            Context& ctx = context_for(device);
            if (skip_if_unsupported(ctx, dtype)) continue;
            auto got = rms_norm_forward(ctx, p, in.x, in.w);
            compare_forward(got, reference::rms_norm_forward(p, in.x, in.w), dtype);
            compare_backward(rms_norm_backward(ctx, p, in.x, in.dy, in.w, got->save_invstd),
                             reference::rms_norm_backward(p, in.x, in.dy, in.w), dtype);
            check_no_validation_messages();
          }
}

TEST_CASE("GroupNorm GPU matches the CPU reference") {
  struct Case {
    std::vector<int64_t> shape;
    int64_t groups;
  };
  // G = 1 and G = C, groups of several channels, 1-D and 3-D spatial, a group that takes
  // the split reduction (64 channels of 56x56 in 32 groups: 6272 values per group).
  const Case cases[] = {{{2, 6, 5, 7}, 1}, {{2, 6, 5, 7}, 2}, {{2, 6, 5, 7}, 3}, {{2, 6, 5, 7}, 6},
                        {{3, 4, 17}, 2},   {{2, 6, 3, 4, 5}, 3}, {{1, 64, 56, 56}, 32}, {{3, 5}, 5},
                        {{4, 64, 5, 5}, 32},  // 128 groups of two planes: a subgroup each at every size
                        {{33, 16, 2, 2}, 4}};  // NHWC rows of whole units: on lavapipe blocks of 4
                                               // samples of one group per team, the last of 1
  uint32_t seed = 200;
  for (TestDevice device : kDevices)
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (DType dtype : {DType::f32, DType::f16})
        for (const Case& c : cases)
          for (bool affine : {true, false}) {
            const std::string device_name = name(device), shape = shape_name(c.shape);
            const bool nhwc = layout == Layout::nhwc, f16 = dtype == DType::f16;
            CAPTURE(device_name);
            CAPTURE(shape);
            CAPTURE(c.groups);
            CAPTURE(nhwc);
            CAPTURE(f16);
            CAPTURE(affine);
            GroupNormParams p;
            p.shape = c.shape;
            p.num_groups = c.groups;
            p.affine = affine;
            p.layout = layout;
            p.dtype = dtype;
            NormInputs in = make_inputs(product(c.shape), static_cast<size_t>(c.shape[1]), dtype, seed++);
            Context& ctx = context_for(device);
            if (skip_if_unsupported(ctx, dtype)) continue;
            auto got = group_norm_forward(ctx, p, in.x, in.w, in.b);
            compare_forward(got, reference::group_norm_forward(p, in.x, in.w, in.b), dtype);
            compare_backward(group_norm_backward(ctx, p, in.x, in.dy, in.w, got->save_mean, got->save_invstd),
                             reference::group_norm_backward(p, in.x, in.dy, in.w), dtype);
            check_no_validation_messages();
          }
}

TEST_CASE("InstanceNorm GPU matches the CPU reference") {
  struct Case {
    std::vector<int64_t> shape;
    InstanceNormDims dims;
  };
  const Case cases[] = {{{2, 3, 9, 11}, InstanceNormDims::d2},   {{3, 9, 11}, InstanceNormDims::d2},
                        {{4, 5, 33}, InstanceNormDims::d1},      {{2, 2, 3, 4, 5}, InstanceNormDims::d3},
                        {{1, 2, 70, 70}, InstanceNormDims::any}, {{4, 20, 6, 6}, InstanceNormDims::d2},
                        {{2, 36, 8200}, InstanceNormDims::d1}};  // channels-last: the column view, B = 2
  struct Mode {
    const char* name;
    bool training, track;
  };
  const Mode modes[] = {{"train", true, false}, {"train-tracked", true, true}, {"eval-tracked", false, true},
                        {"eval", false, false}};
  uint32_t seed = 300;
  for (TestDevice device : kDevices)
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (DType dtype : {DType::f32, DType::f16})
        for (const Case& c : cases)
          for (const Mode& mode : modes)
            for (bool affine : {true, false}) {
              const std::string device_name = name(device), shape = shape_name(c.shape);
              const bool nhwc = layout == Layout::nhwc, f16 = dtype == DType::f16;
              CAPTURE(device_name);
              CAPTURE(shape);
              const std::string mode_name = mode.name;
              CAPTURE(mode_name);
              CAPTURE(nhwc);
              CAPTURE(f16);
              CAPTURE(affine);
              InstanceNormParams p;
              p.shape = c.shape;
              p.dims = c.dims;
              p.training = mode.training;
              p.track_running_stats = mode.track;
              p.affine = affine;
              p.layout = layout;
              p.dtype = dtype;
              const size_t C = static_cast<size_t>(c.shape[c.shape.size() == 3 && c.dims == InstanceNormDims::d2 ? 0 : 1]);
              NormInputs in = make_inputs(product(c.shape), C, dtype, seed++);
              std::mt19937 rng(seed);
              std::vector<float> rm, rv;
              if (mode.track) {
                rm = random_vector(C, rng, 0.3f, 0.2f);
                rv = random_vector(C, rng, 1.5f, 0.2f);
              }
              std::vector<float> rm_gpu = rm, rv_gpu = rv, rm_ref = rm, rv_ref = rv;
              Context& ctx = context_for(device);
              if (skip_if_unsupported(ctx, dtype)) continue;
              auto got = instance_norm_forward(ctx, p, in.x, in.w, in.b, rm_gpu, rv_gpu);
              compare_forward(got, reference::instance_norm_forward(p, in.x, in.w, in.b, rm_ref, rv_ref), dtype);
              check_close(rm_gpu, rm_ref, kTol, "running_mean");
              check_close(rv_gpu, rv_ref, kTol, "running_var");
              const bool batch = mode.training || !mode.track;
              compare_backward(instance_norm_backward(ctx, p, in.x, in.dy, in.w, batch ? got->save_mean : rm,
                                                      batch ? got->save_invstd : rv),
                               reference::instance_norm_backward(p, in.x, in.dy, in.w, rm, rv), dtype);
              check_no_validation_messages();
            }
}

TEST_CASE("Numerical stress that broke peers: float16 deviations above 256, constant rows, mean 1e4") {
  for (TestDevice device : kDevices) {
    const std::string device_name = name(device);
    CAPTURE(device_name);
    Context& ctx = context_for(device);
    if (!skip_if_unsupported(ctx, DType::f16)) {  // float16 values 1000 +- 300: squares overflow float16,
                                                   // deviations exceed 256
      LayerNormParams p;
      p.shape = {4, 1000};
      p.normalized_shape = {1000};
      p.dtype = DType::f16;
      NormInputs in = make_inputs(4000, 1000, DType::f16, 7, 1000.0f, 300.0f);
      auto got = layer_norm_forward(ctx, p, in.x, in.w, in.b);
      compare_forward(got, reference::layer_norm_forward(p, in.x, in.w, in.b), DType::f16);
      double spread = 0.0;
      for (float y : got->y) spread = std::max(spread, std::fabs(static_cast<double>(y)));
      CHECK(spread > 1.0);  // not collapsed to zero
    }
    {  // constant rows with eps = 1e-12: y = beta, no NaN
      LayerNormParams p;
      p.shape = {3, 300};
      p.normalized_shape = {300};
      p.eps = 1e-12f;
      std::vector<float> x(900, 3.25f), w(300, 2.0f), b(300, 0.5f);
      auto got = layer_norm_forward(ctx, p, x, w, b);
      REQUIRE(got.ok());
      compare_forward(got, reference::layer_norm_forward(p, x, w, b), DType::f32);
      for (float y : got->y) CHECK(y == 0.5f);
    }
    {  // mean 1e4, unit variance, in rows and in groups
      LayerNormParams p;
      p.shape = {2, 4096};
      p.normalized_shape = {4096};
      NormInputs in = make_inputs(8192, 4096, DType::f32, 9, 1e4f, 1.0f);
      auto want = reference::layer_norm_forward(p, in.x, in.w, in.b);
      auto got = layer_norm_forward(ctx, p, in.x, in.w, in.b);
      REQUIRE(got.ok());
      for (size_t r = 0; r < 2; ++r) CHECK(got->save_invstd[r] == doctest::Approx(want->save_invstd[r]).epsilon(1e-4));
      // y may also differ by the float32 rounding of the mean (see the BatchNorm test).
      double max_gamma = 0.0;
      for (float w : in.w) max_gamma = std::max(max_gamma, std::fabs(static_cast<double>(w)));
      std::vector<double> mean_rounding = {0.5 * std::ldexp(1.0, -10) * want->save_invstd[0] * max_gamma};
      check_close(got->y, want->y, kTol, "y", mean_rounding, 1);
    }
    check_no_validation_messages();
  }
}

TEST_CASE("GroupNorm(1) equals LayerNorm over (C, *), GroupNorm(C) equals InstanceNorm, on the GPU") {
  for (TestDevice device : kDevices) {
    const std::string device_name = name(device);
    CAPTURE(device_name);
    Context& ctx = context_for(device);
    const std::vector<int64_t> shape = {3, 4, 5, 6};
    NormInputs in = make_inputs(360, 4, DType::f32, 11);
    GroupNormParams g1;
    g1.shape = shape;
    g1.num_groups = 1;
    g1.affine = false;
    LayerNormParams ln;
    ln.shape = shape;
    ln.normalized_shape = {4, 5, 6};
    ln.elementwise_affine = false;
    ln.bias = false;
    auto a = group_norm_forward(ctx, g1, in.x, {}, {});
    auto b = layer_norm_forward(ctx, ln, in.x, {}, {});
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    check_close(a->y, b->y, 1e-6, "GroupNorm(1) vs LayerNorm");
    GroupNormParams gc = g1;
    gc.num_groups = 4;
    InstanceNormParams inorm;
    inorm.shape = shape;
    std::vector<float> none;
    auto c = group_norm_forward(ctx, gc, in.x, {}, {});
    auto d = instance_norm_forward(ctx, inorm, in.x, {}, {}, none, none);
    REQUIRE(c.ok());
    REQUIRE(d.ok());
    check_close(c->y, d->y, 1e-6, "GroupNorm(C) vs InstanceNorm");
    check_no_validation_messages();
  }
}

}  // namespace vknorm::test
