// The CPU GroupNorm reference against closed forms (including GroupNorm(1) = LayerNorm
// over (C, *) and GroupNorm(C) = InstanceNorm), finite differences, PyTorch's own outputs
// (tests/fixtures/groupnorm) and PyTorch's refusals.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "reference_support.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"

using vknorm::GroupNormParams;
namespace ref = vknorm::reference;
using namespace vknorm::reftest;

namespace {

GroupNormParams make_group_norm_params(std::vector<int64_t> shape, int64_t groups, bool affine = true) {
  GroupNormParams p;
  p.shape = std::move(shape);
  p.num_groups = groups;
  p.affine = affine;
  return p;
}

// L = Σ y·r for GroupNorm on a contiguous (n, c, s) tensor, in plain double.
double group_norm_loss(size_t n, size_t c, size_t s, size_t groups, double eps, const std::vector<double>& x,
                       const std::vector<double>& w, const std::vector<double>& b, const std::vector<double>& r) {
  const size_t cg = c / groups, m = cg * s;
  double total = 0.0;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < groups; ++k) {
      const size_t first = (i * c + k * cg) * s;  // a group is contiguous in (n, c, s)
      double mean = 0.0, var = 0.0;
      for (size_t e = 0; e < m; ++e) mean += x[first + e] / double(m);
      for (size_t e = 0; e < m; ++e) var += (x[first + e] - mean) * (x[first + e] - mean) / double(m);
      for (size_t e = 0; e < m; ++e) {
        const size_t ch = k * cg + e / s;
        total += ((x[first + e] - mean) / std::sqrt(var + eps) * w[ch] + b[ch]) * r[first + e];
      }
    }
  return total;
}

void check_finite_differences(const GroupNormParams& p, uint32_t seed) {
  std::mt19937 rng(seed);
  auto g = vknorm::check_group_norm(p);
  REQUIRE(g.ok());
  const size_t count = size_t(g->elements), c = size_t(g->channels);
  const std::vector<float> x = random_vector(count, rng, -0.3f, 1.4f), r = random_vector(count, rng, 0.0f, 1.0f);
  std::vector<float> w = random_vector(c, rng, 1.0f, 0.5f), b = random_vector(c, rng, 0.0f, 0.3f);
  if (!p.affine) {
    w.assign(c, 1.0f);
    b.assign(c, 0.0f);
  }
  auto grads = ref::group_norm_backward(p, x, r, p.affine ? w : std::vector<float>{});
  REQUIRE(grads.ok());
  std::vector<double> xd = widen(x), wd = widen(w), bd = widen(b);
  const std::vector<double> rd = widen(r);
  check_against_differences(*grads, xd, wd, bd, p.affine, p.affine, [&] {
    return group_norm_loss(size_t(g->outer), c, size_t(g->spatial), size_t(p.num_groups), p.eps, xd, wd, bd, rd);
  });
}

}  // namespace

TEST_CASE("groupnorm reference: geometry") {
  auto g = vknorm::check_group_norm(make_group_norm_params({2, 6, 5, 7}, 3));
  REQUIRE(g.ok());
  CHECK(g->elements == 420);
  CHECK(g->outer == 2);
  CHECK(g->channels == 6);
  CHECK(g->spatial == 35);
  CHECK(g->stat_groups == 6);
  CHECK(g->group_size == 70);
  CHECK(g->affine_size == 6);
  CHECK(g->uses_batch_stats);
  CHECK_FALSE(g->updates_running);
  CHECK(vknorm::check_group_norm(make_group_norm_params({3, 4}, 2))->group_size == 2);  // (N, C): no spatial dims
}

