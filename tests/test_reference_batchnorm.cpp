// The CPU BatchNorm reference against closed forms, finite differences, PyTorch's own
// outputs (tests/fixtures/batchnorm) and PyTorch's refusals.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/npy.hpp"
#include "reference_support.hpp"
#include "vknorm/batchnorm.hpp"

using vknorm::BatchNormDims;
using vknorm::BatchNormParams;
using vknorm::StatusCode;
namespace ref = vknorm::reference;
using namespace vknorm::reftest;

namespace {

BatchNormParams make_batch_norm_params(std::vector<int64_t> shape, bool training = true, bool affine = true,
                            bool track = true, BatchNormDims dims = BatchNormDims::any) {
  BatchNormParams p;
  p.shape = std::move(shape);
  p.dims = dims;
  p.training = training;
  p.affine = affine;
  p.track_running_stats = track;
  return p;
}

// ---- A plain double-precision forward, independent of the library, for finite differences.
struct DoubleBatchNorm {
  int64_t n = 0, c = 0, s = 0;
  bool batch_stats = true;
  double eps = 1e-5;
  std::vector<double> running_mean, running_var;  // used when !batch_stats

  // L = sum(y * r)
  double loss(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
              const std::vector<double>& r) const {
    double total = 0.0;
    for (int64_t ch = 0; ch < c; ++ch) {
      double mean = running_mean.empty() ? 0.0 : running_mean[ch];
      double var = running_var.empty() ? 1.0 : running_var[ch];
      if (batch_stats) {
        double sum = 0.0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < s; ++j) sum += x[(i * c + ch) * s + j];
        mean = sum / double(n * s);
        double sq = 0.0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < s; ++j) sq += std::pow(x[(i * c + ch) * s + j] - mean, 2);
        var = sq / double(n * s);
      }
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < s; ++j) {
          const size_t k = size_t((i * c + ch) * s + j);
          total += ((x[k] - mean) / std::sqrt(var + eps) * w[ch] + b[ch]) * r[k];
        }
    }
    return total;
  }
};

void check_finite_differences(const BatchNormParams& p, uint32_t seed) {
  std::mt19937 rng(seed);
  DoubleBatchNorm model;
  model.n = p.shape[0];
  model.c = p.shape[1];
  model.s = 1;
  for (size_t i = 2; i < p.shape.size(); ++i) model.s *= p.shape[i];
  model.batch_stats = p.training || !p.track_running_stats;
  model.eps = p.eps;
  const size_t count = size_t(model.n * model.c * model.s), channels = size_t(model.c);

  const std::vector<float> x = random_vector(count, rng, 0.8f, 1.7f);
  const std::vector<float> r = random_vector(count, rng, 0.0f, 1.0f);  // dL/dy
  std::vector<float> w = random_vector(channels, rng, 1.0f, 0.5f);
  std::vector<float> b = random_vector(channels, rng, 0.0f, 0.3f);
  std::vector<float> rm = random_vector(channels, rng, 0.5f, 0.5f);
  std::vector<float> rv = random_vector(channels, rng, 0.0f, 1.0f);
  for (float& v : rv) v = 0.5f + std::abs(v);
  if (!p.affine) {
    w.assign(channels, 1.0f);
    b.assign(channels, 0.0f);
  }
  if (p.track_running_stats) {
    model.running_mean.assign(rm.begin(), rm.end());
    model.running_var.assign(rv.begin(), rv.end());
  }

  auto grads = ref::batch_norm_backward(p, x, r, p.affine ? w : std::vector<float>{}, rm, rv);
  REQUIRE(grads.ok());

  std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
  const std::vector<double> rd(r.begin(), r.end());
  auto loss = [&] { return model.loss(xd, wd, bd, rd); };
  // The loss is evaluated in double on O(10) terms, so its rounding error is ~1e-15 and
  // h = 1e-5 leaves ~1e-10 from rounding and ~h^2 * |L'''| ~ 1e-10 from truncation. The
  // reference returns float, whose rounding (6e-8 relative) dominates: 1e-6 of the
  // gradient's magnitude is a strict bound that a missing term (O(1)) could never meet.
  const double h = 1e-5, tol = 1e-6;
  std::vector<double> dx(count), dw(channels), db(channels);
  for (size_t k = 0; k < count; ++k) dx[k] = central_difference(xd, k, h, loss);
  check_close("dx", grads->dx, dx, tol * std::max(1.0, max_abs(dx)));
  if (p.affine) {
    for (size_t k = 0; k < channels; ++k) {
      dw[k] = central_difference(wd, k, h, loss);
      db[k] = central_difference(bd, k, h, loss);
    }
    check_close("dweight", grads->dweight, dw, tol * std::max(1.0, max_abs(dw)));
    check_close("dbias", grads->dbias, db, tol * std::max(1.0, max_abs(db)));
  } else {
    CHECK(grads->dweight.empty());
    CHECK(grads->dbias.empty());
  }
}

