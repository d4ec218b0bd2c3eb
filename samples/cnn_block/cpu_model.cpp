#include "cpu_model.hpp"

#include <cstdio>
#include <cstdlib>

#include "vknorm/batchnorm.hpp"

namespace cnn {
namespace {

template <class T>
T must(vknorm::Result<T> r) {
  if (!r) {
    std::fprintf(stderr, "CPU reference: %s\n", r.status().message().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

// NCHW conv3x3, padding 1, accumulated in double.
std::vector<float> conv(const std::vector<float>& in, const std::vector<float>& w, int n, int cin, int cout) {
  std::vector<float> out(size_t(n) * cout * kPlane);
  for (int b = 0; b < n; ++b)
    for (int co = 0; co < cout; ++co)
      for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x) {
          double acc = 0.0;
          for (int ci = 0; ci < cin; ++ci)
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int iy = y + ky - 1, ix = x + kx - 1;
                if (iy < 0 || ix < 0 || iy >= kSize || ix >= kSize) continue;
                acc += double(in[((b * cin + ci) * kSize + iy) * kSize + ix]) * w[((co * cin + ci) * 3 + ky) * 3 + kx];
              }
          out[((b * cout + co) * kSize + y) * kSize + x] = static_cast<float>(acc);
        }
  return out;
}

// The gradients of conv with respect to its input and its weight.
void conv_backward(const std::vector<float>& in, const std::vector<float>& w, const std::vector<float>& dout, int n,
                   int cin, int cout, std::vector<float>* din, std::vector<float>& dw) {
  std::vector<double> dw_acc(w.size(), 0.0), din_acc(in.size(), 0.0);
  for (int b = 0; b < n; ++b)
    for (int co = 0; co < cout; ++co)
      for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x) {
          const double g = dout[((b * cout + co) * kSize + y) * kSize + x];
          for (int ci = 0; ci < cin; ++ci)
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int iy = y + ky - 1, ix = x + kx - 1;
                if (iy < 0 || ix < 0 || iy >= kSize || ix >= kSize) continue;
                const size_t wi = ((co * cin + ci) * 3 + ky) * 3 + kx, ii = ((b * cin + ci) * kSize + iy) * kSize + ix;
                dw_acc[wi] += g * in[ii];
                din_acc[ii] += g * w[wi];
              }
        }
  dw.assign(dw_acc.begin(), dw_acc.end());
  if (din) din->assign(din_acc.begin(), din_acc.end());
}

vknorm::BatchNormParams bn_params(std::vector<int64_t> shape, bool training, float momentum) {
  vknorm::BatchNormParams p;
  p.shape = std::move(shape);
  p.training = training;
  p.momentum = momentum;
  return p;
}

}  // namespace

Forward CpuModel::step(Params& p, const Batch& b, bool training, float momentum, Grads* g) {
  const int n = b.n;
  const std::vector<int64_t> image = {n, kChannels, kSize, kSize}, flat = {n, kChannels};
  BatchNormLayer* bn[3] = {&p.bn1, &p.bn2, &p.bn3};
  auto norm = [&](int l, const std::vector<int64_t>& shape, const std::vector<float>& x) {
    auto r = must(vknorm::reference::batch_norm_forward(bn_params(shape, training, momentum), x, bn[l]->gamma,
                                                        bn[l]->beta, bn[l]->running_mean, bn[l]->running_var));
    save_mean_[l] = r.save_mean;
    save_invstd_[l] = r.save_invstd;
    return r.y;
  };
  const BatchNormLayer before[3] = {p.bn1, p.bn2, p.bn3};  // running stats the backward of eval would use

  x_ = b.x;
  a1_ = conv(x_, p.w1, n, 1, kChannels);
  h1_ = norm(0, image, a1_);
  for (float& v : h1_) v = std::max(v, 0.0f);
  a2_ = conv(h1_, p.w2, n, kChannels, kChannels);
  h2_ = norm(1, image, a2_);
  for (size_t i = 0; i < h2_.size(); ++i) h2_[i] = std::max(h2_[i] + h1_[i], 0.0f);
  pooled_.assign(size_t(n) * kChannels, 0.0f);
  for (int i = 0; i < n * kChannels; ++i) {
    double s = 0.0;
    for (int j = 0; j < kPlane; ++j) s += h2_[size_t(i) * kPlane + j];
    pooled_[i] = static_cast<float>(s / kPlane);
  }
  features_ = norm(2, flat, pooled_);
  Forward f;
  f.h2 = h2_;
  std::vector<float> dfeatures = head(p, features_, b, f, g);
  if (!g) return f;

  auto norm_backward = [&](int l, const std::vector<int64_t>& shape, const std::vector<float>& x,
                           const std::vector<float>& dy) {
    auto r = must(vknorm::reference::batch_norm_backward(bn_params(shape, training, momentum), x, dy, bn[l]->gamma,
                                                         before[l].running_mean, before[l].running_var));
    g->gamma[l] = r.dweight;
    g->beta[l] = r.dbias;
    return r.dx;
  };
  std::vector<float> dpooled = norm_backward(2, flat, pooled_, dfeatures);
  std::vector<float> dh2(h2_.size());
  for (size_t i = 0; i < dh2.size(); ++i) dh2[i] = h2_[i] > 0.0f ? dpooled[i / kPlane] / kPlane : 0.0f;  // ReLU, pool
  std::vector<float> da2 = norm_backward(1, image, a2_, dh2);
  std::vector<float> dh1;
  conv_backward(h1_, p.w2, da2, n, kChannels, kChannels, &dh1, g->w2);
  for (size_t i = 0; i < dh1.size(); ++i) dh1[i] = h1_[i] > 0.0f ? dh1[i] + dh2[i] : 0.0f;  // + skip, ReLU
  std::vector<float> da1 = norm_backward(0, image, a1_, dh1);
  conv_backward(x_, p.w1, da1, n, 1, kChannels, nullptr, g->w1);
  return f;
}

}  // namespace cnn
