// The reference passes `vknorm bench` measures the norms against, on the same device: a copy
// and an elementwise pass y = a * x + b, each the fastest of a few kernels and grids timed on
// the device itself (tune). Their kernels (tools/vknorm/shaders/) belong to the bench: the
// library neither embeds nor creates them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <vulkan/vulkan_core.h>

#include "bench_device.hpp"
#include "kernels.hpp"
#include "vknorm/context.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm::bench {

enum class ReferencePass {
  copy,         // y = x: read once, write once
  scale_shift,  // y = a * x + b: the elementwise pass every forward norm must at least do
};

// What the elementwise reference computes: y = kReferenceScale * x + kReferenceShift.
constexpr float kReferenceScale = 1.5f;
constexpr float kReferenceShift = 0.25f;
// The run of lanes of the vector grids that keep a lane's vectors close together (a SIMD
// chunk of lavapipe at 256 bits; ReferenceGrid::run).
constexpr uint32_t kReferenceRun = 8;

// One way to run a reference pass.
struct ReferenceGrid {
  // false: the scalar grid-stride kernel (copy.comp, scale_shift.comp: one element per
  // invocation per step, as vknorm's own elementwise passes); true: stream_vec4.comp.
  bool vector = true;
  // The vector kernel's access: f32 vec4, f16 f16vec4 (16-bit storage), f16_packed uvec4 of
  // packed halves (no 16-bit storage needed; also valid for native float16 data).
  TensorStorage storage = TensorStorage::f32;
  uint32_t workgroup_size = 256;
  uint32_t items = 1;  // vectors per invocation per step (1, 2 or 4)
  // With items > 1: the lanes' vectors lie `run` lanes apart, in runs of that many lanes
  // (0: a workgroup apart); stream_vec4.comp's pc.chunk_size.
  uint32_t run = 0;
  // Workgroups at most; past it the invocations loop (grid-stride). 0: enough for one
  // step each, up to the device's maxComputeWorkGroupCount.
  uint32_t max_groups = 0;
  // "vec4 256x4", "uvec4 64x1 g1024", "vec4 128x4 r8 g1024", "scalar 256 g1024".
  std::string label() const;
};

// The fastest grid of each pass for one tensor, and what it measured.
struct TunedReferences {
  ReferenceGrid copy, scale_shift;
  double copy_ms = 0, scale_shift_ms = 0;  // the chosen grids' medians while tuning
  double scalar_scale_shift_ms = 0;        // the scalar elementwise kernel's median, timed with them
  int candidates = 0;                      // grids timed per pass
};

// The reference passes' pipelines on one context, created on first use; destroy this
// before the context.
class ReferencePasses {
 public:
  explicit ReferencePasses(Context& context) : context_(context) {}
  ~ReferencePasses();
  ReferencePasses(const ReferencePasses&) = delete;
  ReferencePasses& operator=(const ReferencePasses&) = delete;

  // The grids tune() times for `dtype` on this context: the scalar kernel and a few vector
  // ones (`all`: every workgroup size, items and cap the vector kernel takes, for
  // exploring and for the self-check). Vector grids only where both offsets are multiples
  // of 16 bytes.
  std::vector<ReferenceGrid> candidates(DType dtype, bool all, VkDeviceSize x_offset = 0,
                                        VkDeviceSize y_offset = 0) const;

  // Records one pass over `elements` values of `dtype` from x to y with `grid`. A vector
  // grid needs 16-byte-aligned offsets, and float16 buffers that hold the whole 32-bit word
  // of the last element (it binds whole words, as vknorm's packed float16 does; the other
  // half of that word is left as it was).
  Status record(CommandRecorder& recorder, ReferencePass pass, DType dtype, const ReferenceGrid& grid,
                uint64_t elements, const BufferRef& x, const BufferRef& y);

  // Times every candidate of a pass interleaved (`warmup`, then `runs` each), one pass
  // after the other, and returns the fastest of each (by its fastest run).
  Result<TunedReferences> tune(BenchDevice& device, DType dtype, uint64_t elements, const BufferRef& x,
                               const BufferRef& y, int warmup, int runs, bool all = false);

 private:
  Result<KernelEntry> pipeline(ReferencePass pass, DType dtype, const ReferenceGrid& grid);
  Context& context_;
  // (pass, scalar: dtype / vector: storage, vector, items, workgroup size)
  std::map<std::tuple<ReferencePass, uint32_t, bool, uint32_t, uint32_t>, KernelEntry> pipelines_;
};

// x for the references: element i is ((i % 509) - 254) / 64, in `dtype`. a * x + b of it is
// exact in float16 and float32, so a check compares bits.
std::vector<uint8_t> reference_input(DType dtype, uint64_t elements);

// "" when y (the bytes of the whole buffer) holds `pass` of reference_input at
// `y_offset`, else what is wrong at the first wrong element.
std::string check_reference_output(ReferencePass pass, DType dtype, uint64_t elements,
                                   const std::vector<uint8_t>& y, VkDeviceSize y_offset);

// `vknorm bench --check-references`: runs every grid of both passes (candidates(all)) on
// lengths around the vector widths and at several offsets, reads each output back and
// compares it with the host's, and the bytes around it with what was there. The number of
// outputs checked, or what was wrong first (bench_reference_check.cpp).
Result<int> check_references(BenchDevice& device, ReferencePasses& references, DType dtype);

}  // namespace vknorm::bench
