// The sample's network, its parameters and its data, shared by the GPU model and its CPU
// twin:  x (N,1,8,8) -> conv3x3 -> BN2d -> ReLU = h1 -> conv3x3 -> BN2d -> + h1 -> ReLU = h2
//        -> global average pool -> BN1d -> linear(8 -> 2) -> softmax cross-entropy.
// The task: vertical or horizontal stripes of random period, phase, contrast sign and
// offset. Every class's mean image is flat, so a linear model of the pixels is at chance;
// oriented edge detectors (conv + ReLU) and pooling solve it.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace cnn {

constexpr int kSize = 8, kChannels = 8, kClasses = 2;
constexpr int kPlane = kSize * kSize;

struct Batch {
  int n = 0;
  std::vector<float> x;   // (n, 1, 8, 8) in logical NCHW order
  std::vector<int> label;
};

Batch make_batch(std::mt19937& rng, int n);

// Parameters and running statistics of one BatchNorm layer.
struct BatchNormLayer {
  std::vector<float> gamma, beta, running_mean, running_var;
  explicit BatchNormLayer(int c = kChannels) : gamma(c, 1.0f), beta(c, 0.0f), running_mean(c, 0.0f), running_var(c, 1.0f) {}
};

struct Params {
  std::vector<float> w1, w2;   // conv weights [Cout][Cin][3][3]
  BatchNormLayer bn1, bn2, bn3;
  std::vector<float> lin_w, lin_b;  // [2][8], [2]
  static Params init(std::mt19937& rng);
};

// The gradients of one step.
struct Grads {
  std::vector<float> w1, w2, lin_w, lin_b;
  std::vector<float> gamma[3], beta[3];
};

// What a forward pass produces that the comparisons look at.
struct Forward {
  std::vector<float> h2;      // block output, logical NCHW
  std::vector<float> logits;  // (n, 2)
  double loss = 0.0;
  int correct = 0;
  std::vector<float> batch_mean[3];  // each BatchNorm's save_mean (GPU model, batch statistics only)
};

// The linear head and softmax cross-entropy on the host (8 features x 2 classes: too small
// for the GPU to matter). Fills logits/loss/correct; returns d(features) and the head's grads.
std::vector<float> head(const Params& p, const std::vector<float>& features, const Batch& b, Forward& f,
                        Grads* g);

// An empty gradient leaves its parameter as it is (requires_grad=False: frozen BatchNorm).
void sgd(Params& p, const Grads& g, float lr);

}  // namespace cnn
