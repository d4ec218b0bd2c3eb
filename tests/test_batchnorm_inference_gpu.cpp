// Eval BatchNorm in two steps (record_batch_norm_inference_coefficients, then
// record_batch_norm_inference_apply) against the eval forward on the device and the CPU
// reference, on every test device; and the record calls' refusals.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gpu_support.hpp"
#include "vknorm/batchnorm_inference.hpp"
#include "vknorm/half.hpp"

using namespace vknorm;
using namespace vknorm::test;

namespace {

constexpr double kUlp = 1.0 / 16777216.0;  // 2^-24: half an ulp of float32, relative

// Tensors and parameters of one case, laid out in one buffer: each at its own offset (in
// elements of its type), so that a case can put x, y and the residual off the 4-element
// alignment that the apply's 128-bit path needs.
struct Layout4 {
  uint64_t x = 0, y_forward = 0, y_apply = 0, residual = 0;  // tensor elements
};

struct InferenceCase {
  std::vector<int64_t> shape;
  Layout layout = Layout::nchw;
  DType dtype = DType::f32;
  bool affine = true;
  Epilogue epilogue;
  uint64_t misalign = 0;  // words of 4 bytes added to every tensor offset (1: the scalar path)
};

std::string describe(const InferenceCase& c) {
  return shape_name(c.shape) + (c.layout == Layout::nhwc ? " nhwc " : " nchw ") +
         (c.dtype == DType::f16 ? "f16" : "f32") + (c.affine ? " affine" : " no-affine") +
         (c.epilogue.residual ? " +residual" : "") + (c.epilogue.relu ? " relu" : "") +
         (c.misalign ? " moved " + std::to_string(4 * c.misalign) + " bytes" : "");
}

// (N, C, S) logical order -> the storage order of `layout`.
std::vector<uint64_t> storage_index(const std::vector<int64_t>& shape, Layout layout) {
  const uint64_t n = product(shape), C = static_cast<uint64_t>(shape[1]);
  const uint64_t S = n == 0 ? 0 : n / static_cast<uint64_t>(shape[0]) / C;
  std::vector<uint64_t> at(n);
  for (uint64_t i = 0; i < n; ++i)
    at[i] = layout == Layout::nhwc ? (i / (C * S) * S + i % S) * C + i / S % C : i;
  return at;
}

struct TensorArena {
  Buffer buffer;
  DType dtype;
  std::vector<uint64_t> at;
  void put(uint64_t offset, const std::vector<float>& v) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (dtype == DType::f16)
        buffer.as<uint16_t>()[offset + at[i]] = float_to_half(v[i]);
      else
        buffer.as<float>()[offset + at[i]] = v[i];
    }
  }
  std::vector<float> get(uint64_t offset) const {
    std::vector<float> v(at.size());
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = dtype == DType::f16 ? half_to_float(buffer.as<uint16_t>()[offset + at[i]])
                                 : buffer.as<float>()[offset + at[i]];
    return v;
  }
  BufferRef ref(uint64_t offset) const {
    const uint64_t eb = dtype == DType::f16 ? 2 : 4, bytes = at.size() * eb;
    // Packed float16 touches the whole word of its last element: the range covers it.
    return {buffer.handle(), offset * eb, (bytes + offset * eb + 3) / 4 * 4 - offset * eb};
  }
};

