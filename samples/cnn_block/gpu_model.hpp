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
#include "vknorm/communicator.hpp"

namespace cnn {

struct GpuOptions {
  int device = -1;
  vknorm::Layout layout = vknorm::Layout::nchw;
  vknorm::DType dtype = vknorm::DType::f32;
};

// What BatchNorm does in one step (PyTorch's terms in the comments).
enum class BatchNormMode {
  train,      // batch statistics; running statistics updated with the step's momentum factor
  eval,       // running statistics (module.eval()); with grads, a frozen BatchNorm: the rest
              // trains, BatchNorm's weight and bias get no gradient (requires_grad=False)
  recompute,  // batch statistics, running statistics untouched (track_running_stats=False for
              // this call): a gradient-checkpointing recompute of a forward already counted
};

struct StepOptions {
  BatchNormMode bn = BatchNormMode::train;
  float momentum = 0.1f;  // BatchNormState::next_training_factor() of this step (train only)
  // SyncBatchNorm over comm's ranks in train and recompute (each rank passes its shard of
  // the batch); null: plain per-device BatchNorm.
  vknorm::Communicator* comm = nullptr;
};

class GpuModel {
 public:
  GpuModel(const GpuOptions& options, int max_batch);
  ~GpuModel();

  std::string device_description() const;
  // One forward (and, with grads, backward) pass on `b`; training uses batch statistics
  // and updates the running ones with `momentum`. Returns a refusal as a Status.
  vknorm::Result<Forward> step(Params& p, const Batch& b, bool training, float momentum, Grads* grads);
  // The same with a BatchNorm mode and an optional communicator. Fills Forward::batch_mean
  // (the whole batch's under SyncBatchNorm). With BatchNormMode::eval, grads' gamma and
  // beta stay empty (sgd leaves those parameters alone).
  vknorm::Result<Forward> step(Params& p, const Batch& b, const StepOptions& options, Grads* grads);
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