// ---- Fixtures
const std::string kFixtureDir = std::string(VKNORM_FIXTURE_DIR) + "/batchnorm/";

// max |x| * invstd over the tensor: how far the data sits from 0 in units of its spread.
// Rounding x (or the mean) to float32 perturbs x - mean by FLT_EPSILON * |x|, which is
// FLT_EPSILON * condition relative to the normalized values.
double condition(const BatchNormParams& p, const std::vector<float>& x, const std::vector<float>& save_invstd,
                 const std::vector<float>& running_var) {
  const size_t channels = size_t(p.shape[1]);
  if (x.empty()) return 0.0;
  const size_t spatial = x.size() / (size_t(p.shape[0]) * channels);
  double k = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t c = (i / spatial) % channels;
    const double invstd = save_invstd.empty() ? 1.0 / std::sqrt(double(running_var[c]) + p.eps) : save_invstd[c];
    k = std::max(k, std::abs(double(x[i])) * invstd);
  }
  return k;
}

}  // namespace

TEST_CASE("batchnorm reference: two values per channel give xhat = +-d/sqrt(d^2+eps)") {
  // x(2, 3): per channel {a, b}; mean (a+b)/2, biased var d^2 with d = (a-b)/2.
  const std::vector<float> a = {1.0f, -3.0f, 0.002f}, b = {4.0f, 5.0f, 0.0f};
  const std::vector<float> x = {a[0], a[1], a[2], b[0], b[1], b[2]};
  const std::vector<float> w = {2.0f, 0.5f, -1.0f}, bias = {0.1f, -0.2f, 0.3f};
  std::vector<float> rm = {0.0f, 1.0f, 2.0f}, rv = {1.0f, 2.0f, 0.5f};
  const std::vector<float> rm0 = rm, rv0 = rv;
  BatchNormParams p = make_batch_norm_params({2, 3});
  auto out = ref::batch_norm_forward(p, x, w, bias, rm, rv);
  REQUIRE(out.ok());
  for (size_t c = 0; c < 3; ++c) {
    const double d = (double(a[c]) - b[c]) / 2.0, eps = p.eps;
    const double xhat = d / std::sqrt(d * d + eps);  // for a; -xhat for b
    CHECK(out->y[c] == doctest::Approx(w[c] * xhat + bias[c]).epsilon(1e-6));
    CHECK(out->y[3 + c] == doctest::Approx(-w[c] * xhat + bias[c]).epsilon(1e-6));
    CHECK(out->save_mean[c] == doctest::Approx((double(a[c]) + b[c]) / 2.0).epsilon(1e-7));
    CHECK(out->save_invstd[c] == doctest::Approx(1.0 / std::sqrt(d * d + eps)).epsilon(1e-7));
    // Unbiased variance of two values: 2 d^2.
    CHECK(rm[c] == doctest::Approx(0.9 * rm0[c] + 0.1 * (double(a[c]) + b[c]) / 2.0).epsilon(1e-7));
    CHECK(rv[c] == doctest::Approx(0.9 * rv0[c] + 0.1 * 2.0 * d * d).epsilon(1e-7));
  }
  // The small channel (d = 0.001, d^2 = 1e-6 < eps) shows eps at work: |xhat| ~ 0.3, not 1.
  CHECK(std::abs(out->y[2] - bias[2]) < 0.31f);
}

