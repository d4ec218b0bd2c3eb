// Inf, NaN and huge finite values (issue 13 item 1) on the device, every kind, on every
// device configuration, through every forward kernel (fused, team, split over rows and
// over columns): statistics group 0 holds the edge values, the other groups ordinary ones.
//  - Against the CPU reference (whose semantics tests/test_reference_edge_values.cpp
//    checks against PyTorch and float64 closed forms): NaN where it has NaN, the same
//    infinities, finite values within tolerance. So ±Inf gives BatchNorm/InstanceNorm a
//    ±inf mean, GroupNorm/LayerNorm a NaN one (PyTorch's Welford), RMSNorm NaN only at the
//    Inf, and values up to 1e36 finite results.
//  - The other groups' outputs are bitwise those of a run where group 0 is ordinary.
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <set>

#include "gpu_support.hpp"
#include "ops/norm_kinds.hpp"
#include "ops/planner.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/rmsnorm.hpp"

namespace vknorm::test {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

enum class Kind { batch, instance, group, layer, rms };

struct Shape {
  Kind kind;
  std::vector<int64_t> shape;
  Layout layout = Layout::nchw;
  int64_t groups = 1;  // GroupNorm
};

// Group 0 of each shape, and the kernels the shapes reach (checked to cover all four).
const Shape kShapes[] = {
    {Kind::batch, {4, 3, 5}},                         // fused
    {Kind::batch, {8, 3, 40, 40}},                    // split over rows
    {Kind::batch, {64, 32, 9, 9}, Layout::nhwc},      // split over columns
    {Kind::instance, {8, 16, 6}},                     // team (subgroups), else fused
    {Kind::instance, {2, 3, 70, 70}},                 // split
    {Kind::group, {2, 4, 9}, Layout::nchw, 2},        // fused
    {Kind::group, {2, 64, 30, 30}, Layout::nhwc, 4},  // split over columns
    {Kind::layer, {130, 33}},                         // team (subgroups), else fused
    {Kind::layer, {130, 32}},                         // the same, rows of whole units: 4 values per Welford update
    {Kind::layer, {3, 768}},                          // fused
    {Kind::layer, {2, 5000}},                         // split
    {Kind::rms, {130, 33}},
    {Kind::rms, {130, 32}},
    {Kind::rms, {3, 768}},
    {Kind::rms, {2, 5000}},
};

// Indices (logical order) of the elements of statistics group 0.
std::vector<size_t> group0(const Shape& s) {
  const size_t N = s.shape[0], C = s.shape.size() > 1 ? s.shape[1] : 1;
  size_t S = 1;
  for (size_t d = 2; d < s.shape.size(); ++d) S *= s.shape[d];
  std::vector<size_t> at;
  switch (s.kind) {
    case Kind::batch:  // channel 0 over n and spatial
      for (size_t n = 0; n < N; ++n)
        for (size_t i = 0; i < S; ++i) at.push_back(n * C * S + i);
      break;
    case Kind::instance:  // (n 0, c 0)
      for (size_t i = 0; i < S; ++i) at.push_back(i);
      break;
    case Kind::group:  // (n 0, group 0): its C / G channels
      for (size_t i = 0; i < C / s.groups * S; ++i) at.push_back(i);
      break;
    case Kind::layer:
    case Kind::rms:  // row 0
      for (size_t i = 0; i < C; ++i) at.push_back(i);
      break;
  }
  return at;
}

struct Outputs {
  NormForwardResult fwd;
  NormBackwardResult bwd;
  std::vector<float> running_mean, running_var;
};

struct Inputs {
  std::vector<float> x, dy, w, b;
};

size_t channels(const Shape& s) {
  if (s.kind == Kind::layer || s.kind == Kind::rms) return s.shape.back();
  return s.shape[1];
}

// One training forward and its backward: on the device (ctx) or the reference (null).
Outputs run(Context* ctx, const Shape& s, const Inputs& in) {
  Outputs o;
  const size_t C = channels(s);
  o.running_mean.assign(C, 0.0f);
  o.running_var.assign(C, 1.0f);
  auto take = [&](auto fwd, auto bwd) {
    REQUIRE_MESSAGE(fwd.ok(), fwd.status().message());
    o.fwd = fwd.value();
    REQUIRE_MESSAGE(bwd.ok(), bwd.status().message());
    o.bwd = bwd.value();
  };
  const std::vector<float> rm0 = o.running_mean, rv0 = o.running_var;
  switch (s.kind) {
    case Kind::batch: {
      BatchNormParams p;
      p.shape = s.shape;
      p.layout = s.layout;
      if (ctx) {
        auto f = batch_norm_forward(*ctx, p, in.x, in.w, in.b, o.running_mean, o.running_var);
        REQUIRE(f.ok());
        take(f, batch_norm_backward(*ctx, p, in.x, in.dy, in.w, f->save_mean, f->save_invstd, rm0, rv0));
      } else {
        take(reference::batch_norm_forward(p, in.x, in.w, in.b, o.running_mean, o.running_var),
             reference::batch_norm_backward(p, in.x, in.dy, in.w, rm0, rv0));
      }
      break;
    }
    case Kind::instance: {
      InstanceNormParams p;
      p.shape = s.shape;
      p.affine = p.track_running_stats = true;
      if (ctx) {
        auto f = instance_norm_forward(*ctx, p, in.x, in.w, in.b, o.running_mean, o.running_var);
        REQUIRE(f.ok());
        take(f, instance_norm_backward(*ctx, p, in.x, in.dy, in.w, f->save_mean, f->save_invstd));
      } else {
        take(reference::instance_norm_forward(p, in.x, in.w, in.b, o.running_mean, o.running_var),
             reference::instance_norm_backward(p, in.x, in.dy, in.w, rm0, rv0));
      }
      break;
    }
    case Kind::group: {
      GroupNormParams p;
      p.shape = s.shape;
      p.num_groups = s.groups;
      p.layout = s.layout;
      if (ctx) {
        auto f = group_norm_forward(*ctx, p, in.x, in.w, in.b);
        REQUIRE(f.ok());
        take(f, group_norm_backward(*ctx, p, in.x, in.dy, in.w, f->save_mean, f->save_invstd));
      } else {
        take(reference::group_norm_forward(p, in.x, in.w, in.b), reference::group_norm_backward(p, in.x, in.dy, in.w));
      }
      break;
    }
    case Kind::layer: {
      LayerNormParams p;
      p.shape = s.shape;
      p.normalized_shape = {s.shape.back()};
      if (ctx) {
        auto f = layer_norm_forward(*ctx, p, in.x, in.w, in.b);
        REQUIRE(f.ok());
        take(f, layer_norm_backward(*ctx, p, in.x, in.dy, in.w, f->save_mean, f->save_invstd));
      } else {
        take(reference::layer_norm_forward(p, in.x, in.w, in.b), reference::layer_norm_backward(p, in.x, in.dy, in.w));
      }
      break;
    }
    case Kind::rms: {
      RMSNormParams p;
      p.shape = s.shape;
      p.normalized_shape = {s.shape.back()};
      if (ctx) {
        auto f = rms_norm_forward(*ctx, p, in.x, in.w);
        REQUIRE(f.ok());
        take(f, rms_norm_backward(*ctx, p, in.x, in.dy, in.w, f->save_invstd));
      } else {
        take(reference::rms_norm_forward(p, in.x, in.w), reference::rms_norm_backward(p, in.x, in.dy, in.w));
      }
      break;
    }
  }
  return o;
}

// The kernels the forward of `s` runs on ctx's device, and whether a split pass works
// over columns.
void note_kernels(Context& ctx, const Shape& s, std::set<std::string>& seen) {
  Result<NormPlan> plan = Status::invalid_argument("kind");
  switch (s.kind) {
    case Kind::batch: {
      BatchNormParams p;
      p.shape = s.shape;
      p.layout = s.layout;
      plan = plan_norm(p);
      break;
    }
    case Kind::instance: {
      InstanceNormParams p;
      p.shape = s.shape;
      p.affine = p.track_running_stats = true;
      plan = plan_norm(p);
      break;
    }
    case Kind::group: {
      GroupNormParams p;
      p.shape = s.shape;
      p.num_groups = s.groups;
      p.layout = s.layout;
      plan = plan_norm(p);
      break;
    }
    case Kind::layer:
    case Kind::rms: {
      LayerNormParams p;
      p.shape = s.shape;
      p.normalized_shape = {s.shape.back()};
      plan = plan_norm(p);
      break;
    }
  }
  REQUIRE(plan.ok());
  auto f = plan_forward(ctx.capabilities(), plan.value());
  REQUIRE(f.ok());
  for (const Pass& pass : f.value()) {
    std::string k = kernel_name(pass.kernel);
    if (k == "stats_partial" && (pass.push.flags & kFlagColumns)) k += " columns";
    seen.insert(k);
  }
}

// The edge cases: what group 0 holds (the rest of x is ordinary).
struct Edge {
  const char* name;
  std::function<void(std::vector<float>&, const std::vector<size_t>&, std::mt19937&)> apply;
};

const Edge kEdges[] = {
    {"+inf", [](auto& x, auto& at, auto&) { x[at[at.size() / 2]] = kInf; }},
    {"+inf first", [](auto& x, auto& at, auto&) { x[at[0]] = kInf; }},
    {"-inf", [](auto& x, auto& at, auto&) { x[at[at.size() / 3]] = -kInf; }},
    {"+inf and -inf", [](auto& x, auto& at, auto&) { x[at[1 % at.size()]] = kInf, x[at.back()] = -kInf; }},
    {"nan", [](auto& x, auto& at, auto&) { x[at[at.size() / 2]] = kNaN; }},
    {"1e20 mixed", [](auto& x, auto& at, auto&) { for (size_t i = 0; i < at.size(); i += 3) x[at[i]] *= 1e20f; }},
    {"1e36 mixed", [](auto& x, auto& at, auto&) { for (size_t i = 1; i < at.size(); i += 5) x[at[i]] = i % 2 ? 1e36f : -7e35f; }},
    {"1e36 alone",
     [](auto& x, auto& at, auto& rng) {
       std::uniform_real_distribution<float> u(-1e36f, 1e36f);
       for (size_t i : at) x[i] = u(rng);
     }},
};

// Scale of each output for the tolerance: the largest finite magnitude the reference has.
double finite_scale(const std::vector<float>& v) {
  double m = 0.0;
  for (float f : v)
    if (std::isfinite(f)) m = std::max(m, std::fabs(double(f)));
  return m;
}

// got against the reference's want: the same NaNs and infinities; finite values within
// rel of scale[i] (default: the output's largest finite magnitude).
void check_matches(const std::vector<float>& got, const std::vector<float>& want, const char* what, double rel,
                   std::vector<double> scale = {}) {
  REQUIRE_MESSAGE(got.size() == want.size(), what);
  if (scale.empty()) scale.assign(want.size(), finite_scale(want));
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float g = got[i], w = want[i];
    bool ok;
    if (std::isnan(w)) ok = std::isnan(g);
    else if (std::isinf(w)) ok = g == w;
    else ok = std::isfinite(g) && std::fabs(double(g) - w) <= rel * scale[i] + 1e-30;
    if (!ok && bad++ == 0) first = i;
  }
  INFO(std::string(what) << ": " << bad << " of " << got.size() << " differ, first at " << first << ": got "
            << (bad ? got[first] : 0.0f) << ", want " << (bad ? want[first] : 0.0f));
  CHECK(bad == 0);
}

