// The host side of the standalone functions: host-visible buffers, and tensors moved
// between PyTorch's logical (N, C, *) float32 order and the plan's layout and dtype.
#pragma once

#include <vector>

#include "ops/norm_plan.hpp"

namespace vknorm::host_io {

// A host-visible buffer of `count` elements (at least 4 bytes, so empty ones bind too).
Result<Buffer> make_buffer(Context& context, size_t count, bool half);
Result<Buffer> upload_floats(Context& context, const std::vector<float>& values, size_t count);
Result<Buffer> upload_tensor(Context& context, const NormPlan& p, const std::vector<float>& logical);
std::vector<float> download_floats(const Buffer& b, size_t count);
std::vector<float> download_tensor(const NormPlan& p, const Buffer& b);

// The device buffers of one standalone forward: the inputs uploaded (running statistics
// when the plan reads or updates them), the outputs and a workspace of `workspace_bytes`.
struct ForwardDeviceBuffers {
  Buffer x, y, weight, bias, running_mean, running_var, save_mean, save_invstd, workspace, residual;
  NormForwardBuffers refs() const;
};
Result<ForwardDeviceBuffers> upload_forward(Context& context, const NormPlan& p, const std::vector<float>& x,
                                            const std::vector<float>& weight, const std::vector<float>& bias,
                                            const std::vector<float>& running_mean,
                                            const std::vector<float>& running_var,
                                            const std::vector<float>& residual, uint64_t workspace_bytes);
// The outputs once the work finished: y, the saved statistics the plan writes, and the
// running statistics back into the caller's vectors when the plan updated them.
NormForwardResult download_forward(const NormPlan& p, const ForwardDeviceBuffers& b, std::vector<float>& running_mean,
                                   std::vector<float>& running_var);

// The same for a backward. mean / stat: save_mean / save_invstd where the forward used
// batch statistics, else running_mean / running_var (mean unused for RMS norm).
struct BackwardDeviceBuffers {
  Buffer x, dy, dx, weight, mean, stat, dweight, dbias, workspace, y, dresidual;
  NormBackwardBuffers refs(const NormPlan& p) const;
};
Result<BackwardDeviceBuffers> upload_backward(Context& context, const NormPlan& p, const std::vector<float>& x,
                                              const std::vector<float>& dy, const std::vector<float>& weight,
                                              const std::vector<float>& mean, const std::vector<float>& stat,
                                              const std::vector<float>& y, uint64_t workspace_bytes);
NormBackwardResult download_backward(const NormPlan& p, const BackwardDeviceBuffers& b);

}  // namespace vknorm::host_io
