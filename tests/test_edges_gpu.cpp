// PyTorch's edge semantics on the device, against the CPU reference (whose own tests hold
// it to PyTorch's values and float64 closed forms), on every device configuration, float32
// and float16 storage, forward and backward: eps = 0 on constant groups, momentum outside
// [0, 1], empty groups (NaN saved statistics) and zero-size tensors (empty outputs, no
// command recorded when there is no group at all).
#include <algorithm>
#include <functional>
#include <random>

#include "gpu_support.hpp"
#include "recorded_calls.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/rmsnorm.hpp"

namespace vknorm::test {
namespace {

// One forward (and its running statistics) on a context, or on the reference (null).
struct Forward {
  Result<NormForwardResult> out = Status::internal("not run");
  std::vector<float> running_mean, running_var;
};

// A case of any kind: its forward and backward on a context or on the reference.
struct EdgeCase {
  std::string what;
  DType dtype = DType::f32;
  std::function<Forward(Context*)> forward;
  std::function<Result<NormBackwardResult>(Context*, const NormForwardResult&)> backward;
};

// Inputs of one case; a float16 case holds values already rounded to float16.
struct Data {
  std::vector<float> x, dy, w, b, rm, rv;
};

Data make_data(size_t elements, size_t affine, size_t channels, DType dtype, uint32_t seed) {
  std::mt19937 rng(seed);
  Data d{random_vector(elements, rng, 0.5f, 2.0f), random_vector(elements, rng), random_vector(affine, rng, 1.0f, 0.5f),
         random_vector(affine, rng, 0.0f, 0.5f), random_vector(channels, rng, 0.0f, 0.5f),
         random_vector(channels, rng, 1.0f, 0.2f)};
  for (float& v : d.rv) v = std::fabs(v) + 0.1f;
  if (dtype == DType::f16) {
    d.x = round_to_half(d.x);
    d.dy = round_to_half(d.dy);
  }
  return d;
}

EdgeCase batch_norm_case(std::string what, BatchNormParams p, Data d) {
  return {what, p.dtype,
          [p, d](Context* ctx) {
            Forward f{Status::internal("not run"), d.rm, d.rv};
            f.out = ctx ? batch_norm_forward(*ctx, p, d.x, d.w, d.b, f.running_mean, f.running_var)
                        : reference::batch_norm_forward(p, d.x, d.w, d.b, f.running_mean, f.running_var);
            return f;
          },
          [p, d](Context* ctx, const NormForwardResult& fwd) {
            return ctx ? batch_norm_backward(*ctx, p, d.x, d.dy, d.w, fwd.save_mean, fwd.save_invstd, d.rm, d.rv)
                       : reference::batch_norm_backward(p, d.x, d.dy, d.w, d.rm, d.rv);
          }};
}

EdgeCase instance_norm_case(std::string what, InstanceNormParams p, Data d) {
  return {what, p.dtype,
          [p, d](Context* ctx) {
            Forward f{Status::internal("not run"), d.rm, d.rv};
            f.out = ctx ? instance_norm_forward(*ctx, p, d.x, d.w, d.b, f.running_mean, f.running_var)
                        : reference::instance_norm_forward(p, d.x, d.w, d.b, f.running_mean, f.running_var);
            return f;
          },
          [p, d](Context* ctx, const NormForwardResult& fwd) {
            const bool batch = p.training || !p.track_running_stats;
            return ctx ? instance_norm_backward(*ctx, p, d.x, d.dy, d.w, batch ? fwd.save_mean : d.rm,
                                                batch ? fwd.save_invstd : d.rv)
                       : reference::instance_norm_backward(p, d.x, d.dy, d.w, d.rm, d.rv);
          }};
}

EdgeCase group_norm_case(std::string what, GroupNormParams p, Data d) {
  return {what, p.dtype,
          [p, d](Context* ctx) {
            Forward f;
            f.out = ctx ? group_norm_forward(*ctx, p, d.x, d.w, d.b) : reference::group_norm_forward(p, d.x, d.w, d.b);
            return f;
          },
          [p, d](Context* ctx, const NormForwardResult& fwd) {
            return ctx ? group_norm_backward(*ctx, p, d.x, d.dy, d.w, fwd.save_mean, fwd.save_invstd)
                       : reference::group_norm_backward(p, d.x, d.dy, d.w);
          }};
}

EdgeCase layer_norm_case(std::string what, LayerNormParams p, Data d) {
  return {what, p.dtype,
          [p, d](Context* ctx) {
            Forward f;
            f.out = ctx ? layer_norm_forward(*ctx, p, d.x, d.w, d.b) : reference::layer_norm_forward(p, d.x, d.w, d.b);
            return f;
          },
          [p, d](Context* ctx, const NormForwardResult& fwd) {
            return ctx ? layer_norm_backward(*ctx, p, d.x, d.dy, d.w, fwd.save_mean, fwd.save_invstd)
                       : reference::layer_norm_backward(p, d.x, d.dy, d.w);
          }};
}

EdgeCase rms_norm_case(std::string what, RMSNormParams p, Data d) {
  return {what, p.dtype,
          [p, d](Context* ctx) {
            Forward f;
            f.out = ctx ? rms_norm_forward(*ctx, p, d.x, d.w) : reference::rms_norm_forward(p, d.x, d.w);
            return f;
          },
          [p, d](Context* ctx, const NormForwardResult& fwd) {
            return ctx ? rms_norm_backward(*ctx, p, d.x, d.dy, d.w, fwd.save_invstd)
                       : reference::rms_norm_backward(p, d.x, d.dy, d.w);
          }};
}

// What one device run recorded, for the zero-size checks.
struct Recorded {
  uint64_t forward_calls = 0, forward_dispatches = 0, backward_calls = 0, backward_dispatches = 0;
};

// The case on `device` against the reference, NaN where the reference has NaN; returns the
// device's forward (checked ok) and what it recorded.
struct DeviceRun {
  NormForwardResult forward;
  std::vector<float> running_mean, running_var;
  NormBackwardResult backward;
  Recorded recorded;
  std::string forward_described, backward_described;  // RecordedCalls::describe()
};

DeviceRun run_on(TestDevice device, const EdgeCase& c) {
  Context& ctx = context_for(device);
  const double rel = c.dtype == DType::f16 ? kHalfRounding : 0.0;
  DeviceRun run;
  Forward want = c.forward(nullptr);
  REQUIRE_MESSAGE(want.out.ok(), want.out.status().message());
  Forward got;
  {
    RecordedCalls calls(ctx);
    got = c.forward(&ctx);
    run.recorded.forward_calls = calls.total();
    run.recorded.forward_dispatches = calls.of(recorded_CmdDispatch);
    run.forward_described = calls.describe();
  }
  REQUIRE_MESSAGE(got.out.ok(), got.out.status().message());
  check_close(got.out->y, want.out->y, kTol, "y", {}, 1, rel);
  check_close(got.out->save_mean, want.out->save_mean, kTol, "save_mean");
  check_close(got.out->save_invstd, want.out->save_invstd, kTol, "save_invstd");
  check_close(got.running_mean, want.running_mean, kTol, "running_mean");
  check_close(got.running_var, want.running_var, kTol, "running_var");
  auto want_back = c.backward(nullptr, want.out.value());
  REQUIRE_MESSAGE(want_back.ok(), want_back.status().message());
  Result<NormBackwardResult> got_back = Status::internal("not run");
  {
    RecordedCalls calls(ctx);
    got_back = c.backward(&ctx, got.out.value());
    run.recorded.backward_calls = calls.total();
    run.recorded.backward_dispatches = calls.of(recorded_CmdDispatch);
    run.backward_described = calls.describe();
  }
  REQUIRE_MESSAGE(got_back.ok(), got_back.status().message());
  check_close(got_back->dx, want_back->dx, kTol, "dx", {}, 1, rel);
  check_close(got_back->dweight, want_back->dweight, kTol, "dweight");
  check_close(got_back->dbias, want_back->dbias, kTol, "dbias");
  check_no_validation_messages();
  run.forward = std::move(got.out.value());
  run.running_mean = std::move(got.running_mean);
  run.running_var = std::move(got.running_var);
  run.backward = std::move(got_back.value());
  return run;
}

// Runs `make(dtype)` on every device configuration in float32 and float16; `check` sees
// each device run (already compared with the reference).
void on_every_device(const std::function<EdgeCase(DType)>& make,
                     const std::function<void(const DeviceRun&)>& check = {}) {
  for (TestDevice device : kDevices)
    for (DType dtype : {DType::f32, DType::f16}) {
      const EdgeCase c = make(dtype);
      const std::string device_name = name(device);
      const bool f16 = dtype == DType::f16;
      CAPTURE(c.what);
      CAPTURE(device_name);
      CAPTURE(f16);
      if (skip_if_unsupported(context_for(device), dtype)) continue;
      DeviceRun run = run_on(device, c);
      if (check) check(run);
    }
}

bool all_nan(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float f) { return std::isnan(f); });
}