TEST_CASE("groupnorm reference: two channels per group without spatial dims, weight per channel") {
  // x (1, 4), G = 2: groups {1, 4} and {-3, 5}; mean (a+b)/2, biased var d^2, d = (a-b)/2.
  const std::vector<float> x = {1.0f, 4.0f, -3.0f, 5.0f}, w = {2.0f, -0.5f, 1.5f, 3.0f}, b = {0.1f, 0.2f, 0.3f, 0.4f};
  auto out = ref::group_norm_forward(make_group_norm_params({1, 4}, 2), x, w, b);
  REQUIRE(out.ok());
  for (size_t k = 0; k < 2; ++k) {
    const double d = (double(x[2 * k]) - x[2 * k + 1]) / 2.0, xhat = d / std::sqrt(d * d + 1e-5);
    CHECK(out->y[2 * k] == doctest::Approx(w[2 * k] * xhat + b[2 * k]).epsilon(1e-6));
    CHECK(out->y[2 * k + 1] == doctest::Approx(-w[2 * k + 1] * xhat + b[2 * k + 1]).epsilon(1e-6));
    CHECK(out->save_mean[k] == doctest::Approx((double(x[2 * k]) + x[2 * k + 1]) / 2.0).epsilon(1e-7));
    CHECK(out->save_invstd[k] == doctest::Approx(1.0 / std::sqrt(d * d + 1e-5)).epsilon(1e-7));
  }
}

TEST_CASE("groupnorm reference: GroupNorm(1) is LayerNorm over (C, *)") {
  std::mt19937 rng(7);
  const std::vector<int64_t> shape = {2, 6, 5, 7};
  const size_t c = 6, s = 35, e = 420;
  const std::vector<float> x = random_vector(e, rng, 0.5f, 2.0f), dy = random_vector(e, rng, 0.0f, 1.0f);
  const std::vector<float> w = random_vector(c, rng, 1.0f, 0.5f), b = random_vector(c, rng, 0.0f, 0.5f);
  // LayerNorm's elementwise weight holding GroupNorm's per-channel one at every position.
  std::vector<float> w_ln(c * s), b_ln(c * s);
  for (size_t i = 0; i < c * s; ++i) {
    w_ln[i] = w[i / s];
    b_ln[i] = b[i / s];
  }
  vknorm::LayerNormParams ln;
  ln.shape = shape;
  ln.normalized_shape = {6, 5, 7};
  for (bool affine : {false, true}) {
    CAPTURE(affine);
    ln.elementwise_affine = ln.bias = affine;
    const GroupNormParams p = make_group_norm_params(shape, 1, affine);
    auto gn_y = ref::group_norm_forward(p, x, w, b);
    auto ln_y = ref::layer_norm_forward(ln, x, w_ln, b_ln);
    auto gn_g = ref::group_norm_backward(p, x, dy, w);
    auto ln_g = ref::layer_norm_backward(ln, x, dy, w_ln);
    REQUIRE((gn_y.ok() && ln_y.ok() && gn_g.ok() && ln_g.ok()));
    // Same sums in the same order, so equal up to the last bit or two.
    check_close("y", gn_y->y, widen(ln_y->y), 1e-6);
    check_close("save_mean", gn_y->save_mean, widen(ln_y->save_mean), 1e-6);
    check_close("save_invstd", gn_y->save_invstd, widen(ln_y->save_invstd), 1e-6);
    check_close("dx", gn_g->dx, widen(ln_g->dx), 1e-6);
    if (!affine) continue;
    // GroupNorm's parameter gradients are LayerNorm's summed over each channel's positions.
    std::vector<double> dw(c, 0.0), db(c, 0.0);
    for (size_t i = 0; i < c * s; ++i) {
      dw[i / s] += ln_g->dweight[i];
      db[i / s] += ln_g->dbias[i];
    }
    check_close("dweight", gn_g->dweight, dw, 1e-5);
    check_close("dbias", gn_g->dbias, db, 1e-5);
  }
}

