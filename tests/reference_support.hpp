// Shared by the CPU reference tests (test_reference_*.cpp): error reports, finite
// differences, the PyTorch fixtures (tests/fixtures/<kind>/<case>/) and refusals; random
// data and params.txt come from test_support.hpp.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "env.hpp"
#include "io/npy.hpp"
#include "test_support.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/status.hpp"

namespace vknorm::reftest {

using test::load_int64_scalar;
using test::random_vector;
using test::read_params;

inline std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// n values, all NaN: the saved statistics of n empty groups (PyTorch's 0/0).
inline bool all_nan(const std::vector<float>& v, size_t n) {
  return v.size() == n && std::all_of(v.begin(), v.end(), [](float f) { return std::isnan(f); });
}

inline double max_abs(const std::vector<double>& v) {
  double m = 0.0;  // of the finite values: an inf or NaN (eps = 0, an empty group) is compared exactly
  for (double x : v)
    if (std::isfinite(x)) m = std::max(m, std::abs(x));
  return m;
}

// Central difference of `f` in coordinate `k` of `v`.
template <class F>
double central_difference(std::vector<double>& v, size_t k, double h, F f) {
  const double keep = v[k];
  v[k] = keep + h;
  const double up = f();
  v[k] = keep - h;
  const double down = f();
  v[k] = keep;
  return (up - down) / (2.0 * h);
}

// The worst |got - want| against `tol`, reported once per array.
inline void check_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& want,
                        double tol) {
  REQUIRE_MESSAGE(got.size() == want.size(), what);
  double worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    // NaN or inf exactly where due (an empty group; eps = 0 on a constant group)
    if (double(got[i]) == want[i] || (std::isnan(got[i]) && std::isnan(want[i]))) continue;
    const double err = std::abs(double(got[i]) - want[i]);
    if (std::isnan(err) || err > worst) { worst = std::isnan(err) ? INFINITY : err; worst_i = i; }  // NaN on one side: a failure
  }
  INFO(what << ": worst error " << worst << " at " << worst_i << ", tolerance " << tol);
  CHECK(worst <= tol);
  if (vknorm::env::get("VKNORM_TEST_VERBOSE")) MESSAGE(what << ": worst error " << worst << ", tolerance " << tol);
}

// Compares the reference's gradients with central differences of `loss` (= Σ y·r, read
// from xd, wd, bd). The loss is evaluated in double on O(10) terms, so its rounding error
// is ~1e-15 and h = 1e-5 leaves ~1e-10 from rounding and ~h^2 * |L'''| ~ 1e-10 from
// truncation. The reference returns float, whose rounding (6e-8 relative) dominates:
// 1e-6 of the gradient's magnitude is a strict bound that a missing term (O(1)) could
// never meet. Absent parameters (has_* false) must come back empty.
template <class Loss>
void check_against_differences(const NormBackwardResult& grads, std::vector<double>& xd, std::vector<double>& wd,
                               std::vector<double>& bd, bool has_weight, bool has_bias, Loss loss) {
  const double h = 1e-5, tol = 1e-6;
  auto differences = [&](std::vector<double>& v) {
    std::vector<double> d(v.size());
    for (size_t k = 0; k < v.size(); ++k) d[k] = central_difference(v, k, h, loss);
    return d;
  };
  const std::vector<double> dx = differences(xd);
  check_close("dx", grads.dx, dx, tol * std::max(1.0, max_abs(dx)));
  if (has_weight) {
    const std::vector<double> dw = differences(wd);
    check_close("dweight", grads.dweight, dw, tol * std::max(1.0, max_abs(dw)));
  } else {
    CHECK(grads.dweight.empty());
  }
  if (has_bias) {
    const std::vector<double> db = differences(bd);
    check_close("dbias", grads.dbias, db, tol * std::max(1.0, max_abs(db)));
  } else {
    CHECK(grads.dbias.empty());
  }
}

// ---- PyTorch fixtures (see tests/fixtures/README.md)

inline std::string fixture_dir(const std::string& kind) { return std::string(VKNORM_FIXTURE_DIR) + "/" + kind + "/"; }

// The case folders under fixture_dir(kind), sorted.
inline std::vector<std::string> fixture_cases(const std::string& kind) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir(kind)))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline bool has_array(const std::string& dir, const std::string& name) {
  return std::filesystem::exists(dir + name + ".npy");
}

inline io::NpyArray load_array(const std::string& path) {
  auto a = io::read_npy(path);
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  return *a;
}

inline std::vector<float> load(const std::string& path) { return load_array(path).data; }

// max |x| * invstd over the tensor, where the statistics groups are contiguous runs of
// group_size elements (true of every kind but BatchNorm): how far the data sits from 0
// in units of its spread. Rounding x (or the mean) to float32 perturbs x - mean by
// FLT_EPSILON * |x|, which is FLT_EPSILON * condition relative to the normalized values.
inline double condition(const std::vector<float>& x, const std::vector<float>& invstd, size_t group_size) {
  double k = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double c = std::abs(double(x[i])) * invstd[i / group_size];
    if (std::isfinite(c)) k = std::max(k, c);  // a group of invstd inf (eps = 0) is all NaN, compared exactly
  }
  return k;
}

// Compares `got` with the fixture's <what>.npy. PyTorch computes in float32, the
// reference in double; on well-conditioned cases they differ by a few float ulps. The
// tolerance is 1e-5 of max(1, max|expected|) (~100 ulps) plus, for outputs computed from
// x - mean (centered = true), 4 * FLT_EPSILON * kappa (see condition()): with |x| ~ 1e4
// and std 1, PyTorch's own float32 rounding of x - mean moves y by ~1e-3 relative. Any
// wrong formula is off by far more: a biased instead of unbiased running variance by
// 1/(M-1) >= 2%, a missing backward term or a wrong group by O(1).
inline void check_fixture_array(const std::string& dir, const std::string& what, const std::vector<float>& got,
                                bool centered, double kappa) {
  const std::vector<double> want = widen(load(dir + what + ".npy"));
  const double tol = std::max(1.0, max_abs(want)) * (1e-5 + (centered ? 4.0 * FLT_EPSILON * kappa : 0.0));
  check_close(dir + what, got, want, tol);
}

// ---- Refusals

inline void check_refused(const Status& status, std::initializer_list<const char*> phrases) {
  CHECK(status.code() == StatusCode::invalid_argument);
  for (const char* phrase : phrases) {
    INFO("message: " << status.message());
    CHECK(status.message().find(phrase) != std::string::npos);
  }
}

template <class T>
Status status_of(const Result<T>& r) {
  return r.ok() ? Status{} : r.status();
}

}  // namespace vknorm::reftest
