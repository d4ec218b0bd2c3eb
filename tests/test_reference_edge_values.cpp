// The CPU reference on Inf, NaN and huge finite values (issue 13 item 1), for every kind:
// against PyTorch 1.13's results (tests/fixtures/inf_nan_cases.py prints them) where
// PyTorch's float32 is exact, and against float64 closed forms where it is not (values
// from 1e20 to 1e36, where PyTorch gives NaN or invstd 0 and vknorm the float64 result).
// Statistics group 0 holds the edge values; group 1 is ordinary and must not see them.
#include <algorithm>
#include <cmath>

#include "reference_support.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/rmsnorm.hpp"

// A namespace of its own: its kInf, kNaN and Kind are test_edge_values_gpu.cpp's names, and
// the unity build (tests/CMakeLists.txt) may compile both files as one.
namespace vknorm::test::reference_edge_values {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const std::vector<float> kOrdinary = {0.5f, -1.0f, 2.0f, 4.0f};
const std::vector<float> kDy = {1.0f, -2.0f, 0.5f, 3.0f};

// What every kind gives for a group of four: its mean and invstd (RMSNorm: invrms), y,
// dx and, for BatchNorm/InstanceNorm, the running statistics (momentum 0.1 from 0 and 1).
struct Group {
  float mean, invstd;
  std::vector<float> y, dx;
  float running_mean, running_var;
};

// The two groups of x (4 values each) as each kind lays them out, run through the
// reference with weight 1 and bias 0.
enum class Kind { batch, instance, group, layer, rms };

std::vector<Group> run(Kind kind, const std::vector<float>& g0) {
  std::vector<float> x, dy;
  const bool channels_inner = kind == Kind::batch;  // BatchNorm1d (4, 2): x[n * 2 + c]
  for (size_t i = 0; i < 8; ++i) {
    const size_t g = channels_inner ? i % 2 : i / 4, k = channels_inner ? i / 2 : i % 4;
    x.push_back(g == 0 ? g0[k] : kOrdinary[k]);
    dy.push_back(kDy[k]);
  }
  std::vector<float> rm = {0.0f, 0.0f}, rv = {1.0f, 1.0f}, rm0 = rm, rv0 = rv;
  Result<NormForwardResult> f = Status::invalid_argument("kind");
  Result<NormBackwardResult> b = Status::invalid_argument("kind");
  switch (kind) {
    case Kind::batch: {
      BatchNormParams p;
      p.shape = {4, 2};
      f = reference::batch_norm_forward(p, x, {1, 1}, {0, 0}, rm, rv);
      b = reference::batch_norm_backward(p, x, dy, {1, 1}, rm0, rv0);
      break;
    }
    case Kind::instance: {
      InstanceNormParams p;
      p.shape = {1, 2, 4};
      p.affine = p.track_running_stats = true;
      f = reference::instance_norm_forward(p, x, {1, 1}, {0, 0}, rm, rv);
      b = reference::instance_norm_backward(p, x, dy, {1, 1}, rm0, rv0);
      break;
    }
    case Kind::group: {
      GroupNormParams p;
      p.shape = {2, 2, 2};
      f = reference::group_norm_forward(p, x, {1, 1}, {0, 0});
      b = reference::group_norm_backward(p, x, dy, {1, 1});
      break;
    }
    case Kind::layer: {
      LayerNormParams p;
      p.shape = {2, 4};
      p.normalized_shape = {4};
      f = reference::layer_norm_forward(p, x, {1, 1, 1, 1}, {0, 0, 0, 0});
      b = reference::layer_norm_backward(p, x, dy, {1, 1, 1, 1});
      break;
    }
    case Kind::rms: {
      RMSNormParams p;
      p.shape = {2, 4};
      p.normalized_shape = {4};
      f = reference::rms_norm_forward(p, x, {1, 1, 1, 1});
      b = reference::rms_norm_backward(p, x, dy, {1, 1, 1, 1});
      break;
    }
  }
  REQUIRE_MESSAGE(f.ok(), f.status().message());
  REQUIRE_MESSAGE(b.ok(), b.status().message());
  std::vector<Group> out(2);
  for (size_t g = 0; g < 2; ++g) {
    out[g].mean = kind == Kind::rms ? 0.0f : f->save_mean[g];
    out[g].invstd = f->save_invstd[g];
    out[g].running_mean = rm[g];
    out[g].running_var = rv[g];
  }
  for (size_t i = 0; i < 8; ++i) {
    const size_t g = channels_inner ? i % 2 : i / 4;
    out[g].y.push_back(f->y[i]);
    out[g].dx.push_back(b->dx[i]);
  }
  return out;
}

const Kind kKinds[] = {Kind::batch, Kind::instance, Kind::group, Kind::layer, Kind::rms};
const char* kind_name(Kind k) {
  const char* names[] = {"batch_norm", "instance_norm", "group_norm", "layer_norm", "rms_norm"};
  return names[static_cast<int>(k)];
}

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Group 1 is what it is with group 0 ordinary: bitwise.
void check_other_group(Kind kind, const Group& got) {
  const Group plain = run(kind, {3.0f, 1.0f, -2.0f, 0.25f})[1];
  CHECK(same(got.mean, plain.mean));
  CHECK(same(got.invstd, plain.invstd));
  for (size_t k = 0; k < 4; ++k) {
    CHECK(same(got.y[k], plain.y[k]));
    CHECK(same(got.dx[k], plain.dx[k]));
  }
}

}  // namespace

