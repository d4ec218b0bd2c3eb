#include "bench_references.hpp"

#include <algorithm>
#include <string>

#include "recorder_impl.hpp"

namespace vknorm::bench {
namespace {

// SPIR-V words of tools/vknorm/shaders/*.comp (tools/vknorm/shaders.cmake).
const uint32_t kCopyF32[] = {
#include "copy_f32.inc"
};
const uint32_t kCopyF16[] = {
#include "copy_f16.inc"
};
const uint32_t kScaleShiftF32[] = {
#include "scale_shift_f32.inc"
};
const uint32_t kScaleShiftF16[] = {
#include "scale_shift_f16.inc"
};

}  // namespace

ReferencePasses::~ReferencePasses() {
  ContextState& s = state_of(context_);
  for (auto& [key, kernel] : pipelines_) destroy_kernel_entry(s, kernel);
}

Result<KernelEntry> ReferencePasses::pipeline(ReferencePass pass, DType dtype) {
  if (auto it = pipelines_.find({pass, dtype}); it != pipelines_.end()) return it->second;
  ContextState& s = state_of(context_);
  if (dtype == DType::f16 && !s.caps.storage_buffer_16bit)
    return Status::unsupported("dtype: float16 storage needs storageBuffer16BitAccess, which " + s.caps.device_name +
                               " does not offer");
  const bool copy = pass == ReferencePass::copy, f16 = dtype == DType::f16;
  const uint32_t* words = copy ? (f16 ? kCopyF16 : kCopyF32) : (f16 ? kScaleShiftF16 : kScaleShiftF32);
  const size_t bytes = copy ? (f16 ? sizeof(kCopyF16) : sizeof(kCopyF32))
                            : (f16 ? sizeof(kScaleShiftF16) : sizeof(kScaleShiftF32));
  // Layouts of its own, like every kernel's: only the slots its SPIR-V uses.
  auto made = create_kernel_entry(s, words, bytes, workgroup_size_for(s.caps), copy ? "copy" : "scale_shift");
  if (made) pipelines_[{pass, dtype}] = made.value();
  return made;
}

Status ReferencePasses::record(CommandRecorder& recorder, ReferencePass pass, DType dtype, uint64_t elements,
                               const BufferRef& x, const BufferRef& y) {
  CommandRecorder::Impl& rec = impl_of(recorder);
  const Capabilities& caps = rec.state->caps;
  const uint32_t eb = dtype == DType::f16 ? 2 : 4;
  if (elements == 0 || elements >= (uint64_t{1} << 32))
    return Status::invalid_argument("elements: expected 1 to 2^32 - 1, got " + std::to_string(elements));
  auto kernel = pipeline(pass, dtype);
  if (!kernel) return kernel.status();
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
  return rec.dispatch(kernel.value(), slots, pc, grid);
}

}  // namespace vknorm::bench
