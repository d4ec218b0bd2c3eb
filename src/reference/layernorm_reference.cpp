// CPU reference for LayerNorm: the plain formulas of docs/semantics.md over row-major rows of
// D elements, accumulated in double (two passes), independent of the device's indexing.
#include <cmath>

#include "ops/norm_lengths.hpp"
#include "reference/epilogue.hpp"
#include "vknorm/layernorm.hpp"

namespace vknorm::reference {
namespace {

// `dy` is null for the forward, which alone takes a bias.
Result<NormGeometry> check_call(const LayerNormParams& p, const std::vector<float>& x, const std::vector<float>* dy,
                                const std::vector<float>& weight, const std::vector<float>* bias) {
  Result<NormGeometry> g = check_layer_norm(p);
  if (!g) return g.status();
  VKNORM_TRY(check_norm_lengths(*g, {.kind = "layer_norm",
                                     .x = x.size(),
                                     .dy = dy ? std::optional(dy->size()) : std::nullopt,
                                     .weight = if_given(p.elementwise_affine, weight.size()),
                                     .bias = if_given(bias && p.bias, bias ? bias->size() : 0)}));
  return g;
}

struct RowStats {
  double mean = 0.0;
  double invstd = 0.0;
};

// An empty row (normalized_shape of no elements) saves PyTorch's mean 0 and rstd NaN.
RowStats row_stats(const float* row, uint64_t d, double eps) {
  if (d == 0) return {0.0, NAN};
  double sum = 0.0;
  for (uint64_t j = 0; j < d; ++j) sum += row[j];
  // PyTorch computes LayerNorm's statistics with Welford's update, whose mean turns NaN
  // once an Inf meets any other value (inf - inf); a plain sum would give ±inf.
  const double mean = std::isfinite(sum) ? sum / static_cast<double>(d) : std::nan("");
  double sq = 0.0;
  for (uint64_t j = 0; j < d; ++j) sq += (row[j] - mean) * (row[j] - mean);
  return {mean, 1.0 / std::sqrt(sq / static_cast<double>(d) + eps)};
}

}  // namespace

Result<NormForwardResult> layer_norm_forward(const LayerNormParams& params, const std::vector<float>& x,
                                             const std::vector<float>& weight, const std::vector<float>& bias,
    const std::vector<float>& residual) {
  Result<NormGeometry> geometry = check_call(params, x, nullptr, weight, &bias);
  if (!geometry) return geometry.status();
  VKNORM_TRY(detail::check_residual(*geometry, params.epilogue, residual));
  const detail::ForwardEpilogue epilogue{params.epilogue, residual};
  const uint64_t rows = geometry->outer, d = geometry->channels;

  NormForwardResult out;
  out.y.resize(x.size());
  out.save_mean.resize(static_cast<size_t>(rows));
  out.save_invstd.resize(static_cast<size_t>(rows));
  for (uint64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * d;
    const RowStats st = row_stats(row, d, params.eps);
    for (uint64_t j = 0; j < d; ++j) {
      const double w = params.elementwise_affine ? weight[j] : 1.0;
      const double b = params.bias ? bias[j] : 0.0;
      out.y[r * d + j] = epilogue((row[j] - st.mean) * st.invstd * w + b, r * d + j);
    }
    out.save_mean[r] = static_cast<float>(st.mean);
    out.save_invstd[r] = static_cast<float>(st.invstd);
  }
  return out;
}

Result<NormBackwardResult> layer_norm_backward(const LayerNormParams& params, const std::vector<float>& x,
                                               const std::vector<float>& output_grad, const std::vector<float>& weight,
    const std::vector<float>& y) {
  Result<NormGeometry> geometry = check_call(params, x, &output_grad, weight, nullptr);
  if (!geometry) return geometry.status();
  auto masked = detail::gradient_at_norm(*geometry, params.epilogue, output_grad, y);
  if (!masked) return masked.status();
  const std::vector<float>& dy = masked.value();  // the gradient reaching the norm
  const uint64_t rows = geometry->outer, d = geometry->channels;

  NormBackwardResult out;
  out.dx.resize(x.size());
  std::vector<double> dweight(static_cast<size_t>(d), 0.0), dbias(static_cast<size_t>(d), 0.0);
  for (uint64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * d;
    const float* drow = dy.data() + r * d;
    const RowStats st = row_stats(row, d, params.eps);
    double sum_g = 0.0, sum_g_xhat = 0.0;
    for (uint64_t j = 0; j < d; ++j) {
      const double xhat = (row[j] - st.mean) * st.invstd;
      const double gj = (params.elementwise_affine ? weight[j] : 1.0) * drow[j];
      sum_g += gj;
      sum_g_xhat += gj * xhat;
      dweight[j] += drow[j] * xhat;
      dbias[j] += drow[j];
    }
    const double mean_g = sum_g / static_cast<double>(d), mean_g_xhat = sum_g_xhat / static_cast<double>(d);
    for (uint64_t j = 0; j < d; ++j) {
      const double xhat = (row[j] - st.mean) * st.invstd;
      const double gj = (params.elementwise_affine ? weight[j] : 1.0) * drow[j];
      out.dx[r * d + j] = static_cast<float>(st.invstd * (gj - mean_g - xhat * mean_g_xhat));
    }
  }
  if (params.elementwise_affine) out.dweight.assign(dweight.begin(), dweight.end());
  if (params.bias) out.dbias.assign(dbias.begin(), dbias.end());
  if (params.epilogue.residual) out.dresidual = dy;
  return out;
}

}  // namespace vknorm::reference
