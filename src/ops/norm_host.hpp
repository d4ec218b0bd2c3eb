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

}  // namespace vknorm::host_io
