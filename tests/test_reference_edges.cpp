// The CPU references on PyTorch's edges, against PyTorch 1.13's own values (printed by
// tests/fixtures/edge_cases.py, CPU float32 and float64 agree on every one) and the
// closed forms they follow: eps = 0 on a constant group, momentum outside [0, 1], empty
// groups (0/0: NaN saved statistics) and zero-size tensors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "reference_support.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/rmsnorm.hpp"

namespace ref = vknorm::reference;
using namespace vknorm;
using namespace vknorm::reftest;

namespace {

bool all_equal(const std::vector<float>& v, float value) {
  for (float f : v)
    if (!(f == value)) return false;
  return true;
}

}  // namespace

TEST_CASE("edges reference: eps = 0 on a constant group, BatchNorm and InstanceNorm give beta (invstd 0)") {
  // nn.BatchNorm1d(3, eps=0) on (4, 3) of 1.5, weight 2, bias 0.5, dy = arange(12): PyTorch
  // gives y 0.5, save_invstd 0, running_mean 0.15, running_var 0.9, dx 0, dweight 0,
  // dbias [18, 22, 26] (the sums of dy per channel).
  BatchNormParams p;
  p.shape = {4, 3};
  p.eps = 0.0f;
  const std::vector<float> x(12, 1.5f), w(3, 2.0f), b(3, 0.5f);
  std::vector<float> dy(12), rm(3, 0.0f), rv(3, 1.0f);
  for (size_t i = 0; i < 12; ++i) dy[i] = float(i);
  const std::vector<float> rm0 = rm, rv0 = rv;
  auto out = ref::batch_norm_forward(p, x, w, b, rm, rv);
  REQUIRE(out.ok());
  CHECK(all_equal(out->y, 0.5f));
  CHECK(all_equal(out->save_mean, 1.5f));
  CHECK(all_equal(out->save_invstd, 0.0f));
  CHECK(rm[0] == doctest::Approx(0.15));
  CHECK(rv[0] == doctest::Approx(0.9));
  auto grads = ref::batch_norm_backward(p, x, dy, w, rm0, rv0);
  REQUIRE(grads.ok());
  CHECK(all_equal(grads->dx, 0.0f));
  CHECK(all_equal(grads->dweight, 0.0f));
  CHECK(grads->dbias == std::vector<float>{18.0f, 22.0f, 26.0f});

  // F.instance_norm(eps=0) on (2, 3, 4) of 1.5: y 0; native_batch_norm on the (1, 6, 4)
  // view saves mean 1.5 and invstd 0.
  InstanceNormParams ip;
  ip.shape = {2, 3, 4};
  ip.eps = 0.0f;
  std::vector<float> none;
  auto inst = ref::instance_norm_forward(ip, std::vector<float>(24, 1.5f), none, none, none, none);
  REQUIRE(inst.ok());
  CHECK(all_equal(inst->y, 0.0f));
  CHECK(all_equal(inst->save_mean, 1.5f));
  CHECK(all_equal(inst->save_invstd, 0.0f));
}

TEST_CASE("edges reference: eps = 0 on a constant group, GroupNorm, LayerNorm and RMSNorm give NaN (rstd inf)") {
  // nn.GroupNorm(1, 2, eps=0) on (2, 2, 2) of 1.5, dy = 1: y NaN, mean 1.5, rstd inf, dx
  // NaN, dweight NaN, dbias 4.
  GroupNormParams gp;
  gp.shape = {2, 2, 2};
  gp.num_groups = 1;
  gp.eps = 0.0f;
  const std::vector<float> x8(8, 1.5f), ones8(8, 1.0f), w2(2, 1.0f), b2(2, 0.0f);
  auto g = ref::group_norm_forward(gp, x8, w2, b2);
  REQUIRE(g.ok());
  CHECK(all_nan(g->y, 8));
  CHECK(all_equal(g->save_mean, 1.5f));
  CHECK(all_equal(g->save_invstd, INFINITY));
  auto gg = ref::group_norm_backward(gp, x8, ones8, w2);
  REQUIRE(gg.ok());
  CHECK(all_nan(gg->dx, 8));
  CHECK(all_nan(gg->dweight, 2));
  CHECK(gg->dbias == std::vector<float>{4.0f, 4.0f});

  // native_layer_norm((2, 3, 4) of 1.5, [4], eps=0): y NaN, mean 1.5, rstd inf.
  LayerNormParams lp;
  lp.shape = {2, 3, 4};
  lp.normalized_shape = {4};
  lp.elementwise_affine = lp.bias = false;
  lp.eps = 0.0f;
  std::vector<float> none;
  auto l = ref::layer_norm_forward(lp, std::vector<float>(24, 1.5f), none, none);
  REQUIRE(l.ok());
  CHECK(all_nan(l->y, 24));
  CHECK(all_equal(l->save_mean, 1.5f));
  CHECK(all_equal(l->save_invstd, INFINITY));

  // RMSNorm(eps=0), x * rsqrt(mean(x^2) + eps): a zero row gives NaN (rstd inf), a
  // constant row 1.5 gives 1.
  RMSNormParams rp;
  rp.shape = {2, 4};
  rp.normalized_shape = {4};
  rp.elementwise_affine = false;
  rp.eps = 0.0f;
  std::vector<float> x = {0, 0, 0, 0, 1.5f, 1.5f, 1.5f, 1.5f};
  auto r = ref::rms_norm_forward(rp, x, none);
  REQUIRE(r.ok());
  CHECK(all_nan(std::vector<float>(r->y.begin(), r->y.begin() + 4), 4));
  CHECK(all_equal(std::vector<float>(r->y.begin() + 4, r->y.end()), 1.0f));
  CHECK(std::isinf(r->save_invstd[0]));
  CHECK(r->save_invstd[1] == doctest::Approx(1.0 / 1.5));
}

