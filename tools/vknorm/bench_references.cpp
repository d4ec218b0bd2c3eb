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
const uint32_t kCopyF16Packed[] = {
#include "copy_f16p.inc"
};
const uint32_t kScaleShiftF32[] = {
#include "scale_shift_f32.inc"
};
const uint32_t kScaleShiftF16[] = {
#include "scale_shift_f16.inc"
};
const uint32_t kScaleShiftF16Packed[] = {
#include "scale_shift_f16p.inc"
};

struct Words {
  const uint32_t* words;
  size_t bytes;
};
template <size_t N>
constexpr Words words(const uint32_t (&w)[N]) {
  return {w, sizeof(w)};
}

// [copy, scale_shift][TensorStorage], as the norms' kernels pick theirs (tensor_storage).
const Words kReferenceSpirv[2][kTensorStorageCount] = {
    {words(kCopyF32), words(kCopyF16), words(kCopyF16Packed)},
    {words(kScaleShiftF32), words(kScaleShiftF16), words(kScaleShiftF16Packed)},
};

}  // namespace

ReferencePasses::~ReferencePasses() {
  ContextState& s = state_of(context_);
  for (auto& [key, kernel] : pipelines_) destroy_kernel_entry(s, kernel);
}

Result<KernelEntry> ReferencePasses::pipeline(ReferencePass pass, DType dtype) {
  if (auto it = pipelines_.find({pass, dtype}); it != pipelines_.end()) return it->second;
  ContextState& s = state_of(context_);
  const bool copy = pass == ReferencePass::copy;
  const Words code = kReferenceSpirv[copy ? 0 : 1][static_cast<size_t>(tensor_storage(dtype, s.caps))];
  // Layouts of its own, like every kernel's: only the slots its SPIR-V uses.
  auto made = create_kernel_entry(s, code.words, code.bytes, workgroup_size_for(s.caps), copy ? "copy" : "scale_shift");
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
  const bool packed = tensor_storage(dtype, caps) == TensorStorage::f16_packed;
  slots[kSlotX] = {x.buffer, x.offset, elements * eb, eb, packed};
  slots[kSlotOut] = {y.buffer, y.offset, elements * eb, eb, packed};
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
