// The CPU RMSNorm reference against closed forms, finite differences, PyTorch's own
// outputs (tests/fixtures/rmsnorm: torch.nn.RMSNorm's formula, built from torch ops
// because 1.13 predates the module) and the refusals PyTorch shares with LayerNorm.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "reference_support.hpp"
#include "vknorm/rmsnorm.hpp"

using vknorm::RMSNormParams;
namespace ref = vknorm::reference;
using namespace vknorm::reftest;

namespace {

RMSNormParams make_rms_norm_params(std::vector<int64_t> shape, std::vector<int64_t> normalized, bool affine = true,
                          std::optional<float> eps = 1e-5f) {
  RMSNormParams p;
  p.shape = std::move(shape);
  p.normalized_shape = std::move(normalized);
  p.elementwise_affine = affine;
  p.eps = eps;
  return p;
}

// L = Σ y·r with y = x / sqrt(mean(x^2) + eps) * w per row of d, in plain double.
double rms_norm_loss(size_t d, double eps, const std::vector<double>& x, const std::vector<double>& w,
                     const std::vector<double>& r) {
  double total = 0.0;
  for (size_t row = 0; row < x.size() / d; ++row) {
    const double* v = x.data() + row * d;
    double ms = 0.0;
    for (size_t j = 0; j < d; ++j) ms += v[j] * v[j] / double(d);
    for (size_t j = 0; j < d; ++j) total += v[j] / std::sqrt(ms + eps) * w[j] * r[row * d + j];
  }
  return total;
}

void check_finite_differences(const RMSNormParams& p, uint32_t seed) {
  std::mt19937 rng(seed);
  auto g = vknorm::check_rms_norm(p);
  REQUIRE(g.ok());
  const size_t count = size_t(g->elements), d = size_t(g->channels);
  const std::vector<float> x = random_vector(count, rng, 0.4f, 1.5f), r = random_vector(count, rng, 0.0f, 1.0f);
  std::vector<float> w = random_vector(d, rng, 1.0f, 0.5f);
  if (!p.elementwise_affine) w.assign(d, 1.0f);
  auto grads = ref::rms_norm_backward(p, x, r, p.elementwise_affine ? w : std::vector<float>{});
  REQUIRE(grads.ok());
  std::vector<double> xd = widen(x), wd = widen(w), bd;
  const std::vector<double> rd = widen(r);
  check_against_differences(*grads, xd, wd, bd, p.elementwise_affine, false,
                            [&] { return rms_norm_loss(d, p.effective_eps(), xd, wd, rd); });
}

}  // namespace

TEST_CASE("rmsnorm reference: geometry and the default eps") {
  auto g = vknorm::check_rms_norm(make_rms_norm_params({2, 3, 16}, {3, 16}));
  REQUIRE(g.ok());
  CHECK(g->elements == 96);
  CHECK(g->outer == 2);
  CHECK(g->channels == 48);
  CHECK(g->stat_groups == 2);
  CHECK(g->group_size == 48);
  CHECK(g->affine_size == 48);
  CHECK(g->uses_batch_stats);
  CHECK_FALSE(g->updates_running);
  CHECK(make_rms_norm_params({2, 3}, {3}, true, std::nullopt).effective_eps() == FLT_EPSILON);
  CHECK(make_rms_norm_params({2, 3}, {3}, true, 0.25f).effective_eps() == 0.25f);
}

