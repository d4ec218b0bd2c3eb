// Folding BatchNorm into the layer before it against PyTorch's
// torch.nn.utils.fuse_conv_bn_weights / fuse_linear_bn_weights (tests/fixtures/fold,
// made by make_fold_fixtures.py), and the refusals.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reference_support.hpp"
#include "test_support.hpp"
#include "vknorm/batchnorm_inference.hpp"

using namespace vknorm;
using namespace vknorm::reftest;

namespace {

// The same float32 operations as PyTorch's, in the same order; what may differ is the
// compiler's contraction of a multiply and an add into one FMA (allowed on some targets),
// which moves a result by at most an ulp of the terms. 4 ulp of the result (plus 4 of
// the largest term for the bias's sums) covers it.
void check_ulps(const std::vector<float>& got, const std::vector<float>& want, double term_scale,
                const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(), what);
  for (size_t i = 0; i < got.size(); ++i) {
    const double allowed = 4 * std::ldexp(1.0, -23) * (std::fabs(double(want[i])) + term_scale);
    CHECK_MESSAGE(std::fabs(double(got[i]) - want[i]) <= allowed,
                  what << "[" << i << "]: " << got[i] << " vs PyTorch's " << want[i]);
  }
}

}  // namespace

TEST_CASE("fold: fuse_conv_bn_weights and fuse_linear_bn_weights give PyTorch's numbers") {
  const std::vector<std::string> cases = fixture_cases("fold");
  CHECK(cases.size() >= 8);
  for (const std::string& name : cases) {
    CAPTURE(name);
    const std::string dir = fixture_dir("fold") + name + "/";
    auto params = read_params(dir + "params.txt");
    const io::NpyArray weight = load_array(dir + "weight.npy");
    auto optional = [&](const char* file) { return has_array(dir, file) ? load(dir + file + ".npy") : std::vector<float>{}; };
    BatchNormFoldParams bn;
    bn.running_mean = load(dir + "running_mean.npy");
    bn.running_var = load(dir + "running_var.npy");
    bn.weight = optional("bn_weight");
    bn.bias = optional("bn_bias");
    bn.eps = std::stof(params.at("eps"));
    const std::vector<float> bias = optional("bias");
    auto folded = params.at("op") == "conv"
                      ? fuse_conv_bn_weights(weight.data, weight.shape, bias, bn, params.at("transpose") == "1")
                      : fuse_linear_bn_weights(weight.data, weight.shape, bias, bn);
    REQUIRE_MESSAGE(folded.ok(), folded.status().message());
    const std::vector<float> want_w = load(dir + "fused_weight.npy"), want_b = load(dir + "fused_bias.npy");
    check_ulps(folded->weight, want_w, 0.0, "weight");
    check_ulps(folded->bias, want_b, max_abs(widen(want_b)) + max_abs(widen(bn.running_mean)) * 4, "bias");
    // Transposed weights (in, out, *k) hold C in dim 1: read as (out, ...) their C is wrong.
    if (params.at("transpose") == "1")
      CHECK(fuse_conv_bn_weights(weight.data, weight.shape, bias, bn, false).status().message().find(
                "conv_bias: expected 4 values") != std::string::npos);
  }
}

TEST_CASE("fold: refusals name the argument") {
  BatchNormFoldParams bn{{0.0f, 1.0f}, {1.0f, 2.0f}, {}, {}, 1e-5f};
  const std::vector<float> w(2 * 3 * 3, 1.0f);
  auto ok = fuse_conv_bn_weights(w, {2, 1, 3, 3}, {}, bn);
  REQUIRE_MESSAGE(ok.ok(), ok.status().message());
  CHECK(ok->bias.size() == 2);
  CHECK(ok->bias[0] == 0.0f);
  CHECK(ok->weight[9] == 1.0f / std::sqrt(2.0f + 1e-5f));

  auto wrong_count = fuse_conv_bn_weights(w, {2, 1, 3, 2}, {}, bn);
  CHECK(wrong_count.status().message().find("conv_weight: expected 12 values") != std::string::npos);
  auto wrong_bias = fuse_conv_bn_weights(w, {2, 1, 3, 3}, {1.0f}, bn);
  CHECK(wrong_bias.status().message().find("conv_bias: expected 2 values") != std::string::npos);
  BatchNormFoldParams short_var = bn;
  short_var.running_var = {1.0f};
  CHECK(fuse_conv_bn_weights(w, {2, 1, 3, 3}, {}, short_var).status().message().find("bn.running_var") !=
        std::string::npos);
  BatchNormFoldParams bad_weight = bn;
  bad_weight.weight = {1.0f, 2.0f, 3.0f};
  CHECK(fuse_conv_bn_weights(w, {2, 1, 3, 3}, {}, bad_weight).status().message().find("bn.weight") !=
        std::string::npos);
  BatchNormFoldParams bad_eps = bn;
  bad_eps.eps = -1.0f;
  CHECK(fuse_conv_bn_weights(w, {2, 1, 3, 3}, {}, bad_eps).status().message().find("eps") != std::string::npos);
  CHECK(fuse_conv_bn_weights(w, {18}, {}, bn).status().message().find("weight_shape: expected at least 2 dims") !=
        std::string::npos);
  CHECK(fuse_linear_bn_weights(w, {2, 3, 3}, {}, bn).status().message().find("weight_shape: expected 2 dims") !=
        std::string::npos);
  CHECK(fuse_conv_bn_weights(w, {2, -1, 3, 3}, {}, bn).status().code() == StatusCode::invalid_argument);
}
