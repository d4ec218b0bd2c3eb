// The CPU LayerNorm reference against closed forms, finite differences, PyTorch's own
// outputs (tests/fixtures/layernorm) and PyTorch's refusals.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "reference_support.hpp"
#include "vknorm/layernorm.hpp"

using vknorm::LayerNormParams;
namespace ref = vknorm::reference;
using namespace vknorm::reftest;

namespace {

LayerNormParams make_layer_norm_params(std::vector<int64_t> shape, std::vector<int64_t> normalized, bool affine = true,
                            bool bias = true) {
  LayerNormParams p;
  p.shape = std::move(shape);
  p.normalized_shape = std::move(normalized);
  p.elementwise_affine = affine;
  p.bias = bias;
  return p;
}

// L = Σ y·r with y = (x - mean) / sqrt(var + eps) * w + b per row of d, in plain double.
double layer_norm_loss(size_t d, double eps, const std::vector<double>& x, const std::vector<double>& w,
                       const std::vector<double>& b, const std::vector<double>& r) {
  double total = 0.0;
  for (size_t row = 0; row < x.size() / d; ++row) {
    const double* v = x.data() + row * d;
    double mean = 0.0, var = 0.0;
    for (size_t j = 0; j < d; ++j) mean += v[j] / double(d);
    for (size_t j = 0; j < d; ++j) var += (v[j] - mean) * (v[j] - mean) / double(d);
    for (size_t j = 0; j < d; ++j) total += ((v[j] - mean) / std::sqrt(var + eps) * w[j] + b[j]) * r[row * d + j];
  }
  return total;
}

void check_finite_differences(const LayerNormParams& p, uint32_t seed) {
  std::mt19937 rng(seed);
  auto g = vknorm::check_layer_norm(p);
  REQUIRE(g.ok());
  const size_t count = size_t(g->elements), d = size_t(g->channels);
  const std::vector<float> x = random_vector(count, rng, 0.8f, 1.7f), r = random_vector(count, rng, 0.0f, 1.0f);
  std::vector<float> w = random_vector(d, rng, 1.0f, 0.5f), b = random_vector(d, rng, 0.0f, 0.3f);
  if (!p.elementwise_affine) w.assign(d, 1.0f);
  if (!p.bias) b.assign(d, 0.0f);
  auto grads = ref::layer_norm_backward(p, x, r, p.elementwise_affine ? w : std::vector<float>{});
  REQUIRE(grads.ok());
  std::vector<double> xd = widen(x), wd = widen(w), bd = widen(b);
  const std::vector<double> rd = widen(r);
  check_against_differences(*grads, xd, wd, bd, p.elementwise_affine, p.bias,
                            [&] { return layer_norm_loss(d, p.eps, xd, wd, bd, rd); });
}

}  // namespace

TEST_CASE("layernorm reference: geometry") {
  auto g = vknorm::check_layer_norm(make_layer_norm_params({2, 3, 4, 5}, {4, 5}));
  REQUIRE(g.ok());
  CHECK(g->elements == 120);
  CHECK(g->outer == 6);
  CHECK(g->channels == 20);
  CHECK(g->spatial == 1);
  CHECK(g->stat_groups == 6);
  CHECK(g->group_size == 20);
  CHECK(g->affine_size == 20);
  CHECK(g->uses_batch_stats);
  CHECK_FALSE(g->updates_running);
  // The whole tensor normalized: one row.
  CHECK(vknorm::check_layer_norm(make_layer_norm_params({4, 5}, {4, 5}))->outer == 1);
}

