#include "vk_call_counter.hpp"

#include <algorithm>

namespace vknorm::cli::host {
namespace {

std::array<uint64_t, kCountedCalls> g_counts{};

// One thunk per counted function: counts, then calls the original the counter saved.
template <int Index, class Fn>
struct Thunk;
template <int Index, class R, class... Args>
struct Thunk<Index, R(VKAPI_PTR*)(Args...)> {
  static inline R(VKAPI_PTR* original)(Args...) = nullptr;
  static R VKAPI_CALL call(Args... args) {
    ++g_counts[Index];
    return original(args...);
  }
};

constexpr const char* kNames[] = {
#define VKNORM_COUNTED_NAME(name, cls) "vk" #name,
    VKNORM_COUNTED_CALLS(VKNORM_COUNTED_NAME)
#undef VKNORM_COUNTED_NAME
};
constexpr CallClass kClasses[] = {
#define VKNORM_COUNTED_CLASS(name, cls) CallClass::cls,
    VKNORM_COUNTED_CALLS(VKNORM_COUNTED_CLASS)
#undef VKNORM_COUNTED_CLASS
};

bool g_installed = false;

}  // namespace

const char* to_string(CallClass c) {
  switch (c) {
    case CallClass::alloc: return "alloc";
    case CallClass::update: return "update";
    case CallClass::push: return "push";
    case CallClass::barrier: return "barrier";
    case CallClass::dispatch: return "dispatch";
    case CallClass::bind: return "bind";
    case CallClass::create: return "create";
  }
  return "?";
}

const char* counted_name(int call) { return kNames[call]; }
CallClass counted_class(int call) { return kClasses[call]; }

uint64_t CallCounts::of(CallClass c) const {
  uint64_t n = 0;
  for (int i = 0; i < kCountedCalls; ++i)
    if (kClasses[i] == c) n += by_call[i];
  return n;
}

CallCounts CallCounts::operator-(const CallCounts& earlier) const {
  CallCounts d;
  for (int i = 0; i < kCountedCalls; ++i) d.by_call[i] = by_call[i] - earlier.by_call[i];
  return d;
}

void CallCounts::keep_max(const CallCounts& other) {
  for (int i = 0; i < kCountedCalls; ++i) by_call[i] = std::max(by_call[i], other.by_call[i]);
}

CallCounter::CallCounter(vk::Dispatch& table) : table_(table) {
  // The thunks' originals are static: a second counter counts nothing.
  if (g_installed) return;
  g_installed = active_ = true;
  g_counts = {};
#define VKNORM_COUNTED_INSTALL(name, cls)                                     \
  if (table.name) {                                                           \
    using T = Thunk<counted_##name, decltype(table.name)>;                    \
    T::original = table.name;                                                 \
    table.name = &T::call;                                                    \
  }
  VKNORM_COUNTED_CALLS(VKNORM_COUNTED_INSTALL)
#undef VKNORM_COUNTED_INSTALL
}

CallCounter::~CallCounter() {
  if (!active_) return;
#define VKNORM_COUNTED_RESTORE(name, cls) \
  if (table_.name) table_.name = Thunk<counted_##name, decltype(table_.name)>::original;
  VKNORM_COUNTED_CALLS(VKNORM_COUNTED_RESTORE)
#undef VKNORM_COUNTED_RESTORE
  g_installed = false;
}

CallCounts CallCounter::now() const {
  CallCounts c;
  c.by_call = g_counts;
  return c;
}

}  // namespace vknorm::cli::host
