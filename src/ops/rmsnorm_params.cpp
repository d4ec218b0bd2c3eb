// Validation of RMSNorm calls, shared by the GPU path and the CPU reference. PyTorch
// (>= 2.4) checks shapes with LayerNorm's code, so the messages are LayerNorm's.
#include <cfloat>

#include "ops/norm_lengths.hpp"
#include "vknorm/rmsnorm.hpp"

namespace vknorm {

// torch.nn.RMSNorm's eps=None: the machine epsilon of the accumulation type, which is
// float32 also for half-precision input (at::opmath_type).
float RMSNormParams::effective_eps() const { return eps ? *eps : FLT_EPSILON; }

Result<NormGeometry> check_rms_norm(const RMSNormParams& p) {
  Result<NormGeometry> g = detail::check_trailing_norm(p.shape, p.normalized_shape);
  if (!g) return g.status();
  VKNORM_TRY(detail::check_eps(p.effective_eps()));
  return g;
}

}  // namespace vknorm
