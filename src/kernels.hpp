// The compute kernels vknorm embeds, and the pipelines prepared from them per context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <atomic>
#include <mutex>

#include <vulkan/vulkan_core.h>

#include "shader_contract.h"
#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {
struct ContextState;
struct Capabilities;

// Every shaders/<name>.comp and how it is built (cmake/shaders.cmake reads this list):
//  SUBGROUP  uses subgroup operations: built with and without them (USE_SUBGROUP=1/0),
//            the context's reduction path picks the module;
//  PLAIN     uses none: one module serves both paths. The build compiles it both ways and
//            fails if the two differ.
// A <name>_vec4 kernel is <name> with 4 elements per access (shaders/vec4.glsl), which the
// recorder runs in its place where the shape and the tensors' offsets allow
// (src/ops/planner.hpp, pass_for_offsets); where a kernel has several, <name>_<how>_vec4
// (batch_norm_apply: _columns_, _columns_pair_ for planes of 4 elements or more, and
// _cached_ for the inference apply, and _wide_ for 8 elements per lane, float16's eight
// halves in one 16-byte access; normalize: _channel_columns_ and
// _channel_columns_pair_, batch_norm_apply's columns body with batch statistics, for a
// group per channel).
// (The references `vknorm bench` measures the norms against live with the bench, in tools/.)
#define VKNORM_KERNELS(X)    \
  X(stats_partial, SUBGROUP) \
  X(stats_partial_columns_vec4, PLAIN) \
  X(stats_finalize, PLAIN)   \
  X(normalize, PLAIN)        \
  X(normalize_vec4, PLAIN)   \
  X(fused_forward, SUBGROUP) \
  X(fused_forward_vec4, SUBGROUP) \
  X(team_forward, SUBGROUP)  \
  X(team_forward_vec4, SUBGROUP) \
  X(team_forward_affine_vec4, SUBGROUP) \
  X(team_forward_affine_rows_vec4, SUBGROUP) \
  X(team_forward_weight_vec4, SUBGROUP) \
  X(team_forward_affine_blocks_vec4, SUBGROUP) \
  X(team_forward_weight_blocks_vec4, SUBGROUP) \
  X(team_forward_channel_vec4, SUBGROUP) \
  X(team_forward_planes_vec4, SUBGROUP) \
  X(grad_partial, SUBGROUP)  \
  X(grad_partial_columns_vec4, PLAIN) \
  X(team_backward, SUBGROUP) \
  X(team_backward_affine_vec4, SUBGROUP) \
  X(team_backward_affine_blocks_vec4, SUBGROUP) \
  X(team_backward_channel_vec4, SUBGROUP) \
  X(team_backward_planes_vec4, SUBGROUP) \
  X(grad_finalize, PLAIN)    \
  X(grad_input, PLAIN)       \
  X(grad_input_vec4, PLAIN)  \
  X(grad_input_columns_vec4, PLAIN) \
  X(param_partial, PLAIN)    \
  X(param_partial_planes, SUBGROUP) \
  X(param_partial_vec4, PLAIN) \
  X(param_finalize, PLAIN)   \
  X(param_finalize_vec4, PLAIN) \
  X(batch_norm_coefficients, PLAIN) \
  X(batch_norm_apply, PLAIN) \
  X(batch_norm_apply_vec4, PLAIN) \
  X(batch_norm_apply_columns_vec4, PLAIN) \
  X(batch_norm_apply_cached_vec4, PLAIN) \
  X(batch_norm_apply_columns_cached_vec4, PLAIN) \
  X(batch_norm_apply_columns_pair_vec4, PLAIN) \
  X(batch_norm_apply_columns_pair_cached_vec4, PLAIN) \
  X(batch_norm_apply_columns_units_vec4, PLAIN) \
  X(batch_norm_apply_columns_units_cached_vec4, PLAIN) \
  X(batch_norm_apply_columns_pair_wide_vec4, PLAIN) \
  X(batch_norm_apply_columns_pair_cached_wide_vec4, PLAIN) \
  X(batch_norm_apply_columns_units_wide_vec4, PLAIN) \
  X(batch_norm_apply_columns_units_cached_wide_vec4, PLAIN) \
  X(normalize_channel_columns_vec4, PLAIN) \
  X(normalize_channel_columns_pair_vec4, PLAIN) \
  X(normalize_channel_columns_units_vec4, PLAIN) \
  X(normalize_channel_columns_stats_units_vec4, PLAIN) \
  X(normalize_channel_columns_stats_units_wide_vec4, PLAIN) \
  X(normalize_channel_columns_pair_wide_vec4, PLAIN) \
  X(team_backward_affine_rows_vec4, SUBGROUP)

