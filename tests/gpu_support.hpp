// Shared by the GPU tests: one standalone context per reduction path (validation layer
// and synchronization validation on), and comparison against the CPU reference.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "env.hpp"
#include "environment_support.hpp"
#include "test_support.hpp"
#include "vknorm/context.hpp"

namespace vknorm::test {

// Every validation message seen on context_for's contexts since the last call, which
// consumes them: a test that provokes messages on purpose takes them and checks them.
// Whatever a test case leaves unconsumed fails that test case when it ends (the listener
// in test_main.cpp), so a test needs no check of its own.
std::vector<std::string> take_validation_messages();

// The device configurations every GPU test runs on, through the capability override:
//  subgroup       the device as it is (needs subgroup arithmetic, as lavapipe has)
//  shared_memory  subgroup operations masked: the shared-memory tree path
//  mobile         a bare mobile GPU: no subgroup arithmetic, 16 KiB shared memory,
//                 128 invocations per workgroup, no 16-bit storage (float16 runs as
//                 halves packed in 32-bit words); and grids of at most kMobileGridLimit
//                 workgroups a dimension, so that every grid folds
enum class TestDevice { subgroup, shared_memory, mobile };
inline const TestDevice kDevices[] = {TestDevice::subgroup, TestDevice::shared_memory, TestDevice::mobile};
std::string name(TestDevice device);
constexpr uint32_t kMobileGridLimit = 5;

// The descriptor path every test context uses: the pool with
// VKNORM_TEST_DESCRIPTOR_PATH=pool (CTest runs the suite both ways), else automatic (push
// descriptors where the device has them, as lavapipe does).
DescriptorPath test_descriptor_path();

// The context for `device`, created on first use, with validation on.
Context& context_for(TestDevice device);

// A test configuration the device cannot run is skipped, never failed and never passed
// silently: skip_configuration counts it under its reason; the listener in test_main.cpp
// prints each test case's skips as it ends, and the run's total at the end.
// Returns true, so that a test can write `if (...) return skip_configuration(...);`.
bool skip_configuration(const std::string& reason);

// The configurations skipped so far, by reason.
std::map<std::string, size_t> skipped_configurations();

// What `ctx` (one of context_for's) lacks to run its configuration with `dtype`, or "" when
// it lacks nothing. The one place that knows which device features the tests'
// configurations need: today the subgroup configuration's subgroup arithmetic (float16
// needs no feature: without 16-bit storage it runs packed).
std::string missing_feature(const Context& ctx, DType dtype);

// Skips (see skip_configuration) a configuration `ctx` cannot run; true when it did.
inline bool skip_if_unsupported(const Context& ctx, DType dtype) {
  const std::string missing = missing_feature(ctx, dtype);
  return !missing.empty() && skip_configuration(missing);
}

// Destroys the contexts context_for created; called once, at the end of main.
void release_contexts();

// A standalone context of the test's own (context_for's are shared), with validation on
// whatever `options` says; the destructor destroys it, then fails the test on any
// validation message seen in its lifetime.
struct OwnContext {
  explicit OwnContext(StandaloneOptions options);
  ~OwnContext();
  OwnContext(const OwnContext&) = delete;
  OwnContext& operator=(const OwnContext&) = delete;
  Context& operator*() const { return *ctx; }
  Context* operator->() const { return ctx.get(); }

  std::unique_ptr<Context> ctx;

 private:
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

// Fails the current test if the validation layer said anything (and consumes the messages):
// for a failure at a finer point than the test case's end, e.g. naming a device or a subcase.
inline void check_no_validation_messages() {
  for (const std::string& m : take_validation_messages()) FAIL_CHECK("validation layer: " << m);
}

// The float32 tolerance of GPU results against the CPU reference (double accumulation), as a
// fraction of the largest magnitude (check_close; README, Tests). One for every test file.
constexpr double kTol = 3e-5;

// |got - want| <= tol * max(1, max|want|) + rel * |want| + extra[i / block] elementwise:
// rel covers a rounding of each stored value (float16 outputs), extra an optional
// per-block allowance (see the large-mean test). Reports the worst element.
inline void check_close(const std::vector<float>& got, const std::vector<float>& want, double tol,
                        const std::string& what, const std::vector<double>& extra = {}, size_t block = 1,
                        double rel = 0.0) {
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": size " << got.size() << " vs " << want.size());
  double scale = 1.0;
  for (float w : want)
    if (std::isfinite(w)) scale = std::max(scale, std::fabs(static_cast<double>(w)));
  double worst = 0.0;
  size_t worst_at = 0;
  bool ok = true;
  for (size_t i = 0; i < got.size(); ++i) {
    // NaN or inf exactly where due (an empty group; eps = 0 on a constant group)
    if (got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i]))) continue;
    double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    double allowed = tol * scale + rel * std::fabs(static_cast<double>(want[i])) +
                     (extra.empty() ? 0.0 : extra[(i / block) % extra.size()]);
    if (!(err <= allowed)) ok = false;  // also catches NaN
    if (!(err <= worst)) {
      worst = err;
      worst_at = i;
    }
  }
  if (env::get("VKNORM_TEST_VERBOSE"))
    MESSAGE(what << ": worst |error| / scale = " << worst / scale << " (scale " << scale << ")");
  if (got.empty()) return;  // nothing to compare, and got[0] below would be out of bounds
  CHECK_MESSAGE(ok, what << ": worst |error| " << worst << " at " << worst_at << " (got " << got[worst_at]
                         << ", want " << want[worst_at] << ", scale " << scale << ")");
}

// Rounds every value to float16 and back: the inputs a float16 tensor really holds.
std::vector<float> round_to_half(const std::vector<float>& v);

// A host-visible buffer of `count` floats (at least 4 bytes) on a standalone context,
// starting with `values` (the rest left as created).
Buffer floats(Context& ctx, const std::vector<float>& values, size_t count);

// Half an ulp of float16, relative: the rounding of a value stored as float16.
constexpr double kHalfRounding = 1.0 / 2048.0;

}  // namespace vknorm::test
