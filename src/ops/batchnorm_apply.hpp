// The grid of shaders/batch_norm_apply.comp, shared by the eval forward's plan
// (planner.cpp) and record_batch_norm_inference_apply (batchnorm_inference.cpp).
#pragma once

#include <cstdint>
#include <optional>

#include "vknorm/context.hpp"

namespace vknorm {

struct ApplyGrid {
  uint32_t x = 1, y = 1;
};

// Workgroups over `elements` in the channel view of channel_plan: K channels, I = the
// spatial size in NCHW, 1 in NHWC (or without spatial dims).
ApplyGrid batch_norm_apply_grid(const Capabilities& caps, uint64_t elements, uint64_t K, uint64_t I);

// The grid of shaders/batch_norm_apply_columns_vec4.comp, for rows of L = K * I elements
// that are whole 4-element units (L % 4 == 0); nullopt otherwise.
std::optional<ApplyGrid> batch_norm_apply_columns_grid(const Capabilities& caps, uint64_t elements, uint64_t K,
                                                       uint64_t I);

// The grid of shaders/batch_norm_apply_vec4.comp: workgroup (x, y) is part x of NCHW
// plane y, `chunks` parts of `chunk_size` 4-element units each. Only for planes of whole
// units, each at least a workgroup of units, and no more planes than workgroups in y
// (else `ok` is false: batch_norm_apply, or its columns variant).
struct PlanesGrid {
  bool ok = false;
  uint32_t x = 1, y = 1;
  uint32_t chunks = 1, chunk_size = 0;
};
PlanesGrid batch_norm_apply_planes_grid(const Capabilities& caps, uint64_t elements, uint64_t K, uint64_t I);

}  // namespace vknorm
