// Shared by the GPU tests: one standalone context per reduction path (validation layer
// and synchronization validation on), and comparison against the CPU reference.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "vknorm/context.hpp"

namespace vknorm::test {

// Every validation message seen since the last take_validation_messages().
std::vector<std::string> take_validation_messages();

// The context for `path`, created on first use. The shared-memory path is forced with
// the capability override; the subgroup path needs a device with subgroup arithmetic.
Context& context_for(ReductionPath path);

// Destroys the contexts context_for created; called once, at the end of main.
void release_contexts();

// Both paths, for tests that run on each (TEST_CASE + SUBCASE loops).
inline const ReductionPath kPaths[] = {ReductionPath::subgroup, ReductionPath::shared_memory};

// Fails the current test if the validation layer said anything.
inline void check_no_validation_messages() {
  for (const std::string& m : take_validation_messages()) FAIL_CHECK("validation layer: " << m);
}

inline std::vector<float> random_vector(size_t n, std::mt19937& rng, float mean = 0.0f, float stddev = 1.0f) {
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// |got - want| <= tol * max(1, max|want|) + extra[i / block] elementwise, where extra is an
// optional per-block allowance (see the large-mean test). Reports the worst element.
inline void check_close(const std::vector<float>& got, const std::vector<float>& want, double tol,
                        const std::string& what, const std::vector<double>& extra = {}, size_t block = 1) {
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": size " << got.size() << " vs " << want.size());
  double scale = 1.0;
  for (float w : want) scale = std::max(scale, std::fabs(static_cast<double>(w)));
  double worst = 0.0;
  size_t worst_at = 0;
  bool ok = true;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    double allowed = tol * scale + (extra.empty() ? 0.0 : extra[(i / block) % extra.size()]);
    if (!(err <= allowed)) ok = false;  // also catches NaN
    if (!(err <= worst)) {
      worst = err;
      worst_at = i;
    }
  }
  CHECK_MESSAGE(ok, what << ": worst |error| " << worst << " at " << worst_at << " (got " << got[worst_at]
                         << ", want " << want[worst_at] << ", scale " << scale << ")");
}

}  // namespace vknorm::test
