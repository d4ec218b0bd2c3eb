// The network on a Vulkan device that the sample owns like an engine would: its own
// instance, device and buffers; the convolutions and pooling are this sample's shaders,
// BatchNorm (with the fused residual + ReLU epilogue) is vknorm, recorded into the same
// command buffers (engine mode).
#pragma once

#include <memory>
#include <string>

#include "model.hpp"
#include "vk_app.hpp"
#include "vknorm/batchnorm.hpp"

namespace cnn {

struct GpuOptions {
  int device = -1;
  vknorm::Layout layout = vknorm::Layout::nchw;
  vknorm::DType dtype = vknorm::DType::f32;
};

class GpuModel {
 public:
  GpuModel(const GpuOptions& options, int max_batch);
  ~GpuModel();

  std::string device_description() const;
  // One forward (and, with grads, backward) pass on `b`; training uses batch statistics
  // and updates the running ones with `momentum`. Returns a refusal as a Status.
  vknorm::Result<Forward> step(Params& p, const Batch& b, bool training, float momentum, Grads* grads);
  // The block's output for `b` through the BatchNorm-folded convolutions (eval only).
  vknorm::Result<std::vector<float>> folded_block(const Params& p, const Batch& b);
  // Milliseconds per image of `repeats` eval passes of the block on a batch of one, unfolded
  // (conv, vknorm BN, conv, vknorm BN) and folded (two convolutions with bias).
  std::pair<double, double> time_block(const Params& p, const Batch& one, int repeats);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnn
