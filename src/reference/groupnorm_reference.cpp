// CPU reference for GroupNorm: the plain formulas of docs/semantics.md over a contiguous
// (N, C, spatial) tensor, accumulated in double (two passes), independent of the
// device's indexing. Statistics per (n, group); weight and bias per channel.
#include <cmath>

#include "ops/norm_lengths.hpp"
#include "reference/epilogue.hpp"
#include "vknorm/groupnorm.hpp"

namespace vknorm::reference {
namespace {

Result<NormGeometry> check_call(const GroupNormParams& p, const std::vector<float>& x, const std::vector<float>* dy,
                                const std::vector<float>& weight, const std::vector<float>* bias) {
  Result<NormGeometry> g = check_group_norm(p);
  if (!g) return g.status();
  VKNORM_TRY(check_norm_lengths(*g, {.kind = "group_norm",
                                     .x = x.size(),
                                     .dy = dy ? std::optional(dy->size()) : std::nullopt,
                                     .weight = if_given(p.affine, weight.size()),
                                     .bias = if_given(bias && p.affine, bias ? bias->size() : 0)}));
  return g;
}

// One group of one sample: channels [c0, c0 + cg), each with `spatial` contiguous values.
struct Group {
  const NormGeometry& g;
  uint64_t n, c0, cg;
  size_t at(uint64_t c, uint64_t s) const { return static_cast<size_t>((n * g.channels + c) * g.spatial + s); }
};

struct Stats {
  double mean = 0.0;
  double invstd = 0.0;
};

// An empty group (spatial or C = 0) saves PyTorch's mean 0 and rstd NaN; it normalizes nothing.
Stats group_stats(const Group& grp, const std::vector<float>& x, double eps) {
  const double m = static_cast<double>(grp.g.group_size);
  if (m == 0.0) return {0.0, NAN};
  double sum = 0.0;
  for (uint64_t c = grp.c0; c < grp.c0 + grp.cg; ++c)
    for (uint64_t s = 0; s < grp.g.spatial; ++s) sum += x[grp.at(c, s)];
  // As LayerNorm: PyTorch's Welford statistics give mean NaN for a group holding an Inf.
  const double mean = std::isfinite(sum) ? sum / m : std::nan("");
  double sq = 0.0;
  for (uint64_t c = grp.c0; c < grp.c0 + grp.cg; ++c)
    for (uint64_t s = 0; s < grp.g.spatial; ++s) sq += (x[grp.at(c, s)] - mean) * (x[grp.at(c, s)] - mean);
  return {mean, 1.0 / std::sqrt(sq / m + eps)};
}

}  // namespace

Result<NormForwardResult> group_norm_forward(const GroupNormParams& params, const std::vector<float>& x,
                                             const std::vector<float>& weight, const std::vector<float>& bias,
    const std::vector<float>& residual) {
  Result<NormGeometry> geometry = check_call(params, x, nullptr, weight, &bias);
  if (!geometry) return geometry.status();
  VKNORM_TRY(detail::check_residual(*geometry, params.epilogue, residual));
  const detail::ForwardEpilogue epilogue{params.epilogue, residual};
  const NormGeometry& g = *geometry;
  const uint64_t groups = static_cast<uint64_t>(params.num_groups), cg = g.channels / groups;

  NormForwardResult out;
  out.y.resize(x.size());
  out.save_mean.resize(static_cast<size_t>(g.stat_groups));
  out.save_invstd.resize(static_cast<size_t>(g.stat_groups));
  for (uint64_t n = 0; n < g.outer; ++n)
    for (uint64_t k = 0; k < groups; ++k) {
      const Group grp{g, n, k * cg, cg};
      const Stats st = group_stats(grp, x, params.eps);
      for (uint64_t c = grp.c0; c < grp.c0 + cg; ++c) {
        const double w = params.affine ? weight[c] : 1.0, b = params.affine ? bias[c] : 0.0;
        for (uint64_t s = 0; s < g.spatial; ++s) {
          const size_t i = grp.at(c, s);
          out.y[i] = epilogue((x[i] - st.mean) * st.invstd * w + b, i);
        }
      }
      out.save_mean[n * groups + k] = static_cast<float>(st.mean);
      out.save_invstd[n * groups + k] = static_cast<float>(st.invstd);
    }
  return out;
}

Result<NormBackwardResult> group_norm_backward(const GroupNormParams& params, const std::vector<float>& x,
                                               const std::vector<float>& output_grad, const std::vector<float>& weight,
    const std::vector<float>& y) {
  Result<NormGeometry> geometry = check_call(params, x, &output_grad, weight, nullptr);
  if (!geometry) return geometry.status();
  auto masked = detail::gradient_at_norm(*geometry, params.epilogue, output_grad, y);
  if (!masked) return masked.status();
  const std::vector<float>& dy = masked.value();  // the gradient reaching the norm
  const NormGeometry& g = *geometry;
  const uint64_t groups = static_cast<uint64_t>(params.num_groups), cg = g.channels / groups;
  const double m = static_cast<double>(g.group_size);

  NormBackwardResult out;
  out.dx.resize(x.size());
  std::vector<double> dweight(static_cast<size_t>(g.channels), 0.0), dbias(static_cast<size_t>(g.channels), 0.0);
  for (uint64_t n = 0; n < g.outer; ++n)
    for (uint64_t k = 0; k < groups; ++k) {
      const Group grp{g, n, k * cg, cg};
      const Stats st = group_stats(grp, x, params.eps);
      double sum_g = 0.0, sum_g_xhat = 0.0;
      for (uint64_t c = grp.c0; c < grp.c0 + cg; ++c) {
        const double w = params.affine ? weight[c] : 1.0;
        for (uint64_t s = 0; s < g.spatial; ++s) {
          const size_t i = grp.at(c, s);
          const double xhat = (x[i] - st.mean) * st.invstd;
          sum_g += w * dy[i];
          sum_g_xhat += w * dy[i] * xhat;
          dweight[c] += dy[i] * xhat;
          dbias[c] += dy[i];
        }
      }
      if (m == 0.0) continue;
      const double mean_g = sum_g / m, mean_g_xhat = sum_g_xhat / m;
      for (uint64_t c = grp.c0; c < grp.c0 + cg; ++c) {
        const double w = params.affine ? weight[c] : 1.0;
        for (uint64_t s = 0; s < g.spatial; ++s) {
          const size_t i = grp.at(c, s);
          const double xhat = (x[i] - st.mean) * st.invstd;
          out.dx[i] = static_cast<float>(st.invstd * (w * dy[i] - mean_g - xhat * mean_g_xhat));
        }
      }
    }
  if (params.affine) {
    out.dweight.assign(dweight.begin(), dweight.end());
    out.dbias.assign(dbias.begin(), dbias.end());
  }
  if (params.epilogue.residual) out.dresidual = dy;
  return out;
}

}  // namespace vknorm::reference
