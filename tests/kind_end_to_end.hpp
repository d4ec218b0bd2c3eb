// One norm end to end through the kind table's standalone functions (upload, record,
// submit, wait, download), forward and backward, against the CPU reference; the result is
// a message ("" when everything holds) rather than an assertion, so worker threads can
// run it too.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gpu_support.hpp"
#include "ops/norm_kinds.hpp"

namespace vknorm::test {

// What check_close checks, as a message instead of an assertion ("" when it holds).
inline std::string compare(const std::vector<float>& got, const std::vector<float>& want, const std::string& what,
                           double rel = 0.0) {
  if (got.size() != want.size())
    return what + ": size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
  double scale = 1.0;
  for (float w : want) scale = std::max(scale, std::fabs(static_cast<double>(w)));
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= kTol * scale + rel * std::fabs(static_cast<double>(want[i]))))
      return what + "[" + std::to_string(i) + "]: got " + std::to_string(got[i]) + ", want " + std::to_string(want[i]);
  }
  return "";
}

// Collects the first failure of a job.
struct Outcome {
  std::string failure;

  bool ok() const { return failure.empty(); }
  void check(const std::string& message) {
    if (failure.empty()) failure = message;
  }
  template <class T>
  bool check_result(const Result<T>& r, const std::string& what) {
    if (!r.ok()) check(what + ": " + r.status().message());
    return r.ok() && ok();
  }
};

inline std::string compare_forward(const NormForwardResult& got, const NormForwardResult& want, double rel = 0.0) {
  for (const std::string& m : {compare(got.y, want.y, "y", rel), compare(got.save_mean, want.save_mean, "save_mean"),
                               compare(got.save_invstd, want.save_invstd, "save_invstd")})
    if (!m.empty()) return m;
  return "";
}

inline std::string compare_backward(const NormBackwardResult& got, const NormBackwardResult& want, double rel = 0.0) {
  for (const std::string& m : {compare(got.dx, want.dx, "dx", rel), compare(got.dweight, want.dweight, "dweight"),
                               compare(got.dbias, want.dbias, "dbias")})
    if (!m.empty()) return m;
  return "";
}

// `p` on `context`; different seeds give different inputs (x with mean 0.5 and std 2,
// random running statistics where the kind tracks them).
template <class Params>
std::string run_kind_end_to_end(Context& context, const Params& p, uint32_t seed) {
  using Row = NormKind<Params>;
  std::mt19937 rng(seed);
  Outcome out;
  const std::string what = std::string(Row::info.name) + " seed " + std::to_string(seed) + ": ";
  auto g = Row::check(p);
  if (!g) return what + g.status().message();
  const double rel = p.dtype == DType::f16 ? kHalfRounding : 0.0;
  auto stored = [&](const std::vector<float>& v) { return p.dtype == DType::f16 ? round_to_half(v) : v; };
  const auto x = stored(random_vector(g->elements, rng, 0.5f, 2.0f)), dy = stored(random_vector(g->elements, rng));
  const auto w = random_vector(g->affine_size, rng, 1.0f, 0.5f), b = random_vector(g->affine_size, rng, 0.0f, 0.5f);
  const bool running = tracks_running(p);
  const auto rm0 = running ? random_vector(g->channels, rng) : std::vector<float>();
  const auto rv0 = running ? random_vector(g->channels, rng, 2.0f, 0.1f) : std::vector<float>();
  auto rm = rm0, rv = rv0, ref_rm = rm0, ref_rv = rv0;
  auto got = kind_forward(context, p, {x, w, b, rm, rv, {}});
  auto want = Row::reference_forward(p, {x, w, b, ref_rm, ref_rv, {}});
  if (out.check_result(want, what + "reference forward") && out.check_result(got, what + "forward")) {
    out.check(compare_forward(got.value(), want.value(), rel));
    out.check(compare(rm, ref_rm, "running_mean"));
    out.check(compare(rv, ref_rv, "running_var"));
    auto gb = kind_backward(context, p, {x, dy, w, got->save_mean, got->save_invstd, rm0, rv0, {}});
    auto wb = Row::reference_backward(p, {x, dy, w, {}, {}, rm0, rv0, {}});
    if (out.check_result(wb, what + "reference backward") && out.check_result(gb, what + "backward"))
      out.check(compare_backward(gb.value(), wb.value(), rel));
  }
  return out.ok() ? "" : what + out.failure;
}

}  // namespace vknorm::test