// Sets group `g` of an (outer, groups, size) view of x to `value`.
void make_constant(std::vector<float>& x, uint64_t first, uint64_t count, uint64_t stride, uint64_t runs, float value) {
  for (uint64_t r = 0; r < runs; ++r)
    for (uint64_t i = 0; i < count; ++i) x[first + r * stride + i] = value;
}

}  // namespace

TEST_CASE("Edges on the GPU: eps = 0 on a constant group, BatchNorm and InstanceNorm save invstd 0 and give beta") {
  // BatchNorm (N, C, S) with channel 1 constant: small (on-chip kernels) and 2 x 20000
  // (the split reduction).
  for (int64_t S : {5, 20000}) {
    on_every_device(
        [S](DType dtype) {
          BatchNormParams p;
          p.shape = {2, 3, S};
          p.dims = BatchNormDims::any;
          p.eps = 0.0f;
          p.dtype = dtype;
          Data d = make_data(static_cast<size_t>(6 * S), 3, 3, dtype, 11);
          make_constant(d.x, static_cast<uint64_t>(S), static_cast<uint64_t>(S), static_cast<uint64_t>(3 * S), 2, 1.5f);
          d.rv[1] = 1.0f;
          return batch_norm_case("batchnorm eps 0, S " + std::to_string(S), p, d);
        },
        [S](const DeviceRun& run) {
          CHECK(run.forward.save_invstd[1] == 0.0f);
          CHECK(run.forward.save_mean[1] == 1.5f);
          CHECK(run.forward.save_invstd[0] > 0.0f);
          // y = beta over the whole constant channel; its dx and dweight are 0.
          const float beta = run.forward.y[static_cast<size_t>(S)];
          for (int64_t n = 0; n < 2; ++n)
            for (int64_t s = 0; s < S; ++s) {
              CHECK(run.forward.y[static_cast<size_t>((n * 3 + 1) * S + s)] == beta);
              CHECK(run.backward.dx[static_cast<size_t>((n * 3 + 1) * S + s)] == 0.0f);
            }
          CHECK(run.backward.dweight[1] == 0.0f);
          CHECK(run.running_var[1] == doctest::Approx(0.9));  // 0.9 * 1 + 0.1 * (unbiased variance 0)
        });
  }
  // InstanceNorm: planes (0, 1) and (3, 2) constant; 4 x 3 planes of 7 and 64 x 8 planes
  // of 6 (a team each where the device has subgroups).
  for (int64_t N : {4, 64}) {
    const int64_t C = N == 4 ? 3 : 8, S = N == 4 ? 7 : 6;
    on_every_device(
        [=](DType dtype) {
          InstanceNormParams p;
          p.shape = {N, C, S};
          p.affine = true;
          p.track_running_stats = true;
          p.eps = 0.0f;
          p.dtype = dtype;
          Data d = make_data(static_cast<size_t>(N * C * S), static_cast<size_t>(C), static_cast<size_t>(C), dtype, 12);
          make_constant(d.x, static_cast<uint64_t>(1 * S), static_cast<uint64_t>(S), 0, 1, -2.0f);
          make_constant(d.x, static_cast<uint64_t>((3 * C + 2) * S), static_cast<uint64_t>(S), 0, 1, 0.0f);
          return instance_norm_case("instancenorm eps 0, N " + std::to_string(N), p, d);
        },
        [=](const DeviceRun& run) {
          CHECK(run.forward.save_invstd[1] == 0.0f);
          CHECK(run.forward.save_invstd[static_cast<size_t>(3 * C + 2)] == 0.0f);
          CHECK(run.forward.save_invstd[0] > 0.0f);
          for (int64_t s = 0; s < S; ++s) CHECK(run.backward.dx[static_cast<size_t>(S + s)] == 0.0f);
        });
  }
}

