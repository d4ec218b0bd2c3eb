// Validation of LayerNorm calls, shared by the GPU path and the CPU reference, with
// PyTorch 1.13's messages where PyTorch has one.
#include "ops/norm_lengths.hpp"
#include "vknorm/layernorm.hpp"

namespace vknorm {

Result<NormGeometry> check_layer_norm(const LayerNormParams& p) {
  Result<NormGeometry> g = detail::check_trailing_norm(p.shape, p.normalized_shape);
  if (!g) return g.status();
  // torch.nn.LayerNorm (bias= since 2.1) has no bias without elementwise_affine; a bias
  // alone is F.layer_norm only, and vknorm does not offer it.
  if (p.bias && !p.elementwise_affine)
    return Status::invalid_argument("bias: bias=true needs elementwise_affine=true (LayerNorm has a bias only "
                                    "together with its weight)");
  VKNORM_TRY(detail::check_eps(p.eps));
  return g;
}

}  // namespace vknorm
