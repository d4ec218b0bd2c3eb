// The CPU InstanceNorm reference against closed forms, finite differences, PyTorch's own
// outputs (tests/fixtures/instancenorm) and PyTorch's refusals.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "reference_support.hpp"
#include "vknorm/instancenorm.hpp"

using vknorm::InstanceNormDims;
using vknorm::InstanceNormParams;
namespace ref = vknorm::reference;
using namespace vknorm::reftest;

namespace {

InstanceNormParams make_instance_norm_params(std::vector<int64_t> shape, InstanceNormDims dims = InstanceNormDims::any,
                               bool training = true, bool affine = false, bool track = false) {
  InstanceNormParams p;
  p.shape = std::move(shape);
  p.dims = dims;
  p.training = training;
  p.affine = affine;
  p.track_running_stats = track;
  return p;
}

// L = Σ y·r for InstanceNorm on a contiguous (n, c, s) tensor, in plain double; with
// batch_stats false, each channel uses the given running statistics.
double instance_norm_loss(size_t n, size_t c, size_t s, bool batch_stats, double eps, const std::vector<double>& rm,
                          const std::vector<double>& rv, const std::vector<double>& x, const std::vector<double>& w,
                          const std::vector<double>& b, const std::vector<double>& r) {
  double total = 0.0;
  for (size_t i = 0; i < n * c; ++i) {
    const size_t ch = i % c;
    const double* v = x.data() + i * s;
    double mean = rm.empty() ? 0.0 : rm[ch], var = rv.empty() ? 1.0 : rv[ch];
    if (batch_stats) {
      mean = var = 0.0;
      for (size_t j = 0; j < s; ++j) mean += v[j] / double(s);
      for (size_t j = 0; j < s; ++j) var += (v[j] - mean) * (v[j] - mean) / double(s);
    }
    for (size_t j = 0; j < s; ++j) total += ((v[j] - mean) / std::sqrt(var + eps) * w[ch] + b[ch]) * r[i * s + j];
  }
  return total;
}

void check_finite_differences(const InstanceNormParams& p, uint32_t seed) {
  std::mt19937 rng(seed);
  auto g = vknorm::check_instance_norm(p);
  REQUIRE(g.ok());
  const size_t count = size_t(g->elements), c = size_t(g->channels);
  const std::vector<float> x = random_vector(count, rng, 0.8f, 1.7f), r = random_vector(count, rng, 0.0f, 1.0f);
  std::vector<float> w = random_vector(c, rng, 1.0f, 0.5f), b = random_vector(c, rng, 0.0f, 0.3f);
  std::vector<float> rm = random_vector(c, rng, 0.5f, 0.5f), rv = random_vector(c, rng, 0.0f, 1.0f);
  for (float& v : rv) v = 0.5f + std::abs(v);
  if (!p.affine) {
    w.assign(c, 1.0f);
    b.assign(c, 0.0f);
  }
  auto grads = ref::instance_norm_backward(p, x, r, p.affine ? w : std::vector<float>{}, rm, rv);
  REQUIRE(grads.ok());
  std::vector<double> xd = widen(x), wd = widen(w), bd = widen(b);
  const std::vector<double> rd = widen(r), rmd = widen(rm), rvd = widen(rv);
  check_against_differences(*grads, xd, wd, bd, p.affine, p.affine, [&] {
    return instance_norm_loss(size_t(g->outer), c, size_t(g->spatial), g->uses_batch_stats, p.eps, rmd, rvd, xd, wd,
                              bd, rd);
  });
}

}  // namespace