TEST_CASE("Edges on the GPU: eps = 0 on a constant group, GroupNorm, LayerNorm and RMSNorm give NaN there only") {
  for (int64_t N : {2, 64}) {  // GroupNorm(2) on (N, 4, 6): group (1, 0) constant
    on_every_device(
        [N](DType dtype) {
          GroupNormParams p;
          p.shape = {N, 4, 6};
          p.num_groups = 2;
          p.eps = 0.0f;
          p.dtype = dtype;
          Data d = make_data(static_cast<size_t>(N * 24), 4, 0, dtype, 13);
          make_constant(d.x, 24, 12, 0, 1, 1.5f);
          return group_norm_case("groupnorm eps 0, N " + std::to_string(N), p, d);
        },
        [](const DeviceRun& run) {
          CHECK(std::isinf(run.forward.save_invstd[2]));
          CHECK(run.forward.save_mean[2] == 1.5f);
          CHECK(all_nan(std::vector<float>(run.forward.y.begin() + 24, run.forward.y.begin() + 36)));
          CHECK(std::isfinite(run.forward.y[0]));
          CHECK(std::isfinite(run.forward.y[36]));
        });
  }
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{5, 7}, std::vector<int64_t>{130, 33},
                                            std::vector<int64_t>{2, 5000}}) {
    const int64_t D = shape[1];
    on_every_device(
        [&](DType dtype) {
          LayerNormParams p;
          p.shape = shape;
          p.normalized_shape = {D};
          p.eps = 0.0f;
          p.dtype = dtype;
          Data d = make_data(static_cast<size_t>(shape[0] * D), static_cast<size_t>(D), 0, dtype, 14);
          make_constant(d.x, static_cast<uint64_t>(D), static_cast<uint64_t>(D), 0, 1, 3.25f);  // row 1
          return layer_norm_case("layernorm eps 0, " + shape_name(shape), p, d);
        },
        [D](const DeviceRun& run) {
          CHECK(std::isinf(run.forward.save_invstd[1]));
          CHECK(std::isfinite(run.forward.save_invstd[0]));
          CHECK(all_nan(std::vector<float>(run.forward.y.begin() + D, run.forward.y.begin() + 2 * D)));
          CHECK(std::isfinite(run.forward.y[0]));
        });
    on_every_device(
        [&](DType dtype) {
          RMSNormParams p;
          p.shape = shape;
          p.normalized_shape = {D};
          p.eps = 0.0f;
          p.dtype = dtype;
          Data d = make_data(static_cast<size_t>(shape[0] * D), static_cast<size_t>(D), 0, dtype, 15);
          make_constant(d.x, static_cast<uint64_t>(D), static_cast<uint64_t>(D), 0, 1, 0.0f);  // row 1 zero
          make_constant(d.x, 0, static_cast<uint64_t>(D), 0, 1, 3.25f);                        // row 0 constant
          return rms_norm_case("rmsnorm eps 0, " + shape_name(shape), p, d);
        },
        [D](const DeviceRun& run) {
          CHECK(std::isinf(run.forward.save_invstd[1]));
          CHECK(all_nan(std::vector<float>(run.forward.y.begin() + D, run.forward.y.begin() + 2 * D)));
          CHECK(run.forward.save_invstd[0] == doctest::Approx(1.0 / 3.25));
        });
  }
}

