// What every norm shares: storage layout and type on the device, the shape facts of a
// call, and the results of the host-side (reference and standalone) functions.
#pragma once

#include <cstdint>
#include <vector>

namespace vknorm {

// How x, y, dy and dx are stored on the device. Host vectors are always in PyTorch's
// logical order; the standalone convenience functions convert.
enum class Layout {
  nchw,  // contiguous (N, C, *)
  nhwc,  // channels last: (N, *, C)
};

// The norms vknorm runs, for what is asked by kind (Context::prepare_kernels).
enum class Norm {
  batch_norm,
  instance_norm,
  group_norm,
  layer_norm,
  rms_norm,
};

enum class DType {
  f32,
  f16,  // 16-bit storage; statistics, parameters and running statistics stay float32
};

// What the forward does after normalize + affine, in the same pass: ResNet's
// BN -> (+ residual) -> ReLU. The backward then masks dy with the ReLU (it needs the
// forward's output y) and writes the residual's gradient, in the same passes.
struct Epilogue {
  bool residual = false;  // y = norm(x) + residual (same shape, layout and dtype as x)
  bool relu = false;      // y = max(y, 0), after the residual add
};

// The shape facts of one call, for any kind.
struct NormGeometry {
  uint64_t elements = 0;     // all of x
  uint64_t outer = 0;        // N (batch, instance, group norm) or rows (layer, RMS norm)
  uint64_t channels = 0;     // C, or the normalized size D for layer and RMS norm
  uint64_t spatial = 1;      // product of the dims after C (1 for layer and RMS norm)
  uint64_t stat_groups = 0;  // statistics groups: C, N*C, N*G or rows
  uint64_t group_size = 0;   // elements per statistics group
  uint64_t affine_size = 0;  // weight/bias length: C, or D for layer and RMS norm
  bool uses_batch_stats = true;   // statistics of this input (not running ones)
  bool updates_running = false;   // training with tracked running statistics
};

struct NormForwardResult {
  std::vector<float> y;
  std::vector<float> save_mean;    // one per statistics group when batch statistics are used
  std::vector<float> save_invstd;  // 1/sqrt(var + eps) (RMS norm: 1/sqrt(mean(x^2) + eps))
};

struct NormBackwardResult {
  std::vector<float> dx;
  std::vector<float> dweight;  // affine_size values when there is a weight, else empty
  std::vector<float> dbias;    // affine_size values when there is a bias, else empty
  std::vector<float> dresidual;  // the residual's gradient, with Epilogue::residual
};

}  // namespace vknorm