TEST_CASE("groupnorm reference: GroupNorm(C) is InstanceNorm") {
  std::mt19937 rng(8);
  const std::vector<int64_t> shape = {3, 4, 2, 5};
  const size_t c = 4, e = 120;
  const std::vector<float> x = random_vector(e, rng, -1.0f, 3.0f), dy = random_vector(e, rng, 0.0f, 1.0f);
  const std::vector<float> w = random_vector(c, rng, 1.0f, 0.5f), b = random_vector(c, rng, 0.0f, 0.5f);
  vknorm::InstanceNormParams in;
  in.shape = shape;
  for (bool affine : {false, true}) {
    CAPTURE(affine);
    in.affine = affine;
    const GroupNormParams p = make_group_norm_params(shape, 4, affine);
    std::vector<float> no_running;
    auto gn_y = ref::group_norm_forward(p, x, w, b);
    auto in_y = ref::instance_norm_forward(in, x, w, b, no_running, no_running);
    auto gn_g = ref::group_norm_backward(p, x, dy, w);
    auto in_g = ref::instance_norm_backward(in, x, dy, w, no_running, no_running);
    REQUIRE((gn_y.ok() && in_y.ok() && gn_g.ok() && in_g.ok()));
    check_close("y", gn_y->y, widen(in_y->y), 1e-6);
    check_close("save_mean", gn_y->save_mean, widen(in_y->save_mean), 1e-6);
    check_close("save_invstd", gn_y->save_invstd, widen(in_y->save_invstd), 1e-6);
    check_close("dx", gn_g->dx, widen(in_g->dx), 1e-6);
    if (affine) {
      check_close("dweight", gn_g->dweight, widen(in_g->dweight), 1e-5);
      check_close("dbias", gn_g->dbias, widen(in_g->dbias), 1e-5);
    }
  }
}

TEST_CASE("groupnorm reference: empty batch and empty spatial dims") {
  const std::vector<float> w = {1.0f, 2.0f, 3.0f, 4.0f}, b(4, 0.5f);
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{0, 4, 3}, std::vector<int64_t>{2, 4, 0}}) {
    CAPTURE(shape[0]);
    const GroupNormParams p = make_group_norm_params(shape, 2);
    auto out = ref::group_norm_forward(p, {}, w, b);
    REQUIRE(out.ok());
    CHECK(out->y.empty());
    // N*G empty groups: PyTorch's native_group_norm saves mean 0 and rstd NaN.
    CHECK(out->save_mean == std::vector<float>(size_t(shape[0] * 2), 0.0f));
    CHECK(all_nan(out->save_invstd, size_t(shape[0] * 2)));
    auto grads = ref::group_norm_backward(p, {}, {}, w);
    REQUIRE(grads.ok());
    CHECK(grads->dx.empty());
    CHECK(grads->dweight == std::vector<float>(4, 0.0f));
    CHECK(grads->dbias == std::vector<float>(4, 0.0f));
  }
}

TEST_CASE("groupnorm reference: gradients match finite differences") {
  SUBCASE("G = 2") { check_finite_differences(make_group_norm_params({2, 6, 3}, 2), 31); }
  SUBCASE("G = 1") { check_finite_differences(make_group_norm_params({2, 4, 2, 2}, 1), 32); }
  SUBCASE("G = C") { check_finite_differences(make_group_norm_params({2, 3, 4}, 3), 33); }
  SUBCASE("no affine") { check_finite_differences(make_group_norm_params({2, 4, 3}, 2, false), 34); }
  SUBCASE("no spatial dims") { check_finite_differences(make_group_norm_params({3, 4}, 2), 35); }
  SUBCASE("one value per group, N = 2") { check_finite_differences(make_group_norm_params({2, 2}, 2), 36); }
  SUBCASE("larger eps") {
    GroupNormParams p = make_group_norm_params({2, 4, 3}, 2);
    p.eps = 0.5f;
    check_finite_differences(p, 37);
  }
}