TEST_CASE("layernorm reference: two values per row give xhat = +-d/sqrt(d^2+eps)") {
  // Rows {a, b}: mean (a+b)/2, biased var d^2 with d = (a-b)/2; the third row shows eps
  // at work (d^2 = 1e-6 < eps: |xhat| ~ 0.3, not 1).
  const std::vector<float> x = {1.0f, 4.0f, -3.0f, 5.0f, 0.002f, 0.0f};
  const std::vector<float> w = {2.0f, -0.5f}, b = {0.1f, 0.3f};
  const LayerNormParams p = make_layer_norm_params({3, 2}, {2});
  auto out = ref::layer_norm_forward(p, x, w, b);
  REQUIRE(out.ok());
  for (size_t r = 0; r < 3; ++r) {
    const double d = (double(x[2 * r]) - x[2 * r + 1]) / 2.0, xhat = d / std::sqrt(d * d + 1e-5);
    CHECK(out->y[2 * r] == doctest::Approx(w[0] * xhat + b[0]).epsilon(1e-6));
    CHECK(out->y[2 * r + 1] == doctest::Approx(-w[1] * xhat + b[1]).epsilon(1e-6));
    CHECK(out->save_mean[r] == doctest::Approx((double(x[2 * r]) + x[2 * r + 1]) / 2.0).epsilon(1e-7));
    CHECK(out->save_invstd[r] == doctest::Approx(1.0 / std::sqrt(d * d + 1e-5)).epsilon(1e-7));
  }
  CHECK(std::abs(out->y[4] - b[0]) < 0.7f);
}

TEST_CASE("layernorm reference: rows of one element give y = bias and no gradient through x") {
  const std::vector<float> x = {3.0f, -7.0f, 0.5f}, w = {2.5f}, b = {-0.75f}, dy = {1.0f, -2.0f, 4.0f};
  const LayerNormParams p = make_layer_norm_params({3, 1}, {1});
  auto out = ref::layer_norm_forward(p, x, w, b);
  REQUIRE(out.ok());
  for (size_t r = 0; r < 3; ++r) {
    CHECK(out->y[r] == -0.75f);
    CHECK(out->save_mean[r] == x[r]);
    CHECK(out->save_invstd[r] == doctest::Approx(1.0 / std::sqrt(1e-5)).epsilon(1e-7));
  }
  auto grads = ref::layer_norm_backward(p, x, dy, w);
  REQUIRE(grads.ok());
  CHECK(grads->dx == std::vector<float>(3, 0.0f));
  CHECK(grads->dweight == std::vector<float>{0.0f});
  CHECK(grads->dbias == std::vector<float>{3.0f});
}

TEST_CASE("layernorm reference: normalizing two trailing dims equals normalizing their product") {
  std::mt19937 rng(5);
  const std::vector<float> x = random_vector(120, rng, 1.0f, 2.0f), dy = random_vector(120, rng, 0.0f, 1.0f);
  const std::vector<float> w = random_vector(20, rng, 1.0f, 0.5f), b = random_vector(20, rng, 0.0f, 0.5f);
  auto a = ref::layer_norm_forward(make_layer_norm_params({2, 3, 4, 5}, {4, 5}), x, w, b);
  auto c = ref::layer_norm_forward(make_layer_norm_params({6, 20}, {20}), x, w, b);
  REQUIRE(a.ok());
  REQUIRE(c.ok());
  CHECK(a->y == c->y);
  CHECK(a->save_mean == c->save_mean);
  CHECK(a->save_invstd == c->save_invstd);
  auto ga = ref::layer_norm_backward(make_layer_norm_params({2, 3, 4, 5}, {4, 5}), x, dy, w);
  auto gc = ref::layer_norm_backward(make_layer_norm_params({6, 20}, {20}), x, dy, w);
  REQUIRE(ga.ok());
  REQUIRE(gc.ok());
  CHECK(ga->dx == gc->dx);
  CHECK(ga->dweight == gc->dweight);
  CHECK(ga->dbias == gc->dbias);
}

TEST_CASE("layernorm reference: absent weight and bias") {
  const std::vector<float> x = {1.0f, 2.0f, 6.0f, -1.0f, 0.0f, 4.0f}, dy = {1.0f, 0.5f, -1.0f, 2.0f, 0.0f, 1.0f};
  const std::vector<float> w = {2.0f, 3.0f, 4.0f}, b = {1.0f, 1.0f, 1.0f};
  auto plain = ref::layer_norm_forward(make_layer_norm_params({2, 3}, {3}, false, false), x, {}, {});
  auto weighted = ref::layer_norm_forward(make_layer_norm_params({2, 3}, {3}, true, false), x, w, {});
  // Given but absent by the params: ignored.
  auto ignored = ref::layer_norm_forward(make_layer_norm_params({2, 3}, {3}, false, false), x, w, b);
  REQUIRE(plain.ok());
  REQUIRE(weighted.ok());
  REQUIRE(ignored.ok());
  CHECK(ignored->y == plain->y);
  for (size_t i = 0; i < 6; ++i) CHECK(weighted->y[i] == doctest::Approx(plain->y[i] * w[i % 3]).epsilon(1e-6));
  auto g_plain = ref::layer_norm_backward(make_layer_norm_params({2, 3}, {3}, false, false), x, dy, {});
  auto g_weighted = ref::layer_norm_backward(make_layer_norm_params({2, 3}, {3}, true, false), x, dy, w);
  REQUIRE(g_plain.ok());
  REQUIRE(g_weighted.ok());
  CHECK(g_plain->dweight.empty());
  CHECK(g_plain->dbias.empty());
  CHECK(g_weighted->dweight.size() == 3);
  CHECK(g_weighted->dbias.empty());
}