void run_case(Context& ctx, const InferenceCase& c, uint32_t seed) {
  CAPTURE(describe(c));
  BatchNormParams p;
  p.shape = c.shape;
  p.training = false;
  p.affine = c.affine;
  p.eps = 1e-3f;
  p.layout = c.layout;
  p.dtype = c.dtype;
  p.epilogue = c.epilogue;
  auto g = check_batch_norm(p);
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  const uint64_t n = g->elements, C = g->channels;
  std::mt19937 rng(seed);
  auto input = [&](std::vector<float> v) { return c.dtype == DType::f16 ? round_to_half(v) : v; };
  // x sits away from 0 and from the running mean, so the forward's x - mean and the
  // apply's x * scale + shift round differently: the comparison sees both roundings.
  const auto x = input(random_vector(n, rng, 1.5f, 2.0f)), residual = input(random_vector(n, rng));
  const auto mean = random_vector(C, rng, 0.5f, 1.0f);
  std::vector<float> var = random_vector(C, rng, 0.0f, 1.0f);
  for (float& v : var) v = 0.05f + v * v;
  const auto w = random_vector(C, rng, 1.0f, 0.5f), b = random_vector(C, rng, 0.0f, 0.5f);

  // Tensor offsets: multiples of 16 bytes (the 128-bit path; float16's _wide_ kernels), or
  // moved by c.misalign words of 4 bytes: 1 breaks the 4-element alignment in both dtypes
  // (the scalar path), 2 moves float16 by 4 elements, 8 bytes (the _wide_ kernels' 4-element
  // twins) and float32 by 2 (scalar).
  const uint64_t eb = c.dtype == DType::f16 ? 2 : 4, shift = c.misalign * (4 / eb);
  const uint64_t stride = (n + 8) / 8 * 8 + 8;
  Layout4 at{shift, stride + shift, 2 * stride + shift, 3 * stride + shift};
  auto made = ctx.create_buffer(std::max<uint64_t>(4, (4 * stride + 8) * eb));
  REQUIRE_MESSAGE(made.ok(), made.status().message());
  TensorArena arena{std::move(made.value()), c.dtype, storage_index(c.shape, c.layout)};
  std::memset(arena.buffer.data(), 0x7f, arena.buffer.size());  // NaN-ish sentinels where nothing is written
  arena.put(at.x, x);
  arena.put(at.residual, residual);

  Buffer running_mean = floats(ctx, mean, C), running_var = floats(ctx, var, C);
  Buffer weight = floats(ctx, w, C), bias = floats(ctx, b, C);
  // The coefficients 4 bytes into their buffer without affine: the channels-last apply then
  // reads them per channel (batch_norm_apply_columns_cached_vec4), else four per load.
  const uint64_t coefficients_shift = c.affine ? 0 : 4;
  Buffer coefficients = floats(ctx, {}, 2 * C + 1);
  const BufferRef coefficients_ref{coefficients.handle(), coefficients_shift, 2 * C * 4};
  auto workspace_bytes = batch_norm_workspace_size(ctx, p);
  REQUIRE_MESSAGE(workspace_bytes.ok(), workspace_bytes.status().message());
  Buffer workspace = floats(ctx, {}, workspace_bytes.value() / 4);

  auto recorder = ctx.begin_commands();
  REQUIRE_MESSAGE(recorder.ok(), recorder.status().message());
  BatchNormForwardBuffers fb;
  fb.x = arena.ref(at.x);
  fb.y = arena.ref(at.y_forward);
  fb.residual = arena.ref(at.residual);
  fb.running_mean = ref(running_mean);
  fb.running_var = ref(running_var);
  if (c.affine) fb.weight = ref(weight), fb.bias = ref(bias);
  fb.workspace = ref(workspace);
  Status st = record_batch_norm_forward(*recorder.value(), p, fb);
  REQUIRE_MESSAGE(st.ok(), st.message());
  BatchNormCoefficientsBuffers cb;
  cb.running_mean = ref(running_mean);
  cb.running_var = ref(running_var);
  if (c.affine) cb.weight = ref(weight), cb.bias = ref(bias);
  cb.coefficients = coefficients_ref;
  st = record_batch_norm_inference_coefficients(*recorder.value(), p, cb);
  REQUIRE_MESSAGE(st.ok(), st.message());
  BatchNormApplyBuffers ab;
  ab.x = arena.ref(at.x);
  ab.y = arena.ref(at.y_apply);
  ab.residual = arena.ref(at.residual);
  ab.coefficients = coefficients_ref;
  st = record_batch_norm_inference_apply(*recorder.value(), p, ab);
  REQUIRE_MESSAGE(st.ok(), st.message());
  st = ctx.submit_and_wait(*recorder.value());
  REQUIRE_MESSAGE(st.ok(), st.message());

  // The device's coefficients against the host function: the same float32 operations,
  // but Vulkan allows sqrt and division a few ulp (sqrt as 1 / inversesqrt: 2 ulp;
  // division 2.5 ulp), so the scale may differ by that much, and the shift by that much of
  // |mean * scale|.
  auto host = batch_norm_inference_coefficients(p, mean, var, w, b);
  REQUIRE_MESSAGE(host.ok(), host.status().message());
  const float* device = coefficients.as<float>() + coefficients_shift / 4;
  for (uint64_t k = 0; k < C; ++k) {
    CAPTURE(k);
    const double s = host.value()[k];
    CHECK(std::fabs(device[k] - s) <= 16 * kUlp * std::fabs(s));
    const double moved = std::fabs(double(mean[k]) * s);
    CHECK(std::fabs(device[C + k] - host.value()[C + k]) <= 16 * kUlp * (moved + std::fabs(host.value()[C + k])));
  }

  std::vector<float> rm = mean, rv = var;
  auto want = reference::batch_norm_forward(p, x, w, b, rm, rv, residual);
  REQUIRE_MESSAGE(want.ok(), want.status().message());
  const std::vector<float> forward = arena.get(at.y_forward), apply = arena.get(at.y_apply);
  // Bound per element. The apply computes x * scale + shift (+ residual) with a few float32
  // roundings, each at most half an ulp of the largest term it touches: |x * s|,
  // |mean * s| (inside the shift), |beta|, |residual|; the scale itself may be off by up to
  // ~6 ulp (Vulkan's sqrt and division), which scales the first two terms. 16 half-ulps of
  // their sum covers all of it against the double-precision reference. The eval forward
  // runs the same kernel with the coefficients computed by the same float32 operations, so
  // it is held to the same bound against the apply (today they agree bit for bit).
  // float16 storage adds the rounding of y itself (kHalfRounding of |y|) on each side.
  double worst_forward = 0, worst_reference = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t k = i / (n / std::max<int64_t>(1, c.shape[0]) / C) % C;
    const double s = (c.affine ? w[k] : 1.0) / std::sqrt(double(var[k]) + p.eps);
    const double terms = std::fabs(x[i] * s) + std::fabs(mean[k] * s) + (c.affine ? std::fabs(b[k]) : 0.0) +
                         (c.epilogue.residual ? std::fabs(residual[i]) : 0.0);
    const double half = c.dtype == DType::f16 ? kHalfRounding * std::fabs(double(want->y[i])) : 0.0;
    const double allowed = 16 * kUlp * terms + 2 * half;
    const double to_forward = std::fabs(double(apply[i]) - forward[i]);
    const double to_reference = std::fabs(double(apply[i]) - want->y[i]);
    if (!(to_forward <= allowed)) FAIL_CHECK("element " << i << ": apply " << apply[i] << ", eval forward " << forward[i]);
    if (!(to_reference <= allowed))
      FAIL_CHECK("element " << i << ": apply " << apply[i] << ", reference " << want->y[i]);
    worst_forward = std::max(worst_forward, to_forward / allowed);
    worst_reference = std::max(worst_reference, to_reference / allowed);
  }
  if (c.epilogue.relu)
    for (float v : apply) CHECK(!(v < 0.0f));
  // x and the residual come back unchanged, and nothing is written past y.
  CHECK(arena.get(at.x) == x);
  const uint16_t* halves = arena.buffer.as<uint16_t>();
  const uint64_t after_y = (at.y_apply + n) * eb / 2;
  CHECK(halves[after_y] == 0x7f7f);
  CHECK(halves[at.y_apply * eb / 2 - 1] == 0x7f7f);
}