TEST_CASE("Edges on the GPU: momentum outside [0, 1] extrapolates the running statistics, as PyTorch's") {
  for (float momentum : {-1.0f, 2.5f}) {
    on_every_device([momentum](DType dtype) {
      BatchNormParams p;
      p.shape = {4, 3, 5};
      p.dims = BatchNormDims::any;
      p.momentum = momentum;
      p.dtype = dtype;
      return batch_norm_case("batchnorm momentum " + std::to_string(momentum), p, make_data(60, 3, 3, dtype, 16));
    });
    on_every_device([momentum](DType dtype) {
      InstanceNormParams p;
      p.shape = {4, 3, 5};
      p.track_running_stats = true;
      p.momentum = momentum;
      p.dtype = dtype;
      return instance_norm_case("instancenorm momentum " + std::to_string(momentum), p, make_data(60, 0, 3, dtype, 17));
    });
  }
}

TEST_CASE("Edges on the GPU: empty groups save PyTorch's NaN and leave the running statistics alone") {
  const auto unchanged = [](const DeviceRun& run) {
    CHECK(run.forward.y.empty());
    CHECK(run.backward.dx.empty());
    for (float v : run.backward.dweight) CHECK(v == 0.0f);
    for (float v : run.backward.dbias) CHECK(v == 0.0f);
  };
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{0, 3}, std::vector<int64_t>{2, 3, 0}}) {
    on_every_device(
        [&](DType dtype) {
          BatchNormParams p;
          p.shape = shape;
          p.dims = BatchNormDims::any;
          p.dtype = dtype;
          return batch_norm_case("batchnorm " + shape_name(shape), p, make_data(0, 3, 3, dtype, 18));
        },
        [&](const DeviceRun& run) {
          unchanged(run);
          CHECK(run.forward.save_mean.size() == 3);
          CHECK(all_nan(run.forward.save_mean));
          CHECK(all_nan(run.forward.save_invstd));
        });
  }
  on_every_device(
      [](DType dtype) {
        InstanceNormParams p;
        p.shape = {2, 3, 0};
        p.affine = p.track_running_stats = true;
        p.dtype = dtype;
        return instance_norm_case("instancenorm (2, 3, 0)", p, make_data(0, 3, 3, dtype, 19));
      },
      [&](const DeviceRun& run) {
        unchanged(run);
        CHECK(run.forward.save_mean.size() == 6);
        CHECK(all_nan(run.forward.save_mean));
        CHECK(all_nan(run.forward.save_invstd));
      });
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{2, 4, 0}, std::vector<int64_t>{2, 0, 5}}) {
    on_every_device(
        [&](DType dtype) {
          GroupNormParams p;
          p.shape = shape;
          p.num_groups = 2;
          p.dtype = dtype;
          const size_t C = static_cast<size_t>(shape[1]);
          return group_norm_case("groupnorm " + shape_name(shape), p, make_data(0, C, 0, dtype, 20));
        },
        [&](const DeviceRun& run) {
          unchanged(run);
          CHECK(run.forward.save_mean == std::vector<float>(4, 0.0f));  // native_group_norm: mean 0, rstd NaN
          CHECK(run.forward.save_invstd.size() == 4);
          CHECK(all_nan(run.forward.save_invstd));
        });
  }
  struct Trailing {
    std::vector<int64_t> shape, normalized;
  };
  for (const Trailing& t : {Trailing{{3, 2, 0}, {2, 0}}, Trailing{{3, 0}, {0}}, Trailing{{0}, {0}}}) {
    const size_t rows = t.shape.size() == 1 ? 1 : 3;
    on_every_device(
        [&](DType dtype) {
          LayerNormParams p;
          p.shape = t.shape;
          p.normalized_shape = t.normalized;
          p.dtype = dtype;
          return layer_norm_case("layernorm " + shape_name(t.shape), p, make_data(0, 0, 0, dtype, 21));
        },
        [&](const DeviceRun& run) {
          unchanged(run);
          CHECK(run.forward.save_mean == std::vector<float>(rows, 0.0f));
          CHECK(run.forward.save_invstd.size() == rows);
          CHECK(all_nan(run.forward.save_invstd));
          INFO("backward recorded: " << run.backward_described);
          CHECK(run.recorded.backward_calls == 0);  // no element, no parameter: nothing to do
        });
    on_every_device(
        [&](DType dtype) {
          RMSNormParams p;
          p.shape = t.shape;
          p.normalized_shape = t.normalized;
          p.dtype = dtype;
          return rms_norm_case("rmsnorm " + shape_name(t.shape), p, make_data(0, 0, 0, dtype, 22));
        },
        [&](const DeviceRun& run) {
          unchanged(run);
          CHECK(run.forward.save_invstd.size() == rows);
          CHECK(all_nan(run.forward.save_invstd));
        });
  }
}

