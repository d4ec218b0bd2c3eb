#include "bench_references.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>

#include "recorder_impl.hpp"
#include "vknorm/half.hpp"

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
// stream_vec4.comp, [pass][storage][items 1, 2, 4].
const uint32_t kVecCopyF32I1[] = {
#include "vec4_copy_f32_i1.inc"
};
const uint32_t kVecCopyF32I2[] = {
#include "vec4_copy_f32_i2.inc"
};
const uint32_t kVecCopyF32I4[] = {
#include "vec4_copy_f32_i4.inc"
};
const uint32_t kVecCopyF16I1[] = {
#include "vec4_copy_f16_i1.inc"
};
const uint32_t kVecCopyF16I2[] = {
#include "vec4_copy_f16_i2.inc"
};
const uint32_t kVecCopyF16I4[] = {
#include "vec4_copy_f16_i4.inc"
};
const uint32_t kVecCopyF16pI1[] = {
#include "vec4_copy_f16p_i1.inc"
};
const uint32_t kVecCopyF16pI2[] = {
#include "vec4_copy_f16p_i2.inc"
};
const uint32_t kVecCopyF16pI4[] = {
#include "vec4_copy_f16p_i4.inc"
};
const uint32_t kVecScaleShiftF32I1[] = {
#include "vec4_scale_shift_f32_i1.inc"
};
const uint32_t kVecScaleShiftF32I2[] = {
#include "vec4_scale_shift_f32_i2.inc"
};
const uint32_t kVecScaleShiftF32I4[] = {
#include "vec4_scale_shift_f32_i4.inc"
};
const uint32_t kVecScaleShiftF16I1[] = {
#include "vec4_scale_shift_f16_i1.inc"
};
const uint32_t kVecScaleShiftF16I2[] = {
#include "vec4_scale_shift_f16_i2.inc"
};
const uint32_t kVecScaleShiftF16I4[] = {
#include "vec4_scale_shift_f16_i4.inc"
};
const uint32_t kVecScaleShiftF16pI1[] = {
#include "vec4_scale_shift_f16p_i1.inc"
};
const uint32_t kVecScaleShiftF16pI2[] = {
#include "vec4_scale_shift_f16p_i2.inc"
};
const uint32_t kVecScaleShiftF16pI4[] = {
#include "vec4_scale_shift_f16p_i4.inc"
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
const Words kScalarSpirv[2][kTensorStorageCount] = {
    {words(kCopyF32), words(kCopyF16), words(kCopyF16Packed)},
    {words(kScaleShiftF32), words(kScaleShiftF16), words(kScaleShiftF16Packed)},
};
// [copy, scale_shift][TensorStorage][items 1, 2, 4]
const Words kVectorSpirv[2][kTensorStorageCount][3] = {
    {{words(kVecCopyF32I1), words(kVecCopyF32I2), words(kVecCopyF32I4)},
     {words(kVecCopyF16I1), words(kVecCopyF16I2), words(kVecCopyF16I4)},
     {words(kVecCopyF16pI1), words(kVecCopyF16pI2), words(kVecCopyF16pI4)}},
    {{words(kVecScaleShiftF32I1), words(kVecScaleShiftF32I2), words(kVecScaleShiftF32I4)},
     {words(kVecScaleShiftF16I1), words(kVecScaleShiftF16I2), words(kVecScaleShiftF16I4)},
     {words(kVecScaleShiftF16pI1), words(kVecScaleShiftF16pI2), words(kVecScaleShiftF16pI4)}},
};
// stream_vec4.comp binds x and the output at these bindings.
static_assert(kSlotX == 0 && kSlotOut == 2, "stream_vec4.comp: x at binding 0, the output at binding 2");

uint32_t items_index(uint32_t items) { return items == 4 ? 2 : items == 2 ? 1 : 0; }

// Elements per vector, and its bytes.
uint32_t vector_lanes(TensorStorage s) { return s == TensorStorage::f16_packed ? 8 : 4; }
uint32_t vector_bytes(TensorStorage s) { return s == TensorStorage::f16 ? 8 : 16; }

}  // namespace

std::string ReferenceGrid::label() const {
  std::string s;
  if (!vector) {
    s = "scalar " + std::to_string(workgroup_size);
  } else {
    s = storage == TensorStorage::f32 ? "vec4 " : storage == TensorStorage::f16 ? "f16vec4 " : "uvec4 ";
    s += std::to_string(workgroup_size) + "x" + std::to_string(items);
    if (run) s += " r" + std::to_string(run);
  }
  if (max_groups) s += " g" + std::to_string(max_groups);
  return s;
}

ReferencePasses::~ReferencePasses() {
  ContextState& s = state_of(context_);
  for (auto& [key, kernel] : pipelines_) destroy_kernel_entry(s, kernel);
}

