// Counts what a record call really puts into a command buffer and into descriptor sets:
// counting thunks swapped into the context's function table (state_of(ctx).vk, the one
// every record call goes through), forwarding to the saved originals, which come back when
// the counter goes. A test can then prove a refused call recorded nothing at all.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "context_state.hpp"

namespace vknorm::test {

// Every vkCmd* in vknorm's function table, and the descriptor-set calls of the pool path.
#define VKNORM_TEST_RECORDED_CALLS(X)   \
  X(CmdBindPipeline)                    \
  X(CmdBindDescriptorSets)              \
  X(CmdPushConstants)                   \
  X(CmdPushDescriptorSetWithTemplateKHR) \
  X(CmdDispatch)                        \
  X(CmdPipelineBarrier)                 \
  X(CmdPipelineBarrier2)                \
  X(CmdCopyBuffer)                      \
  X(CmdResetQueryPool)                  \
  X(CmdWriteTimestamp)                  \
  X(AllocateDescriptorSets)             \
  X(UpdateDescriptorSetWithTemplate)

enum RecordedCall : int {
#define VKNORM_TEST_ENUM(name) recorded_##name,
  VKNORM_TEST_RECORDED_CALLS(VKNORM_TEST_ENUM)
#undef VKNORM_TEST_ENUM
  kRecordedCalls
};

namespace recorded_detail {
inline std::array<std::atomic<uint64_t>, kRecordedCalls> counts{};

template <int Call, class Pfn>
struct Thunk;
template <int Call, class R, class... Args>
struct Thunk<Call, R(VKAPI_PTR*)(Args...)> {
  static inline R(VKAPI_PTR* original)(Args...) = nullptr;
  static VKAPI_ATTR R VKAPI_CALL call(Args... args) {
    ++counts[Call];
    return original(args...);
  }
};
}  // namespace recorded_detail

// One at a time (the originals live in static storage). A function the device did not
// load (null: push descriptors or synchronization2 off) is left alone and counts nothing.
class RecordedCalls {
 public:
  explicit RecordedCalls(Context& ctx) : table_(state_of(ctx).vk) {
    for (auto& c : recorded_detail::counts) c = 0;
#define VKNORM_TEST_INSTALL(name)                                                          \
  if (table_.name) {                                                                       \
    using T = recorded_detail::Thunk<recorded_##name, decltype(table_.name)>;              \
    T::original = table_.name;                                                             \
    table_.name = &T::call;                                                                \
  }
    VKNORM_TEST_RECORDED_CALLS(VKNORM_TEST_INSTALL)
#undef VKNORM_TEST_INSTALL
  }
  ~RecordedCalls() {
#define VKNORM_TEST_RESTORE(name)                                                          \
  if (table_.name) table_.name = recorded_detail::Thunk<recorded_##name, decltype(table_.name)>::original;
    VKNORM_TEST_RECORDED_CALLS(VKNORM_TEST_RESTORE)
#undef VKNORM_TEST_RESTORE
  }
  RecordedCalls(const RecordedCalls&) = delete;
  RecordedCalls& operator=(const RecordedCalls&) = delete;

  uint64_t of(RecordedCall call) const { return recorded_detail::counts[call]; }
  uint64_t total() const {
    uint64_t sum = 0;
    for (const auto& c : recorded_detail::counts) sum += c;
    return sum;
  }
  // The non-zero counts since installed ("vkCmdDispatch 3, ..."), for failure messages.
  std::string describe() const {
    std::string out;
    int i = 0;
#define VKNORM_TEST_DESCRIBE(name)                                                               \
  if (uint64_t n = recorded_detail::counts[i++])                                                \
    out += (out.empty() ? "" : ", ") + std::string("vk" #name " ") + std::to_string(n);
    VKNORM_TEST_RECORDED_CALLS(VKNORM_TEST_DESCRIBE)
#undef VKNORM_TEST_DESCRIBE
    return out.empty() ? "none" : out;
  }

 private:
  vk::Dispatch& table_;
};

}  // namespace vknorm::test