enum class KernelId : uint32_t {
#define VKNORM_ENUM(name, variants) name,
  VKNORM_KERNELS(VKNORM_ENUM)
#undef VKNORM_ENUM
  count_,
};
const char* kernel_name(KernelId id);

// The kernel `id` is a variant of: <name> for <name>_vec4 and <name>_<how>_vec4, else `id`
// itself. A variant has its base's workgroup size and workspace records, and needs at most
// its shared memory and subgroup operations.
KernelId base_kernel(KernelId id);

// Whether `id` is built with and without subgroup operations (SUBGROUP in VKNORM_KERNELS).
bool has_subgroup_variant(KernelId id);

// How the kernels hold tensors (x, dy, y, dx, residual): float32; float16 through 16-bit
// storage; or float16 halves packed two to a 32-bit word, where the context has no
// storageBuffer16BitAccess (loads unpack a word, a store of half a word compare-and-swaps).
enum class TensorStorage : uint32_t { f32, f16, f16_packed };
constexpr uint32_t kTensorStorageCount = 3;
const char* to_string(TensorStorage storage);

// The storage the kernels use for `dtype` on a device: packed float16 unless its 16-bit
// storage is enabled (Capabilities::storage_buffer_16bit).
TensorStorage tensor_storage(DType dtype, const Capabilities& caps);

// The SPIR-V `id` runs as on the subgroup or the shared-memory reduction path, with
// `storage` (a PLAIN kernel's one module on both paths).
struct SpirvModule {
  const uint32_t* words = nullptr;
  size_t bytes = 0;
};
SpirvModule kernel_spirv(KernelId id, bool subgroup_path, TensorStorage storage);

// The workgroup size every kernel is specialized with on a device: the largest power of
// two up to 256 that its limits allow, leaving room for the reduction scratch.
uint32_t workgroup_size_for(const Capabilities& caps);

// The workgroup size of team_forward and team_backward: on a CPU device 8 subgroups, so
// that a few dozen groups still make several workgroups per host thread (lavapipe runs a
// workgroup per thread: with one each, any delay of one thread delays the whole pass);
// elsewhere workgroup_size_for.
uint32_t team_workgroup_size(const Capabilities& caps);

// Whether each buffer load whose address differs per lane is a loop over the lanes, so that
// the count of load instructions is what a kernel costs: lavapipe (the driver,
// VK_DRIVER_ID_MESA_LLVMPIPE). Rules that trade other work for fewer loads key on this.
bool loads_loop_over_lanes(const Capabilities& caps);

// Groups per team block (shaders/reduce.glsl: team blocks): VKNORM_TEAM_BLOCK_ROWS where
// loads_loop_over_lanes (lavapipe), where the team kernels whose gamma varies by unit take their _blocks_ variants;
// elsewhere 1. Measured (f32, LayerNorm 512x768 and 4096x1024, RMSNorm 2048x4096, forward
// and backward, medians of 3-4 runs, alternating): lavapipe at 256 and 128-bit vectors took
// 4-23% less time with blocks, SwiftShader 5-22% more. A GPU wants many teams in flight and
// its caches serve gamma (not yet measured on one).
uint32_t team_block_rows(const Capabilities& caps);
// Whether `id` is one of those _blocks_ variants.
bool is_team_blocks_kernel(KernelId id);

// The workgroup size kernel `id` is specialized with on a device (one of the two above).
uint32_t kernel_workgroup_size(const Capabilities& caps, KernelId id);

// Values per invocation that fused_forward keeps in registers (VALUES in the shader).
constexpr uint32_t kFusedValuesPerInvocation = 16;

// Workgroups of a grid-stride pass over a whole tensor (the elementwise passes and the
// bench's references): enough to fill a large GPU, few enough that per-workgroup costs
// (lavapipe's above all) stay small.
constexpr uint32_t kGridStrideWorkgroups = 1024;

