// CPU reference for InstanceNorm: the plain formulas of docs/semantics.md over a contiguous
// (N, C, spatial) tensor (unbatched (C, *) is N = 1), accumulated in double (two passes),
// independent of the device's indexing. Statistics per (n, c); running statistics per c.
#include <cmath>

#include "ops/norm_lengths.hpp"
#include "reference/epilogue.hpp"
#include "vknorm/instancenorm.hpp"

namespace vknorm::reference {
namespace {

Result<NormGeometry> check_call(const InstanceNormParams& p, const std::vector<float>& x,
                                const std::vector<float>* dy, const std::vector<float>& weight,
                                const std::vector<float>* bias, const std::vector<float>& running_mean,
                                const std::vector<float>& running_var) {
  Result<NormGeometry> g = check_instance_norm(p);
  if (!g) return g.status();
  // The forward reads tracked running statistics (to use or to update them); the backward
  // only when the forward normalized with them.
  const bool reads_running = p.track_running_stats && (!dy || !g->uses_batch_stats);
  VKNORM_TRY(check_norm_lengths(*g, {.kind = "instance_norm",
                                     .x = x.size(),
                                     .dy = dy ? std::optional(dy->size()) : std::nullopt,
                                     .weight = if_given(p.affine, weight.size()),
                                     .bias = if_given(bias && p.affine, bias ? bias->size() : 0),
                                     .running_mean = if_given(reads_running, running_mean.size()),
                                     .running_var = if_given(reads_running, running_var.size())}));
  return g;
}

struct Stats {
  double mean = 0.0;
  double var = 0.0;  // biased
};

// Statistics of the contiguous plane of (n, c); an empty plane (spatial = 0) gets 0, 0.
Stats plane_stats(const float* plane, uint64_t spatial) {
  if (spatial == 0) return {};
  double sum = 0.0;
  for (uint64_t s = 0; s < spatial; ++s) sum += plane[s];
  const double mean = sum / static_cast<double>(spatial);
  double sq = 0.0;
  for (uint64_t s = 0; s < spatial; ++s) sq += (plane[s] - mean) * (plane[s] - mean);
  return {mean, sq / static_cast<double>(spatial)};
}

// The statistics that normalize (n, c): the plane's own, or the running ones.
Stats normalizing_stats(const NormGeometry& g, const float* plane, uint64_t c, const std::vector<float>& rm,
                        const std::vector<float>& rv) {
  if (g.uses_batch_stats) return plane_stats(plane, g.spatial);
  return {rm[c], rv[c]};
}

}  // namespace

Result<NormForwardResult> instance_norm_forward(const InstanceNormParams& params, const std::vector<float>& x,
                                                const std::vector<float>& weight, const std::vector<float>& bias,
                                                std::vector<float>& running_mean, std::vector<float>& running_var,
    const std::vector<float>& residual) {
  Result<NormGeometry> geometry = check_call(params, x, nullptr, weight, &bias, running_mean, running_var);
  if (!geometry) return geometry.status();
  VKNORM_TRY(detail::check_residual(*geometry, params.epilogue, residual));
  const detail::ForwardEpilogue epilogue{params.epilogue, residual};
  const NormGeometry& g = *geometry;
  const double eps = params.eps;

  NormForwardResult out;
  out.y.resize(x.size());
  if (g.uses_batch_stats) {
    // An empty plane saves PyTorch's 0/0 (batch_norm on the (1, N*C, *) view).
    out.save_mean.assign(static_cast<size_t>(g.stat_groups), NAN);
    out.save_invstd.assign(static_cast<size_t>(g.stat_groups), NAN);
  }
  // Running update: the batch average of the per-(n, c) mean and unbiased variance.
  std::vector<double> mean_sum(static_cast<size_t>(g.channels), 0.0), var_sum(static_cast<size_t>(g.channels), 0.0);
  for (uint64_t n = 0; n < g.outer; ++n)
    for (uint64_t c = 0; c < g.channels; ++c) {
      const size_t base = static_cast<size_t>((n * g.channels + c) * g.spatial);
      const Stats st = normalizing_stats(g, x.data() + base, c, running_mean, running_var);
      const double invstd =
          g.uses_batch_stats ? detail::batch_norm_invstd(st.var, eps) : 1.0 / std::sqrt(st.var + eps);
      const double w = params.affine ? weight[c] : 1.0, b = params.affine ? bias[c] : 0.0;
      for (uint64_t s = 0; s < g.spatial; ++s)
        out.y[base + s] = epilogue((x[base + s] - st.mean) * invstd * w + b, base + s);
      if (!g.uses_batch_stats || g.spatial == 0) continue;
      out.save_mean[n * g.channels + c] = static_cast<float>(st.mean);
      out.save_invstd[n * g.channels + c] = static_cast<float>(invstd);
      mean_sum[c] += st.mean;
      var_sum[c] += st.var * static_cast<double>(g.spatial) / static_cast<double>(g.spatial - 1);
    }
  // An empty batch or empty planes have no statistics: the running buffers stay as they are.
  if (g.updates_running && g.elements > 0) {
    const double m = params.momentum, count = static_cast<double>(g.outer);
    for (uint64_t c = 0; c < g.channels; ++c) {
      running_mean[c] = static_cast<float>((1.0 - m) * running_mean[c] + m * mean_sum[c] / count);
      running_var[c] = static_cast<float>((1.0 - m) * running_var[c] + m * var_sum[c] / count);
    }
  }
  return out;
}

Result<NormBackwardResult> instance_norm_backward(const InstanceNormParams& params, const std::vector<float>& x,
                                                  const std::vector<float>& output_grad, const std::vector<float>& weight,
                                                  const std::vector<float>& running_mean,
                                                  const std::vector<float>& running_var,
    const std::vector<float>& y) {
  Result<NormGeometry> geometry = check_call(params, x, &output_grad, weight, nullptr, running_mean, running_var);
  if (!geometry) return geometry.status();
  auto masked = detail::gradient_at_norm(*geometry, params.epilogue, output_grad, y);
  if (!masked) return masked.status();
  const std::vector<float>& dy = masked.value();  // the gradient reaching the norm
  const NormGeometry& g = *geometry;
  const double eps = params.eps, m = static_cast<double>(g.spatial);

  NormBackwardResult out;
  out.dx.resize(x.size());
  std::vector<double> dweight(static_cast<size_t>(g.channels), 0.0), dbias(static_cast<size_t>(g.channels), 0.0);
  for (uint64_t n = 0; n < g.outer; ++n)
    for (uint64_t c = 0; c < g.channels; ++c) {
      const size_t base = static_cast<size_t>((n * g.channels + c) * g.spatial);
      const Stats st = normalizing_stats(g, x.data() + base, c, running_mean, running_var);
      const double invstd =
          g.uses_batch_stats ? detail::batch_norm_invstd(st.var, eps) : 1.0 / std::sqrt(st.var + eps);
      const double w = params.affine ? weight[c] : 1.0;
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      for (uint64_t s = 0; s < g.spatial; ++s) {
        sum_dy += dy[base + s];
        sum_dy_xhat += dy[base + s] * (x[base + s] - st.mean) * invstd;
      }
      dweight[c] += sum_dy_xhat;
      dbias[c] += sum_dy;
      // Input statistics depend on x (the two mean terms); running ones are constants.
      const double mean_g = m > 0.0 ? w * sum_dy / m : 0.0, mean_g_xhat = m > 0.0 ? w * sum_dy_xhat / m : 0.0;
      for (uint64_t s = 0; s < g.spatial; ++s) {
        const double gi = w * dy[base + s];
        const double xhat = (x[base + s] - st.mean) * invstd;
        out.dx[base + s] = static_cast<float>(
            g.uses_batch_stats ? invstd * (gi - mean_g - xhat * mean_g_xhat) : invstd * gi);
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