TEST_CASE("batchnorm reference: a constant channel gives y = beta and an unbiased update by hand") {
  // Channel 0 constant 7; channel 1 = {1, 2, 3, 4}: mean 2.5, biased var 1.25, unbiased 5/3.
  const std::vector<float> x = {7, 1, 7, 2, 7, 3, 7, 4};  // (4, 2)
  const std::vector<float> w = {3.0f, 1.0f}, bias = {-0.25f, 0.0f};
  std::vector<float> rm = {1.0f, -1.0f}, rv = {2.0f, 4.0f};
  BatchNormParams p = make_batch_norm_params({4, 2});
  p.momentum = 0.25f;
  auto out = ref::batch_norm_forward(p, x, w, bias, rm, rv);
  REQUIRE(out.ok());
  for (int n = 0; n < 4; ++n) CHECK(out->y[size_t(2 * n)] == -0.25f);
  CHECK(out->save_invstd[0] == doctest::Approx(1.0 / std::sqrt(1e-5)).epsilon(1e-7));
  CHECK(rm[0] == doctest::Approx(0.75 * 1.0 + 0.25 * 7.0));
  CHECK(rv[0] == doctest::Approx(0.75 * 2.0));
  CHECK(rm[1] == doctest::Approx(0.75 * -1.0 + 0.25 * 2.5));
  CHECK(rv[1] == doctest::Approx(0.75 * 4.0 + 0.25 * 5.0 / 3.0).epsilon(1e-7));
  const double invstd = 1.0 / std::sqrt(1.25 + 1e-5);
  for (int n = 0; n < 4; ++n)
    CHECK(out->y[size_t(2 * n + 1)] == doctest::Approx((n + 1 - 2.5) * invstd).epsilon(1e-6));
}

TEST_CASE("batchnorm reference: eval uses the running statistics and leaves them alone") {
  const std::vector<float> x = {1.0f, 2.0f, -1.0f, 0.5f};  // (2, 2)
  const std::vector<float> w = {2.0f, -1.0f}, bias = {0.5f, 0.25f};
  std::vector<float> rm = {0.5f, -0.5f}, rv = {4.0f, 0.25f};
  const std::vector<float> rm0 = rm, rv0 = rv;
  auto out = ref::batch_norm_forward(make_batch_norm_params({2, 2}, /*training=*/false), x, w, bias, rm, rv);
  REQUIRE(out.ok());
  CHECK(rm == rm0);
  CHECK(rv == rv0);
  CHECK(out->save_mean.empty());
  CHECK(out->save_invstd.empty());
  for (size_t i = 0; i < 4; ++i) {
    const size_t c = i % 2;
    CHECK(out->y[i] == doctest::Approx((x[i] - rm0[c]) / std::sqrt(rv0[c] + 1e-5) * w[c] + bias[c]));
  }
  // Fixed statistics: dx = w * dy / sqrt(rv + eps).
  const std::vector<float> dy = {1.0f, -2.0f, 0.5f, 3.0f};
  auto grads = ref::batch_norm_backward(make_batch_norm_params({2, 2}, false), x, dy, w, rm, rv);
  REQUIRE(grads.ok());
  for (size_t i = 0; i < 4; ++i) {
    const size_t c = i % 2;
    CHECK(grads->dx[i] == doctest::Approx(w[c] * dy[i] / std::sqrt(rv0[c] + 1e-5)));
  }
  CHECK(grads->dbias[0] == doctest::Approx(1.5));
  CHECK(grads->dbias[1] == doctest::Approx(1.0));
}