TEST_CASE("groupnorm reference: PyTorch fixtures") {
  const std::vector<std::string> cases = {"edge_channels0", "edge_eps0_constant", "edge_spatial0",
                                          "gn_3d", "gn_empty", "gn_g1", "gn_g2", "gn_gc",
                                          "gn_large_mean", "gn_nc", "gn_noaffine"};
  CHECK(fixture_cases("groupnorm") == cases);
  for (const std::string& name : cases) {
    CAPTURE(name);
    const std::string dir = fixture_dir("groupnorm") + name + "/";
    auto kv = read_params(dir + "params.txt");
    REQUIRE(kv["op"] == "groupnorm");
    const vknorm::io::NpyArray x = load_array(dir + "x.npy");
    GroupNormParams p = make_group_norm_params(x.shape, std::stoll(kv["groups"]), kv["affine"] == "1");
    p.eps = std::stof(kv["eps"]);
    const std::vector<float> w = p.affine ? load(dir + "weight.npy") : std::vector<float>{};
    const std::vector<float> b = p.affine ? load(dir + "bias.npy") : std::vector<float>{};
    CHECK(has_array(dir, "weight") == p.affine);

    auto fwd = ref::group_norm_forward(p, x.data, w, b);
    REQUIRE_MESSAGE(fwd.ok(), fwd.status().message());
    auto bwd = ref::group_norm_backward(p, x.data, load(dir + "dy.npy"), w);
    REQUIRE_MESSAGE(bwd.ok(), bwd.status().message());

    // Tolerances: check_fixture_array; gn_large_mean (|x| ~ 1e4, std 1) needs the
    // condition term, also for save_invstd (PyTorch's float32 variance).
    const double kappa = condition(x.data, fwd->save_invstd, size_t(vknorm::check_group_norm(p)->group_size));
    check_fixture_array(dir, "y", fwd->y, true, kappa);
    check_fixture_array(dir, "dx", bwd->dx, true, kappa);
    check_fixture_array(dir, "save_mean", fwd->save_mean, false, kappa);
    check_fixture_array(dir, "save_invstd", fwd->save_invstd, true, kappa);
    if (p.affine) {
      // edge_eps0_constant has none: PyTorch's is +-inf by a rounding residue (edge_cases.py).
      if (has_array(dir, "dweight")) check_fixture_array(dir, "dweight", bwd->dweight, true, kappa);
      check_fixture_array(dir, "dbias", bwd->dbias, false, kappa);
    }
  }
}

