// Trains a BatchNorm2d layer on the default Vulkan device for a few SGD steps, then
// evaluates it on a single image with its running statistics.
//
// Data: 4 channels whose values have mean mu_c and std sigma_c. The target is
// gamma*_c * (x - mu_c) / sigma_c + beta*_c, so the layer must learn gamma* and beta*
// while its running statistics converge to mu and sigma^2.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "vknorm/batchnorm.hpp"

namespace {

constexpr int kChannels = 4, kBatch = 16, kSize = 8, kSteps = 60;
constexpr float kLearningRate = 0.5f;
const float kMu[kChannels] = {3.0f, -2.0f, 0.5f, 10.0f};
const float kSigma[kChannels] = {2.0f, 0.5f, 1.0f, 4.0f};
const float kGammaTarget[kChannels] = {1.5f, -0.5f, 2.0f, 0.25f};
const float kBetaTarget[kChannels] = {0.3f, 1.0f, -1.0f, 0.0f};

// A batch of images and the target each should map to.
void make_batch(std::mt19937& rng, int n, std::vector<float>& x, std::vector<float>& target) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int plane = kSize * kSize;
  x.resize(size_t(n) * kChannels * plane);
  target.resize(x.size());
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < kChannels; ++c)
      for (int s = 0; s < plane; ++s) {
        const size_t at = (size_t(i) * kChannels + c) * plane + s;
        const float z = normal(rng);
        x[at] = kMu[c] + kSigma[c] * z;
        target[at] = kGammaTarget[c] * z + kBetaTarget[c];
      }
}

int fail(const vknorm::Status& status) {
  std::fprintf(stderr, "batchnorm_training: %s\n", status.message().c_str());
  return 1;
}

}  // namespace

int main() {
  auto context = vknorm::Context::create_standalone();
  if (!context) return fail(context.status());
  const vknorm::Capabilities& caps = context.value()->capabilities();
  std::printf("device: %s (%s reduction: %s)\n", caps.device_name.c_str(), vknorm::to_string(caps.reduction_path),
              caps.reduction_reason.c_str());

  vknorm::BatchNormParams params;
  params.shape = {kBatch, kChannels, kSize, kSize};
  params.dims = vknorm::BatchNormDims::d2;
  vknorm::BatchNormState state;  // momentum 0.1, num_batches_tracked 0
  std::vector<float> gamma(kChannels, 1.0f), beta(kChannels, 0.0f);
  std::vector<float> running_mean(kChannels, 0.0f), running_var(kChannels, 1.0f);
  std::mt19937 rng(2024);
  std::vector<float> x, target;

  for (int step = 1; step <= kSteps; ++step) {
    make_batch(rng, kBatch, x, target);
    params.training = true;
    params.momentum = state.next_training_factor();
    auto forward = vknorm::batch_norm_forward(*context.value(), params, x, gamma, beta, running_mean, running_var);
    if (!forward) return fail(forward.status());
    // Mean squared error and its gradient dy = 2 (y - target) / size.
    double loss = 0.0;
    std::vector<float> dy(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const float diff = forward->y[i] - target[i];
      loss += double(diff) * diff;
      dy[i] = 2.0f * diff / float(x.size());
    }
    loss /= double(x.size());
    auto backward = vknorm::batch_norm_backward(*context.value(), params, x, dy, gamma, forward->save_mean,
                                                forward->save_invstd, {}, {});
    if (!backward) return fail(backward.status());
    for (int c = 0; c < kChannels; ++c) {
      gamma[c] -= kLearningRate * backward->dweight[c];
      beta[c] -= kLearningRate * backward->dbias[c];
    }
    if (step == 1 || step % 10 == 0)
      std::printf("step %3d  loss %.6f  gamma[0] %.4f  running_mean[3] %.4f\n", step, loss, gamma[0],
                  running_mean[3]);
  }

  std::printf("\nlearned vs target:\n");
  for (int c = 0; c < kChannels; ++c)
    std::printf("  channel %d: gamma %+.4f (%+.4f)  beta %+.4f (%+.4f)  running_mean %+.3f (%+.3f)  "
                "running_var %.3f (%.3f)\n",
                c, gamma[c], kGammaTarget[c], beta[c], kBetaTarget[c], running_mean[c], kMu[c], running_var[c],
                kSigma[c] * kSigma[c]);

  // Eval: one image, normalized with the running statistics.
  params.training = false;
  params.shape = {1, kChannels, kSize, kSize};
  make_batch(rng, 1, x, target);
  auto eval = vknorm::batch_norm_forward(*context.value(), params, x, gamma, beta, running_mean, running_var);
  if (!eval) return fail(eval.status());
  double err = 0.0;
  for (size_t i = 0; i < x.size(); ++i) err = std::max(err, double(std::fabs(eval->y[i] - target[i])));
  std::printf("\neval on one image: max |y - target| = %.4f (num_batches_tracked %lld)\n", err,
              static_cast<long long>(state.num_batches_tracked));

  // One value per channel, e.g. a globally pooled (1, C, 1, 1) feature: eval accepts it,
  // training refuses it as PyTorch does, because one value has no variance.
  params.shape = {1, kChannels, 1, 1};
  std::vector<float> pooled(kMu, kMu + kChannels);
  auto one = vknorm::batch_norm_forward(*context.value(), params, pooled, gamma, beta, running_mean, running_var);
  if (!one) return fail(one.status());
  std::printf("eval on a (1, %d, 1, 1) feature: y[0] = %+.4f (expected beta[0] %+.4f)\n", kChannels, one->y[0],
              beta[0]);
  params.training = true;
  auto refused = vknorm::batch_norm_forward(*context.value(), params, pooled, gamma, beta, running_mean, running_var);
  std::printf("the same feature in training mode: %s\n",
              refused ? "accepted (unexpected)" : refused.status().message().c_str());
  return refused ? 1 : 0;
}
