// The compute kernels vknorm embeds, and the pipelines prepared from them per context.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include <vulkan/vulkan_core.h>

#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm {
struct ContextState;
struct Capabilities;

// Every shaders/<name>.comp; cmake/shaders.cmake builds each in four variants. (The
// references `vknorm bench` measures the norms against live with the bench, in tools/.)
#define VKNORM_KERNELS(X) \
  X(stats_partial)        \
  X(stats_finalize)       \
  X(normalize)            \
  X(fused_forward)        \
  X(team_forward)         \
  X(grad_partial)         \
  X(team_backward)        \
  X(grad_finalize)        \
  X(grad_input)           \
  X(param_partial)        \
  X(param_finalize)

enum class KernelId : uint32_t {
#define VKNORM_ENUM(name) name,
  VKNORM_KERNELS(VKNORM_ENUM)
#undef VKNORM_ENUM
  count_,
};
const char* kernel_name(KernelId id);

// The workgroup size every kernel is specialized with on a device: the largest power of
// two up to 256 that its limits allow, leaving room for the reduction scratch.
uint32_t workgroup_size_for(const Capabilities& caps);

// The workgroup size of team_forward and team_backward: on a CPU device 8 subgroups, so
// that a few dozen groups still make several workgroups per host thread (lavapipe runs a
// workgroup per thread: with one each, any delay of one thread delays the whole pass);
// elsewhere workgroup_size_for.
uint32_t team_workgroup_size(const Capabilities& caps);

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

// Slot roles, as in shaders/common.glsl.
enum Slot : uint32_t {
  kSlotX, kSlotDy, kSlotOut, kSlotWeight, kSlotBias, kSlotMean, kSlotStat, kSlotAux0, kSlotAux1, kSlotWork,
  kSlotSide, kSlotDside,
  kSlotCount,
};

// Must match the push-constant block of shaders/common.glsl.
struct PushConstants {
  uint32_t base[kSlotCount] = {};
  uint32_t B = 1, O = 1, K = 1, I = 1;
  uint32_t cpg = 1, inner = 1;
  uint32_t Op = 1, Kp = 1, Ip = 1;
  uint32_t chunks = 1, chunk_size = 0;
  uint32_t pchunks = 1, pchunk_size = 0;
  uint32_t coef_base = 0, param_base = 0;
  uint32_t flags = 0;
  float eps = 0.0f;
  float momentum = 0.0f;
};
static_assert(sizeof(PushConstants) <= 128, "Vulkan guarantees only 128 bytes of push constants");

enum Flags : uint32_t {
  kFlagWeight = 1,
  kFlagBias = 2,
  kFlagUpdateRunning = 4,
  kFlagStatsAreVar = 8,
  kFlagBatchStats = 16,
  kFlagRms = 32,
  kFlagGammaVaries = 64,
  kFlagResidual = 128,
  kFlagRelu = 256,
  kFlagColumns = 512,
  kFlagPlaneParams = 1024,
};

struct Kernel {
  VkPipeline pipeline = VK_NULL_HANDLE;
  uint32_t workgroup_size = 0;
};

// Creates pipelines on first use (or up front through prepare_all) and keeps them; safe
// to call from several threads.
class KernelCache {
 public:
  Status init(ContextState& state);
  void destroy(ContextState& state);
  Result<Kernel> get(ContextState& state, KernelId id, DType dtype);
  Status prepare(ContextState& state, DType dtype);  // every kernel of one dtype
  Status prepare_all(ContextState& state);            // every dtype the device supports
  // A pipeline of this cache's layout from SPIR-V built like shaders/*.comp (common.glsl's
  // slots, push constants and specialization constants), which the caller keeps and
  // destroys: how the bench makes its reference passes (tools/vknorm/bench_references.cpp).
  Result<VkPipeline> create_pipeline(ContextState& state, const uint32_t* words, size_t bytes,
                                     uint32_t workgroup_size, const char* name);
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }

 private:
  std::mutex mutex_;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  std::map<std::pair<KernelId, DType>, Kernel> kernels_;
};

}  // namespace vknorm