std::vector<InferenceCase> cases() {
  std::vector<InferenceCase> out;
  // C not a multiple of 4 and odd spatial sizes (scalar rows), C and S multiples of 4
  // (128-bit rows), a BatchNorm1d (N, C), planes longer than a workgroup, planes split in
  // parts (1x2x64x164: too few planes for one workgroup each); 24 channels of 15 (the
  // _wide_ kernels' 8-element units across two planes, or three per channels-last row).
  const std::vector<std::vector<int64_t>> shapes = {{2, 5, 3, 3},   {3, 8, 4, 4},    {2, 6, 2, 3},
                                                    {4, 7},         {5, 12},         {1, 4, 40, 33},
                                                    {2, 12, 24, 24}, {1, 2, 64, 164}, {2, 24, 3, 5}};
  for (const auto& shape : shapes)
    for (Layout layout : {Layout::nchw, Layout::nhwc})
      for (DType dtype : {DType::f32, DType::f16}) {
        out.push_back({shape, layout, dtype, true, {}, 0});
        out.push_back({shape, layout, dtype, false, {true, true}, 0});
        out.push_back({shape, layout, dtype, true, {true, true}, 1});
        if (dtype == DType::f16) out.push_back({shape, layout, dtype, true, {false, true}, 2});
      }
  return out;
}

}  // namespace

TEST_CASE("batch_norm inference: coefficients + apply equal the eval forward and the reference") {
  for (TestDevice device : kDevices) {
    CAPTURE(name(device));
    Context& ctx = context_for(device);
    for (DType dtype : {DType::f32, DType::f16}) {
      if (skip_if_unsupported(ctx, dtype)) continue;
      uint32_t seed = 1;
      for (const InferenceCase& c : cases())
        if (c.dtype == dtype) run_case(ctx, c, seed++);
    }
    check_no_validation_messages();
  }
}

