// CPU reference for BatchNorm: the plain formulas of docs/semantics.md, accumulated in double,
// so that device results can be judged against something simpler than themselves.
#include <cmath>
#include <string>

#include "ops/norm_lengths.hpp"
#include "reference/epilogue.hpp"
#include "vknorm/batchnorm.hpp"

namespace vknorm::reference {
namespace {

// Checks everything the forward and the backward share; `dy` is null for the forward.
Result<NormGeometry> check_call(const BatchNormParams& p, const std::vector<float>& x,
                                     const std::vector<float>* dy, const std::vector<float>& weight,
                                     const std::vector<float>* bias,
                                     const std::vector<float>& running_mean,
                                     const std::vector<float>& running_var) {
  Result<NormGeometry> geometry = check_batch_norm(p);
  if (!geometry) return geometry.status();
  // The forward reads tracked running statistics (to use or to update them); the backward
  // only when the forward normalized with them.
  const bool reads_running = p.track_running_stats && (!dy || !geometry->uses_batch_stats);
  VKNORM_TRY(check_norm_lengths(*geometry, {.kind = "batch_norm",
                                            .x = x.size(),
                                            .dy = dy ? std::optional(dy->size()) : std::nullopt,
                                            .weight = if_given(p.affine, weight.size()),
                                            .bias = if_given(p.affine && bias, bias ? bias->size() : 0),
                                            .running_mean = if_given(reads_running, running_mean.size()),
                                            .running_var = if_given(reads_running, running_var.size())}));
  return geometry;
}

// Element (n, c, s) of a contiguous (N, C, S) tensor.
size_t at(const NormGeometry& g, uint64_t n, uint64_t c, uint64_t s) {
  return static_cast<size_t>((n * g.channels + c) * g.spatial + s);
}

struct ChannelStats {
  double mean = 0.0;
  double var = 0.0;  // biased
};

// Two passes in double: the mean, then the squared deviations from it. An empty channel
// gets mean 0, var 0 (it is never normalized).
ChannelStats batch_stats(const NormGeometry& g, const std::vector<float>& x, uint64_t c) {
  ChannelStats st;
  if (g.group_size == 0) return st;
  double sum = 0.0;
  for (uint64_t n = 0; n < g.outer; ++n)
    for (uint64_t s = 0; s < g.spatial; ++s) sum += x[at(g, n, c, s)];
  st.mean = sum / static_cast<double>(g.group_size);
  double sq = 0.0;
  for (uint64_t n = 0; n < g.outer; ++n)
    for (uint64_t s = 0; s < g.spatial; ++s) {
      const double d = x[at(g, n, c, s)] - st.mean;
      sq += d * d;
    }
  st.var = sq / static_cast<double>(g.group_size);
  return st;
}

// The statistics that normalize channel c: the batch's, or the running ones.
ChannelStats normalizing_stats(const NormGeometry& g, const std::vector<float>& x, uint64_t c,
                               const std::vector<float>& running_mean,
                               const std::vector<float>& running_var) {
  if (g.uses_batch_stats) return batch_stats(g, x, c);
  return {running_mean[c], running_var[c]};
}

}  // namespace

Result<BatchNormForwardResult> batch_norm_forward(const BatchNormParams& params,
                                                  const std::vector<float>& x,
                                                  const std::vector<float>& weight,
                                                  const std::vector<float>& bias,
                                                  std::vector<float>& running_mean,
                                                  std::vector<float>& running_var,
    const std::vector<float>& residual) {
  Result<NormGeometry> geometry =
      check_call(params, x, nullptr, weight, &bias, running_mean, running_var);
  if (!geometry) return geometry.status();
  VKNORM_TRY(detail::check_residual(*geometry, params.epilogue, residual));
  const detail::ForwardEpilogue epilogue{params.epilogue, residual};
  const NormGeometry& g = *geometry;

  BatchNormForwardResult out;
  out.y.resize(static_cast<size_t>(g.elements));
  if (g.uses_batch_stats) {  // an empty channel saves PyTorch's 0/0
    out.save_mean.assign(static_cast<size_t>(g.channels), NAN);
    out.save_invstd.assign(static_cast<size_t>(g.channels), NAN);
  }
  for (uint64_t c = 0; c < g.channels; ++c) {
    const ChannelStats st = normalizing_stats(g, x, c, running_mean, running_var);
    const double invstd = g.uses_batch_stats ? detail::batch_norm_invstd(st.var, params.eps)
                                             : 1.0 / std::sqrt(st.var + static_cast<double>(params.eps));
    const double w = params.affine ? weight[c] : 1.0;
    const double b = params.affine ? bias[c] : 0.0;
    for (uint64_t n = 0; n < g.outer; ++n)
      for (uint64_t s = 0; s < g.spatial; ++s) {
        const size_t i = at(g, n, c, s);
        out.y[i] = epilogue((x[i] - st.mean) * invstd * w + b, i);
      }
    // An empty batch has no statistics: PyTorch leaves the running buffers alone.
    if (g.group_size == 0) continue;
    if (g.uses_batch_stats) {
      out.save_mean[c] = static_cast<float>(st.mean);
      out.save_invstd[c] = static_cast<float>(invstd);
    }
    if (g.updates_running) {
      const double m = params.momentum;
      const double unbiased = st.var * static_cast<double>(g.group_size) / static_cast<double>(g.group_size - 1);
      running_mean[c] = static_cast<float>((1.0 - m) * running_mean[c] + m * st.mean);
      running_var[c] = static_cast<float>((1.0 - m) * running_var[c] + m * unbiased);
    }
  }
  return out;
}

Result<BatchNormBackwardResult> batch_norm_backward(const BatchNormParams& params,
                                                    const std::vector<float>& x,
                                                    const std::vector<float>& output_grad,
                                                    const std::vector<float>& weight,
                                                    const std::vector<float>& running_mean,
                                                    const std::vector<float>& running_var,
    const std::vector<float>& y) {
  Result<NormGeometry> geometry =
      check_call(params, x, &output_grad, weight, nullptr, running_mean, running_var);
  if (!geometry) return geometry.status();
  auto masked = detail::gradient_at_norm(*geometry, params.epilogue, output_grad, y);
  if (!masked) return masked.status();
  const std::vector<float>& dy = masked.value();  // the gradient reaching the norm
  const NormGeometry& g = *geometry;

  BatchNormBackwardResult out;
  out.dx.resize(static_cast<size_t>(g.elements));
  if (params.affine) {
    out.dweight.assign(static_cast<size_t>(g.channels), 0.0f);
    out.dbias.assign(static_cast<size_t>(g.channels), 0.0f);
  }
  for (uint64_t c = 0; c < g.channels; ++c) {
    const ChannelStats st = normalizing_stats(g, x, c, running_mean, running_var);
    const double invstd = g.uses_batch_stats ? detail::batch_norm_invstd(st.var, params.eps)
                                             : 1.0 / std::sqrt(st.var + static_cast<double>(params.eps));
    const double w = params.affine ? weight[c] : 1.0;
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (uint64_t n = 0; n < g.outer; ++n)
      for (uint64_t s = 0; s < g.spatial; ++s) {
        const size_t i = at(g, n, c, s);
        sum_dy += dy[i];
        sum_dy_xhat += dy[i] * ((x[i] - st.mean) * invstd);
      }
    if (params.affine) {
      out.dweight[c] = static_cast<float>(sum_dy_xhat);
      out.dbias[c] = static_cast<float>(sum_dy);
    }
    // With batch statistics, mean and invstd depend on x, which adds the two mean terms;
    // with fixed running statistics the forward is affine in x.
    const double mean_g = g.group_size ? w * sum_dy / static_cast<double>(g.group_size) : 0.0;
    const double mean_g_xhat = g.group_size ? w * sum_dy_xhat / static_cast<double>(g.group_size) : 0.0;
    for (uint64_t n = 0; n < g.outer; ++n)
      for (uint64_t s = 0; s < g.spatial; ++s) {
        const size_t i = at(g, n, c, s);
        const double gi = w * dy[i];
        if (g.uses_batch_stats) {
          const double xhat = (x[i] - st.mean) * invstd;
          out.dx[i] = static_cast<float>(invstd * (gi - mean_g - xhat * mean_g_xhat));
        } else {
          out.dx[i] = static_cast<float>(gi * invstd);
        }
      }
  }
  if (params.epilogue.residual) out.dresidual = dy;
  return out;
}

}  // namespace vknorm::reference
