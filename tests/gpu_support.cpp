#include "gpu_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "env.hpp"
#include "vknorm/half.hpp"

namespace vknorm::test {
namespace {
std::mutex g_mutex;
std::vector<std::string> g_messages;
std::map<TestDevice, std::unique_ptr<Context>> g_contexts;
std::map<std::string, size_t> g_skipped;  // skip_configuration's count by reason
// context_for's contexts that cannot run their configuration, with what they lack.
std::map<const Context*, std::string> g_lacking;
}  // namespace

std::vector<float> round_to_half(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = half_to_float(float_to_half(v[i]));
  return out;
}

Buffer floats(Context& ctx, const std::vector<float>& values, size_t count) {
  auto made = ctx.create_buffer(std::max<size_t>(4, count * 4));
  REQUIRE_MESSAGE(made.ok(), made.status().message());
  if (!values.empty()) std::memcpy(made->data(), values.data(), values.size() * 4);
  return std::move(made.value());
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
  // float16 needs nothing: without storageBuffer16BitAccess it runs packed in 32-bit words.
  (void)dtype;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_lacking.find(&ctx);
  return it == g_lacking.end() ? "" : it->second;
}

void release_contexts() {
  g_contexts.clear();
  std::lock_guard<std::mutex> lock(g_mutex);
  g_lacking.clear();
}

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
  return env::equals("VKNORM_TEST_DESCRIPTOR_PATH", "pool") ? DescriptorPath::pool : DescriptorPath::automatic;
}

OwnContext::OwnContext(StandaloneOptions options) {
  options.enable_validation = enable_validation_layer();
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
    options.enable_validation = enable_validation_layer();
    options.descriptor_path = test_descriptor_path();
    options.debug_callback = [](const std::string& message) {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_messages.push_back(message);
    };
    // VKNORM_TEST_NO_SUBGROUP_ARITHMETIC=1 plays a device without it for the subgroup
    // configuration too, which its tests then skip (CTest skipped_configurations_counted).
    if (device != TestDevice::subgroup || env::equals("VKNORM_TEST_NO_SUBGROUP_ARITHMETIC", "1"))
      options.capability_override.subgroup_arithmetic = false;
    if (device == TestDevice::mobile) {
      options.capability_override.max_shared_memory = 16384;
      options.capability_override.max_workgroup_invocations = 128;
      options.capability_override.storage_buffer_16bit = false;
      // No real device has grids this small (the minimum is 65535): every pass folds its
      // grid and loops (grid-stride) over what the grid leaves.
      options.capability_override.max_workgroup_count = kMobileGridLimit;
    }
    const ReductionPath path = device == TestDevice::subgroup ? ReductionPath::subgroup : ReductionPath::shared_memory;
    auto context = Context::create_standalone(options);
    REQUIRE_MESSAGE(context.ok(), context.status().message());
    slot = std::move(context.value());
    const Capabilities& caps = slot->capabilities();
    // A device without subgroup arithmetic in compute shaders (some mobile GPUs) cannot run
    // the subgroup configuration: its tests skip it (missing_feature), counted.
    if (caps.reduction_path != path) {
      REQUIRE_MESSAGE(device == TestDevice::subgroup, "device " << caps.device_name << " cannot run the "
                                                                << std::string(to_string(path)) << " path: " << caps.reduction_reason);
      std::lock_guard<std::mutex> lock(g_mutex);
      g_lacking[slot.get()] = "no subgroup arithmetic in compute shaders";
    }
    // CTest runs the suite at each lavapipe subgroup size; make sure the setting took.
    const std::optional<std::string> want = env::get("VKNORM_TEST_EXPECT_SUBGROUP_SIZE");
    if (want && caps.device_name.find("llvmpipe") != std::string::npos)
      REQUIRE_MESSAGE(caps.subgroup_size == static_cast<uint32_t>(std::atoi(want->c_str())),
                      "subgroup size " << caps.subgroup_size << ", expected " << *want);
    if (device == TestDevice::mobile) {
      REQUIRE(caps.max_workgroup_invocations == 128);
      REQUIRE(caps.max_workgroup_count_x == kMobileGridLimit);
      REQUIRE_FALSE(caps.storage_buffer_16bit);
    }
    MESSAGE("context: " << caps.device_name << ", " << name(device) << " configuration, subgroup size "
                        << caps.subgroup_size << ", "
                        << std::string(caps.push_descriptors ? "push descriptors" : "descriptor pool") << ", "
                        << std::string(caps.storage_buffer_16bit ? "16-bit storage" : "float16 packed in words"));
  }
  return *slot;
}

}  // namespace vknorm::test