TEST_CASE("batch_norm inference: the record calls refuse what they cannot run, recording nothing") {
  Context& ctx = context_for(TestDevice::subgroup);
  BatchNormParams p;
  p.shape = {2, 6, 3, 3};
  p.training = false;
  auto x = ctx.create_buffer(2 * 6 * 9 * 4), y = ctx.create_buffer(2 * 6 * 9 * 4);
  auto stats = ctx.create_buffer(6 * 4), coefficients = ctx.create_buffer(12 * 4);
  REQUIRE(x.ok());
  REQUIRE(y.ok());
  REQUIRE(stats.ok());
  REQUIRE(coefficients.ok());
  // Channels-last rows of 8 channels (the eval forward's apply walks columns), and the
  // buffers of its forward, which live until the submit.
  BatchNormParams nhwc = p;
  nhwc.layout = Layout::nhwc;
  nhwc.shape = {2, 8, 1, 3};
  auto channels = ctx.create_buffer(8 * 4);
  auto workspace_bytes = batch_norm_workspace_size(ctx, nhwc);
  REQUIRE(channels.ok());
  REQUIRE(workspace_bytes.ok());
  auto workspace = ctx.create_buffer(workspace_bytes.value());
  REQUIRE(workspace.ok());
  auto recorder = ctx.begin_commands();
  REQUIRE(recorder.ok());
  CommandRecorder& rec = *recorder.value();
  uint32_t recorded = 0;  // dispatches the calls that succeed record

  BatchNormCoefficientsBuffers cb{ref(*stats), ref(*stats), ref(*stats), ref(*stats), ref(*coefficients)};
  BatchNormApplyBuffers ab{ref(*x), ref(*y), ref(*coefficients), {}};
  auto refused = [&](Status st, const std::string& words) {
    CHECK_FALSE(st.ok());
    CHECK(st.code() == StatusCode::invalid_argument);
    CHECK_MESSAGE(st.message().find(words) != std::string::npos, st.message());
  };
  SUBCASE("training or untracked statistics") {
    BatchNormParams t = p;
    t.training = true;
    refused(record_batch_norm_inference_coefficients(rec, t, cb), "params.training");
    refused(record_batch_norm_inference_apply(rec, t, ab), "params.training");
    t = p;
    t.track_running_stats = false;
    refused(record_batch_norm_inference_coefficients(rec, t, cb), "params.track_running_stats");
  }
  SUBCASE("PyTorch's shape checks") {
    BatchNormParams t = p;
    t.shape = {6};
    refused(record_batch_norm_inference_apply(rec, t, ab), "x: expected at least 2D input");
    t = p;
    t.eps = -1.0f;
    refused(record_batch_norm_inference_coefficients(rec, t, cb), "eps");
  }
  SUBCASE("missing buffers") {
    BatchNormCoefficientsBuffers c = cb;
    c.running_var = {};
    refused(record_batch_norm_inference_coefficients(rec, p, c), "buffers.running_var: expected a VkBuffer");
    c = cb;
    c.weight = {};
    refused(record_batch_norm_inference_coefficients(rec, p, c), "buffers.weight: expected a VkBuffer");
    BatchNormParams no_affine = p;
    no_affine.affine = false;
    CHECK(record_batch_norm_inference_coefficients(rec, no_affine, c).ok());  // weight not read
    ++recorded;
    BatchNormApplyBuffers a = ab;
    a.coefficients = {};
    refused(record_batch_norm_inference_apply(rec, p, a), "buffers.coefficients: expected a VkBuffer");
    BatchNormParams residual = p;
    residual.epilogue.residual = true;
    refused(record_batch_norm_inference_apply(rec, residual, ab), "buffers.residual: expected a VkBuffer");
  }
  SUBCASE("short ranges and offsets") {
    BatchNormCoefficientsBuffers c = cb;
    c.coefficients.size = 11 * 4;
    refused(record_batch_norm_inference_coefficients(rec, p, c),
            "buffers.coefficients: range of 44 bytes, expected at least 48 (12 elements)");
    BatchNormApplyBuffers a = ab;
    a.y.size = 100;
    refused(record_batch_norm_inference_apply(rec, p, a), "buffers.y: range of 100 bytes");
    a = ab;
    a.x.offset = 2;
    refused(record_batch_norm_inference_apply(rec, p, a), "buffers.x: offset 2 is not a multiple of 4");
  }
  SUBCASE("the eval forward's workspace, where it computes the coefficients first") {
    // On a CPU device the forward computes the coefficients into the workspace first (two
    // dispatches), so it needs 2 * C floats of it: a missing workspace or one a float short
    // is refused, naming it; a GPU applies in one pass and needs none.
    REQUIRE(workspace_bytes.value() >= 2 * 8 * 4);
    BatchNormForwardBuffers fb;
    fb.x = ref(*x);
    fb.y = ref(*y);
    fb.running_mean = fb.running_var = fb.weight = fb.bias = ref(*channels);
    const bool cpu = ctx.capabilities().device_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
    if (cpu) {
      refused(record_batch_norm_forward(rec, nhwc, fb), "buffers.workspace: expected a VkBuffer");
      fb.workspace = BufferRef{workspace->handle(), 0, 2 * 8 * 4 - 4};
      refused(record_batch_norm_forward(rec, nhwc, fb), "buffers.workspace: range of 60 bytes, expected at least 64");
      fb.workspace = BufferRef{workspace->handle(), 0, 2 * 8 * 4};
    }
    CHECK(record_batch_norm_forward(rec, nhwc, fb).ok());
    recorded += cpu ? 2 : 1;
    fb.workspace = ref(*workspace);
    CHECK(record_batch_norm_forward(rec, nhwc, fb).ok());
    recorded += cpu ? 2 : 1;
  }
  CHECK(rec.dispatch_count() == recorded);  // a refused call records nothing
  REQUIRE(ctx.submit_and_wait(rec).ok());
}