TEST_CASE("batchnorm reference: without tracked statistics eval uses the batch's") {
  const std::vector<float> x = {1.0f, 3.0f, 5.0f, 7.0f};  // (2, 1, 2)
  std::vector<float> none;
  auto out = ref::batch_norm_forward(make_batch_norm_params({2, 1, 2}, false, false, false), x, none, none, none, none);
  REQUIRE(out.ok());
  const double invstd = 1.0 / std::sqrt(5.0 + 1e-5);  // mean 4, var (9+1+1+9)/4
  for (size_t i = 0; i < 4; ++i) CHECK(out->y[i] == doctest::Approx((x[i] - 4.0) * invstd));
  REQUIRE(out->save_mean.size() == 1);
  CHECK(out->save_mean[0] == 4.0f);
}

TEST_CASE("batchnorm reference: empty batch") {
  const std::vector<float> w = {1.0f, 2.0f, 3.0f}, bias = {0.0f, 1.0f, 2.0f};
  std::vector<float> rm = {0.5f, 0.25f, 1.0f}, rv = {2.0f, 3.0f, 4.0f};
  const std::vector<float> rm0 = rm, rv0 = rv;
  const BatchNormParams p = make_batch_norm_params({0, 3, 2, 2}, true, true, true, BatchNormDims::d2);
  auto out = ref::batch_norm_forward(p, {}, w, bias, rm, rv);
  REQUIRE(out.ok());
  CHECK(out->y.empty());
  CHECK(rm == rm0);
  CHECK(rv == rv0);
  // Each channel an empty group: PyTorch's 0/0 (native_batch_norm on (2, 3, 0)).
  CHECK(all_nan(out->save_mean, 3));
  CHECK(all_nan(out->save_invstd, 3));
  auto grads = ref::batch_norm_backward(p, {}, {}, w, rm, rv);
  REQUIRE(grads.ok());
  CHECK(grads->dx.empty());
  CHECK(grads->dweight == std::vector<float>(3, 0.0f));
  CHECK(grads->dbias == std::vector<float>(3, 0.0f));
}

TEST_CASE("batchnorm reference: gradients match finite differences") {
  SUBCASE("train, batch statistics") { check_finite_differences(make_batch_norm_params({3, 2, 5}), 11); }
  SUBCASE("train, (N, C)") { check_finite_differences(make_batch_norm_params({4, 3}), 12); }
  SUBCASE("train, no affine") { check_finite_differences(make_batch_norm_params({2, 3, 2, 2}, true, false), 13); }
  SUBCASE("eval, running statistics") { check_finite_differences(make_batch_norm_params({3, 2, 5}, false), 14); }
  SUBCASE("eval, not tracked: batch statistics") {
    check_finite_differences(make_batch_norm_params({3, 2, 2, 2}, false, true, false), 15);
  }
  SUBCASE("larger eps") {
    BatchNormParams p = make_batch_norm_params({2, 2, 3});
    p.eps = 0.5f;
    check_finite_differences(p, 16);
  }
}