TEST_CASE("instancenorm reference: geometry, batched and unbatched") {
  auto g = vknorm::check_instance_norm(make_instance_norm_params({2, 3, 4, 5}, InstanceNormDims::d2));
  REQUIRE(g.ok());
  CHECK(g->elements == 120);
  CHECK(g->outer == 2);
  CHECK(g->channels == 3);
  CHECK(g->spatial == 20);
  CHECK(g->stat_groups == 6);
  CHECK(g->group_size == 20);
  CHECK(g->affine_size == 3);
  CHECK(g->uses_batch_stats);
  CHECK_FALSE(g->updates_running);
  // Unbatched (C, H, W) counts as N = 1; InstanceNorm1d's 2-D input is (C, L).
  auto u = vknorm::check_instance_norm(make_instance_norm_params({3, 4, 5}, InstanceNormDims::d2));
  REQUIRE(u.ok());
  CHECK(u->outer == 1);
  CHECK(u->channels == 3);
  CHECK(u->spatial == 20);
  auto l = vknorm::check_instance_norm(make_instance_norm_params({4, 9}, InstanceNormDims::d1));
  REQUIRE(l.ok());
  CHECK((l->outer == 1 && l->channels == 4 && l->spatial == 9));
  // F.instance_norm reads a 3-D input as (N, C, L).
  CHECK(vknorm::check_instance_norm(make_instance_norm_params({3, 4, 5}))->outer == 3);
  auto eval = vknorm::check_instance_norm(make_instance_norm_params({2, 3, 4}, InstanceNormDims::d1, false, false, true));
  CHECK_FALSE(eval->uses_batch_stats);
  CHECK_FALSE(eval->updates_running);
  CHECK(vknorm::check_instance_norm(make_instance_norm_params({2, 3, 4}, InstanceNormDims::d1, true, false, true))->updates_running);
  CHECK(vknorm::check_instance_norm(make_instance_norm_params({2, 3, 4}, InstanceNormDims::d1, false))->uses_batch_stats);
}

TEST_CASE("instancenorm reference: running statistics by hand") {
  // x (2, 2, 3): planes (n, c) = {1,2,3} {0,0,6} / {4,4,4} {-1,1,3}, with means 2, 2 / 4, 1
  // and unbiased variances 1, 12 / 0, 4. Batch averages: mean 3 and 1.5, variance 0.5 and 8.
  const std::vector<float> x = {1, 2, 3, 0, 0, 6, 4, 4, 4, -1, 1, 3};
  const std::vector<float> w = {2.0f, -1.0f}, b = {0.5f, 0.25f};
  std::vector<float> rm = {1.0f, -1.0f}, rv = {2.0f, 4.0f};
  InstanceNormParams p = make_instance_norm_params({2, 2, 3}, InstanceNormDims::d1, true, true, true);
  p.momentum = 0.25f;
  auto out = ref::instance_norm_forward(p, x, w, b, rm, rv);
  REQUIRE(out.ok());
  CHECK(rm[0] == doctest::Approx(0.75 * 1.0 + 0.25 * 3.0));
  CHECK(rm[1] == doctest::Approx(0.75 * -1.0 + 0.25 * 1.5));
  CHECK(rv[0] == doctest::Approx(0.75 * 2.0 + 0.25 * 0.5));
  CHECK(rv[1] == doctest::Approx(0.75 * 4.0 + 0.25 * 8.0));
  const std::vector<float> means = {2, 2, 4, 1}, biased = {2.0f / 3.0f, 8, 0, 8.0f / 3.0f};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(out->save_mean[i] == doctest::Approx(means[i]));
    CHECK(out->save_invstd[i] == doctest::Approx(1.0 / std::sqrt(biased[i] + 1e-5)).epsilon(1e-7));
  }
  for (size_t j = 0; j < 3; ++j) CHECK(out->y[6 + j] == 0.5f);  // the constant plane: y = bias
  CHECK(out->y[0] == doctest::Approx(-1.0 / std::sqrt(2.0 / 3.0 + 1e-5) * 2.0 + 0.5).epsilon(1e-6));
}

