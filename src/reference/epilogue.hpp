// The fused epilogue on the CPU, as the shaders apply it (shaders/common.glsl): the forward
// adds the residual to the normalized, affine value, then applies the ReLU; the backward
// passes dy only where the forward's output y > 0 (PyTorch's ReLU backward, also at
// y == 0), and that masked gradient is the residual's gradient too.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "ops/norm_lengths.hpp"
#include "vknorm/norm_common.hpp"

namespace vknorm::reference::detail {

// PyTorch's batch_norm invstd from batch statistics (its InvStd): 0 where var + eps is 0
// (eps = 0 on a constant group), so that the group normalizes to beta, not NaN.
inline double batch_norm_invstd(double var, double eps) {
  return var + eps == 0.0 ? 0.0 : 1.0 / std::sqrt(var + eps);
}

// The forward's residual: read only with Epilogue::residual, then g.elements values.
inline Status check_residual(const NormGeometry& g, const Epilogue& e, const std::vector<float>& residual) {
  return check_norm_lengths(g, {.x = g.elements, .residual = if_given(e.residual, residual.size())});
}

// The forward's epilogue, applied to each output value (after check_residual).
struct ForwardEpilogue {
  const Epilogue& epilogue;
  const std::vector<float>& residual;

  // y[i] from the normalized, affine value `v` (in double): + residual[i], then the ReLU.
  // A NaN stays NaN, as in torch.relu.
  float operator()(double v, size_t i) const {
    if (epilogue.residual) v += residual[i];
    if (epilogue.relu && v < 0.0) v = 0.0;
    return static_cast<float>(v);
  }
};

// The gradient that reaches the norm: dy, masked by the ReLU where !(y > 0). `y` (the
// forward's output) is read only with Epilogue::relu, and must then have g.elements values.
inline Result<std::vector<float>> gradient_at_norm(const NormGeometry& g, const Epilogue& e,
                                                   const std::vector<float>& dy, const std::vector<float>& y) {
  VKNORM_TRY(check_norm_lengths(g, {.x = g.elements, .y = if_given(e.relu, y.size())}));
  std::vector<float> dz = dy;
  if (e.relu)
    for (size_t i = 0; i < dz.size(); ++i)
      if (!(y[i] > 0.0f)) dz[i] = 0.0f;
  return dz;
}

}  // namespace vknorm::reference::detail