Result<KernelEntry> ReferencePasses::pipeline(ReferencePass pass, DType dtype, const ReferenceGrid& grid) {
  ContextState& s = state_of(context_);
  const TensorStorage storage = grid.vector ? grid.storage : tensor_storage(dtype, s.caps);
  const auto key = std::make_tuple(pass, static_cast<uint32_t>(storage), grid.vector, grid.vector ? grid.items : 0,
                                   grid.workgroup_size);
  if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;
  const size_t p = pass == ReferencePass::copy ? 0 : 1;
  const size_t st = static_cast<size_t>(storage);
  const Words code = grid.vector ? kVectorSpirv[p][st][items_index(grid.items)] : kScalarSpirv[p][st];
  // Layouts of its own, like every kernel's: only the slots its SPIR-V uses.
  auto made = create_kernel_entry(s, code.words, code.bytes, grid.workgroup_size,
                                  p == 0 ? "reference copy" : "reference scale_shift");
  if (made) pipelines_[key] = made.value();
  return made;
}

std::vector<ReferenceGrid> ReferencePasses::candidates(DType dtype, bool all, VkDeviceSize x_offset,
                                                       VkDeviceSize y_offset) const {
  const Capabilities& caps = context_.capabilities();
  std::vector<ReferenceGrid> out;
  // The scalar kernel as before this reference: where it is the fastest, it is the floor.
  out.push_back({.vector = false, .workgroup_size = workgroup_size_for(caps), .max_groups = kGridStrideWorkgroups});
  if (x_offset % 16 != 0 || y_offset % 16 != 0) return out;
  std::vector<TensorStorage> storages;
  if (dtype == DType::f32) storages = {TensorStorage::f32};
  // Native float16 also as packed words: 16 bytes per access instead of f16vec4's 8.
  else if (caps.storage_buffer_16bit) storages = {TensorStorage::f16, TensorStorage::f16_packed};
  else storages = {TensorStorage::f16_packed};
  const uint32_t max_size = std::min(caps.max_workgroup_size_x, caps.max_workgroup_invocations);
  for (TensorStorage storage : storages) {
    if (all) {
      for (uint32_t size : {64u, 128u, 256u})
        for (uint32_t items : {1u, 2u, 4u})
          for (uint32_t run : {0u, kReferenceRun})
            for (uint32_t cap : {0u, kGridStrideWorkgroups})
              if (size <= max_size && (run == 0 || (items > 1 && run < size)))
                out.push_back({true, storage, size, items, run, cap});
      continue;
    }
    // The small set `vknorm bench` times per tensor, from `--reference-grids all` runs on
    // lavapipe: grid-stride over 1024 workgroups of 128 or 256 took the most tensors there,
    // and since 2026-12-02 runs of 8 lanes with 2 or 4 vectors each (5-10% faster than the
    // best of the others on some tensors, slower on others); covering grids (a vector or
    // four per invocation) are what GPUs usually prefer.
    // f16vec4 (8-byte access) lost to uvec4 on every grid there (by 1.1-2.4x), so it is
    // timed at one grid only.
    if (storage == TensorStorage::f16) {
      out.push_back({true, storage, std::min(256u, max_size), 1, 0, kGridStrideWorkgroups});
      continue;
    }
    for (auto [size, items, run, cap] :
         {std::tuple{256u, 1u, 0u, kGridStrideWorkgroups}, {128u, 1u, 0u, kGridStrideWorkgroups},
          {256u, 2u, 0u, kGridStrideWorkgroups}, {128u, 2u, kReferenceRun, kGridStrideWorkgroups},
          {128u, 4u, kReferenceRun, kGridStrideWorkgroups}, {256u, 1u, 0u, 0u}, {256u, 4u, 0u, 0u}}) {
      const ReferenceGrid g{true, storage, std::min(size, max_size), items, size > kReferenceRun ? run : 0, cap};
      // Once each, where the device's largest workgroup makes two the same.
      if (std::none_of(out.begin(), out.end(), [&](const ReferenceGrid& o) { return o.label() == g.label(); }))
        out.push_back(g);
    }
  }
  return out;
}