TEST_CASE("Reference: Inf and NaN give PyTorch's results and stay in their group") {
  struct Case {
    const char* name;
    std::vector<float> x;
    float sum_mean;  // the mean PyTorch's sum gives (BatchNorm, InstanceNorm)
  };
  const Case cases[] = {{"+inf", {1, kInf, 2, 3}, kInf},
                        {"+inf first", {kInf, 1, 2, 3}, kInf},
                        {"-inf", {1, -kInf, 2, 3}, -kInf},
                        {"+inf,-inf", {1, kInf, -kInf, 3}, kNaN},
                        {"nan", {1, kNaN, 2, 3}, kNaN}};
  for (Kind kind : kKinds)
    for (const Case& c : cases) {
      const std::string kind_s = kind_name(kind), case_s = c.name;
      CAPTURE(kind_s);
      CAPTURE(case_s);
      const std::vector<Group> g = run(kind, c.x);
      if (kind == Kind::rms) {
        // 1 / sqrt(mean(x^2)): 0 with an Inf, NaN with a NaN; y = x * invrms: NaN only
        // at the Inf (inf * 0); dx: NaN over the row (through sum(g * xhat)).
        const bool any_nan = std::any_of(c.x.begin(), c.x.end(), [](float v) { return std::isnan(v); });
        CHECK(same(g[0].invstd, any_nan ? kNaN : 0.0f));
        for (size_t k = 0; k < 4; ++k) {
          CHECK(std::isnan(g[0].y[k]) == (!std::isfinite(c.x[k]) || std::isnan(g[0].invstd)));
          if (!std::isnan(g[0].y[k])) CHECK(g[0].y[k] == 0.0f);
          CHECK(std::isnan(g[0].dx[k]));
        }
      } else {
        // BatchNorm/InstanceNorm: PyTorch's sum, ±inf or NaN; GroupNorm/LayerNorm: its
        // Welford update, NaN. invstd, y and dx: NaN over the group.
        const bool welford = kind == Kind::group || kind == Kind::layer;
        CHECK(same(g[0].mean, welford ? kNaN : c.sum_mean));
        CHECK(std::isnan(g[0].invstd));
        for (size_t k = 0; k < 4; ++k) {
          CHECK(std::isnan(g[0].y[k]));
          CHECK(std::isnan(g[0].dx[k]));
        }
        if (kind == Kind::batch || kind == Kind::instance) {
          CHECK(same(g[0].running_mean, c.sum_mean));  // 0.9 * 0 + 0.1 * mean
          CHECK(std::isnan(g[0].running_var));
        }
      }
      check_other_group(kind, g[1]);
    }
}

