#include "vk/spirv_bindings.hpp"

#include <string>
#include <unordered_map>
#include <vector>

namespace vknorm::vk {
namespace {

// The opcodes, decorations and storage classes of the SPIR-V specification this reads.
enum : uint32_t {
  kMagic = 0x07230203,
  kOpFunction = 54,
  kOpFunctionEnd = 56,
  kOpFunctionCall = 57,
  kOpVariable = 59,
  kOpLoad = 61,
  kOpStore = 62,
  kOpCopyMemory = 63,
  kOpCopyMemorySized = 64,
  kOpAccessChain = 65,
  kOpInBoundsAccessChain = 66,
  kOpPtrAccessChain = 67,
  kOpArrayLength = 68,
  kOpInBoundsPtrAccessChain = 70,
  kOpDecorate = 71,
  kOpCopyObject = 83,
  kOpAtomicLoad = 227,
  kOpAtomicStore = 228,
  kOpAtomicXor = 242,
  kOpAtomicFlagTestAndSet = 318,
  kOpAtomicFlagClear = 319,
  kOpAtomicFAddEXT = 6035,
  kDecorationBinding = 33,
  kDecorationDescriptorSet = 34,
  kStorageClassUniform = 2,
  kStorageClassStorageBuffer = 12,
};

struct Variable {
  uint32_t storage_class = 0;
  bool is_variable = false;
  bool has_binding = false;
  uint32_t binding = 0, set = 0;
};

Status malformed(const std::string& what) { return Status::internal("SPIR-V reflection: " + what); }

}  // namespace

Result<SpirvBindings> reflect_storage_buffers(const uint32_t* words, size_t bytes) {
  if (!words || bytes % 4 != 0 || bytes < 20 || words[0] != kMagic) return malformed("not a SPIR-V module");
  const size_t count = bytes / 4;
  const uint32_t bound = words[3];  // every id is below it
  std::vector<Variable> ids(bound);
  // Pass 1: decorations and global variables.
  for (size_t at = 5; at < count;) {
    const uint32_t length = words[at] >> 16, op = words[at] & 0xffff;
    if (length == 0 || at + length > count) return malformed("an instruction runs past the end");
    const uint32_t* w = words + at;
    if (op == kOpDecorate && length >= 4 && w[1] < bound) {
      if (w[2] == kDecorationBinding) ids[w[1]].has_binding = true, ids[w[1]].binding = w[3];
      if (w[2] == kDecorationDescriptorSet) ids[w[1]].set = w[3];
    } else if (op == kOpVariable && length >= 4 && w[2] < bound) {
      ids[w[2]].is_variable = true;
      ids[w[2]].storage_class = w[3];
    } else if (op == kOpFunction) {
      break;  // globals come before the first function
    }
    at += length;
  }
  // The descriptor each pointer id reaches: the variable itself, or a pointer derived
  // from it (access chains, copies). Definitions precede their uses in block order.
  std::unordered_map<uint32_t, uint32_t> root;  // pointer id -> variable id
  for (uint32_t id = 0; id < bound; ++id)
    if (ids[id].is_variable && ids[id].has_binding) root[id] = id;

  SpirvBindings out;
  Status refused;
  auto touch = [&](uint32_t pointer, bool write) {
    auto it = root.find(pointer);
    if (it == root.end()) return;
    const Variable& v = ids[it->second];
    if (v.storage_class != kStorageClassStorageBuffer && v.storage_class != kStorageClassUniform) return;
    if (v.storage_class == kStorageClassUniform || v.set != 0 || v.binding >= 32) {
      if (refused.ok())
        refused = malformed("binding " + std::to_string(v.binding) + " of set " + std::to_string(v.set) +
                            " is not a storage buffer of set 0 below binding 32");
      return;
    }
    out.used |= 1u << v.binding;
    if (write) out.written |= 1u << v.binding;
  };

  bool in_function = false;
  for (size_t at = 5; at < count;) {
    const uint32_t length = words[at] >> 16, op = words[at] & 0xffff;
    if (length == 0 || at + length > count) return malformed("an instruction runs past the end");
    const uint32_t* w = words + at;
    at += length;
    if (op == kOpFunction) in_function = true;
    if (op == kOpFunctionEnd) in_function = false;
    if (!in_function) continue;
    switch (op) {
      case kOpLoad:
      case kOpArrayLength:
        if (length >= 4) touch(w[3], false);
        break;
      case kOpStore:
        if (length >= 3) touch(w[1], true);
        break;
      case kOpCopyMemory:
      case kOpCopyMemorySized:
        if (length >= 3) touch(w[1], true), touch(w[2], false);
        break;
      case kOpAccessChain:
      case kOpInBoundsAccessChain:
      case kOpPtrAccessChain:
      case kOpInBoundsPtrAccessChain:
      case kOpCopyObject:
        if (length >= 4) {
          if (auto it = root.find(w[3]); it != root.end()) {
            root[w[2]] = it->second;
            touch(w[3], false);  // referenced, even if the chain's result goes unused
          }
        }
        break;
      case kOpAtomicStore:
      case kOpAtomicFlagClear:
        if (length >= 2) touch(w[1], true);
        break;
      case kOpFunctionCall:  // a pointer passed on: assume the callee reads and writes it
        for (uint32_t i = 4; i < length; ++i) touch(w[i], true);
        break;
      default:
        if ((op >= kOpAtomicLoad && op <= kOpAtomicXor) || op == kOpAtomicFlagTestAndSet || op == kOpAtomicFAddEXT)
          if (length >= 4) touch(w[3], op != kOpAtomicLoad);
        break;
    }
  }
  if (!refused.ok()) return refused;
  return out;
}

}  // namespace vknorm::vk
