// The network on the CPU with vknorm's reference BatchNorm (double accumulation): the
// twin the GPU model is compared with after its first steps.
#pragma once

#include "model.hpp"

namespace cnn {

class CpuModel {
 public:
  // One training step's forward and backward (updating the running statistics of `p`
  // with `momentum`), or an eval forward when grads is null.
  Forward step(Params& p, const Batch& b, bool training, float momentum, Grads* grads);

 private:
  std::vector<float> x_, a1_, h1_, a2_, h2_, pooled_, features_;
  std::vector<float> save_mean_[3], save_invstd_[3];
};

}  // namespace cnn