TEST_CASE("edges reference: any finite momentum, as PyTorch's nn.BatchNorm1d(momentum=m) on arange(12).view(4, 3)") {
  struct Case {
    float momentum;
    std::vector<float> running_mean, running_var;  // PyTorch's
  };
  for (const Case& c : {Case{-1.0f, {-4.5f, -5.5f, -6.5f}, {-13.0f, -13.0f, -13.0f}},
                        Case{2.5f, {11.25f, 13.75f, 16.25f}, {36.0f, 36.0f, 36.0f}}}) {
    CAPTURE(c.momentum);
    BatchNormParams p;
    p.shape = {4, 3};
    p.momentum = c.momentum;
    std::vector<float> x(12), w(3, 1.0f), b(3, 0.0f), rm(3, 0.0f), rv(3, 1.0f);
    for (size_t i = 0; i < 12; ++i) x[i] = float(i);
    REQUIRE(ref::batch_norm_forward(p, x, w, b, rm, rv).ok());
    // (1 - m) * initial + m * batch: mean of column c is 4.5 + c, unbiased variance 15.
    for (size_t ch = 0; ch < 3; ++ch) {
      CHECK(rm[ch] == doctest::Approx(c.running_mean[ch]));
      CHECK(rv[ch] == doctest::Approx(c.running_var[ch]));
      CHECK(rm[ch] == doctest::Approx(c.momentum * (4.5 + ch)));
      CHECK(rv[ch] == doctest::Approx((1.0 - c.momentum) + c.momentum * 15.0));
    }
  }
}

TEST_CASE("edges reference: empty groups save NaN where PyTorch does, and zero-size tensors give empty outputs") {
  std::vector<float> none;
  SUBCASE("InstanceNorm (2, 3, 0): native_batch_norm on (1, 6, 0) saves NaN, NaN") {
    InstanceNormParams p;
    p.shape = {2, 3, 0};
    auto out = ref::instance_norm_forward(p, none, none, none, none, none);
    REQUIRE(out.ok());
    CHECK(out->y.empty());
    CHECK(all_nan(out->save_mean, 6));
    CHECK(all_nan(out->save_invstd, 6));
  }
  SUBCASE("GroupNorm (2, 4, 0) and C = 0: native_group_norm saves mean 0 and rstd NaN per (n, g)") {
    for (const std::vector<int64_t>& shape : {std::vector<int64_t>{2, 4, 0}, std::vector<int64_t>{2, 0, 5}}) {
      GroupNormParams p;
      p.shape = shape;
      p.num_groups = shape[1] == 0 ? 1 : 2;
      const size_t C = size_t(shape[1]), G = size_t(2 * p.num_groups);
      auto out = ref::group_norm_forward(p, none, std::vector<float>(C, 1.0f), std::vector<float>(C, 0.0f));
      REQUIRE(out.ok());
      CHECK(out->y.empty());
      CHECK(out->save_mean == std::vector<float>(G, 0.0f));
      CHECK(all_nan(out->save_invstd, G));
    }
  }
  SUBCASE("LayerNorm and RMSNorm over 0 elements: (3, 2, 0), (3, 0) and 1-D (0,): mean 0, rstd NaN per row") {
    struct Case {
      std::vector<int64_t> shape, normalized;
      size_t rows;
    };
    for (const Case& c : {Case{{3, 2, 0}, {2, 0}, 3}, Case{{3, 0}, {0}, 3}, Case{{0}, {0}, 1}}) {
      LayerNormParams p;
      p.shape = c.shape;
      p.normalized_shape = c.normalized;
      auto out = ref::layer_norm_forward(p, none, none, none);  // weight and bias of 0 elements
      REQUIRE(out.ok());
      CHECK(out->y.empty());
      CHECK(out->save_mean == std::vector<float>(c.rows, 0.0f));
      CHECK(all_nan(out->save_invstd, c.rows));
      auto grads = ref::layer_norm_backward(p, none, none, none);
      REQUIRE(grads.ok());
      CHECK(grads->dx.empty());
      CHECK(grads->dweight.empty());
      RMSNormParams r;
      r.shape = c.shape;
      r.normalized_shape = c.normalized;
      auto rms = ref::rms_norm_forward(r, none, none);
      REQUIRE(rms.ok());
      CHECK(rms->y.empty());
      CHECK(all_nan(rms->save_invstd, c.rows));
    }
  }
  SUBCASE("BatchNorm and InstanceNorm with C = 0 (without affine): empty outputs and statistics") {
    BatchNormParams p;
    p.shape = {4, 0};
    p.affine = false;
    auto out = ref::batch_norm_forward(p, none, none, none, none, none);
    REQUIRE(out.ok());
    CHECK(out->y.empty());
    CHECK(out->save_mean.empty());
    auto grads = ref::batch_norm_backward(p, none, none, none, none, none);
    REQUIRE(grads.ok());
    CHECK(grads->dx.empty());
    InstanceNormParams ip;
    ip.shape = {2, 0, 5};
    auto inst = ref::instance_norm_forward(ip, none, none, none, none, none);
    REQUIRE(inst.ok());
    CHECK(inst->y.empty());
    CHECK(inst->save_invstd.empty());
  }
}
