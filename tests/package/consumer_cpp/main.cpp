// Package test: LayerNorm over rows of 4 on the default device, checked against a hand
// computation. Built by consumer_cpp (find_package) and subdirectory (add_subdirectory).
#include <cmath>
#include <cstdio>
#include <vector>

#include <vknorm/layernorm.hpp>

int main() {
  auto context = vknorm::Context::create_standalone();
  if (!context) {
    std::fprintf(stderr, "create_standalone: %s\n", context.status().message().c_str());
    return 1;
  }
  std::printf("device: %s\n", context.value()->capabilities().device_name.c_str());

  vknorm::LayerNormParams params;
  params.shape = {2, 4};
  params.normalized_shape = {4};
  const std::vector<float> x = {1, 2, 3, 4, -2, 0, 2, 4};
  const std::vector<float> weight = {1.0f, 2.0f, 0.5f, -1.0f}, bias = {0.0f, 0.25f, 0.0f, 1.0f};
  auto out = vknorm::layer_norm_forward(*context.value(), params, x, weight, bias);
  if (!out) {
    std::fprintf(stderr, "layer_norm_forward: %s\n", out.status().message().c_str());
    return 1;
  }

  // Row 1: mean 1, biased variance (9 + 1 + 1 + 9) / 4 = 5; element 3 is 4.
  const double expected = (4.0 - 1.0) / std::sqrt(5.0 + 1e-5) * -1.0 + 1.0;
  const std::vector<float>& y = out.value().y;
  if (y.size() != x.size() || std::fabs(y[7] - expected) > 1e-5) {
    std::fprintf(stderr, "y[1][3] = %.7f, expected %.7f\n", y.size() == x.size() ? y[7] : NAN, expected);
    return 1;
  }
  std::printf("y[1][3] = %.6f (expected %.6f)\nOK\n", y[7], expected);
  return 0;
}
