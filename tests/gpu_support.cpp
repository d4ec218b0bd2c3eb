#include "gpu_support.hpp"

#include <cstdlib>
#include <map>
#include <mutex>

#include "vknorm/half.hpp"

namespace vknorm::test {
namespace {
std::mutex g_mutex;
std::vector<std::string> g_messages;
std::map<TestDevice, std::unique_ptr<Context>> g_contexts;
std::map<std::string, size_t> g_skipped;  // skip_configuration's count by reason
}  // namespace

std::vector<float> round_to_half(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = half_to_float(float_to_half(v[i]));
  return out;
}

bool skip_configuration(const std::string& reason) {
  std::lock_guard<std::mutex> lock(g_mutex);
  ++g_skipped[reason];
  return true;
}

std::map<std::string, size_t> skipped_configurations() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_skipped;
}

std::string missing_feature(const Context& ctx, DType dtype) {
  if (dtype == DType::f16 && !ctx.capabilities().storage_buffer_16bit) return "no storageBuffer16BitAccess";
  return "";
}

void release_contexts() { g_contexts.clear(); }

std::vector<std::string> take_validation_messages() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return std::exchange(g_messages, {});
}

std::string name(TestDevice device) {
  switch (device) {
    case TestDevice::subgroup: return "subgroup";
    case TestDevice::shared_memory: return "shared-memory";
    case TestDevice::mobile: return "mobile";
  }
  return "?";
}

DescriptorPath test_descriptor_path() {
  const char* path = std::getenv("VKNORM_TEST_DESCRIPTOR_PATH");
  return path && std::string(path) == "pool" ? DescriptorPath::pool : DescriptorPath::automatic;
}

OwnContext::OwnContext(StandaloneOptions options) {
  options.enable_validation = true;
  options.debug_callback = [this](const std::string& m) {
    std::lock_guard<std::mutex> lock(mutex_);
    messages_.push_back(m);
  };
  auto made = Context::create_standalone(options);
  REQUIRE_MESSAGE(made.ok(), made.status().message());
  ctx = std::move(made.value());
}

OwnContext::~OwnContext() {
  ctx.reset();
  for (const std::string& m : messages_) FAIL_CHECK("validation layer: " << m);
}

Context& context_for(TestDevice device) {
  auto& slot = g_contexts[device];
  if (!slot) {
    StandaloneOptions options;
    options.enable_validation = true;
    options.descriptor_path = test_descriptor_path();
    options.debug_callback = [](const std::string& message) {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_messages.push_back(message);
    };
    if (device != TestDevice::subgroup) options.capability_override.subgroup_arithmetic = false;
    if (device == TestDevice::mobile) {
      options.capability_override.max_shared_memory = 16384;
      options.capability_override.max_workgroup_invocations = 128;
      // No real device has grids this small (the minimum is 65535): every pass folds its
      // grid and loops (grid-stride) over what the grid leaves.
      options.capability_override.max_workgroup_count = kMobileGridLimit;
    }
    const ReductionPath path = device == TestDevice::subgroup ? ReductionPath::subgroup : ReductionPath::shared_memory;
    auto context = Context::create_standalone(options);
    REQUIRE_MESSAGE(context.ok(), context.status().message());
    slot = std::move(context.value());
    const Capabilities& caps = slot->capabilities();
    REQUIRE_MESSAGE(caps.reduction_path == path, "device " << caps.device_name << " cannot run the "
                                                           << std::string(to_string(path)) << " path: " << caps.reduction_reason);
    // CTest runs the suite at each lavapipe subgroup size; make sure the setting took.
    const char* want = std::getenv("VKNORM_TEST_EXPECT_SUBGROUP_SIZE");
    if (want && caps.device_name.find("llvmpipe") != std::string::npos)
      REQUIRE_MESSAGE(caps.subgroup_size == static_cast<uint32_t>(std::atoi(want)),
                      "subgroup size " << caps.subgroup_size << ", expected " << want);
    if (device == TestDevice::mobile) {
      REQUIRE(caps.max_workgroup_invocations == 128);
      REQUIRE(caps.max_workgroup_count_x == kMobileGridLimit);
    }
    MESSAGE("context: " << caps.device_name << ", " << name(device) << " configuration, subgroup size "
                        << caps.subgroup_size << ", "
                        << std::string(caps.push_descriptors ? "push descriptors" : "descriptor pool"));
  }
  return *slot;
}

}  // namespace vknorm::test