TEST_CASE("instancenorm reference: eval with tracked statistics uses them") {
  // Spatial size 1 is fine here: no input statistics are computed.
  const std::vector<float> x = {1.0f, 2.0f, -1.0f, 0.5f}, dy = {1.0f, -2.0f, 0.5f, 3.0f};  // (2, 2, 1)
  const std::vector<float> w = {2.0f, -1.0f}, b = {0.5f, 0.25f};
  std::vector<float> rm = {0.5f, -0.5f}, rv = {4.0f, 0.25f};
  const std::vector<float> rm0 = rm, rv0 = rv;
  const InstanceNormParams p = make_instance_norm_params({2, 2, 1}, InstanceNormDims::d1, false, true, true);
  auto out = ref::instance_norm_forward(p, x, w, b, rm, rv);
  REQUIRE(out.ok());
  CHECK(rm == rm0);
  CHECK(rv == rv0);
  CHECK(out->save_mean.empty());
  CHECK(out->save_invstd.empty());
  auto grads = ref::instance_norm_backward(p, x, dy, w, rm, rv);
  REQUIRE(grads.ok());
  for (size_t i = 0; i < 4; ++i) {
    const size_t c = i % 2;
    const double invstd = 1.0 / std::sqrt(rv0[c] + 1e-5);
    CHECK(out->y[i] == doctest::Approx((x[i] - rm0[c]) * invstd * w[c] + b[c]));
    CHECK(grads->dx[i] == doctest::Approx(w[c] * dy[i] * invstd));  // fixed statistics
  }
  // PyTorch computes the parameter gradients in eval too.
  CHECK(grads->dweight[0] == doctest::Approx((1.0 - 0.5) / std::sqrt(4.0 + 1e-5) * 1.0 +
                                             (-1.0 - 0.5) / std::sqrt(4.0 + 1e-5) * 0.5));
  CHECK(grads->dbias[0] == doctest::Approx(1.5));
  CHECK(grads->dbias[1] == doctest::Approx(1.0));
}

TEST_CASE("instancenorm reference: eval without tracked statistics is training's forward") {
  std::mt19937 rng(9);
  const std::vector<float> x = random_vector(60, rng, 1.0f, 2.0f);
  std::vector<float> none;
  auto train = ref::instance_norm_forward(make_instance_norm_params({2, 3, 10}), x, none, none, none, none);
  auto eval =
      ref::instance_norm_forward(make_instance_norm_params({2, 3, 10}, InstanceNormDims::d1, false), x, none, none, none, none);
  REQUIRE((train.ok() && eval.ok()));
  CHECK(train->y == eval->y);
  CHECK(train->save_mean == eval->save_mean);
}

TEST_CASE("instancenorm reference: unbatched (C, *) is a batch of one") {
  std::mt19937 rng(10);
  const std::vector<float> x = random_vector(60, rng, 1.0f, 2.0f), dy = random_vector(60, rng, 0.0f, 1.0f);
  const std::vector<float> w = random_vector(3, rng, 1.0f, 0.5f), b = random_vector(3, rng, 0.0f, 0.5f);
  std::vector<float> rm_a(3, 0.0f), rv_a(3, 1.0f), rm_b = rm_a, rv_b = rv_a;
  const auto unbatched = make_instance_norm_params({3, 4, 5}, InstanceNormDims::d2, true, true, true);
  const auto batched = make_instance_norm_params({1, 3, 4, 5}, InstanceNormDims::d2, true, true, true);
  auto a = ref::instance_norm_forward(unbatched, x, w, b, rm_a, rv_a);
  auto c = ref::instance_norm_forward(batched, x, w, b, rm_b, rv_b);
  REQUIRE((a.ok() && c.ok()));
  CHECK(a->y == c->y);
  CHECK(a->save_invstd == c->save_invstd);
  CHECK(rm_a == rm_b);
  CHECK(rv_a == rv_b);
  auto ga = ref::instance_norm_backward(unbatched, x, dy, w, rm_a, rv_a);
  auto gc = ref::instance_norm_backward(batched, x, dy, w, rm_b, rv_b);
  REQUIRE((ga.ok() && gc.ok()));
  CHECK(ga->dx == gc->dx);
  CHECK(ga->dweight == gc->dweight);
}