// The scale a mean is judged on: its own magnitude, or its group's standard deviation
// (1 / invstd) when larger. A float32 mean of values that cancel (1e36 and -1e36) is off
// by their rounding, which is small next to that spread, not next to the mean.
std::vector<double> mean_scales(const std::vector<float>& mean, const std::vector<float>& invstd) {
  std::vector<double> s(mean.size());
  for (size_t g = 0; g < mean.size(); ++g) {
    s[g] = std::fabs(double(mean[g]));
    if (std::isfinite(invstd[g]) && invstd[g] > 0) s[g] = std::max(s[g], 1.0 / invstd[g]);
  }
  return s;
}

// running_mean[c] is momentum times the mean over the groups of channel c (index b * C + c).
std::vector<double> running_mean_scales(const std::vector<float>& running_mean, const std::vector<double>& group_scales) {
  const size_t C = running_mean.size();
  std::vector<double> s(C, 0.0);
  for (size_t c = 0; c < C; ++c) {
    s[c] = std::fabs(double(running_mean[c]));
    for (size_t g = c; g < group_scales.size(); g += C) s[c] = std::max(s[c], 0.1 * group_scales[g]);
  }
  return s;
}

std::vector<double> per_element(const std::vector<float>& v) {
  std::vector<double> s(v.size());
  for (size_t i = 0; i < v.size(); ++i) s[i] = std::fabs(double(v[i]));
  return s;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// Elements at `keep` of got and base are bitwise equal.
void check_bitwise(const std::vector<float>& got, const std::vector<float>& base, const std::vector<size_t>& keep,
                   const char* what) {
  REQUIRE(got.size() == base.size());
  size_t bad = 0;
  for (size_t i : keep) bad += !same_bits(got[i], base[i]);
  INFO(std::string(what) << ": " << bad << " of " << keep.size() << " elements of the other groups changed");
  CHECK(bad == 0);
}

std::vector<size_t> others(size_t n, const std::vector<size_t>& excluded) {
  std::vector<bool> skip(n, false);
  for (size_t i : excluded) skip[i] = true;
  std::vector<size_t> keep;
  for (size_t i = 0; i < n; ++i)
    if (!skip[i]) keep.push_back(i);
  return keep;
}

}  // namespace