TEST_CASE("rmsnorm reference: closed forms") {
  // Row {3, 4}: mean(x^2) = 12.5. Row {0, 0}: 0 / sqrt(eps) = 0 exactly.
  const std::vector<float> x = {3.0f, 4.0f, 0.0f, 0.0f}, w = {2.0f, -1.0f};
  const RMSNormParams p = make_rms_norm_params({2, 2}, {2}, true, std::nullopt);
  auto out = ref::rms_norm_forward(p, x, w);
  REQUIRE(out.ok());
  const double invrms = 1.0 / std::sqrt(12.5 + double(FLT_EPSILON));
  CHECK(out->y[0] == doctest::Approx(3.0 * invrms * 2.0).epsilon(1e-7));
  CHECK(out->y[1] == doctest::Approx(-4.0 * invrms).epsilon(1e-7));
  CHECK(out->y[2] == 0.0f);
  CHECK(out->y[3] == 0.0f);
  CHECK(out->save_mean.empty());
  REQUIRE(out->save_invstd.size() == 2);
  CHECK(out->save_invstd[0] == doctest::Approx(invrms).epsilon(1e-7));
  CHECK(out->save_invstd[1] == doctest::Approx(1.0 / std::sqrt(double(FLT_EPSILON))).epsilon(1e-7));
  // No mean is subtracted: a constant row normalizes to +-1, not 0 as in LayerNorm.
  auto constant = ref::rms_norm_forward(make_rms_norm_params({1, 4}, {4}, false), {-5.0f, -5.0f, -5.0f, -5.0f}, {});
  REQUIRE(constant.ok());
  for (float v : constant->y) CHECK(v == doctest::Approx(-1.0).epsilon(1e-6));
}

TEST_CASE("rmsnorm reference: the gradient is orthogonal to x within a row without weight") {
  // y = x * invrms is scale invariant, so Σ dx·x = 0 for any dy.
  std::mt19937 rng(3);
  const std::vector<float> x = random_vector(24, rng, 0.5f, 2.0f), dy = random_vector(24, rng, 0.0f, 1.0f);
  auto grads = ref::rms_norm_backward(make_rms_norm_params({3, 8}, {8}, false, 1e-12f), x, dy, {});
  REQUIRE(grads.ok());
  CHECK(grads->dweight.empty());
  CHECK(grads->dbias.empty());
  for (size_t r = 0; r < 3; ++r) {
    double dot = 0.0, scale = 0.0;
    for (size_t j = 0; j < 8; ++j) {
      dot += double(grads->dx[r * 8 + j]) * x[r * 8 + j];
      scale += std::abs(double(grads->dx[r * 8 + j]) * x[r * 8 + j]);
    }
    CHECK(std::abs(dot) <= 1e-6 * scale);
  }
}

TEST_CASE("rmsnorm reference: no rows") {
  const RMSNormParams p = make_rms_norm_params({0, 4}, {4});
  const std::vector<float> w(4, 1.0f);
  auto out = ref::rms_norm_forward(p, {}, w);
  REQUIRE(out.ok());
  CHECK(out->y.empty());
  CHECK(out->save_invstd.empty());
  auto grads = ref::rms_norm_backward(p, {}, {}, w);
  REQUIRE(grads.ok());
  CHECK(grads->dx.empty());
  CHECK(grads->dweight == std::vector<float>(4, 0.0f));
}

TEST_CASE("rmsnorm reference: gradients match finite differences") {
  SUBCASE("rows of 8") { check_finite_differences(make_rms_norm_params({3, 8}, {8}), 41); }
  SUBCASE("two normalized dims") { check_finite_differences(make_rms_norm_params({2, 3, 4}, {3, 4}), 42); }
  SUBCASE("no weight") { check_finite_differences(make_rms_norm_params({3, 5}, {5}, false), 43); }
  SUBCASE("default eps") { check_finite_differences(make_rms_norm_params({2, 6}, {6}, true, std::nullopt), 44); }
  SUBCASE("larger eps") { check_finite_differences(make_rms_norm_params({2, 6}, {6}, true, 0.5f), 45); }
}