// The largest group team_forward and team_backward take on a CPU device: read twice,
// the second read must still hit cache. A group of contiguous runs (I > 1: NCHW planes,
// LayerNorm rows) streams through cache lines and may be larger than one of single
// elements a row apart (channels-last BatchNorm), which touches a line per element.
constexpr uint64_t kTeamMaxGroupSize = 8192;
constexpr uint64_t kTeamMaxContiguousGroupSize = 65536;

// Channels-last split passes take a lane per column (the column view of
// shaders/common.glsl) when a row has at least kColumnMinColumns (fewer would leave most
// lanes sharing one) and a group at most kColumnMaxGroupColumns of them (each column of a
// group is a partial that the finalize passes merge).
constexpr uint64_t kColumnMinColumns = 32;
constexpr uint64_t kColumnMaxGroupColumns = 16;
// On a CPU device the rules also send the split passes through the column view for planes
// (NCHW, I > 1) of up to kColumnMaxPlaneColumns where gamma is constant in a group
// (src/ops/planner.cpp, choose): BatchNorm 32x2048x7x7 NCHW training forward (planes of 49)
// went from the team's 4.57x the elementwise pass to 2.89x on lavapipe and from 4.81x to
// 2.92x on SwiftShader (f32, medians of 3 and 2 alternating `bench --quick` runs); its
// backward (since 2026-12-05: grad_partial_columns_vec4, grad_input_columns_vec4) from
// 4.71x to 2.98x (f16 5.58x to 3.78x) on lavapipe and from 4.95x to 2.39x on SwiftShader
// (3 and 2 alternating runs; 4.84x against the team's 4.36x before those kernels).
// Elsewhere a tuning cache may choose it (ColumnView::on, has_plane_column_view).
constexpr uint64_t kColumnMaxPlaneColumns = 64;

// The host-shader contract (src/shader_contract.h), expanded into C++ here and into GLSL
// by shaders/common.glsl.

// Slot roles: kSlot<Name> is the binding of slot <Name>.
enum Slot : uint32_t {
#define VKNORM_SLOT_ENUM(binding, Name, name, element) kSlot##Name = binding,
  VKNORM_SLOTS(VKNORM_SLOT_ENUM)
#undef VKNORM_SLOT_ENUM
  kSlotCount = VKNORM_SLOT_COUNT,
};

struct PushConstants {
#define VKNORM_PUSH_BASES(name) uint32_t name[kSlotCount] = {};
#define VKNORM_PUSH_U32(name, init) uint32_t name = init;
#define VKNORM_PUSH_F32(name, init) float name = init;
  VKNORM_PUSH_CONSTANTS(VKNORM_PUSH_BASES, VKNORM_PUSH_U32, VKNORM_PUSH_F32)
#undef VKNORM_PUSH_BASES
#undef VKNORM_PUSH_U32
#undef VKNORM_PUSH_F32
};

enum Flags : uint32_t {
#define VKNORM_FLAG_ENUM(Name, NAME, bit) kFlag##Name = 1u << bit,
  VKNORM_FLAGS(VKNORM_FLAG_ENUM)
#undef VKNORM_FLAG_ENUM
};

// Workspace records, in floats (their fields: src/shader_contract.h).
constexpr uint32_t kStatsRecordFloats = VKNORM_STATS_RECORD_FLOATS;  // count, mean, M2
constexpr uint32_t kSumsRecordFloats = VKNORM_SUMS_RECORD_FLOATS;    // sum of dy, sum of dy * xhat
constexpr uint32_t kCoefRecordFloats = VKNORM_COEF_RECORD_FLOATS;    // invstd, b, c

namespace contract_check {
// The bindings are 0, 1, ... in list order, so kSlotCount slots cover them all.
#define VKNORM_SLOT_BINDING(binding, Name, name, element) binding,
constexpr uint32_t kBindings[] = {VKNORM_SLOTS(VKNORM_SLOT_BINDING)};
#undef VKNORM_SLOT_BINDING
constexpr bool bindings_in_order() {
  for (uint32_t i = 0; i < sizeof(kBindings) / sizeof(kBindings[0]); ++i)
    if (kBindings[i] != i) return false;
  return sizeof(kBindings) / sizeof(kBindings[0]) == kSlotCount;
}
static_assert(bindings_in_order(), "VKNORM_SLOTS: bindings must be 0, 1, ..., VKNORM_SLOT_COUNT - 1");

// Every member is 4 bytes with no padding: the offsets of GLSL's std430 block.
#define VKNORM_COUNT_BASES(name) +kSlotCount
#define VKNORM_COUNT_ONE(name, init) +1
constexpr uint32_t kPushWords = 0 VKNORM_PUSH_CONSTANTS(VKNORM_COUNT_BASES, VKNORM_COUNT_ONE, VKNORM_COUNT_ONE);
#undef VKNORM_COUNT_BASES
#undef VKNORM_COUNT_ONE
static_assert(sizeof(PushConstants) == 4 * kPushWords, "PushConstants must be packed 4-byte members");
static_assert(sizeof(PushConstants) <= 128, "Vulkan guarantees only 128 bytes of push constants");
}  // namespace contract_check

