#include "model.hpp"

#include <cmath>

namespace cnn {

Batch make_batch(std::mt19937& rng, int n) {
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Batch b;
  b.n = n;
  b.x.resize(size_t(n) * kPlane);
  b.label.resize(n);
  for (int i = 0; i < n; ++i) {
    const int label = uniform(rng) < 0.5f ? 0 : 1;
    const float period = 3.0f + std::floor(uniform(rng) * 3.0f);  // 3, 4 or 5 pixels
    const float phase = 6.2831853f * uniform(rng);
    const float contrast = (uniform(rng) < 0.5f ? -1.0f : 1.0f) * (0.6f + 0.8f * uniform(rng));
    const float offset = 0.5f * normal(rng);
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) {
        const float along = static_cast<float>(label == 0 ? x : y);  // 0: vertical stripes
        b.x[size_t(i) * kPlane + y * kSize + x] =
            offset + contrast * std::sin(6.2831853f * along / period + phase) + 0.3f * normal(rng);
      }
    b.label[i] = label;
  }
  return b;
}

Params Params::init(std::mt19937& rng) {
  Params p;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto he = [&](size_t count, int fan_in) {
    std::vector<float> w(count);
    for (float& v : w) v = normal(rng) * std::sqrt(2.0f / static_cast<float>(fan_in));
    return w;
  };
  p.w1 = he(kChannels * 1 * 9, 9);
  p.w2 = he(kChannels * kChannels * 9, kChannels * 9);
  p.lin_w = he(kClasses * kChannels, kChannels);
  p.lin_b.assign(kClasses, 0.0f);
  return p;
}

std::vector<float> head(const Params& p, const std::vector<float>& features, const Batch& b, Forward& f, Grads* g) {
  const int n = b.n;
  f.logits.assign(size_t(n) * kClasses, 0.0f);
  f.loss = 0.0;
  f.correct = 0;
  std::vector<float> dfeatures(size_t(n) * kChannels, 0.0f);
  if (g) {
    g->lin_w.assign(kClasses * kChannels, 0.0f);
    g->lin_b.assign(kClasses, 0.0f);
  }
  for (int i = 0; i < n; ++i) {
    double z[kClasses], zmax = -1e30;
    for (int k = 0; k < kClasses; ++k) {
      z[k] = p.lin_b[k];
      for (int c = 0; c < kChannels; ++c) z[k] += double(p.lin_w[k * kChannels + c]) * features[i * kChannels + c];
      f.logits[i * kClasses + k] = static_cast<float>(z[k]);
      zmax = std::max(zmax, z[k]);
    }
    double sum = 0.0;
    for (double v : z) sum += std::exp(v - zmax);
    const int label = b.label[i];
    f.loss += -(z[label] - zmax - std::log(sum)) / n;
    if ((z[1] > z[0] ? 1 : 0) == label) ++f.correct;
    if (!g) continue;
    for (int k = 0; k < kClasses; ++k) {
      const double dz = (std::exp(z[k] - zmax) / sum - (k == label ? 1.0 : 0.0)) / n;
      g->lin_b[k] += static_cast<float>(dz);
      for (int c = 0; c < kChannels; ++c) {
        g->lin_w[k * kChannels + c] += static_cast<float>(dz * features[i * kChannels + c]);
        dfeatures[i * kChannels + c] += static_cast<float>(dz * p.lin_w[k * kChannels + c]);
      }
    }
  }
  return dfeatures;
}

void sgd(Params& p, const Grads& g, float lr) {
  auto step = [lr](std::vector<float>& w, const std::vector<float>& d) {
    if (d.empty()) return;
    for (size_t i = 0; i < w.size(); ++i) w[i] -= lr * d[i];
  };
  step(p.w1, g.w1);
  step(p.w2, g.w2);
  step(p.lin_w, g.lin_w);
  step(p.lin_b, g.lin_b);
  BatchNormLayer* layers[3] = {&p.bn1, &p.bn2, &p.bn3};
  for (int l = 0; l < 3; ++l) {
    step(layers[l]->gamma, g.gamma[l]);
    step(layers[l]->beta, g.beta[l]);
  }
}

}  // namespace cnn
