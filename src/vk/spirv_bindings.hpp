// The storage-buffer bindings a SPIR-V module statically uses, read off its words: each
// kernel's descriptor set layout holds those and no others (an unused slot then needs no
// buffer behind it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "vknorm/status.hpp"

namespace vknorm::vk {

struct SpirvBindings {
  uint32_t used = 0;     // bit b: binding b of set 0 is referenced from function code
  uint32_t written = 0;  // bit b: ... and may be written (a store or an atomic through it)
};

// Storage buffers of descriptor set 0 with bindings below 32 only (vknorm's kernels and
// the bench's references): anything else a function references is refused, so a layout
// can never miss a binding the shader needs.
Result<SpirvBindings> reflect_storage_buffers(const uint32_t* words, size_t bytes);

}  // namespace vknorm::vk