TEST_CASE("rmsnorm reference: PyTorch fixtures") {
  const std::vector<std::string> cases = {"edge_eps0_zero_row", "edge_rows_of_0", "rms_3x8", "rms_empty", "rms_eps_default", "rms_noaffine", "rms_two_dims"};
  CHECK(fixture_cases("rmsnorm") == cases);
  for (const std::string& name : cases) {
    CAPTURE(name);
    const std::string dir = fixture_dir("rmsnorm") + name + "/";
    auto kv = read_params(dir + "params.txt");
    REQUIRE(kv["op"] == "rmsnorm");
    const vknorm::io::NpyArray x = load_array(dir + "x.npy");
    const size_t k = std::stoul(kv["normalized_dims"]);
    RMSNormParams p = make_rms_norm_params(x.shape, std::vector<int64_t>(x.shape.end() - long(k), x.shape.end()),
                                  kv["affine"] == "1");
    if (kv["eps"] == "none") p.eps = std::nullopt;
    else p.eps = std::stof(kv["eps"]);
    const std::vector<float> w = p.elementwise_affine ? load(dir + "weight.npy") : std::vector<float>{};
    CHECK(has_array(dir, "weight") == p.elementwise_affine);

    auto fwd = ref::rms_norm_forward(p, x.data, w);
    REQUIRE_MESSAGE(fwd.ok(), fwd.status().message());
    auto bwd = ref::rms_norm_backward(p, x.data, load(dir + "dy.npy"), w);
    REQUIRE_MESSAGE(bwd.ok(), bwd.status().message());

    // Tolerances: check_fixture_array. Nothing is centered (|x| * invrms <= sqrt(D)), so
    // only the 1e-5 term applies.
    check_fixture_array(dir, "y", fwd->y, false, 0.0);
    check_fixture_array(dir, "dx", bwd->dx, false, 0.0);
    check_fixture_array(dir, "save_invstd", fwd->save_invstd, false, 0.0);
    CHECK(fwd->save_mean.empty());
    if (p.elementwise_affine) check_fixture_array(dir, "dweight", bwd->dweight, false, 0.0);
  }
}

TEST_CASE("rmsnorm reference: refusals name the argument and use PyTorch's words") {
  auto forward_status = [](const RMSNormParams& p, size_t x_len, size_t w_len) {
    return status_of(ref::rms_norm_forward(p, std::vector<float>(x_len, 1.0f), std::vector<float>(w_len, 1.0f)));
  };
  // PyTorch >= 2.4 checks RMSNorm's shapes with LayerNorm's code and messages.
  check_refused(forward_status(make_rms_norm_params({2, 3, 5}, {4}), 30, 4),
                {"x: Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3, 5]"});
  check_refused(forward_status(make_rms_norm_params({2, 5}, {}), 10, 5),
                {"normalized_shape: Expected normalized_shape to be at least 1-dimensional"});
  check_refused(forward_status(make_rms_norm_params({2, 5}, {5}), 10, 4),
                {"weight: Expected weight to be of same shape as normalized_shape, but got weight of 4 elements "
                 "and normalized_shape of 5 elements"});
  check_refused(forward_status(make_rms_norm_params({-2, 5}, {5}), 10, 5), {"x: dimension 0 of shape [-2, 5] is negative"});
  CHECK(forward_status(make_rms_norm_params({2, 0}, {0}), 0, 0).ok());  // an empty output, each row's rstd NaN
  check_refused(forward_status(make_rms_norm_params({2, 5}, {5}), 11, 5), {"x: expected 10 elements", "got 11"});
  // PyTorch accepts eps = 0 (NaN for a zero row), and so does vknorm. eps = nullopt is fine.
  CHECK(forward_status(make_rms_norm_params({2, 5}, {5}, true, 0.0f), 10, 5).ok());
  check_refused(forward_status(make_rms_norm_params({2, 5}, {5}, true, NAN), 10, 5), {"eps: expected a finite value >= 0"});
  check_refused(forward_status(make_rms_norm_params({2, 5}, {5}, true, -1.0f), 10, 5), {"eps: expected a finite value >= 0"});
  const std::vector<float> x(10, 1.0f);
  check_refused(status_of(ref::rms_norm_backward(make_rms_norm_params({2, 5}, {5}), x, std::vector<float>(9, 1.0f),
                                                 std::vector<float>(5, 1.0f))),
                {"dy: expected 10 elements", "got 9"});
}