TEST_CASE("instancenorm reference: empty batch and empty planes leave the running statistics alone") {
  const std::vector<float> w = {1.0f, 2.0f, 3.0f}, b = {0.0f, 1.0f, 2.0f};
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{0, 3, 2, 2}, std::vector<int64_t>{2, 3, 0, 2}}) {
    CAPTURE(shape[0]);
    std::vector<float> rm = {0.5f, 0.25f, 1.0f}, rv = {2.0f, 3.0f, 4.0f};
    const std::vector<float> rm0 = rm, rv0 = rv;
    const InstanceNormParams p = make_instance_norm_params(shape, InstanceNormDims::d2, true, true, true);
    auto out = ref::instance_norm_forward(p, {}, w, b, rm, rv);
    REQUIRE(out.ok());
    CHECK(out->y.empty());
    CHECK(rm == rm0);
    CHECK(rv == rv0);
    // Every plane an empty group: PyTorch's 0/0 (native_batch_norm on the (1, N*C, 0) view).
    CHECK(all_nan(out->save_mean, size_t(shape[0] * 3)));
    CHECK(all_nan(out->save_invstd, size_t(shape[0] * 3)));
    auto grads = ref::instance_norm_backward(p, {}, {}, w, rm, rv);
    REQUIRE(grads.ok());
    CHECK(grads->dx.empty());
    CHECK(grads->dweight == std::vector<float>(3, 0.0f));
    CHECK(grads->dbias == std::vector<float>(3, 0.0f));
  }
}

TEST_CASE("instancenorm reference: gradients match finite differences") {
  SUBCASE("train") { check_finite_differences(make_instance_norm_params({2, 3, 5}, InstanceNormDims::d1), 51); }
  SUBCASE("train, affine") {
    check_finite_differences(make_instance_norm_params({2, 2, 2, 3}, InstanceNormDims::d2, true, true), 52);
  }
  SUBCASE("train, tracked") {
    check_finite_differences(make_instance_norm_params({2, 2, 4}, InstanceNormDims::d1, true, true, true), 53);
  }
  SUBCASE("eval, tracked: fixed statistics") {
    check_finite_differences(make_instance_norm_params({2, 3, 4}, InstanceNormDims::d1, false, true, true), 54);
  }
  SUBCASE("eval, not tracked") {
    check_finite_differences(make_instance_norm_params({2, 2, 3, 2}, InstanceNormDims::d2, false, true), 55);
  }
  SUBCASE("unbatched") { check_finite_differences(make_instance_norm_params({3, 2, 3}, InstanceNormDims::d2, true, true), 56); }
  SUBCASE("larger eps") {
    InstanceNormParams p = make_instance_norm_params({2, 2, 3}, InstanceNormDims::d1, true, true);
    p.eps = 0.5f;
    check_finite_differences(p, 57);
  }
}

