// Context::set_tuning and Context::tune: timing each candidate strategy of a shape class
// on the device and keeping the fastest (vknorm/tuning.hpp).
#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "context_state.hpp"
#include "ops/norm_engine.hpp"
#include "ops/norm_kinds.hpp"
#include "ops/tuning.hpp"
#include "recorder_impl.hpp"

namespace vknorm {
namespace {

// The timestamp query pool of one tune() call.
struct QueryPool {
  ContextState& s;
  VkQueryPool pool = VK_NULL_HANDLE;
  ~QueryPool() {
    if (pool) s.vk.DestroyQueryPool(s.device, pool, s.allocator);
  }
};

// One buffer per role the candidates bind, as large as any binds it, holding finite
// values near 1 (float32 in [0.5, 1.5), float16 in [0.5, 1)), as in training.
struct CandidateBuffers {
  std::map<Role, Buffer> buffers;

  Status create(Context& context, const std::vector<ExecutionPlan>& plans) {
    std::map<Role, SlotUse> largest;
    for (const ExecutionPlan& plan : plans)
      for (const SlotUse& use : plan.buffers)
        if (use.role != Role::none && use.bytes_from(0) >= largest[use.role].bytes_from(0)) largest[use.role] = use;
    uint32_t seed = 1;
    for (const auto& [role, use] : largest) {
      auto b = context.create_buffer(std::max<uint64_t>(4, (use.bytes_from(0) + 3) / 4 * 4));
      if (!b) return b.status();
      fill(b.value(), use.element_bytes, seed++);
      buffers[role] = std::move(b.value());
    }
    return {};
  }
  static void fill(Buffer& b, uint32_t element_bytes, uint32_t seed) {
    uint32_t state = seed * 2654435761u;
    auto next = [&] { return state = state * 1664525u + 1013904223u; };
    if (element_bytes == 2) {
      uint16_t* h = b.as<uint16_t>();
      for (VkDeviceSize i = 0; i < b.size() / 2; ++i) h[i] = static_cast<uint16_t>(0x3800 + (next() >> 22));
    } else {
      float* f = b.as<float>();
      for (VkDeviceSize i = 0; i < b.size() / 4; ++i) f[i] = 0.5f + static_cast<float>(next() >> 8) / 16777216.0f;
    }
  }
  BufferRef operator[](Role role) const {
    auto it = buffers.find(role);
    return it == buffers.end() ? BufferRef{} : ref(it->second);
  }
  NormForwardBuffers forward() const {
    const auto& r = *this;
    return {r[Role::x],         r[Role::y],           r[Role::weight],    r[Role::bias],
            r[Role::running_mean], r[Role::running_var], r[Role::save_mean], r[Role::save_invstd],
            r[Role::workspace],  r[Role::residual]};
  }
  NormBackwardBuffers backward() const {
    const auto& r = *this;
    NormBackwardBuffers b;
    b.x = r[Role::x];
    b.dy = r[Role::dy];
    b.dx = r[Role::dx];
    b.weight = r[Role::weight];
    b.dweight = r[Role::dweight];
    b.dbias = r[Role::dbias];
    b.y = r[Role::y];
    b.dresidual = r[Role::dresidual];
    b.save_mean = r[Role::save_mean];
    b.running_mean = r[Role::running_mean];
    b.save_invstd = r[Role::save_invstd];
    b.running_var = r[Role::running_var];
    b.workspace = r[Role::workspace];
    return b;
  }
};

// The device time of one call in ms: timestamps around it, in a command buffer of its own
// that starts with a barrier after the previous submission's writes.
Result<double> time_once(Context& context, ContextState& s, VkQueryPool pool, const NormPlan& p, Direction direction,
                         const PlanOptions& options, const CandidateBuffers& buffers) {
  auto rec = context.begin_commands();
  if (!rec) return rec.status();
  CommandRecorder& r = *rec.value();
  VkCommandBuffer cmd = r.command_buffer();
  s.vk.CmdResetQueryPool(cmd, pool, 0, 2);
  impl_of(r).barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  s.vk.CmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, 0);
  VKNORM_TRY(direction == Direction::forward
                 ? record_norm_forward(r, p, buffers.forward(), options, kAllPhases)
                 : record_norm_backward(r, p, buffers.backward(), options, kAllPhases));
  s.vk.CmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, 1);
  VKNORM_TRY(context.submit_and_wait(r));
  uint64_t ticks[2] = {};
  VkResult got = s.vk.GetQueryPoolResults(s.device, pool, 0, 2, sizeof ticks, ticks, sizeof(uint64_t),
                                          VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  if (got != VK_SUCCESS) return Status::vulkan(got, "vkGetQueryPoolResults");
  return static_cast<double>(ticks[1] - ticks[0]) * s.caps.timestamp_period_ns * 1e-6;
}

std::string shape_text(const NormPlan& p, const std::vector<int64_t>& shape) {
  std::string s = find_kind(p.kind) ? std::string(find_kind(p.kind)->name) : "norm";
  s += ' ';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

// `status` with `which` before its message (the request's field), same code.
Status prefixed(const Status& status, const std::string& which) {
  if (status.code() == StatusCode::invalid_argument) return Status::invalid_argument(which + status.message());
  if (status.code() == StatusCode::unsupported) return Status::unsupported(which + status.message());
  return status;
}

}  // namespace

Status Context::set_tuning(TuningCache cache) {
  // load()'s checks on the cache's own bytes: the device and driver (naming each field that
  // differs), and each entry's values (an enum value outside its enum, values or rows per
  // invocation no candidate has), so that a cache built with TuningCache::set is held to
  // what a saved one is.
  if (!cache.empty())
    if (auto checked = TuningCache::load(state_->caps, cache.serialize()); !checked) return checked.status();
  state_->tuning = std::move(cache);
  return {};
}

const TuningCache& Context::tuning() const { return state_->tuning; }

Result<TuneReport> Context::tune(const TuneRequest& request) {
  ContextState& s = *state_;
  const auto start = std::chrono::steady_clock::now();
  if (!s.standalone)
    return Status::unsupported(
        "tune: this context records into an engine's command buffers and never submits, so it cannot time "
        "anything; tune with a standalone context on the same device and driver (Context::tune or `vknorm tune "
        "--out FILE`), then load the cache here: TuningCache::load and Context::set_tuning");
  if (!s.caps.timestamps)
    return Status::unsupported("tune: the device has no timestamps on its compute queue "
                               "(timestampComputeAndGraphics false), which tuning times candidates with");
  if (request.runs == 0 || request.runs > 1000)
    return Status::invalid_argument("request.runs: expected 1 to 1000, got " + std::to_string(request.runs));
  if (!request.forward && !request.backward)
    return Status::invalid_argument("request.forward, request.backward: expected at least one to be true");

  QueryPool queries{s};
  VkQueryPoolCreateInfo info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  info.queryType = VK_QUERY_TYPE_TIMESTAMP;
  info.queryCount = 2;
  if (VkResult r = s.vk.CreateQueryPool(s.device, &info, s.allocator, &queries.pool); r != VK_SUCCESS)
    return Status::vulkan(r, "vkCreateQueryPool");

  TuningCache cache = s.tuning.empty() ? TuningCache(tuning_device(s.caps)) : s.tuning;
  TuneReport report;
  for (size_t i = 0; i < request.shapes.size(); ++i) {
    const std::string which = "request.shapes[" + std::to_string(i) + "]: ";
    auto planned = std::visit(
        [](const auto& params) -> Result<std::pair<NormPlan, std::vector<int64_t>>> {
          auto p = plan_norm(params);
          if (!p) return p.status();
          return std::make_pair(p.value(), params.shape);
        },
        request.shapes[i]);
    if (!planned) return prefixed(planned.status(), which);
    const NormPlan& p = planned->first;
    PrepareRequest prepare;
    prepare.kinds = {p.kind};
    prepare.dtype = p.dtype;
    if (auto prepared = prepare_kernels(prepare); !prepared) return prepared.status();
    for (Direction direction : {Direction::forward, Direction::backward}) {
      if (!(direction == Direction::forward ? request.forward : request.backward)) continue;
      const TuningKey key = tuning_key(p, direction);
      bool seen = false;
      for (const TunedClass& c : report.classes) seen = seen || c.key == key;
      const std::vector<StrategyChoice> choices = candidate_choices(s.caps, p, direction);
      if (seen || choices.size() < 2) continue;  // timed already, or nothing to choose
      std::vector<ExecutionPlan> plans;
      for (const StrategyChoice& c : choices) {
        PlanOptions options;
        options.choice = c;
        auto plan =
            direction == Direction::forward ? plan_forward(s.caps, p, options) : plan_backward(s.caps, p, options);
        if (!plan) return prefixed(plan.status(), which);
        plans.push_back(plan.value());
      }
      CandidateBuffers buffers;
      VKNORM_TRY(buffers.create(*this, plans));
      TunedClass tuned;
      tuned.key = key;
      tuned.shape = shape_text(p, planned->second);
      auto rule = direction == Direction::forward ? plan_forward(s.caps, p) : plan_backward(s.caps, p);
      if (!rule) return prefixed(rule.status(), which);
      // Run by run, each candidate in turn (run 0 warms up), so that a slow spell of a shared
      // machine lands on every candidate's runs alike instead of on one candidate's.
      std::vector<std::vector<double>> ms(choices.size());
      for (uint32_t run = 0; run <= request.runs; ++run) {
        for (size_t k = 0; k < choices.size(); ++k) {
          PlanOptions options;
          options.choice = choices[k];
          auto t = time_once(*this, s, queries.pool, p, direction, options, buffers);
          if (!t) return t.status();
          if (run > 0) ms[k].push_back(t.value());
        }
      }
      for (size_t k = 0; k < choices.size(); ++k) {
        std::sort(ms[k].begin(), ms[k].end());
        tuned.candidates.push_back({choices[k], ms[k][ms[k].size() / 2], same_work(plans[k], rule.value())});
      }
      const auto best = std::min_element(tuned.candidates.begin(), tuned.candidates.end(),
                                         [](const auto& a, const auto& b) { return a.milliseconds < b.milliseconds; });
      tuned.winner = best->choice;
      cache.set(key, tuned.winner);
      report.classes.push_back(std::move(tuned));
    }
  }
  s.tuning = std::move(cache);
  report.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace vknorm
