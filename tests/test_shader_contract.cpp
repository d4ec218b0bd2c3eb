// The host-shader contract (src/shader_contract.h) as the embedded SPIR-V sees it: the
// push-constant block of every module has the C++ struct's offsets, buffers sit at slot
// bindings, and subgroup operations appear only where VKNORM_KERNELS says. No device needed.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernels.hpp"

namespace vknorm {
namespace {

// What the checks need from a module: its capabilities, the member offsets of its
// push-constant block and the bindings of its descriptors.
struct ModuleFacts {
  std::set<uint32_t> capabilities;
  std::vector<uint32_t> push_offsets;  // by member index
  std::set<uint32_t> bindings;
  uint32_t barriers = 0;  // OpControlBarrier instructions
};

constexpr uint32_t kSpirvMagic = 0x07230203;
constexpr uint32_t kOpCapability = 17, kOpTypePointer = 32, kOpVariable = 59, kOpDecorate = 71,
                   kOpMemberDecorate = 72, kOpControlBarrier = 224;
constexpr uint32_t kDecorationBinding = 33, kDecorationOffset = 35;
constexpr uint32_t kStorageClassPushConstant = 9;
// GroupNonUniform .. GroupNonUniformQuad: what any subgroup operation declares.
constexpr uint32_t kFirstSubgroupCapability = 61, kLastSubgroupCapability = 68;

ModuleFacts read_module(const SpirvModule& m) {
  ModuleFacts facts;
  REQUIRE(m.words != nullptr);
  REQUIRE(m.bytes % 4 == 0);
  const size_t count = m.bytes / 4;
  REQUIRE(count > 5);
  REQUIRE(m.words[0] == kSpirvMagic);
  std::map<uint32_t, uint32_t> pointee;  // pointer type -> pointee of PushConstant pointers
  std::map<uint32_t, std::map<uint32_t, uint32_t>> member_offsets;  // struct -> member -> offset
  uint32_t push_struct = 0;
  for (size_t at = 5; at < count;) {
    const uint32_t length = m.words[at] >> 16, op = m.words[at] & 0xffff;
    if (length == 0 || at + length > count) FAIL("malformed SPIR-V at word " << at);
    const uint32_t* w = m.words + at;
    if (op == kOpCapability) facts.capabilities.insert(w[1]);
    if (op == kOpControlBarrier) ++facts.barriers;
    if (op == kOpTypePointer && w[2] == kStorageClassPushConstant) pointee[w[1]] = w[3];
    if (op == kOpVariable && w[3] == kStorageClassPushConstant) push_struct = pointee.at(w[1]);
    if (op == kOpDecorate && w[2] == kDecorationBinding) facts.bindings.insert(w[3]);
    if (op == kOpMemberDecorate && w[3] == kDecorationOffset) member_offsets[w[1]][w[2]] = w[4];
    at += length;
  }
  REQUIRE_MESSAGE(push_struct != 0, "no push-constant block");
  for (const auto& [member, offset] : member_offsets[push_struct]) {
    if (member != facts.push_offsets.size()) FAIL("push-constant member " << member << " has no offset before it");
    facts.push_offsets.push_back(offset);
  }
  return facts;
}

bool uses_subgroup_operations(const ModuleFacts& facts) {
  for (uint32_t c = kFirstSubgroupCapability; c <= kLastSubgroupCapability; ++c)
    if (facts.capabilities.count(c)) return true;
  return false;
}

bool same_module(const SpirvModule& a, const SpirvModule& b) {
  return a.bytes == b.bytes && std::equal(a.words, a.words + a.bytes / 4, b.words);
}

// The C++ offsets of the push constants' members, in the contract's order.
std::vector<uint32_t> cpp_push_offsets() {
#define VKNORM_OFFSET(name, ...) static_cast<uint32_t>(offsetof(PushConstants, name)),
  return {VKNORM_PUSH_CONSTANTS(VKNORM_OFFSET, VKNORM_OFFSET, VKNORM_OFFSET)};
#undef VKNORM_OFFSET
}

const TensorStorage kStorages[] = {TensorStorage::f32, TensorStorage::f16, TensorStorage::f16_packed};

// What a module needs to hold 16-bit values: Float16, Int16, StorageBuffer16BitAccess,
// UniformAndStorageBuffer16BitAccess, StoragePushConstant16, StorageInputOutput16.
const std::set<uint32_t> k16BitCapabilities = {9, 22, 4433, 4434, 4435, 4436};
constexpr uint32_t kCapabilityStorageBuffer16BitAccess = 4433;

const KernelId kAllKernels[] = {
#define VKNORM_ID(name, variants) KernelId::name,
    VKNORM_KERNELS(VKNORM_ID)
#undef VKNORM_ID
};

// check(id, facts) for every embedded module: each kernel, path and storage.
template <class Check>
void for_each_module(Check check) {
  for (KernelId id : kAllKernels)
    for (bool subgroup : {false, true})
      for (TensorStorage storage : kStorages) {
        CAPTURE(kernel_name(id));
        CAPTURE(subgroup);
        CAPTURE(to_string(storage));
        check(id, read_module(kernel_spirv(id, subgroup, storage)));
      }
}

}  // namespace

TEST_CASE("shader contract: every module's push constants have the C++ struct's offsets") {
  const std::vector<uint32_t> want = cpp_push_offsets();
  for_each_module([&](KernelId, const ModuleFacts& facts) {
    CHECK(facts.push_offsets == want);
    for (uint32_t binding : facts.bindings) CHECK(binding < kSlotCount);
  });
}

TEST_CASE("shader contract: subgroup operations only in the subgroup modules of SUBGROUP kernels") {
  for (KernelId id : kAllKernels)
    for (TensorStorage storage : kStorages) {
      CAPTURE(kernel_name(id));
      CAPTURE(to_string(storage));
      const SpirvModule shared_memory = kernel_spirv(id, false, storage), subgroup = kernel_spirv(id, true, storage);
      // The shared-memory path runs on devices without subgroup operations.
      CHECK_FALSE(uses_subgroup_operations(read_module(shared_memory)));
      if (has_subgroup_variant(id)) {
        // A subgroup variant that changes nothing should be PLAIN: one module fewer.
        CHECK(uses_subgroup_operations(read_module(subgroup)));
      } else {
        CHECK(same_module(shared_memory, subgroup));
      }
    }
}

TEST_CASE("shader contract: barriers only in the kernels whose workgroups reduce together") {
  // SwiftShader runs a module that holds a barrier slowly even where no invocation reaches
  // it (param_partial over LayerNorm rows: 3.7 ms with the planes' reduction compiled in,
  // 0.58 ms without), so a kernel with a path that needs none is two kernels.
  const std::set<KernelId> reducing = {KernelId::stats_partial, KernelId::fused_forward, KernelId::fused_forward_vec4,
                                       KernelId::grad_partial, KernelId::param_partial_planes};
  for_each_module([&](KernelId id, const ModuleFacts& facts) { CHECK((facts.barriers > 0) == (reducing.count(id) == 1)); });
}

TEST_CASE("shader contract: packed float16 modules use no 16-bit type, native ones need 16-bit storage") {
  // The packed variant is for devices without storageBuffer16BitAccess, which refuse
  // a module that declares it.
  for (KernelId id : kAllKernels)
    for (bool subgroup : {false, true}) {
      CAPTURE(kernel_name(id));
      CAPTURE(subgroup);
      for (uint32_t c : read_module(kernel_spirv(id, subgroup, TensorStorage::f16_packed)).capabilities)
        CHECK_MESSAGE(k16BitCapabilities.count(c) == 0, "the packed module declares capability " << c);
      CHECK(read_module(kernel_spirv(id, subgroup, TensorStorage::f16)).capabilities.count(
                kCapabilityStorageBuffer16BitAccess) == 1);
    }
}

TEST_CASE("shader contract: flags are distinct bits") {
  uint32_t seen = 0;
#define VKNORM_FLAG_BIT(Name, NAME, bit)                        \
  CHECK(std::popcount(static_cast<uint32_t>(kFlag##Name)) == 1); \
  CHECK((seen & kFlag##Name) == 0u);                             \
  seen |= kFlag##Name;
  VKNORM_FLAGS(VKNORM_FLAG_BIT)
#undef VKNORM_FLAG_BIT
  CHECK(seen != 0u);
}

}  // namespace vknorm