TEST_CASE("Inf, NaN and values up to 1e36: the reference's results on the device, other groups untouched") {
  std::set<std::string> seen;
  uint32_t seed = 1;
  for (TestDevice device : kDevices)
    for (const Shape& s : kShapes) {
      Context& ctx = context_for(device);
      note_kernels(ctx, s, seen);
      const std::string device_name = name(device), shape = shape_name(s.shape);
      CAPTURE(device_name);
      CAPTURE(shape);
      const size_t elements = product(s.shape), C = channels(s);
      std::mt19937 rng(seed++);
      Inputs base{random_vector(elements, rng, 0.5f, 2.0f), random_vector(elements, rng),
                  random_vector(C, rng, 1.0f, 0.5f), random_vector(C, rng, 0.0f, 0.5f)};
      const std::vector<size_t> at = group0(s);
      const Outputs plain = run(&ctx, s, base);
      for (const Edge& edge : kEdges) {
        const std::string edge_name = edge.name;
        CAPTURE(edge_name);
        Inputs in = base;
        edge.apply(in.x, at, rng);
        const Outputs got = run(&ctx, s, in), want = run(nullptr, s, in);
        const std::vector<float>& invstd = want.fwd.save_invstd;
        check_matches(got.fwd.y, want.fwd.y, "y", 1e-4);
        check_matches(got.fwd.save_invstd, invstd, "save_invstd", 1e-5, per_element(invstd));
        if (s.kind != Kind::rms) {
          const std::vector<double> means = mean_scales(want.fwd.save_mean, invstd);
          check_matches(got.fwd.save_mean, want.fwd.save_mean, "save_mean", 1e-5, means);
          if (s.kind == Kind::batch || s.kind == Kind::instance) {
            check_matches(got.running_mean, want.running_mean, "running_mean", 1e-5,
                          running_mean_scales(want.running_mean, means));
            check_matches(got.running_var, want.running_var, "running_var", 1e-5, per_element(want.running_var));
          }
        }
        check_matches(got.bwd.dx, want.bwd.dx, "dx", 1e-4);
        check_matches(got.bwd.dweight, want.bwd.dweight, "dweight", 1e-4);
        check_matches(got.bwd.dbias, want.bwd.dbias, "dbias", 1e-4);
        // The other groups, bitwise as without the edge values.
        const std::vector<size_t> keep = others(elements, at);
        check_bitwise(got.fwd.y, plain.fwd.y, keep, "y");
        check_bitwise(got.bwd.dx, plain.bwd.dx, keep, "dx");
        const std::vector<size_t> other_groups = others(got.fwd.save_invstd.size(), {0});
        check_bitwise(got.fwd.save_invstd, plain.fwd.save_invstd, other_groups, "save_invstd");
        if (!got.fwd.save_mean.empty()) check_bitwise(got.fwd.save_mean, plain.fwd.save_mean, other_groups, "save_mean");
        if (s.kind == Kind::batch || s.kind == Kind::instance) {
          const std::vector<size_t> other_channels = others(C, {0});
          check_bitwise(got.running_mean, plain.running_mean, other_channels, "running_mean");
          check_bitwise(got.running_var, plain.running_var, other_channels, "running_var");
          check_bitwise(got.bwd.dweight, plain.bwd.dweight, other_channels, "dweight");
        }
        check_no_validation_messages();
      }
    }
  for (const char* kernel : {"fused_forward", "team_forward", "stats_partial", "stats_partial columns"}) {
    CAPTURE(kernel);
    CHECK(seen.count(kernel) == 1);
  }
}