TEST_CASE("instancenorm reference: PyTorch fixtures") {
  const std::vector<std::string> cases = {"edge_eps0_constant", "edge_spatial0", "in1d",          "in1d_unbatched",  "in2d",
                                          "in2d_affine",   "in2d_empty",      "in2d_large_mean",
                                          "in2d_notrack_eval", "in2d_track_eval", "in2d_track_train",
                                          "in2d_unbatched", "in3d"};
  CHECK(fixture_cases("instancenorm") == cases);
  for (const std::string& name : cases) {
    CAPTURE(name);
    const std::string dir = fixture_dir("instancenorm") + name + "/";
    auto kv = read_params(dir + "params.txt");
    REQUIRE(kv["op"] == "instancenorm");
    const vknorm::io::NpyArray x = load_array(dir + "x.npy");
    const int dims = std::stoi(kv["dims"]);
    InstanceNormParams p = make_instance_norm_params(
        x.shape, dims == 1 ? InstanceNormDims::d1 : dims == 2 ? InstanceNormDims::d2 : InstanceNormDims::d3,
        kv["training"] == "1", kv["affine"] == "1", kv["track_running_stats"] == "1");
    p.eps = std::stof(kv["eps"]);
    p.momentum = std::stof(kv["momentum"]);
    const std::vector<float> w = p.affine ? load(dir + "weight.npy") : std::vector<float>{};
    const std::vector<float> b = p.affine ? load(dir + "bias.npy") : std::vector<float>{};
    std::vector<float> rm, rv;
    if (p.track_running_stats) {
      rm = load(dir + "running_mean_in.npy");
      rv = load(dir + "running_var_in.npy");
    }
    const std::vector<float> rm_in = rm, rv_in = rv;
    CHECK(has_array(dir, "weight") == p.affine);
    CHECK(has_array(dir, "running_mean") == p.track_running_stats);

    auto fwd = ref::instance_norm_forward(p, x.data, w, b, rm, rv);
    REQUIRE_MESSAGE(fwd.ok(), fwd.status().message());
    auto bwd = ref::instance_norm_backward(p, x.data, load(dir + "dy.npy"), w, rm_in, rv_in);
    REQUIRE_MESSAGE(bwd.ok(), bwd.status().message());
    auto g = vknorm::check_instance_norm(p);

    // Tolerances: check_fixture_array; in2d_large_mean (|x| ~ 1e4, std 1) needs the
    // condition term. With running statistics the spread is 1/sqrt(rv + eps) per channel.
    std::vector<float> invstd = fwd->save_invstd;
    if (!g->uses_batch_stats)
      for (uint64_t i = 0; i < g->stat_groups; ++i)
        invstd.push_back(float(1.0 / std::sqrt(double(rv_in[i % g->channels]) + p.eps)));
    const double kappa = condition(x.data, invstd, size_t(g->group_size));
    check_fixture_array(dir, "y", fwd->y, true, kappa);
    check_fixture_array(dir, "dx", bwd->dx, true, kappa);
    if (p.affine) {
      check_fixture_array(dir, "dweight", bwd->dweight, true, kappa);
      check_fixture_array(dir, "dbias", bwd->dbias, false, kappa);
    }
    if (p.track_running_stats) {
      check_fixture_array(dir, "running_mean", rm, false, kappa);
      check_fixture_array(dir, "running_var", rv, false, kappa);
      if (!p.training) CHECK((rm == rm_in && rv == rv_in));
    }
    if (g->uses_batch_stats && g->stat_groups > 0) {  // empty planes too: NaN
      check_fixture_array(dir, "save_mean", fwd->save_mean, false, kappa);
      check_fixture_array(dir, "save_invstd", fwd->save_invstd, true, kappa);
    } else {
      CHECK_FALSE(has_array(dir, "save_mean"));
    }
  }
}

namespace {

vknorm::Status forward_status(const InstanceNormParams& p, size_t x_len, size_t w_len = 0, size_t b_len = 0,
                              size_t rm_len = 0, size_t rv_len = 0) {
  std::vector<float> x(x_len, 1.0f), w(w_len, 1.0f), b(b_len, 0.0f), rm(rm_len, 0.0f), rv(rv_len, 1.0f);
  return status_of(ref::instance_norm_forward(p, x, w, b, rm, rv));
}

}  // namespace

