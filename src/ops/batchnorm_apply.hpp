// The grid of shaders/batch_norm_apply.comp, shared by the eval forward's plan
// (planner.cpp) and record_batch_norm_inference_apply (batchnorm_inference.cpp).
#pragma once

#include <cstdint>

#include "vknorm/context.hpp"

namespace vknorm {

struct ApplyGrid {
  uint32_t x = 1, y = 1;
};

// Workgroups over `elements` in the channel view of channel_plan: K channels, I = the
// spatial size in NCHW, 1 in NHWC (or without spatial dims).
ApplyGrid batch_norm_apply_grid(const Capabilities& caps, uint64_t elements, uint64_t K, uint64_t I);

}  // namespace vknorm
