// The fused epilogue (normalize + affine, then + residual, then ReLU) and its backward
// (ReLU mask and the residual's gradient from the same passes), for every kind, against
// the CPU reference's own epilogue (its closed forms are tested in
// test_reference_epilogue.cpp). Tolerances as in test_norms_gpu.cpp.
// The kinds are the kind table's (ops/norm_kinds.hpp); only their test shapes are here.
#include <functional>
#include <random>

#include "gpu_support.hpp"
#include "ops/norm_kinds.hpp"

namespace vknorm::test {
namespace {

// Each kind's call in this test: 420 elements of x.
void set_test_params(BatchNormParams& p) {
  p.shape = {4, 3, 5, 7};
  p.track_running_stats = false;
}
void set_test_params(InstanceNormParams& p) {
  p.shape = {4, 3, 5, 7};
  p.affine = true;
}
void set_test_params(GroupNormParams& p) {
  p.shape = {2, 6, 5, 7};
  p.num_groups = 3;
}
void set_test_params(LayerNormParams& p) {
  p.shape = {10, 42};
  p.normalized_shape = {42};
}
// 140 short rows: a subgroup per row (team_forward, team_backward) at every subgroup size.
void set_test_params(RMSNormParams& p) {
  p.shape = {140, 3};
  p.normalized_shape = {3};
}

// One kind's forward and backward, on the GPU or on the CPU reference. The backward gets
// the forward's result (for saved statistics) and the gradient reaching the norm.
struct EpilogueKind {
  std::string name;
  std::function<Result<NormForwardResult>(Context*, const Epilogue&, const std::vector<float>& residual)> forward;
  std::function<Result<NormBackwardResult>(Context*, const Epilogue&, const NormForwardResult& f,
                                           const std::vector<float>& dy, const std::vector<float>& y)>
      backward;
};

// Every kind of the table that has `layout`, with weight and bias drawn from `rng`.
std::vector<EpilogueKind> kinds(Layout layout, DType dtype, const std::vector<float>& x, std::mt19937& rng) {
  std::vector<EpilogueKind> out;
  for_each_kind([&](auto kind) {
    using Params = typename decltype(kind)::type;
    using Row = NormKind<Params>;
    if (layout == Layout::nhwc && !Row::info.channel_layouts) return;  // rows have no channels-last layout
    Params p;
    set_test_params(p);
    if constexpr (Row::info.channel_layouts) p.layout = layout;
    p.dtype = dtype;
    auto g = Row::check(p);
    REQUIRE_MESSAGE(g.ok(), g.status().message());
    REQUIRE(g->elements == x.size());
    const std::vector<float> w = random_vector(g->affine_size, rng, 1.0f, 0.5f);
    const std::vector<float> b = random_vector(g->affine_size, rng, 0.0f, 0.5f);
    out.push_back({std::string(Row::info.name),
                   [=](Context* c, const Epilogue& e, const std::vector<float>& r) {
                     Params q = p;
                     q.epilogue = e;
                     std::vector<float> none_mean, none_var;
                     return c ? kind_forward(*c, q, {x, w, b, none_mean, none_var, r})
                              : Row::reference_forward(q, {x, w, b, none_mean, none_var, r});
                   },
                   [=](Context* c, const Epilogue& e, const NormForwardResult& f, const std::vector<float>& dy,
                       const std::vector<float>& y) {
                     Params q = p;
                     q.epilogue = e;
                     const std::vector<float> none;
                     return c ? kind_backward(*c, q, {x, dy, w, f.save_mean, f.save_invstd, none, none, y})
                              : Row::reference_backward(q, {x, dy, w, none, none, none, none, y});
                   }});
  });
  return out;
}

}  // namespace

TEST_CASE("Fused epilogue: residual add and ReLU, forward and backward, for every kind") {
  std::mt19937 rng(42);
  for (TestDevice device : kDevices)
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (DType dtype : {DType::f32, DType::f16}) {
        const bool f16 = dtype == DType::f16;
        const double rel = f16 ? kHalfRounding : 0.0;
        auto maybe_half = [&](std::vector<float> v) { return f16 ? round_to_half(v) : v; };
        const std::vector<float> x = maybe_half(random_vector(420, rng, 0.5f, 2.0f));
        const std::vector<float> residual = maybe_half(random_vector(420, rng));
        const std::vector<float> dy = maybe_half(random_vector(420, rng));
        for (const EpilogueKind& kind : kinds(layout, dtype, x, rng))
          for (int mode = 1; mode < 4; ++mode) {
            const Epilogue e{(mode & 1) != 0, (mode & 2) != 0};
            const std::string device_name = name(device), kind_name = kind.name;
            const bool nhwc = layout == Layout::nhwc;
            CAPTURE(device_name);
            CAPTURE(kind_name);
            CAPTURE(nhwc);
            CAPTURE(f16);
            CAPTURE(e.residual);
            CAPTURE(e.relu);
            Context& ctx = context_for(device);
            if (skip_if_unsupported(ctx, dtype)) continue;
            auto got = kind.forward(&ctx, e, residual);
            auto want_f = kind.forward(nullptr, e, residual);
            REQUIRE_MESSAGE(got.ok(), got.status().message());
            REQUIRE_MESSAGE(want_f.ok(), want_f.status().message());
            check_close(got->y, want_f->y, kTol, "y", {}, 1, rel);
            check_close(got->save_invstd, want_f->save_invstd, kTol, "save_invstd");

            // Backward: both mask dy with the forward's output the API is given, the GPU's,
            // so that a value the two round to opposite sides of 0 cannot flip the mask.
            auto grad = kind.backward(&ctx, e, got.value(), dy, got->y);
            auto want = kind.backward(nullptr, e, want_f.value(), dy, got->y);
            REQUIRE_MESSAGE(grad.ok(), grad.status().message());
            REQUIRE_MESSAGE(want.ok(), want.status().message());
            check_close(grad->dx, want->dx, kTol, "dx", {}, 1, rel);
            check_close(grad->dweight, want->dweight, kTol, "dweight");
            check_close(grad->dbias, want->dbias, kTol, "dbias");
            if (e.residual) check_close(grad->dresidual, want->dresidual, kTol, "dresidual", {}, 1, rel);
            else CHECK(grad->dresidual.empty());
            CHECK(want->dresidual.size() == (e.residual ? x.size() : 0));
            check_no_validation_messages();
          }
      }
}

TEST_CASE("The ReLU epilogue's backward refuses to run without the forward's output") {
  Context& ctx = context_for(TestDevice::subgroup);
  LayerNormParams p;
  p.shape = {2, 4};
  p.normalized_shape = {4};
  p.epilogue.relu = true;
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 9}, w(4, 1.0f), b(4, 0.0f);
  auto f = layer_norm_forward(ctx, p, x, w, b);
  REQUIRE(f.ok());
  auto g = layer_norm_backward(ctx, p, x, x, w, f->save_mean, f->save_invstd);
  CHECK(g.status().code() == StatusCode::invalid_argument);
  CHECK(g.status().message().find("y: the ReLU epilogue's backward needs the forward's output") != std::string::npos);
  p.epilogue = {true, false};
  auto r = layer_norm_forward(ctx, p, x, w, b, std::vector<float>(3));
  CHECK(r.status().message().find("residual: expected 8 elements") != std::string::npos);
}

}  // namespace vknorm::test
