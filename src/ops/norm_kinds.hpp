// The kind table: each norm kind declared once. A row (NormKind<Params>) gives the kind's
// names, its PyTorch checks and the NormGeometry they produce, its plan row, where its
// backward gets its statistics, and its CPU reference; NormKindList orders the rows.
// Everything that handles "any kind" reads this table: the per-kind wrappers
// (src/ops/<kind>.cpp), the C API, `vknorm run`, `vknorm bench` and the per-kind test
// loops. It is internal (not under include/): it speaks NormPlan, which is the engine's
// and may change; the tool and the tests see src/ already.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "ops/norm_lengths.hpp"
#include "ops/norm_plan.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/rmsnorm.hpp"

namespace vknorm {

// Where a kind's backward reads the statistics it normalizes with.
enum class BackwardStats {
  saved,             // the forward's save_mean / save_invstd, always
  saved_or_running,  // those, or the running statistics when the forward used them (eval)
};

// The facts of a kind that need no types: enough to look a kind up by name and to
// validate options before there are params.
struct KindInfo {
  std::string_view name;      // PyTorch's functional name: "batch_norm"
  std::string_view cli_name;  // the command-line spelling: "batchnorm"
  std::string_view module;    // torch.nn's class: "BatchNorm" (for messages)
  bool channel_layouts;       // (N, C, *) input, storable NHWC
  bool has_bias;              // the kind has a bias parameter at all
  bool running_stats;         // keeps running statistics (params.track_running_stats)
  bool saves_mean;            // the forward saves a mean, not only invstd
  BackwardStats backward_stats;
  Norm id;                    // the public name of the kind (PrepareRequest::kinds)
  // gamma can change inside a statistics group (GroupNorm's channels of a group, the
  // elements of a LayerNorm row): dgamma / dbeta then take passes of their own.
  bool gamma_may_vary;
  // A weight can come without a bias (LayerNorm's bias=False; RMSNorm, which has none):
  // the team forward then has a variant that reads no bias.
  bool weight_without_bias;
};

// The host arrays of the standalone functions and the references, for any kind; those a
// kind or a call does not have stay empty.
struct HostForwardArrays {
  const std::vector<float>& x;
  const std::vector<float>& weight;
  const std::vector<float>& bias;
  std::vector<float>& running_mean;  // updated in place when the forward updates them
  std::vector<float>& running_var;
  const std::vector<float>& residual;
};
struct HostBackwardArrays {
  const std::vector<float>& x;
  const std::vector<float>& dy;
  const std::vector<float>& weight;
  const std::vector<float>& save_mean;
  const std::vector<float>& save_invstd;
  const std::vector<float>& running_mean;  // read when backward_stats says so and the forward used them
  const std::vector<float>& running_var;
  const std::vector<float>& y;  // the forward's output, for the ReLU epilogue
};

// One row per kind. `check` is the kind's public PyTorch check; `plan` (in
// src/ops/<kind>.cpp) turns checked params into the engine's NormPlan (plan_norm sets the
// fields every kind shares: dtype and epilogue); the references adapt the kind's
// reference:: functions to the arrays above.
template <class Params>
struct NormKind;

template <>
struct NormKind<BatchNormParams> {
  static constexpr KindInfo info{"batch_norm", "batchnorm", "BatchNorm", true, true, true, true,
                                 BackwardStats::saved_or_running, Norm::batch_norm, false, false};
  static constexpr auto check = check_batch_norm;
  static NormPlan plan(const BatchNormParams& params, const NormGeometry& g);
  static Result<NormForwardResult> reference_forward(const BatchNormParams& p, const HostForwardArrays& a) {
    return reference::batch_norm_forward(p, a.x, a.weight, a.bias, a.running_mean, a.running_var, a.residual);
  }
  static Result<NormBackwardResult> reference_backward(const BatchNormParams& p, const HostBackwardArrays& a) {
    return reference::batch_norm_backward(p, a.x, a.dy, a.weight, a.running_mean, a.running_var, a.y);
  }
};

template <>
struct NormKind<LayerNormParams> {
  static constexpr KindInfo info{"layer_norm", "layernorm", "LayerNorm", false, true, false, true,
                                 BackwardStats::saved, Norm::layer_norm, true, true};
  static constexpr auto check = check_layer_norm;
  static NormPlan plan(const LayerNormParams& params, const NormGeometry& g);
  static Result<NormForwardResult> reference_forward(const LayerNormParams& p, const HostForwardArrays& a) {
    return reference::layer_norm_forward(p, a.x, a.weight, a.bias, a.residual);
  }
  static Result<NormBackwardResult> reference_backward(const LayerNormParams& p, const HostBackwardArrays& a) {
    return reference::layer_norm_backward(p, a.x, a.dy, a.weight, a.y);
  }
};

template <>
struct NormKind<RMSNormParams> {
  static constexpr KindInfo info{"rms_norm", "rmsnorm", "RMSNorm", false, false, false, false, BackwardStats::saved,
                                 Norm::rms_norm, true, true};
  static constexpr auto check = check_rms_norm;
  static NormPlan plan(const RMSNormParams& params, const NormGeometry& g);
  static Result<NormForwardResult> reference_forward(const RMSNormParams& p, const HostForwardArrays& a) {
    return reference::rms_norm_forward(p, a.x, a.weight, a.residual);
  }
  static Result<NormBackwardResult> reference_backward(const RMSNormParams& p, const HostBackwardArrays& a) {
    return reference::rms_norm_backward(p, a.x, a.dy, a.weight, a.y);
  }
};

template <>
struct NormKind<GroupNormParams> {
  static constexpr KindInfo info{"group_norm", "groupnorm", "GroupNorm", true, true, false, true,
                                 BackwardStats::saved, Norm::group_norm, true, false};
  static constexpr auto check = check_group_norm;
  static NormPlan plan(const GroupNormParams& params, const NormGeometry& g);
  static Result<NormForwardResult> reference_forward(const GroupNormParams& p, const HostForwardArrays& a) {
    return reference::group_norm_forward(p, a.x, a.weight, a.bias, a.residual);
  }
  static Result<NormBackwardResult> reference_backward(const GroupNormParams& p, const HostBackwardArrays& a) {
    return reference::group_norm_backward(p, a.x, a.dy, a.weight, a.y);
  }
};

template <>
struct NormKind<InstanceNormParams> {
  static constexpr KindInfo info{"instance_norm", "instancenorm", "InstanceNorm", true, true, true, true,
                                 BackwardStats::saved_or_running, Norm::instance_norm, false, false};
  static constexpr auto check = check_instance_norm;
  static NormPlan plan(const InstanceNormParams& params, const NormGeometry& g);
  static Result<NormForwardResult> reference_forward(const InstanceNormParams& p, const HostForwardArrays& a) {
    return reference::instance_norm_forward(p, a.x, a.weight, a.bias, a.running_mean, a.running_var, a.residual);
  }
  static Result<NormBackwardResult> reference_backward(const InstanceNormParams& p, const HostBackwardArrays& a) {
    return reference::instance_norm_backward(p, a.x, a.dy, a.weight, a.running_mean, a.running_var, a.y);
  }
};

// The rows, in the order listings and messages use.
template <class... Params>
struct KindList {};
using NormKindList = KindList<BatchNormParams, LayerNormParams, RMSNormParams, GroupNormParams, InstanceNormParams>;

// Calls f(std::type_identity<Params>{}) for every kind, in table order.
template <class F, class... Params>
void for_each_kind_in(KindList<Params...>, F&& f) {
  (f(std::type_identity<Params>{}), ...);
}
template <class F>
void for_each_kind(F&& f) {
  for_each_kind_in(NormKindList{}, f);
}

template <class... Params>
constexpr std::array<KindInfo, sizeof...(Params)> kind_infos(KindList<Params...>) {
  return {NormKind<Params>::info...};
}
inline constexpr auto kNormKinds = kind_infos(NormKindList{});

// ---- Names ----

// The kind called `name` in either spelling ("batch_norm" or "batchnorm"); null if none.
const KindInfo* find_kind(std::string_view name);
// The row of `id`; null for a value outside the enum.
const KindInfo* find_kind(Norm id);

// Every kind's name, for messages: "batch_norm, layer_norm, ... or instance_norm", in the
// CLI spelling ("batchnorm, ...") when `cli`; `last` joins the last two.
std::string kind_names(bool cli, std::string_view last = " or ");

// The kind `name` names for `option` ("--op"), or a message that lists the valid names:
// first in the spelling the option documents (`cli`), then in the other.
Result<const KindInfo*> parse_kind(std::string_view option, std::string_view name, bool cli);

// f(std::type_identity<Params>{}) for the kind `info` describes; f returns R.
template <class R, class F>
R visit_kind(const KindInfo& info, F&& f) {
  std::optional<R> result;
  for_each_kind([&](auto kind) {
    using Params = typename decltype(kind)::type;
    if (!result && NormKind<Params>::info.name == info.name) result.emplace(f(kind));
  });
  return std::move(*result);  // info comes from the table, so one row matches
}

// ---- What every kind does the same way, through its row ----

// Whether the call passes running statistics (kinds that keep them: track_running_stats).
template <class Params>
bool tracks_running(const Params& p) {
  if constexpr (NormKind<Params>::info.running_stats) return p.track_running_stats;
  else return false;
}

// The kind's checks, then its plan row.
template <class Params>
Result<NormPlan> plan_norm(const Params& params) {
  auto g = NormKind<Params>::check(params);
  if (!g) return g.status();
  NormPlan p = NormKind<Params>::plan(params, g.value());
  p.kind = NormKind<Params>::info.id;
  p.dtype = params.dtype;
  p.epilogue = params.epilogue;
  return p;
}

template <class Params>
Result<uint64_t> kind_workspace_size(const Context& context, const Params& params) {
  return norm_workspace_size(context, plan_norm(params));
}
template <class Params>
Status record_kind_forward(CommandRecorder& recorder, const Params& params, const NormForwardBuffers& buffers) {
  return record_norm_forward(recorder, plan_norm(params), buffers);
}
template <class Params>
Status record_kind_backward(CommandRecorder& recorder, const Params& params, const NormBackwardBuffers& buffers) {
  return record_norm_backward(recorder, plan_norm(params), buffers);
}

// The standalone forward: checks the host arrays the call has, then runs on the device.
template <class Params>
Result<NormForwardResult> kind_forward(Context& context, const Params& params, const HostForwardArrays& a) {
  auto plan = plan_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  const bool running = tracks_running(params);
  VKNORM_TRY(check_norm_lengths(p.geometry, {.kind = NormKind<Params>::info.name,
                                             .x = a.x.size(),
                                             .weight = if_given(p.has_weight, a.weight.size()),
                                             .bias = if_given(p.has_bias, a.bias.size()),
                                             .running_mean = if_given(running, a.running_mean.size()),
                                             .running_var = if_given(running, a.running_var.size()),
                                             .residual = if_given(p.epilogue.residual, a.residual.size())}));
  return host_norm_forward(context, p, a.x, a.weight, a.bias, a.running_mean, a.running_var, a.residual);
}

// The standalone backward, with the statistics the row says it reads.
template <class Params>
Result<NormBackwardResult> kind_backward(Context& context, const Params& params, const HostBackwardArrays& a) {
  auto plan = plan_norm(params);
  if (!plan) return plan.status();
  const NormPlan& p = plan.value();
  VKNORM_TRY(check_norm_lengths(p.geometry, {.kind = NormKind<Params>::info.name,
                                             .x = a.x.size(),
                                             .dy = a.dy.size(),
                                             .weight = if_given(p.has_weight, a.weight.size()),
                                             .y = if_given(p.epilogue.relu, a.y.size())}));
  const bool running = NormKind<Params>::info.backward_stats == BackwardStats::saved_or_running &&
                       !p.geometry.uses_batch_stats;
  return host_norm_backward(context, p, a.x, a.dy, a.weight, running ? a.running_mean : a.save_mean,
                            running ? a.running_var : a.save_invstd, a.y);
}

}  // namespace vknorm