TEST_CASE("groupnorm reference: refusals name the argument and use PyTorch's words") {
  auto forward_status = [](const GroupNormParams& p, size_t x_len, size_t w_len, size_t b_len) {
    return status_of(ref::group_norm_forward(p, std::vector<float>(x_len, 1.0f), std::vector<float>(w_len, 1.0f),
                                             std::vector<float>(b_len, 0.0f)));
  };
  SUBCASE("groups") {
    check_refused(forward_status(make_group_norm_params({2, 6, 4}, 4), 48, 6, 6),
                  {"num_groups: Expected number of channels in input to be divisible by num_groups, but got input "
                   "of shape [2, 6, 4] and num_groups=4"});
    check_refused(forward_status(make_group_norm_params({2, 2, 3}, 4), 12, 2, 2),
                  {"Expected number of channels in input to be divisible by num_groups"});
    check_refused(forward_status(make_group_norm_params({2, 6, 4}, 0), 48, 6, 6),
                  {"num_groups: Expected num groups to be greater than 0, got 0"});
    check_refused(forward_status(make_group_norm_params({2, 6, 4}, -2), 48, 6, 6),
                  {"num_groups: Expected num groups to be greater than 0, got -2"});
  }
  SUBCASE("one value per group in the whole batch") {
    // F.group_norm checks [N*C//G, G, *spatial] before divisibility and prints that list.
    const char* phrase = "x: Expected more than 1 value per channel when training, got input size ";
    check_refused(forward_status(make_group_norm_params({1, 2}, 2), 2, 2, 2), {phrase, "size [1, 2] "});
    check_refused(forward_status(make_group_norm_params({1, 2, 1, 1}, 2), 2, 2, 2), {phrase, "size [1, 2, 1, 1] "});
    check_refused(forward_status(make_group_norm_params({1, 3}, 2), 3, 3, 3), {phrase, "size [1, 2] "});
    // More than one value in the batch, even if one per (n, group): accepted.
    CHECK(forward_status(make_group_norm_params({2, 2}, 2), 4, 2, 2).ok());
    CHECK(forward_status(make_group_norm_params({1, 2}, 1), 2, 2, 2).ok());
    CHECK(forward_status(make_group_norm_params({1, 4}, 2), 4, 4, 4).ok());
  }
  SUBCASE("shape") {
    check_refused(forward_status(make_group_norm_params({6}, 2), 6, 6, 6),
                  {"x: expected at least 2D input (N, C, *) (got 1D input)"});
    check_refused(forward_status(make_group_norm_params({2, -6, 4}, 2), 48, 6, 6),
                  {"x: dimension 1 of shape [2, -6, 4] is negative"});
    // C = 0: an empty output, as PyTorch's (also with its empty weight and bias).
    CHECK(forward_status(make_group_norm_params({2, 0, 3}, 1), 0, 0, 0).ok());
    GroupNormParams p = make_group_norm_params({2, 6, 4}, 2);
    p.eps = -1e-5f;
    check_refused(forward_status(p, 48, 6, 6), {"eps: expected a finite value >= 0"});
    p.eps = 0.0f;
    CHECK(forward_status(p, 48, 6, 6).ok());
  }
  SUBCASE("lengths") {
    const GroupNormParams p = make_group_norm_params({2, 6, 3}, 2);
    check_refused(forward_status(p, 36, 5, 6),
                  {"weight: Expected weight to be a vector of size equal to the number of channels in input, but got "
                   "weight of shape [5] and input with 6 channels"});
    check_refused(forward_status(p, 36, 6, 12),
                  {"bias: Expected bias to be a vector of size equal to the number of channels in input, but got "
                   "bias of shape [12]"});
    check_refused(forward_status(p, 35, 6, 6), {"x: expected 36 elements", "got 35"});
    CHECK(forward_status(make_group_norm_params({2, 6, 3}, 2, false), 36, 0, 9).ok());  // absent: ignored
    const std::vector<float> x(36, 1.0f);
    check_refused(status_of(ref::group_norm_backward(p, x, std::vector<float>(37, 1.0f), std::vector<float>(6, 1.0f))),
                  {"dy: expected 36 elements", "got 37"});
  }
}

// (2^32, 2^31 + 1) has 2^63 + 2^32 elements: within 64 unsigned bits, beyond int64_t. With
// num_groups = INT64_MAX, N*C/G is 1, so the check used to build PyTorch's "input size"
// message from s[0] * s[1] in int64_t: a signed overflow (UBSan in the sanitize build).
// PyTorch cannot hold such a tensor (numel is int64_t); vknorm refuses it the same way.
TEST_CASE("groupnorm reference: a shape past INT64_MAX elements is refused, not overflowed") {
  const int64_t big = int64_t{1} << 32;
  auto g = vknorm::check_group_norm(make_group_norm_params({big, (big >> 1) + 1}, INT64_MAX));
  REQUIRE_FALSE(g.ok());
  CHECK_MESSAGE(g.status().message().find("x: shape [4294967296, 2147483649] has more elements than int64_t can count") !=
                    std::string::npos,
                g.status().message());
  // Exactly INT64_MAX elements (49 * 73 * 127 * 337 * 92737 * 649657) still pass the count.
  auto max = vknorm::check_group_norm(make_group_norm_params({49 * 73 * 127, 337 * 92737, 649657}, 1));
  CHECK(max.ok());
}