TEST_CASE("Reference: RMSNorm dweight is NaN only in the Inf's column") {
  RMSNormParams p;
  p.shape = {2, 4};
  p.normalized_shape = {4};
  const std::vector<float> x = {1, kInf, 2, 3, 0.5f, -1, 2, 4}, dy = {1, -2, 0.5f, 3, 1, -2, 0.5f, 3};
  auto b = reference::rms_norm_backward(p, x, dy, {1, 1, 1, 1});
  REQUIRE(b.ok());
  // PyTorch (the formula under autograd): [0.21693, nan, 0.43386, 5.20633].
  CHECK(b->dweight[0] == doctest::Approx(0.21693046).epsilon(1e-6));
  CHECK(std::isnan(b->dweight[1]));
  CHECK(b->dweight[2] == doctest::Approx(0.43386093).epsilon(1e-6));
  CHECK(b->dweight[3] == doctest::Approx(5.20633125).epsilon(1e-6));
}

TEST_CASE("Reference: values from 1e20 to 1e36 give the float64 closed forms, rounded to float32") {
  const std::vector<std::vector<float>> groups = {
      {1.0f, 1e20f, 2.0f, -3e20f}, {1.0f, 1e36f, 2.0f, -1e36f}, {1e36f, 1e36f, -1e36f, 5e35f}, {-3e36f, 1e-3f, 2e36f, 1e35f}};
  for (Kind kind : kKinds)
    for (const std::vector<float>& x : groups) {
      const std::string kind_s = kind_name(kind);
      CAPTURE(kind_s);
      CAPTURE(x[1]);
      // The closed forms in long double (float64 or wider), independent of the reference.
      long double sum = 0, sq = 0;
      for (float v : x) sum += v, sq += static_cast<long double>(v) * v;
      const long double mean = sum / 4;
      long double dev = 0;
      for (float v : x) dev += (v - mean) * (v - mean);
      const long double var = dev / 4, eps = kind == Kind::rms ? 1.1920928955078125e-07L : 1e-5L;
      const long double second = kind == Kind::rms ? sq / 4 : var;
      const long double invstd = 1 / std::sqrt(second + eps);
      const std::vector<Group> g = run(kind, x);
      auto close = [](float got, long double want) {
        return std::isfinite(got) && std::fabs(got - static_cast<double>(want)) <= 1e-6 * std::fabs(double(want));
      };
      CHECK(close(g[0].invstd, invstd));
      if (kind != Kind::rms) CHECK(std::fabs(g[0].mean - double(mean)) <= 1e-6 * double(std::sqrt(var)));
      for (size_t k = 0; k < 4; ++k) {
        const long double y = (kind == Kind::rms ? x[k] : x[k] - mean) * invstd;
        CHECK(std::fabs(g[0].y[k] - double(y)) <= 1e-6);
        CHECK(std::isfinite(g[0].dx[k]));
      }
      if (kind == Kind::batch || kind == Kind::instance) {
        CHECK(close(g[0].running_mean, 0.1L * mean));
        // 0.9 + 0.1 * unbiased variance: float32's range ends at 3.4e38, as float64's
        // rounding to float32 does.
        const long double running_var = 0.9L + 0.1L * var * 4 / 3;
        if (running_var > std::numeric_limits<float>::max()) CHECK(g[0].running_var == kInf);
        else CHECK(close(g[0].running_var, running_var));
      }
      check_other_group(kind, g[1]);
    }
}

}  // namespace vknorm::test::reference_edge_values