TEST_CASE("batch_norm inference: host coefficients follow the formula, and need running statistics") {
  BatchNormParams p;
  p.shape = {1, 3};
  p.training = false;
  p.eps = 0.25f;
  auto c = batch_norm_inference_coefficients(p, {1.0f, -2.0f, 0.0f}, {0.75f, 3.75f, 0.0f}, {2.0f, 1.0f, -1.0f},
                                             {0.5f, 0.0f, 1.0f});
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  // Exact in float32: sqrt(1) = 1, sqrt(4) = 2, sqrt(0.25) = 0.5.
  CHECK(c.value() == std::vector<float>{2.0f, 0.5f, -2.0f, 0.5f - 2.0f, 1.0f, 1.0f});
  p.affine = false;
  c = batch_norm_inference_coefficients(p, {1.0f, -2.0f, 0.0f}, {0.75f, 3.75f, 0.0f}, {}, {});
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  CHECK(c.value() == std::vector<float>{1.0f, 0.5f, 2.0f, -1.0f, 1.0f, 0.0f});
  auto short_var = batch_norm_inference_coefficients(p, {1.0f, -2.0f, 0.0f}, {0.75f}, {}, {});
  CHECK(short_var.status().code() == StatusCode::invalid_argument);
  CHECK(short_var.status().message().find("running_var") != std::string::npos);
  CHECK(batch_norm_inference_coefficient_count(p).value() == 6);
}

TEST_CASE("batch_norm inference: preparing BatchNorm's forward prepares both inference kernels") {
  StandaloneOptions options;
  options.descriptor_path = test_descriptor_path();
  options.require_prepared_kernels = true;  // a missing pipeline fails the record call
  OwnContext ctx(options);
  PrepareRequest request;
  request.kinds = {Norm::batch_norm};
  request.backward = false;
  auto prepared = ctx->prepare_kernels(request);
  REQUIRE_MESSAGE(prepared.ok(), prepared.status().message());
  const uint32_t pipelines = ctx->footprint().pipelines;

  BatchNormParams p;
  p.shape = {2, 8, 4, 4};
  p.training = false;
  auto x = ctx->create_buffer(2 * 8 * 16 * 4), y = ctx->create_buffer(2 * 8 * 16 * 4);
  auto stats = ctx->create_buffer(8 * 4), coefficients = ctx->create_buffer(16 * 4);
  REQUIRE((x.ok() && y.ok() && stats.ok() && coefficients.ok()));
  auto recorder = ctx->begin_commands();
  REQUIRE(recorder.ok());
  Status st = record_batch_norm_inference_coefficients(
      *recorder.value(), p, {ref(*stats), ref(*stats), ref(*stats), ref(*stats), ref(*coefficients)});
  CHECK_MESSAGE(st.ok(), st.message());
  st = record_batch_norm_inference_apply(*recorder.value(), p, {ref(*x), ref(*y), ref(*coefficients), {}});
  CHECK_MESSAGE(st.ok(), st.message());
  CHECK(recorder.value()->dispatch_count() == 2);
  REQUIRE(ctx->submit_and_wait(*recorder.value()).ok());
  CHECK(ctx->footprint().pipelines == pipelines);
}
