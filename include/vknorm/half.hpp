// IEEE binary16 <-> binary32, for float16 tensors on the host.
#pragma once

#include <cstdint>

namespace vknorm {

// Exact: subnormals, infinities and NaN included.
float half_to_float(uint16_t h);
// Rounds to nearest, ties to even; overflow gives infinity; NaN stays NaN.
uint16_t float_to_half(float f);

}  // namespace vknorm