TEST_CASE("batchnorm reference: PyTorch fixtures") {
  const char* cases[] = {"bn1d_nc",           "bn1d_ncl",  "bn2d_train",         "bn2d_eval",
                         "bn2d_noaffine",     "bn2d_notrack", "bn2d_notrack_eval", "bn3d",
                         "bn2d_momentum_none", "bn2d_eps", "bn2d_large_mean",    "bn2d_empty"};
  for (const std::string name : cases) {
    CAPTURE(name);
    const std::string dir = kFixtureDir + name + "/";
    auto has = [&](const char* file) { return std::filesystem::exists(dir + file + std::string(".npy")); };
    auto kv = read_params(dir + "params.txt");
    REQUIRE(kv["op"] == "batchnorm");

    auto x_file = vknorm::io::read_npy(dir + "x.npy");
    REQUIRE_MESSAGE(x_file.ok(), x_file.status().message());
    BatchNormParams p;
    p.shape = x_file->shape;
    const int dims = std::stoi(kv["dims"]);
    p.dims = dims == 1 ? BatchNormDims::d1 : dims == 2 ? BatchNormDims::d2 : BatchNormDims::d3;
    p.training = kv["training"] == "1";
    p.affine = kv["affine"] == "1";
    p.track_running_stats = kv["track_running_stats"] == "1";
    p.eps = std::stof(kv["eps"]);

    // The module's factor: its momentum, or 1/num_batches_tracked after the increment.
    vknorm::BatchNormState state;
    if (kv["momentum"] == "none") state.momentum = std::nullopt;
    else state.momentum = std::stof(kv["momentum"]);
    state.num_batches_tracked = std::stoll(kv["num_batches_tracked_in"]);
    if (p.training && p.track_running_stats) p.momentum = state.next_training_factor();
    if (kv["momentum"] == "none") CHECK(p.momentum == doctest::Approx(1.0 / 3.0));

    const std::vector<float> x = x_file->data, dy = load(dir + "dy.npy");
    const std::vector<float> w = p.affine ? load(dir + "weight.npy") : std::vector<float>{};
    const std::vector<float> b = p.affine ? load(dir + "bias.npy") : std::vector<float>{};
    std::vector<float> rm, rv;
    if (p.track_running_stats) {
      rm = load(dir + "running_mean_in.npy");
      rv = load(dir + "running_var_in.npy");
    }
    const std::vector<float> rm_in = rm, rv_in = rv;

    auto fwd = ref::batch_norm_forward(p, x, w, b, rm, rv);
    REQUIRE_MESSAGE(fwd.ok(), fwd.status().message());
    auto bwd = ref::batch_norm_backward(p, x, dy, w, rm_in, rv_in);
    REQUIRE_MESSAGE(bwd.ok(), bwd.status().message());

    // PyTorch computes in float32, the reference in double; on the well-conditioned cases
    // they differ by a few float ulps (<= 2e-6 here). Tolerance: 1e-5 of max(1, max|expected|)
    // (~100 ulps) plus, for outputs computed from x - mean, 4 * FLT_EPSILON * condition:
    // bn2d_large_mean has |x| ~ 1e4 with std 1, so PyTorch's own float32 rounding of x - mean
    // moves y by ~3e-4 and dweight by ~2e-3 (condition 1e4 gives ~5e-3 relative). Any wrong
    // formula is off by far more: biased instead of unbiased running_var by 1/(M-1) >= 2%,
    // a missing backward term by O(1).
    const double rtol = 1e-5;
    const double kappa = condition(p, x, fwd->save_invstd, rv_in);
    auto check_array = [&](const char* what, const std::vector<float>& got, bool from_centered_x) {
      const std::vector<double> want = widen(load(dir + what + std::string(".npy")));
      const double scale = std::max(1.0, max_abs(want));
      const double tol = scale * (rtol + (from_centered_x ? 4.0 * FLT_EPSILON * kappa : 0.0));
      check_close(name + "/" + what, got, want, tol);
    };
    check_array("y", fwd->y, true);
    check_array("dx", bwd->dx, true);
    if (p.affine) {
      check_array("dweight", bwd->dweight, true);
      check_array("dbias", bwd->dbias, false);
    } else {
      CHECK_FALSE(has("dweight"));
      CHECK(bwd->dweight.empty());
    }
    if (p.track_running_stats) {
      check_array("running_mean", rm, false);
      check_array("running_var", rv, false);
      const int64_t expected_count = state.num_batches_tracked;
      CHECK(load_int64_scalar(dir + "num_batches_tracked.npy") == expected_count);
      if (!p.training) {
        CHECK(rm == rm_in);
        CHECK(rv == rv_in);
      }
    } else {
      CHECK_FALSE(has("running_mean"));
    }
    const bool uses_batch_stats = p.training || !p.track_running_stats;
    if (uses_batch_stats && !x.empty()) {
      check_array("save_mean", fwd->save_mean, false);
      check_array("save_invstd", fwd->save_invstd, false);
    } else if (uses_batch_stats) {
      // Empty batch: native_batch_norm cannot run on it (SIGFPE in 1.13); vknorm saves NaN,
      // as native_batch_norm does for the empty groups of (2, C, 0).
      CHECK_FALSE(has("save_mean"));
      CHECK(all_nan(fwd->save_mean, size_t(p.shape[1])));
      CHECK(all_nan(fwd->save_invstd, size_t(p.shape[1])));
    } else {
      CHECK(fwd->save_mean.empty());
      CHECK_FALSE(has("save_mean"));
    }
  }
}

