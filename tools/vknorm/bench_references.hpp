// The reference passes `vknorm bench` measures the norms against, on the same device with
// the same slots, grid and workgroup size as vknorm's own elementwise passes. Their kernels
// (tools/vknorm/shaders/) belong to the bench: the library neither embeds nor creates them.
#pragma once

#include <cstdint>
#include <map>
#include <utility>

#include <vulkan/vulkan_core.h>

#include "kernels.hpp"
#include "vknorm/context.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/recorder.hpp"

namespace vknorm::bench {

enum class ReferencePass {
  copy,         // y = x: read once, write once
  scale_shift,  // y = a * x + b: the elementwise pass every forward norm must at least do
};

// The reference passes' pipelines on one context, created on first use; destroy this
// before the context.
class ReferencePasses {
 public:
  explicit ReferencePasses(Context& context) : context_(context) {}
  ~ReferencePasses();
  ReferencePasses(const ReferencePasses&) = delete;
  ReferencePasses& operator=(const ReferencePasses&) = delete;

  // Records one pass over `elements` values of `dtype` from x to y.
  Status record(CommandRecorder& recorder, ReferencePass pass, DType dtype, uint64_t elements, const BufferRef& x,
                const BufferRef& y);

 private:
  Result<KernelEntry> pipeline(ReferencePass pass, DType dtype);
  Context& context_;
  std::map<std::pair<ReferencePass, DType>, KernelEntry> pipelines_;
};

}  // namespace vknorm::bench
