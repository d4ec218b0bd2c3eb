// What a context holds (Context::footprint) and preparation by need
// (Context::prepare_kernels with a request): the objects an engine budgets for and
// creates at load time.
#include <chrono>
#include <set>
#include <string>

#include "context_state.hpp"
#include "vknorm/tuning.hpp"
#include "ops/norm_kinds.hpp"
#include "ops/planner.hpp"
#include "vk/capabilities.hpp"

namespace vknorm {

Footprint Context::footprint() const {
  const ContextState& s = *state_;
  const ObjectCounts kernels = s.kernels.counts();
  Footprint f;
  f.pipelines = kernels.pipelines;
  f.pipeline_layouts = kernels.pipeline_layouts;
  f.descriptor_set_layouts = kernels.set_layouts;
  f.descriptor_update_templates = kernels.update_templates;
  f.descriptor_pools = s.live_descriptor_pools.load();
  f.command_pools = s.live_command_pools.load();
  f.buffers = s.live_buffers.load();
  f.device_memory_allocations = s.live_memory_allocations.load();
  f.device_memory_bytes = s.live_memory_bytes.load();
  if (s.standalone) {  // engine mode: these are the engine's
    f.instances = s.instance ? 1 : 0;
    f.devices = s.device ? 1 : 0;
    f.pipeline_caches = s.pipeline_cache ? 1 : 0;
    f.debug_messengers = s.messenger ? 1 : 0;
  }
  return f;
}

Result<PrepareReport> Context::prepare_kernels(const PrepareRequest& request) {
  ContextState& s = *state_;
  const auto start = std::chrono::steady_clock::now();
  if (!request.forward && !request.backward)
    return Status::invalid_argument("request.forward, request.backward: expected at least one to be true");
  if (request.dtype != DType::f32 && request.dtype != DType::f16)
    return Status::invalid_argument("request.dtype: expected DType::f32 or DType::f16, got " +
                                    std::to_string(static_cast<int>(request.dtype)));

  std::vector<Norm> kinds = request.kinds;
  if (kinds.empty())
    for (const KindInfo& k : kNormKinds) kinds.push_back(k.id);
  std::set<KernelId> ids;  // a kernel two kinds share is created once
  for (Norm kind : kinds) {
    if (!find_kind(kind))
      return Status::invalid_argument("request.kinds: expected Norm values (" + kind_names(false) + "), got " +
                                      std::to_string(static_cast<int>(kind)));
    for (Direction d : {Direction::forward, Direction::backward}) {
      if (!(d == Direction::forward ? request.forward : request.backward)) continue;
      for (KernelId id : candidate_kernels(kind, d, &s.caps)) ids.insert(id);
    }
  }

  PrepareReport report;
  for (KernelId id : ids) {
    auto created = s.kernels.ensure(s, id, request.dtype);
    if (!created) return created.status();
    ++(created.value() ? report.created : report.already_prepared);
  }
  report.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Result<PrepareReport> Context::prepare_kernels(const PrepareRequest& request, const TuneRequest& tune) {
  const auto start = std::chrono::steady_clock::now();
  auto report = prepare_kernels(request);
  if (!report) return report.status();
  auto tuned = this->tune(tune);
  if (!tuned) return tuned.status();
  report->timed_classes = static_cast<uint32_t>(tuned->classes.size());
  report->milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace vknorm