TEST_CASE("layernorm reference: no rows") {
  const std::vector<float> w = {1.0f, 2.0f}, b = {0.5f, 0.5f};
  const LayerNormParams p = make_layer_norm_params({0, 3, 2}, {2});
  auto out = ref::layer_norm_forward(p, {}, w, b);
  REQUIRE(out.ok());
  CHECK(out->y.empty());
  CHECK(out->save_mean.empty());
  CHECK(out->save_invstd.empty());
  auto grads = ref::layer_norm_backward(p, {}, {}, w);
  REQUIRE(grads.ok());
  CHECK(grads->dx.empty());
  CHECK(grads->dweight == std::vector<float>(2, 0.0f));
  CHECK(grads->dbias == std::vector<float>(2, 0.0f));
}

TEST_CASE("layernorm reference: gradients match finite differences") {
  SUBCASE("rows of 7") { check_finite_differences(make_layer_norm_params({4, 7}, {7}), 21); }
  SUBCASE("two normalized dims") { check_finite_differences(make_layer_norm_params({2, 3, 4}, {3, 4}), 22); }
  SUBCASE("no affine") { check_finite_differences(make_layer_norm_params({3, 5}, {5}, false, false), 23); }
  SUBCASE("weight without bias") { check_finite_differences(make_layer_norm_params({3, 5}, {5}, true, false), 24); }
  SUBCASE("rows of 1") { check_finite_differences(make_layer_norm_params({3, 1}, {1}), 25); }
  SUBCASE("larger eps") {
    LayerNormParams p = make_layer_norm_params({2, 6}, {6});
    p.eps = 0.5f;
    check_finite_differences(p, 26);
  }
}

TEST_CASE("layernorm reference: PyTorch fixtures") {
  const std::vector<std::string> cases = {"edge_1d_0", "edge_eps0_constant", "edge_rows_of_0", "ln_empty", "ln_eps",  "ln_large_mean", "ln_noaffine", "ln_nobias",
                                          "ln_row1",  "ln_row7", "ln_row768",     "ln_two_dims"};
  CHECK(fixture_cases("layernorm") == cases);
  for (const std::string& name : cases) {
    CAPTURE(name);
    const std::string dir = fixture_dir("layernorm") + name + "/";
    auto kv = read_params(dir + "params.txt");
    REQUIRE(kv["op"] == "layernorm");
    const vknorm::io::NpyArray x = load_array(dir + "x.npy");
    const size_t k = std::stoul(kv["normalized_dims"]);
    LayerNormParams p = make_layer_norm_params(x.shape, std::vector<int64_t>(x.shape.end() - long(k), x.shape.end()),
                                    kv["affine"] == "1", kv["bias"] == "1");
    p.eps = std::stof(kv["eps"]);
    const std::vector<float> w = p.elementwise_affine ? load(dir + "weight.npy") : std::vector<float>{};
    const std::vector<float> b = p.bias ? load(dir + "bias.npy") : std::vector<float>{};
    CHECK(has_array(dir, "weight") == p.elementwise_affine);
    CHECK(has_array(dir, "bias") == p.bias);

    auto fwd = ref::layer_norm_forward(p, x.data, w, b);
    REQUIRE_MESSAGE(fwd.ok(), fwd.status().message());
    auto bwd = ref::layer_norm_backward(p, x.data, load(dir + "dy.npy"), w);
    REQUIRE_MESSAGE(bwd.ok(), bwd.status().message());

    // Tolerances: check_fixture_array. ln_large_mean (|x| ~ 1e4, std 1) is the case the
    // condition term is for: it moves PyTorch's float32 variance, hence save_invstd, too
    // (1.7e-5 relative there).
    const size_t d = size_t(vknorm::check_layer_norm(p)->channels);
    const double kappa = condition(x.data, fwd->save_invstd, d);
    check_fixture_array(dir, "y", fwd->y, true, kappa);
    check_fixture_array(dir, "dx", bwd->dx, true, kappa);
    check_fixture_array(dir, "save_mean", fwd->save_mean, false, kappa);
    check_fixture_array(dir, "save_invstd", fwd->save_invstd, true, kappa);
    if (p.elementwise_affine) check_fixture_array(dir, "dweight", bwd->dweight, true, kappa);
    if (p.bias) check_fixture_array(dir, "dbias", bwd->dbias, false, kappa);
  }
}

