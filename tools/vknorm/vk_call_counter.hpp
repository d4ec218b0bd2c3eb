// Counts the Vulkan calls vknorm really makes: the context's function table (vk::Dispatch,
// reached through state_of(context).vk) gets counting thunks that forward to the saved
// originals. `vknorm bench --host` reads the counts around each record call.
#pragma once

#include <array>
#include <cstdint>

#include "vk/dispatch.hpp"

namespace vknorm::cli::host {

// What a counted call is, for the bench's columns.
enum class CallClass {
  alloc,     // descriptor-set allocations
  update,    // descriptor updates
  push,      // push constants and push descriptors
  barrier,   // pipeline barriers
  dispatch,  // dispatches
  bind,      // pipeline and descriptor-set binds (JSON only)
  create,    // object creations: pools, pipelines, layouts, memory, ...
};
constexpr int kCallClasses = 7;
const char* to_string(CallClass c);

// The counted functions, one line each: X(member of vk::Dispatch, CallClass). A member the
// device did not load (null) is left alone and counts nothing.
#define VKNORM_COUNTED_CALLS(X)            \
  X(AllocateDescriptorSets, alloc)         \
  X(UpdateDescriptorSetWithTemplate, update) \
  X(CmdPushDescriptorSetWithTemplateKHR, push) \
  X(CmdPipelineBarrier2, barrier)          \
  X(CreateDescriptorUpdateTemplate, create) \
  X(CmdPushConstants, push)                \
  X(CmdPipelineBarrier, barrier)           \
  X(CmdDispatch, dispatch)                 \
  X(CmdBindPipeline, bind)                 \
  X(CmdBindDescriptorSets, bind)           \
  X(CreateDescriptorPool, create)          \
  X(CreateDescriptorSetLayout, create)     \
  X(CreatePipelineLayout, create)          \
  X(CreateShaderModule, create)            \
  X(CreateComputePipelines, create)        \
  X(CreatePipelineCache, create)           \
  X(CreateBuffer, create)                  \
  X(AllocateMemory, create)                \
  X(CreateCommandPool, create)             \
  X(AllocateCommandBuffers, create)        \
  X(CreateFence, create)                   \
  X(CreateQueryPool, create)

enum CountedCall : int {
#define VKNORM_COUNTED_ENUM(name, cls) counted_##name,
  VKNORM_COUNTED_CALLS(VKNORM_COUNTED_ENUM)
#undef VKNORM_COUNTED_ENUM
  kCountedCalls
};

struct CallCounts {
  std::array<uint64_t, kCountedCalls> by_call{};
  uint64_t of(CallClass c) const;
  CallCounts operator-(const CallCounts& earlier) const;
  void keep_max(const CallCounts& other);  // per function, the larger count
};

const char* counted_name(int call);  // "vkAllocateDescriptorSets"
CallClass counted_class(int call);

// Installs the thunks in `table` and restores the originals when destroyed. One counter
// at a time: the originals live in static storage, and a second counter counts nothing.
class CallCounter {
 public:
  explicit CallCounter(vk::Dispatch& table);
  ~CallCounter();
  CallCounter(const CallCounter&) = delete;
  CallCounter& operator=(const CallCounter&) = delete;
  // The calls made through the table since it was installed.
  CallCounts now() const;

 private:
  vk::Dispatch& table_;
  bool active_ = false;
};

}  // namespace vknorm::cli::host
