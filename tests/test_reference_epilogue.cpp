// The CPU reference's fused epilogue, y = relu(affine(norm(x)) + residual), and its
// backward, for every kind of the kind table: against hand-computed values, against central
// differences of an independent double-precision model, the ReLU mask at y == 0, and the
// refusals of missing epilogue arrays.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ops/norm_kinds.hpp"
#include "reference_support.hpp"

namespace vknorm::reftest {
namespace {

// ---- Two-element statistics groups: x = {-1, 1} gives xhat = {-s, s}, s = 1/sqrt(1 + eps)

void set_pair_params(BatchNormParams& p) {
  p.shape = {2, 1};
  p.track_running_stats = false;
}
void set_pair_params(InstanceNormParams& p) {
  p.shape = {1, 1, 2};
  p.affine = true;
}
void set_pair_params(GroupNormParams& p) {
  p.shape = {1, 2, 1};
  p.num_groups = 1;
}
void set_pair_params(LayerNormParams& p) {
  p.shape = {1, 2};
  p.normalized_shape = {2};
}
void set_pair_params(RMSNormParams& p) {
  p.shape = {1, 2};
  p.normalized_shape = {2};
  p.eps = 1e-5f;  // as the other kinds, instead of FLT_EPSILON
}

// ---- Shapes with several groups and channels, for the finite differences

void set_random_params(BatchNormParams& p) {
  p.shape = {3, 2, 4};
  p.track_running_stats = false;
}
void set_random_params(InstanceNormParams& p) {
  p.shape = {2, 2, 5};
  p.affine = true;
}
void set_random_params(GroupNormParams& p) {
  p.shape = {2, 4, 3};
  p.num_groups = 2;
}
void set_random_params(LayerNormParams& p) {
  p.shape = {4, 6};
  p.normalized_shape = {6};
}
void set_random_params(RMSNormParams& p) {
  p.shape = {4, 6};
  p.normalized_shape = {6};
}

template <class Params>
double eps_of(const Params& p) {
  if constexpr (std::is_same_v<Params, RMSNormParams>) return p.effective_eps();
  else return p.eps;
}

// Element i's statistics group and weight/bias index, from the kind's definition in
// docs/semantics.md (logical (N, C, S) order for the channel kinds, rows of D otherwise).
template <class Params>
struct Indexing {
  const Params& p;
  const NormGeometry& g;
  uint64_t group(uint64_t i) const {
    if constexpr (!NormKind<Params>::info.channel_layouts) {
      return i / g.channels;
    } else {
      const uint64_t n = i / (g.channels * g.spatial), c = (i / g.spatial) % g.channels;
      if constexpr (std::is_same_v<Params, BatchNormParams>) return c;
      else if constexpr (std::is_same_v<Params, InstanceNormParams>) return n * g.channels + c;
      else return n * p.num_groups + c / (g.channels / uint64_t(p.num_groups));
    }
  }
  uint64_t affine(uint64_t i) const {
    if constexpr (NormKind<Params>::info.channel_layouts) return (i / g.spatial) % g.channels;
    else return i % g.channels;
  }
};

// The forward before the ReLU, v = xhat * w + b + residual, in double, from its definition.
template <class Params>
std::vector<double> model_pre_relu(const Params& p, const NormGeometry& g, const std::vector<double>& x,
                                   const std::vector<double>& w, const std::vector<double>& b,
                                   const std::vector<double>& r) {
  constexpr bool rms = std::is_same_v<Params, RMSNormParams>;
  const Indexing<Params> at{p, g};
  std::vector<double> mean(g.stat_groups, 0.0), var(g.stat_groups, 0.0);
  const double m = double(g.group_size);
  if (!rms)
    for (uint64_t i = 0; i < g.elements; ++i) mean[at.group(i)] += x[i] / m;
  for (uint64_t i = 0; i < g.elements; ++i) {
    const double d = x[i] - mean[at.group(i)];
    var[at.group(i)] += d * d / m;
  }
  std::vector<double> v(g.elements);
  for (uint64_t i = 0; i < g.elements; ++i) {
    const uint64_t k = at.group(i), a = at.affine(i);
    v[i] = (x[i] - mean[k]) / std::sqrt(var[k] + eps_of(p)) * w[a] + b[a] + r[i];
  }
  return v;
}

template <class Params>
Result<NormForwardResult> forward(const Params& p, const std::vector<float>& x, const std::vector<float>& w,
                                  const std::vector<float>& b, const std::vector<float>& residual) {
  std::vector<float> no_running_mean, no_running_var;
  return NormKind<Params>::reference_forward(p, {x, w, b, no_running_mean, no_running_var, residual});
}

template <class Params>
Result<NormBackwardResult> backward(const Params& p, const std::vector<float>& x, const std::vector<float>& dy,
                                    const std::vector<float>& w, const std::vector<float>& y) {
  const std::vector<float> none;
  return NormKind<Params>::reference_backward(p, {x, dy, w, none, none, none, none, y});
}

// The hand-computed case of one kind, in one epilogue mode.
template <class Params>
void check_pair(const Epilogue& e) {
  constexpr bool has_bias = NormKind<Params>::info.has_bias;
  Params p;
  set_pair_params(p);
  p.epilogue = e;
  auto g = NormKind<Params>::check(p);
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  REQUIRE(g->elements == 2);
  const Indexing<Params> at{p, *g};
  const std::vector<float> x = {-1.0f, 1.0f}, residual = {3.0f, -3.0f}, dy = {0.25f, -0.5f};
  const std::vector<float> w(g->affine_size, 2.0f), b(has_bias ? g->affine_size : 0, 0.5f);
  const double s = 1.0 / std::sqrt(1.0 + 1e-5), bias = has_bias ? 0.5 : 0.0;
  const double xhat[2] = {-s, s};

  auto f = forward(p, x, w, b, residual);
  REQUIRE_MESSAGE(f.ok(), f.status().message());
  // v = 2 * xhat + 0.5 (+ residual): {-1.5, 2.5} alone, {1.5, -0.5} with the residual
  // (RMSNorm, without bias: {-2, 2} and {1, -1}). The ReLU clears the negative one.
  std::vector<float> dz(2);
  for (size_t i = 0; i < 2; ++i) {
    double v = 2.0 * xhat[i] + bias + (e.residual ? residual[i] : 0.0);
    if (e.relu) v = std::max(v, 0.0);
    CHECK(f->y[i] == doctest::Approx(v).epsilon(1e-6));
    dz[i] = !e.relu || v > 0.0 ? dy[i] : 0.0f;
  }
  if (e.relu) CHECK(f->y[e.residual ? 1 : 0] == 0.0f);

  auto grads = backward(p, x, dy, w, f->y);
  REQUIRE_MESSAGE(grads.ok(), grads.status().message());
  if (e.residual) CHECK(grads->dresidual == dz);
  else CHECK(grads->dresidual.empty());
  std::vector<double> dweight(g->affine_size, 0.0), dbias(g->affine_size, 0.0);
  for (size_t i = 0; i < 2; ++i) {
    dweight[at.affine(i)] += dz[i] * xhat[i];
    dbias[at.affine(i)] += dz[i];
  }
  check_close("dweight", grads->dweight, dweight, 1e-6);
  if (has_bias) check_close("dbias", grads->dbias, dbias, 1e-6);
  // dx: the plain backward of the gradient that passed the mask.
  Params plain = p;
  plain.epilogue = {};
  auto want = backward(plain, x, dz, w, {});
  REQUIRE(want.ok());
  CHECK(grads->dx == want->dx);
}

template <class Params>
void check_mask_at_zero() {
  Params p;
  set_pair_params(p);
  p.epilogue = {true, true};
  const std::vector<float> x = {-1.0f, 1.0f}, dy = {0.25f, -0.5f};
  const std::vector<float> w(NormKind<Params>::check(p)->affine_size, 1.0f);
  // y == 0 (of either sign) blocks the gradient, as torch's ReLU backward; the smallest
  // positive y passes it.
  for (float zero : {0.0f, -0.0f}) {
    auto grads = backward(p, x, dy, w, {zero, 1e-38f});
    REQUIRE(grads.ok());
    CHECK(grads->dresidual == std::vector<float>{0.0f, -0.5f});
  }
}

template <class Params>
void check_refusals() {
  Params p;
  set_pair_params(p);
  const std::vector<float> x = {-1.0f, 1.0f}, dy = {0.25f, -0.5f};
  const std::vector<float> w(NormKind<Params>::check(p)->affine_size, 1.0f), b = w;
  p.epilogue = {true, false};
  check_refused(status_of(forward(p, x, w, b, {1.0f})),
                {"residual: expected 2 elements (the shape of x), got 1"});
  p.epilogue = {false, true};
  CHECK(forward(p, x, w, b, {}).ok());  // no residual needed without Epilogue::residual
  check_refused(status_of(backward(p, x, dy, w, {})),
                {"y: the ReLU epilogue's backward needs the forward's output, expected 2 elements, got 0"});
  p.epilogue = {true, false};
  CHECK(backward(p, x, dy, w, {}).ok());  // no y needed without Epilogue::relu
}

// Central differences of L = Σ dy · relu(v(x, w, b, residual)) against the reference's
// backward with both epilogue parts. The data is drawn until no v lies within 1e-3 of the
// ReLU's kink, so that no step of h = 1e-5 (|dv/d·| stays O(10)) crosses it; the loss is
// then smooth where it is differenced, and the bounds of check_against_differences hold.
template <class Params>
void check_finite_differences() {
  constexpr bool has_bias = NormKind<Params>::info.has_bias;
  Params p;
  set_random_params(p);
  p.epilogue = {true, true};
  auto g = NormKind<Params>::check(p);
  REQUIRE(g.ok());
  const size_t n = g->elements, a = g->affine_size;
  std::mt19937 rng(11);
  std::vector<float> x, w, b, residual, dy;
  for (int draw = 0;; ++draw) {
    REQUIRE(draw < 100);
    x = random_vector(n, rng, 0.8f, 1.7f);
    residual = random_vector(n, rng);
    dy = random_vector(n, rng);
    w = random_vector(a, rng, 1.0f, 0.5f);
    b = has_bias ? random_vector(a, rng, 0.0f, 0.3f) : std::vector<float>{};
    const std::vector<double> v =
        model_pre_relu(p, *g, widen(x), widen(w), has_bias ? widen(b) : std::vector<double>(a, 0.0), widen(residual));
    bool clear = true, some_clipped = false;
    for (double vi : v) {
      clear &= std::abs(vi) > 1e-3;
      some_clipped |= vi < 0.0;
    }
    if (clear && some_clipped) break;
  }
  auto f = forward(p, x, w, b, residual);
  REQUIRE(f.ok());
  auto grads = backward(p, x, dy, w, f->y);
  REQUIRE_MESSAGE(grads.ok(), grads.status().message());

  std::vector<double> xd = widen(x), wd = widen(w), bd = has_bias ? widen(b) : std::vector<double>(a, 0.0),
                      rd = widen(residual);
  auto loss = [&] {
    const std::vector<double> v = model_pre_relu(p, *g, xd, wd, bd, rd);
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) total += dy[i] * std::max(v[i], 0.0);
    return total;
  };
  check_against_differences(*grads, xd, wd, bd, true, has_bias, loss);
  std::vector<double> dres(n);
  for (size_t i = 0; i < n; ++i) dres[i] = central_difference(rd, i, 1e-5, loss);
  check_close("dresidual", grads->dresidual, dres, 1e-6);
}

template <class F>
void for_each_kind_named(F&& f) {
  for_each_kind([&](auto kind) {
    using Params = typename decltype(kind)::type;
    const std::string kind_name(NormKind<Params>::info.name);
    CAPTURE(kind_name);
    f(kind);
  });
}

}  // namespace

TEST_CASE("reference epilogue: residual add and ReLU on hand-computed values, for every kind") {
  for_each_kind_named([](auto kind) {
    using Params = typename decltype(kind)::type;
    for (Epilogue e : {Epilogue{true, false}, Epilogue{false, true}, Epilogue{true, true}}) {
      CAPTURE(e.residual);
      CAPTURE(e.relu);
      check_pair<Params>(e);
    }
  });
}

TEST_CASE("reference epilogue: the ReLU backward blocks the gradient at y == 0, for every kind") {
  for_each_kind_named([](auto kind) { check_mask_at_zero<typename decltype(kind)::type>(); });
}

TEST_CASE("reference epilogue: a missing residual or y is refused, naming it, for every kind") {
  for_each_kind_named([](auto kind) { check_refusals<typename decltype(kind)::type>(); });
}

TEST_CASE("reference epilogue: residual + ReLU gradients match central differences, for every kind") {
  for_each_kind_named([](auto kind) { check_finite_differences<typename decltype(kind)::type>(); });
}

}  // namespace vknorm::reftest