TEST_CASE("instancenorm reference: refusals name the argument and use PyTorch's words") {
  using D = InstanceNormDims;
  SUBCASE("rank") {
    check_refused(forward_status(make_instance_norm_params({5}, D::d1), 5), {"x: expected 2D or 3D input (got 1D input)"});
    check_refused(forward_status(make_instance_norm_params({2, 3, 4, 5}, D::d1), 120), {"x: expected 2D or 3D input (got 4D input)"});
    check_refused(forward_status(make_instance_norm_params({3, 5}, D::d2), 15), {"x: expected 3D or 4D input (got 2D input)"});
    check_refused(forward_status(make_instance_norm_params({1, 3, 4, 5, 6}, D::d2), 360),
                  {"x: expected 3D or 4D input (got 5D input)"});
    check_refused(forward_status(make_instance_norm_params({3, 4, 5}, D::d3), 60), {"x: expected 4D or 5D input (got 3D input)"});
    check_refused(forward_status(make_instance_norm_params({1, 1, 3, 2, 4, 5}, D::d3), 120),
                  {"x: expected 4D or 5D input (got 6D input)"});
    check_refused(forward_status(make_instance_norm_params({2, 3}), 6), {"x: expected at least 3D input (N, C, *) (got 2D input)"});
  }
  SUBCASE("one spatial element") {
    const char* phrase = "x: Expected more than 1 spatial element when training, got input size ";
    check_refused(forward_status(make_instance_norm_params({2, 3, 1}, D::d1), 6), {phrase, "size [2, 3, 1]"});
    // Not tracked: eval uses input statistics too.
    check_refused(forward_status(make_instance_norm_params({2, 3, 1}, D::d1, false), 6), {phrase});
    check_refused(forward_status(make_instance_norm_params({2, 3, 1}, D::d1, true, false, true), 6, 0, 0, 3, 3), {phrase});
    // Unbatched: PyTorch reports the size after its unsqueeze(0).
    check_refused(forward_status(make_instance_norm_params({3, 1, 1}, D::d2), 3), {phrase, "size [1, 3, 1, 1]"});
    check_refused(forward_status(make_instance_norm_params({0, 3, 1, 1}, D::d2), 0), {phrase, "size [0, 3, 1, 1]"});
    CHECK(forward_status(make_instance_norm_params({2, 3, 1}, D::d1, false, false, true), 6, 0, 0, 3, 3).ok());
  }
  SUBCASE("vknorm's own rules") {
    check_refused(forward_status(make_instance_norm_params({2, 3, -4}, D::d1), 0),
                  {"x: dimension 2 of shape [2, 3, -4] is negative"});
    // C = 0: PyTorch returns the empty output without affine, and raises with it.
    CHECK(forward_status(make_instance_norm_params({2, 0, 4}, D::d1), 0).ok());
    check_refused(forward_status(make_instance_norm_params({2, 0, 4}, D::d1, true, true), 0),
                  {"x: the channel dimension C is 0", "only without affine"});
    InstanceNormParams p = make_instance_norm_params({2, 3, 4}, D::d1, true, false, true);
    for (float accepted : {1.5f, -0.1f, 1.0f}) {  // any finite momentum, as PyTorch
      p.momentum = accepted;
      CHECK(forward_status(p, 24, 0, 0, 3, 3).ok());
    }
    p.momentum = NAN;
    check_refused(forward_status(p, 24, 0, 0, 3, 3), {"momentum: expected a finite factor"});
    p.track_running_stats = false;  // momentum unused
    CHECK(forward_status(p, 24).ok());
    p.eps = 0.0f;
    CHECK(forward_status(p, 24).ok());
    p.eps = -1.0f;
    check_refused(forward_status(p, 24), {"eps: expected a finite value >= 0"});
  }
  SUBCASE("lengths") {
    // PyTorch 1.13 says "weight should contain 6 elements not 8" for N = 2 (it checks the
    // weight repeated N times); vknorm names the per-channel counts.
    const InstanceNormParams p = make_instance_norm_params({2, 3, 4}, D::d1, true, true, true);
    check_refused(forward_status(p, 24, 4, 3, 3, 3), {"weight: weight should contain 3 elements not 4"});
    check_refused(forward_status(p, 24, 3, 2, 3, 3), {"bias: bias should contain 3 elements not 2"});
    check_refused(forward_status(p, 24, 3, 3, 4, 3), {"running_mean: running_mean should contain 3 elements not 4"});
    check_refused(forward_status(p, 24, 3, 3, 3, 0), {"running_var: running_var should contain 3 elements not 0"});
    InstanceNormParams eval = p;
    eval.training = false;
    check_refused(forward_status(eval, 24, 3, 3, 3, 1), {"running_var should contain 3 elements not 1"});
    check_refused(forward_status(p, 23, 3, 3, 3, 3), {"x: expected 24 elements", "got 23"});
    CHECK(forward_status(make_instance_norm_params({2, 3, 4}, D::d1), 24, 7, 1, 2, 9).ok());  // absent: ignored
    const std::vector<float> x(24, 1.0f), three(3, 1.0f);
    check_refused(status_of(ref::instance_norm_backward(p, x, std::vector<float>(25, 1.0f), three, three, three)),
                  {"dy: expected 24 elements", "got 25"});
    check_refused(status_of(ref::instance_norm_backward(eval, x, x, three, std::vector<float>(2, 0.0f), three)),
                  {"running_mean: running_mean should contain 3 elements not 2"});
  }
}
