#include "ops/bench_references.hpp"

#include <algorithm>

#include "recorder_impl.hpp"

namespace vknorm {

Status record_reference_pass(CommandRecorder& recorder, ReferencePass pass, DType dtype, uint64_t elements,
                             const BufferRef& x, const BufferRef& y) {
  CommandRecorder::Impl& rec = recorder.impl();
  const Capabilities& caps = rec.state->caps;
  const uint32_t eb = dtype == DType::f16 ? 2 : 4;
  if (elements == 0 || elements >= (uint64_t{1} << 32))
    return Status::invalid_argument("elements: expected 1 to 2^32 - 1, got " + std::to_string(elements));
  SlotBinding slots[kSlotCount] = {};
  slots[kSlotX] = {x.buffer, x.offset, elements * eb, eb};
  slots[kSlotOut] = {y.buffer, y.offset, elements * eb, eb};
  PushConstants pc;
  pc.I = static_cast<uint32_t>(elements);  // element_count() = B * O * K * I
  pc.eps = 1.5f;                           // a
  pc.momentum = 0.25f;                     // b
  // Grid-stride over at most kGridStrideWorkgroups, as vknorm's elementwise passes: on
  // lavapipe this is faster than a workgroup per 256 elements, so the reference stays strong.
  const uint64_t wg = workgroup_size_for(caps);
  const uint32_t grid = static_cast<uint32_t>(
      std::clamp<uint64_t>((elements + wg - 1) / wg, 1, std::min(caps.max_workgroup_count_x, kGridStrideWorkgroups)));
  return rec.dispatch(pass == ReferencePass::copy ? KernelId::copy : KernelId::scale_shift, dtype, slots, pc, grid);
}

}  // namespace vknorm