TEST_CASE("RMSNorm with an Inf: NaN only where the formula gives it") {
  for (TestDevice device : kDevices) {
    const std::string device_name = name(device);
    CAPTURE(device_name);
    Context& ctx = context_for(device);
    RMSNormParams p;
    p.shape = {3, 6};
    p.normalized_shape = {6};
    std::vector<float> x(18), dy(18, 1.0f), w(6, 1.0f);
    for (size_t i = 0; i < 18; ++i) x[i] = 0.25f * float(i) - 1.0f;
    x[2] = kInf;  // row 0, column 2
    auto f = rms_norm_forward(ctx, p, x, w);
    REQUIRE(f.ok());
    CHECK(f->save_invstd[0] == 0.0f);  // 1 / sqrt(inf)
    for (size_t j = 0; j < 6; ++j) CHECK(std::isnan(f->y[j]) == (j == 2));
    for (size_t i = 6; i < 18; ++i) CHECK(std::isfinite(f->y[i]));
    auto b = rms_norm_backward(ctx, p, x, dy, w, f->save_invstd);
    REQUIRE(b.ok());
    for (size_t j = 0; j < 6; ++j) CHECK(std::isnan(b->dweight[j]) == (j == 2));
    for (size_t i = 6; i < 18; ++i) CHECK(std::isfinite(b->dx[i]));
    check_no_validation_messages();
  }
}

}  // namespace vknorm::test