TEST_CASE("Edges on the GPU: a zero-size call with no statistics group records no command at all") {
  const auto nothing = [](const DeviceRun& run) {
    CHECK(run.forward.y.empty());
    CHECK(run.forward.save_mean.empty());
    CHECK(run.forward.save_invstd.empty());
    CHECK(run.backward.dx.empty());
    INFO("forward recorded: " << run.forward_described << "; backward: " << run.backward_described);
    CHECK(run.recorded.forward_calls == 0);
    CHECK(run.recorded.backward_calls == 0);
  };
  for (bool training : {true, false}) {
    on_every_device(
        [training](DType dtype) {
          BatchNormParams p;
          p.shape = {4, 0, 5};
          p.dims = BatchNormDims::any;
          p.affine = false;  // PyTorch raises for C = 0 with affine parameters
          p.training = training;
          p.dtype = dtype;
          return batch_norm_case(std::string("batchnorm (4, 0, 5) ") + (training ? "train" : "eval"), p,
                                 make_data(0, 0, 0, dtype, 23));
        },
        nothing);
  }
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{2, 0, 5}, std::vector<int64_t>{0, 3, 4}}) {
    on_every_device(
        [&](DType dtype) {
          InstanceNormParams p;
          p.shape = shape;
          p.dtype = dtype;
          return instance_norm_case("instancenorm " + shape_name(shape), p, make_data(0, 0, 0, dtype, 24));
        },
        nothing);
  }
  on_every_device(
      [](DType dtype) {
        GroupNormParams p;
        p.shape = {0, 4, 3};
        p.num_groups = 2;
        p.affine = false;
        p.dtype = dtype;
        return group_norm_case("groupnorm (0, 4, 3)", p, make_data(0, 0, 0, dtype, 25));
      },
      nothing);
  on_every_device(
      [](DType dtype) {
        LayerNormParams p;
        p.shape = {0, 5};
        p.normalized_shape = {5};
        p.elementwise_affine = p.bias = false;
        p.dtype = dtype;
        return layer_norm_case("layernorm (0, 5)", p, make_data(0, 0, 0, dtype, 26));
      },
      nothing);
}

}  // namespace vknorm::test