Status ReferencePasses::record(CommandRecorder& recorder, ReferencePass pass, DType dtype, const ReferenceGrid& grid,
                               uint64_t elements, const BufferRef& x, const BufferRef& y) {
  CommandRecorder::Impl& rec = impl_of(recorder);
  const Capabilities& caps = rec.state->caps;
  const uint32_t eb = dtype == DType::f16 ? 2 : 4;
  if (elements == 0 || elements >= (uint64_t{1} << 32))
    return Status::invalid_argument("elements: expected 1 to 2^32 - 1, got " + std::to_string(elements));
  if (grid.vector && (x.offset % 16 != 0 || y.offset % 16 != 0))
    return Status::invalid_argument("a vector reference needs 16-byte-aligned offsets, got x " +
                                    std::to_string(x.offset) + " and y " + std::to_string(y.offset));
  if (grid.vector && (grid.storage == TensorStorage::f32) != (dtype == DType::f32))
    return Status::invalid_argument("grid " + grid.label() + " does not read this dtype");
  if (grid.vector && grid.run != 0 && grid.workgroup_size % grid.run != 0)
    return Status::invalid_argument("grid " + grid.label() + ": a run must divide the workgroup");
  auto kernel = pipeline(pass, dtype, grid);
  if (!kernel) return kernel.status();
  SlotBinding slots[kSlotCount] = {};
  PushConstants pc;
  pc.I = static_cast<uint32_t>(elements);  // element_count() = B * O * K * I
  pc.eps = kReferenceScale;
  pc.momentum = kReferenceShift;
  pc.chunk_size = grid.vector ? grid.run : 0;
  uint64_t per_group = grid.workgroup_size;  // elements one workgroup takes per step
  if (grid.vector) {
    // Bound as whole words (packed halves), the offsets in whole vectors.
    const uint64_t bytes = (elements * eb + 3) / 4 * 4;
    const uint32_t vb = vector_bytes(grid.storage);
    slots[kSlotX] = {x.buffer, x.offset, bytes, vb, false};
    slots[kSlotOut] = {y.buffer, y.offset, bytes, vb, false};
    per_group *= grid.items * vector_lanes(grid.storage);
  } else {
    const bool packed = tensor_storage(dtype, caps) == TensorStorage::f16_packed;
    slots[kSlotX] = {x.buffer, x.offset, elements * eb, eb, packed};
    slots[kSlotOut] = {y.buffer, y.offset, elements * eb, eb, packed};
  }
  const uint64_t cap = grid.max_groups ? std::min(caps.max_workgroup_count_x, grid.max_groups)
                                       : caps.max_workgroup_count_x;
  const uint32_t groups = static_cast<uint32_t>(std::clamp<uint64_t>((elements + per_group - 1) / per_group, 1, cap));
  return rec.dispatch(kernel.value(), slots, pc, groups);
}

Result<TunedReferences> ReferencePasses::tune(BenchDevice& device, DType dtype, uint64_t elements,
                                              const BufferRef& x, const BufferRef& y, int warmup, int runs,
                                              bool all) {
  const std::vector<ReferenceGrid> grids = candidates(dtype, all, x.offset, y.offset);
  TunedReferences out;
  out.candidates = static_cast<int>(grids.size());
  for (ReferencePass pass : {ReferencePass::copy, ReferencePass::scale_shift}) {
    std::vector<RecordFn> fns;
    for (const ReferenceGrid& g : grids)
      fns.push_back([=, this](CommandRecorder& rec) { return record(rec, pass, dtype, g, elements, x, y); });
    auto t = device.time_interleaved(fns, warmup, runs);
    if (!t) return t.status();
    // The fastest by its fastest run: on a shared machine other work only ever adds time,
    // so with few runs the minimum ranks the grids more steadily than the median.
    size_t best = 0;
    for (size_t i = 1; i < grids.size(); ++i)
      if (t.value()[i].min_ms < t.value()[best].min_ms) best = i;
    if (pass == ReferencePass::copy) {
      out.copy = grids[best];
      out.copy_ms = t.value()[best].median_ms;
    } else {
      out.scale_shift = grids[best];
      out.scale_shift_ms = t.value()[best].median_ms;
      out.scalar_scale_shift_ms = t.value()[0].median_ms;  // candidates() puts the scalar grid first
    }
  }
  return out;
}

std::vector<uint8_t> reference_input(DType dtype, uint64_t elements) {
  const uint32_t eb = dtype == DType::f16 ? 2 : 4;
  std::vector<uint8_t> out(elements * eb);
  for (uint64_t i = 0; i < elements; ++i) {
    const float v = (static_cast<float>(i % 509) - 254.0f) / 64.0f;
    if (dtype == DType::f16) {
      const uint16_t h = float_to_half(v);
      std::memcpy(&out[i * 2], &h, 2);
    } else {
      std::memcpy(&out[i * 4], &v, 4);
    }
  }
  return out;
}

std::string check_reference_output(ReferencePass pass, DType dtype, uint64_t elements, const std::vector<uint8_t>& y,
                                   VkDeviceSize y_offset) {
  const uint32_t eb = dtype == DType::f16 ? 2 : 4;
  if (y.size() < y_offset + elements * eb) return "the output buffer is shorter than the tensor";
  for (uint64_t i = 0; i < elements; ++i) {
    const float x = (static_cast<float>(i % 509) - 254.0f) / 64.0f;
    const float want = pass == ReferencePass::copy ? x : kReferenceScale * x + kReferenceShift;  // exact
    float got = 0;
    if (dtype == DType::f16) {
      uint16_t h = 0;
      std::memcpy(&h, &y[y_offset + i * 2], 2);
      got = half_to_float(h);
    } else {
      std::memcpy(&got, &y[y_offset + i * 4], 4);
    }
    if (got != want)
      return "element " + std::to_string(i) + " of " + std::to_string(elements) + " is " + std::to_string(got) +
             ", expected " + std::to_string(want);
  }
  return "";
}

}  // namespace vknorm::bench