namespace {

// Runs the forward with all-ones arrays of the given lengths (the shape's, or overrides).
vknorm::Status forward_status(const BatchNormParams& p, size_t x_len, size_t w_len, size_t b_len,
                              size_t rm_len, size_t rv_len) {
  std::vector<float> x(x_len, 1.0f), w(w_len, 1.0f), b(b_len, 0.0f), rm(rm_len, 0.0f), rv(rv_len, 1.0f);
  auto r = ref::batch_norm_forward(p, x, w, b, rm, rv);
  return r.ok() ? vknorm::Status{} : r.status();
}

}  // namespace

TEST_CASE("batchnorm reference: refusals name the argument and use PyTorch's words") {
  SUBCASE("wrong rank") {
    check_refused(forward_status(make_batch_norm_params({2, 3, 2, 2}, true, true, true, BatchNormDims::d1), 24, 3, 3, 3, 3),
                  {"x:", "expected 2D or 3D input (got 4D input)"});
    check_refused(forward_status(make_batch_norm_params({3}, true, true, true, BatchNormDims::d1), 3, 3, 3, 3, 3),
                  {"x:", "expected 2D or 3D input (got 1D input)"});
    check_refused(forward_status(make_batch_norm_params({2, 3, 4}, true, true, true, BatchNormDims::d2), 24, 3, 3, 3, 3),
                  {"x:", "expected 4D input (got 3D input)"});
    check_refused(forward_status(make_batch_norm_params({2, 3, 2, 2}, true, true, true, BatchNormDims::d3), 24, 3, 3, 3, 3),
                  {"x:", "expected 5D input (got 4D input)"});
  }
  SUBCASE("one value per channel") {
    const char* phrase = "Expected more than 1 value per channel when training";
    check_refused(forward_status(make_batch_norm_params({1, 3}, true, true, true, BatchNormDims::d1), 3, 3, 3, 3, 3),
                  {"x:", phrase});
    check_refused(forward_status(make_batch_norm_params({1, 3, 1, 1}, true, true, true, BatchNormDims::d2), 3, 3, 3, 3, 3),
                  {"x:", phrase});
    // Without tracked statistics eval uses the batch too, so PyTorch refuses it as well.
    check_refused(forward_status(make_batch_norm_params({1, 3}, false, true, false, BatchNormDims::d1), 3, 3, 3, 0, 0),
                  {"x:", phrase});
    // Eval with running statistics needs no batch statistics.
    CHECK(forward_status(make_batch_norm_params({1, 3}, false, true, true, BatchNormDims::d1), 3, 3, 3, 3, 3).ok());
    std::vector<float> one(3, 1.0f);
    CHECK(ref::batch_norm_backward(make_batch_norm_params({1, 3}, false), one, one, one, one, one).ok());
    check_refused(ref::batch_norm_backward(make_batch_norm_params({1, 3}), one, one, one, one, one).status(), {phrase});
  }
  SUBCASE("per-channel lengths") {
    const BatchNormParams p = make_batch_norm_params({2, 3, 2, 5}, true, true, true, BatchNormDims::d2);
    check_refused(forward_status(p, 60, 4, 3, 3, 3), {"weight:", "weight should contain 3 elements not 4"});
    check_refused(forward_status(p, 60, 3, 2, 3, 3), {"bias:", "bias should contain 3 elements not 2"});
    check_refused(forward_status(p, 60, 3, 3, 4, 3),
                  {"running_mean:", "running_mean should contain 3 elements not 4"});
    check_refused(forward_status(p, 60, 3, 3, 3, 0),
                  {"running_var:", "running_var should contain 3 elements not 0"});
    // Eval needs them too.
    BatchNormParams eval = p;
    eval.training = false;
    check_refused(forward_status(eval, 60, 3, 3, 3, 1), {"running_var should contain 3 elements not 1"});
    // Absent by the params: ignored whatever their length.
    CHECK(forward_status(make_batch_norm_params({2, 3, 2, 5}, true, false, false), 60, 7, 0, 1, 2).ok());
    std::vector<float> x(60, 1.0f), three(3, 1.0f), four(4, 1.0f);
    check_refused(ref::batch_norm_backward(p, x, x, four, three, three).status(),
                  {"weight:", "weight should contain 3 elements not 4"});
    check_refused(ref::batch_norm_backward(eval, x, x, three, four, three).status(),
                  {"running_mean:", "running_mean should contain 3 elements not 4"});
  }
  SUBCASE("element counts") {
    const BatchNormParams p = make_batch_norm_params({2, 3, 2, 5});
    check_refused(forward_status(p, 59, 3, 3, 3, 3), {"x: expected 60 elements", "got 59"});
    std::vector<float> x(60, 1.0f), dy(61, 1.0f), three(3, 1.0f);
    check_refused(ref::batch_norm_backward(p, x, dy, three, three, three).status(),
                  {"dy: expected 60 elements", "got 61"});
  }
  SUBCASE("eps") {
    // eps = 0 is accepted, as PyTorch does (the "eps = 0 and any finite momentum" test);
    // a negative or non-finite eps is refused.
    BatchNormParams p = make_batch_norm_params({2, 3});
    p.eps = 0.0f;
    CHECK(forward_status(p, 6, 3, 3, 3, 3).ok());
    p.eps = -1e-5f;
    check_refused(forward_status(p, 6, 3, 3, 3, 3), {"eps:", "expected a finite value >= 0"});
    p.eps = NAN;
    check_refused(forward_status(p, 6, 3, 3, 3, 3), {"eps:", "expected a finite value >= 0"});
  }
  SUBCASE("momentum and C = 0") {
    BatchNormParams p = make_batch_norm_params({2, 3});
    p.momentum = NAN;
    check_refused(forward_status(p, 6, 3, 3, 3, 3), {"momentum: expected a finite factor, got nan"});
    p.training = false;  // eval: momentum unused
    CHECK(forward_status(p, 6, 3, 3, 3, 3).ok());
    // C = 0: PyTorch's empty-input path indexes weight[0], so only without affine.
    check_refused(forward_status(make_batch_norm_params({4, 0}), 0, 0, 0, 0, 0),
                  {"x: the channel dimension C is 0", "only without affine"});
    CHECK(forward_status(make_batch_norm_params({4, 0}, true, false), 0, 0, 0, 0, 0).ok());
  }
}

// num_batches_tracked saturates: ++ past INT64_MAX is undefined (UBSan in the sanitize
// build), and PyTorch's int64 tensor would wrap to a negative count and factor.
TEST_CASE("batchnorm state: num_batches_tracked stops at INT64_MAX with a positive factor") {
  vknorm::BatchNormState state;
  state.momentum.reset();  // cumulative moving average: factor 1 / num_batches_tracked
  state.num_batches_tracked = INT64_MAX - 1;
  CHECK(state.next_training_factor() == 1.0f / static_cast<float>(INT64_MAX));
  CHECK(state.num_batches_tracked == INT64_MAX);
  const float factor = state.next_training_factor();
  CHECK(state.num_batches_tracked == INT64_MAX);
  CHECK(factor > 0.0f);
  CHECK(factor == 1.0f / static_cast<float>(INT64_MAX));
}
