// Every norm as one description for the shared kernels (shaders/common.glsl): which
// elements share statistics (the [B, O, K, I] view), which affine channel each element
// uses, and which parts of the computation apply.
#pragma once

#include <string>

#include "vknorm/context.hpp"
#include "vknorm/norm_buffers.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

struct NormPlan {
  Norm kind = Norm::batch_norm;         // the kind's name, for the tuning cache's key
  NormGeometry geometry;
  uint64_t B = 1, O = 1, K = 1, I = 1;  // statistics view
  uint64_t cpg = 1, inner = 1;          // affine channel = k * cpg + i / inner
  uint64_t Op = 1, Kp = 1, Ip = 1;      // parameter view (used when gamma_varies)
  bool gamma_varies = false;            // gamma changes inside a statistics group
  bool rms = false;
  // PyTorch's batch_norm statistics (BatchNorm, InstanceNorm): invstd 0 where var + eps
  // is 0, and an empty group's mean NaN (the other kinds save mean 0 there).
  bool batch_norm_stats = false;
  bool welford_mean = false;            // PyTorch's mean is Welford's: NaN past an Inf (GroupNorm, LayerNorm)
  bool has_weight = false, has_bias = false;
  bool nhwc = false;                    // the host functions transpose from/to (N, C, *)
  float eps = 1e-5f, momentum = 0.1f;
  DType dtype = DType::f32;
  Epilogue epilogue;
};

// Views of (N, C, S) tensors where the statistics group is one channel per `per_sample`
// group (BatchNorm: B = 1; InstanceNorm: B = N), in NCHW or NHWC.
NormPlan channel_plan(const NormGeometry& g, bool per_sample, Layout layout);

// Rows of D elements (LayerNorm, RMSNorm): one group per row, gamma per element of the row.
NormPlan row_plan(const NormGeometry& g);

// These plan each call with the context's tuned choice for its shape class
// (Context::set_tuning), else with the planner's rules.
Result<uint64_t> norm_workspace_size(const Context& context, const NormPlan& plan);
Status record_norm_forward(CommandRecorder& recorder, const NormPlan& plan, const NormForwardBuffers& buffers);
Status record_norm_backward(CommandRecorder& recorder, const NormPlan& plan, const NormBackwardBuffers& buffers);

// The same, for a plan that may have failed its checks (the per-kind wrappers' one line).
inline Result<uint64_t> norm_workspace_size(const Context& context, const Result<NormPlan>& plan) {
  if (!plan) return plan.status();
  return norm_workspace_size(context, plan.value());
}
inline Status record_norm_forward(CommandRecorder& recorder, const Result<NormPlan>& plan,
                                  const NormForwardBuffers& buffers) {
  if (!plan) return plan.status();
  return record_norm_forward(recorder, plan.value(), buffers);
}
inline Status record_norm_backward(CommandRecorder& recorder, const Result<NormPlan>& plan,
                                   const NormBackwardBuffers& buffers) {
  if (!plan) return plan.status();
  return record_norm_backward(recorder, plan.value(), buffers);
}

// Standalone convenience: host vectors in PyTorch's logical order and float32; converts
// to the plan's layout and dtype, records, submits, waits, converts back.
// `residual` is used with Epilogue::residual. The caller has checked the host arrays'
// lengths, the epilogue's included (check_norm_lengths).
Result<NormForwardResult> host_norm_forward(Context& context, const NormPlan& plan, const std::vector<float>& x,
                                            const std::vector<float>& weight, const std::vector<float>& bias,
                                            std::vector<float>& running_mean, std::vector<float>& running_var,
                                            const std::vector<float>& residual);
// `mean` / `stat`: save_mean / save_invstd when batch statistics are used, else
// running_mean / running_var. `y` (the forward's output) is used with Epilogue::relu.
Result<NormBackwardResult> host_norm_backward(Context& context, const NormPlan& plan, const std::vector<float>& x,
                                              const std::vector<float>& dy, const std::vector<float>& weight,
                                              const std::vector<float>& mean, const std::vector<float>& stat,
                                              const std::vector<float>& y);

}  // namespace vknorm