namespace {

vknorm::Status forward_status(const LayerNormParams& p, size_t x_len, size_t w_len, size_t b_len) {
  const std::vector<float> x(x_len, 1.0f), w(w_len, 1.0f), b(b_len, 0.0f);
  return status_of(ref::layer_norm_forward(p, x, w, b));
}

}  // namespace

TEST_CASE("layernorm reference: refusals name the argument and use PyTorch's words") {
  SUBCASE("normalized_shape against x") {
    check_refused(forward_status(make_layer_norm_params({2, 3, 5}, {4}), 30, 4, 4),
                  {"x: Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3, 5]"});
    check_refused(forward_status(make_layer_norm_params({2, 3, 5}, {3, 4}), 30, 12, 12),
                  {"x: Given normalized_shape=[3, 4], expected input with shape [*, 3, 4], but got input of "
                   "size[2, 3, 5]"});
    check_refused(forward_status(make_layer_norm_params({5}, {2, 5}), 5, 10, 10),
                  {"x: Given normalized_shape=[2, 5], expected input with shape [*, 2, 5], but got input of size[5]"});
    check_refused(forward_status(make_layer_norm_params({2, 5}, {-5}), 10, 5, 5), {"x: Given normalized_shape=[-5]"});
    check_refused(forward_status(make_layer_norm_params({2, 5}, {}), 10, 5, 5),
                  {"normalized_shape: Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                   "least one element, but got normalized_shape = []"});
  }
  SUBCASE("vknorm's own rules") {
    check_refused(forward_status(make_layer_norm_params({2, -5}, {-5}), 10, 5, 5),
                  {"x: dimension 1 of shape [2, -5] is negative"});
    CHECK(forward_status(make_layer_norm_params({3, 0}, {0}), 0, 0, 0).ok());  // PyTorch's empty output
    check_refused(forward_status(make_layer_norm_params({2, 5}, {5}, false, true), 10, 0, 5),
                  {"bias:", "needs elementwise_affine=true"});
    LayerNormParams p = make_layer_norm_params({2, 5}, {5});
    p.eps = 0.0f;  // PyTorch accepts it (and returns NaN for a constant row)
    CHECK(forward_status(p, 10, 5, 5).ok());
    p.eps = INFINITY;
    check_refused(forward_status(p, 10, 5, 5), {"eps: expected a finite value >= 0"});
  }
  SUBCASE("lengths") {
    const LayerNormParams p = make_layer_norm_params({2, 5}, {5});
    check_refused(forward_status(p, 10, 4, 5),
                  {"weight: Expected weight to be of same shape as normalized_shape, but got weight of 4 elements "
                   "and normalized_shape of 5 elements"});
    check_refused(forward_status(p, 10, 5, 6),
                  {"bias: Expected bias to be of same shape as normalized_shape, but got bias of 6 elements"});
    check_refused(forward_status(p, 9, 5, 5), {"x: expected 10 elements", "got 9"});
    const std::vector<float> x(10, 1.0f), dy(11, 1.0f), w(5, 1.0f);
    check_refused(status_of(ref::layer_norm_backward(p, x, dy, w)), {"dy: expected 10 elements", "got 11"});
    check_refused(status_of(ref::layer_norm_backward(p, x, x, std::vector<float>(3, 1.0f))),
                  {"weight: Expected weight to be of same shape as normalized_shape"});
  }
}
