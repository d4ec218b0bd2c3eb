// CPU reference for RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight over row-major rows
// of D elements, accumulated in double, independent of the device's indexing.
#include <cmath>

#include "ops/norm_lengths.hpp"
#include "reference/epilogue.hpp"
#include "vknorm/rmsnorm.hpp"

namespace vknorm::reference {
namespace {

Result<NormGeometry> check_call(const RMSNormParams& p, const std::vector<float>& x, const std::vector<float>* dy,
                                const std::vector<float>& weight) {
  Result<NormGeometry> g = check_rms_norm(p);
  if (!g) return g.status();
  VKNORM_TRY(check_norm_lengths(*g, {.kind = "rms_norm",
                                     .x = x.size(),
                                     .dy = dy ? std::optional(dy->size()) : std::nullopt,
                                     .weight = if_given(p.elementwise_affine, weight.size())}));
  return g;
}

double inv_rms(const float* row, uint64_t d, double eps) {
  double sq = 0.0;
  for (uint64_t j = 0; j < d; ++j) sq += double(row[j]) * row[j];
  return 1.0 / std::sqrt(sq / static_cast<double>(d) + eps);
}

}  // namespace

Result<NormForwardResult> rms_norm_forward(const RMSNormParams& params, const std::vector<float>& x,
                                           const std::vector<float>& weight,
    const std::vector<float>& residual) {
  Result<NormGeometry> geometry = check_call(params, x, nullptr, weight);
  if (!geometry) return geometry.status();
  VKNORM_TRY(detail::check_residual(*geometry, params.epilogue, residual));
  const detail::ForwardEpilogue epilogue{params.epilogue, residual};
  const uint64_t rows = geometry->outer, d = geometry->channels;

  NormForwardResult out;
  out.y.resize(x.size());
  out.save_invstd.resize(static_cast<size_t>(rows));
  for (uint64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * d;
    const double invrms = inv_rms(row, d, params.effective_eps());
    for (uint64_t j = 0; j < d; ++j)
      out.y[r * d + j] = epilogue(row[j] * invrms * (params.elementwise_affine ? weight[j] : 1.0), r * d + j);
    out.save_invstd[r] = static_cast<float>(invrms);
  }
  return out;
}

Result<NormBackwardResult> rms_norm_backward(const RMSNormParams& params, const std::vector<float>& x,
                                             const std::vector<float>& output_grad, const std::vector<float>& weight,
    const std::vector<float>& y) {
  Result<NormGeometry> geometry = check_call(params, x, &output_grad, weight);
  if (!geometry) return geometry.status();
  auto masked = detail::gradient_at_norm(*geometry, params.epilogue, output_grad, y);
  if (!masked) return masked.status();
  const std::vector<float>& dy = masked.value();  // the gradient reaching the norm
  const uint64_t rows = geometry->outer, d = geometry->channels;

  NormBackwardResult out;
  out.dx.resize(x.size());
  std::vector<double> dweight(static_cast<size_t>(d), 0.0);
  for (uint64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * d;
    const float* drow = dy.data() + r * d;
    const double invrms = inv_rms(row, d, params.effective_eps());
    // No mean is subtracted, so only the Σ(g·xhat) term of the LayerNorm backward remains.
    double sum_g_xhat = 0.0;
    for (uint64_t j = 0; j < d; ++j) {
      const double xhat = row[j] * invrms;
      sum_g_xhat += (params.elementwise_affine ? weight[j] : 1.0) * drow[j] * xhat;
      dweight[j] += drow[j] * xhat;
    }
    const double mean_g_xhat = sum_g_xhat / static_cast<double>(d);
    for (uint64_t j = 0; j < d; ++j) {
      const double gj = (params.elementwise_affine ? weight[j] : 1.0) * drow[j];
      out.dx[r * d + j] = static_cast<float>(invrms * (gj - row[j] * invrms * mean_g_xhat));
    }
  }
  if (params.elementwise_affine) out.dweight.assign(dweight.begin(), dweight.end());
  if (params.epilogue.residual) out.dresidual = dy;
  return out;
}

}  // namespace vknorm::reference
