// The reference passes `vknorm bench` measures the norms against, on the same device with
// the same slots, grid and workgroup size as vknorm's own elementwise passes. Internal.
#pragma once

#include <cstdint>

#include "vknorm/norm_common.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm {

enum class ReferencePass {
  copy,         // y = x: read once, write once
  scale_shift,  // y = a * x + b: the elementwise pass every forward norm must at least do
};

// Records one reference pass over `elements` values of `dtype` from x to y.
Status record_reference_pass(CommandRecorder& recorder, ReferencePass pass, DType dtype, uint64_t elements,
                             const BufferRef& x, const BufferRef& y);

}  // namespace vknorm