namespace vknorm::test {

TEST_CASE("Edges on the GPU: recording a zero-size call with no group records nothing, with or without buffers") {
  for (TestDevice device : kDevices) {
    const std::string device_name = name(device);
    CAPTURE(device_name);
    Context& ctx = context_for(device);
    auto rec = ctx.begin_commands();
    REQUIRE(rec.ok());
    CommandRecorder& r = *rec.value();
    RecordedCalls calls(ctx);
    BatchNormParams bn;
    bn.shape = {4, 0, 5};
    bn.dims = BatchNormDims::any;
    bn.affine = false;
    Status s = record_batch_norm_forward(r, bn, NormForwardBuffers{});  // every buffer VK_NULL_HANDLE
    CHECK_MESSAGE(s.ok(), s.message());
    s = record_batch_norm_backward(r, bn, NormBackwardBuffers{});
    CHECK_MESSAGE(s.ok(), s.message());
    LayerNormParams ln;
    ln.shape = {0, 5};
    ln.normalized_shape = {5};
    ln.elementwise_affine = ln.bias = false;
    s = record_layer_norm_forward(r, ln, NormForwardBuffers{});
    CHECK_MESSAGE(s.ok(), s.message());
    s = record_layer_norm_backward(r, ln, NormBackwardBuffers{});
    CHECK_MESSAGE(s.ok(), s.message());
    CHECK_MESSAGE(calls.total() == 0, "recorded: " << calls.describe());
    CHECK(r.dispatch_count() == 0);
    // A call that does record (LayerNorm over 0 elements: its rows' NaN statistics) still
    // needs the buffers it writes.
    ln.shape = {3, 0};
    ln.normalized_shape = {0};
    s = record_layer_norm_forward(r, ln, NormForwardBuffers{});
    CHECK(s.code() == StatusCode::invalid_argument);
    CHECK(s.message().find("expected a VkBuffer") != std::string::npos);
    CHECK_MESSAGE(calls.total() == 0, "recorded: " << calls.describe());
    check_no_validation_messages();
  }
}

}  // namespace vknorm::test
