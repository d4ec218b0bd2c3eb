#include "validation.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "env.hpp"

namespace vknorm::cli {
namespace {
// Global: SyncBatchNorm's thread ranks each have a context, and a message can arrive while
// a context is destroyed, after whatever created it has returned.
std::mutex g_mutex;
std::vector<std::string> g_messages;
}  // namespace

bool validation_requested() {
  return env::equals("VKNORM_VALIDATION", "1");
}

void apply_validation(StandaloneOptions& options) {
  if (!validation_requested()) return;
  options.enable_validation = true;
  options.debug_callback = [](const std::string& message) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_messages.push_back(message);
  };
}

int validation_verdict(const char* command, int exit_code) {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const std::string& m : g_messages) std::fprintf(stderr, "%s: validation layer: %s\n", command, m.c_str());
  if (g_messages.empty()) return exit_code;
  std::fprintf(stderr, "%s: %zu validation-layer message(s) with VKNORM_VALIDATION=1\n", command, g_messages.size());
  return 1;
}

}  // namespace vknorm::cli