// The slots kernel `id`'s SPIR-V statically uses, and those it may write, as bit masks
// (src/vk/spirv_bindings.hpp): what its set layout holds. A pure function of the module.
struct SlotMasks {
  uint32_t used = 0, written = 0;
};
Result<SlotMasks> kernel_slot_masks(KernelId id, bool subgroup_path, TensorStorage storage);

// The slot whose descriptor a dispatch also gives slot `slot`, which the kernel uses
// (`used`) but the pass leaves unbound (not in `bound`): the lowest bound slot the kernel
// accesses the same way (written, or only read), so that the dispatch's descriptors show
// no access it does not make. -1 when there is none.
int stand_in_slot(uint32_t slot, uint32_t used, uint32_t written, uint32_t bound);

// One pipeline with layouts of its own: its set layout holds only the storage buffers its
// SPIR-V statically uses (src/vk/spirv_bindings.hpp), and its update template writes them
// from a VkDescriptorBufferInfo[kSlotCount] indexed by slot. Immutable once made.
struct KernelEntry {
  const char* name = "";  // a string literal: the kernel's name, for messages
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkDescriptorUpdateTemplate update_template = VK_NULL_HANDLE;
  uint32_t workgroup_size = 0;
  uint32_t slots = 0;          // bit s: slot s is in the set layout (the kernel may touch it)
  uint32_t written_slots = 0;  // of those, the slots the kernel may write
};

// Makes a KernelEntry from SPIR-V built like shaders/*.comp (common.glsl's slots, push
// constants and specialization constants), for the context's descriptor path (push
// descriptors or sets from a pool). The caller destroys it with destroy_kernel_entry:
// how the bench makes its reference passes (tools/vknorm/bench_references.cpp).
Result<KernelEntry> create_kernel_entry(ContextState& state, const uint32_t* words, size_t bytes,
                                        uint32_t workgroup_size, const char* name);  // `name`: a literal
void destroy_kernel_entry(ContextState& state, KernelEntry& entry);

// The Vulkan objects a KernelCache holds (Context::footprint reads them).
struct ObjectCounts {
  uint32_t pipelines = 0, pipeline_layouts = 0, set_layouts = 0, update_templates = 0;
};

// Creates pipelines on first use (or up front through ensure / prepare) and keeps them;
// safe to call from several threads. Once a pipeline exists, get() takes no lock: it
// reads an entry published atomically; creation holds a mutex and checks again.
class KernelCache {
 public:
  void destroy(ContextState& state);
  // The entry of (id, dtype), created now if missing, unless the context requires
  // prepared kernels (ContextState::require_prepared_kernels): then a missing one fails.
  // float16 runs in the context's storage (tensor_storage): native or packed.
  Result<const KernelEntry*> get(ContextState& state, KernelId id, DType dtype);
  // Creates (id, dtype) if missing: true when this call created it.
  Result<bool> ensure(ContextState& state, KernelId id, DType dtype);
  Status prepare(ContextState& state, DType dtype);  // every kernel of one dtype
  Status prepare_all(ContextState& state);            // both dtypes
  ObjectCounts counts() const;
  // Whether (id, dtype)'s pipeline exists: which variant a record call created (tests).
  bool created(KernelId id, DType dtype) const;

 private:
  static constexpr size_t kKernels = static_cast<size_t>(KernelId::count_);
  static size_t index(DType dtype) { return dtype == DType::f16 ? 1 : 0; }
  std::mutex create_mutex_;
  // entries_[kernel][dtype] is written once, under the mutex, before published_ points at
  // it. A context's float16 is native or packed, never both: one entry per dtype.
  KernelEntry entries_[kKernels][2];
  std::atomic<const KernelEntry*> published_[kKernels][2] = {};
};

}  // namespace vknorm
