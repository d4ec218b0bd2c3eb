#include "bench_cases.hpp"

#include <cstring>
#include <functional>
#include <random>

#include "ops/norm_kinds.hpp"
#include "vknorm/batchnorm_inference.hpp"
#include "vknorm/half.hpp"

namespace vknorm::bench {
namespace {

uint64_t product(const std::vector<int64_t>& v) {
  uint64_t p = 1;
  for (int64_t d : v) p *= static_cast<uint64_t>(d);
  return p;
}

// The case's row of the kind table (all_cases only makes cases of kinds in the table).
const KindInfo& kind_of(const BenchCase& c) { return *find_kind(c.kind); }

// The params the bench times, for any kind, field by field: PyTorch's defaults with
// weight and bias, and tracked running statistics where the kind keeps them.
template <class Params>
Params bench_params(const BenchCase& c, bool training) {
  Params p;
  p.shape = c.shape;
  p.dtype = c.dtype;
  if constexpr (requires { p.layout; }) p.layout = c.layout;
  if constexpr (requires { p.training; }) p.training = training;
  if constexpr (requires { p.affine; }) p.affine = true;
  if constexpr (requires { p.track_running_stats; }) p.track_running_stats = true;
  if constexpr (requires { p.num_groups; }) p.num_groups = c.groups;
  if constexpr (requires { p.normalized_shape; }) p.normalized_shape = {c.shape.back()};
  return p;
}

// The calls of one kind with the case's parameters, behind one signature, and the
// geometry that sizes its small tensors (parameters, statistics, running statistics).
struct KindCalls {
  NormGeometry geometry;
  std::function<Result<uint64_t>(const Context&)> workspace;
  std::function<Status(CommandRecorder&, const NormForwardBuffers&)> forward;
  std::function<Status(CommandRecorder&, const NormBackwardBuffers&)> backward;
};

KindCalls kind_calls(const BenchCase& c, bool training) {
  return visit_kind<KindCalls>(kind_of(c), [&](auto kind) {
    using Params = typename decltype(kind)::type;
    const Params p = bench_params<Params>(c, training);
    auto checked = NormKind<Params>::check(p);
    return KindCalls{checked ? checked.value() : NormGeometry{},
                     [=](const Context& ctx) { return kind_workspace_size(ctx, p); },
                     [=](CommandRecorder& r, const NormForwardBuffers& b) { return record_kind_forward(r, p, b); },
                     [=](CommandRecorder& r, const NormBackwardBuffers& b) { return record_kind_backward(r, p, b); }};
  });
}

// `count` values in the case's storage type, uniform in [lo, hi).
std::vector<uint8_t> random_tensor(uint64_t count, DType dtype, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<uint8_t> bytes(count * (dtype == DType::f16 ? 2 : 4));
  for (uint64_t i = 0; i < count; ++i) {
    const float v = dist(rng);
    if (dtype == DType::f16) {
      const uint16_t h = float_to_half(v);
      std::memcpy(&bytes[i * 2], &h, 2);
    } else {
      std::memcpy(&bytes[i * 4], &v, 4);
    }
  }
  return bytes;
}

std::vector<uint8_t> constant_floats(uint64_t count, float value) {
  std::vector<uint8_t> bytes(count * 4);
  for (uint64_t i = 0; i < count; ++i) std::memcpy(&bytes[i * 4], &value, 4);
  return bytes;
}

// BatchNorm's cached eval: the coefficients of fwd's running statistics, weight and bias
// recorded once into a buffer of their own, then the apply that reads them is timed.
Result<PreparedCase> prepare_cached_apply(BenchDevice& device, const BenchCase& c, const NormForwardBuffers& fwd,
                                          PreparedCase prepared) {
  const BatchNormParams p = bench_params<BatchNormParams>(c, false);
  auto count = batch_norm_inference_coefficient_count(p);
  if (!count) return count.status();
  auto coefficients = device.buffer(count.value() * 4, {});
  if (!coefficients) return coefficients.status();
  prepared.buffers.push_back(std::move(coefficients.value()));
  const BufferRef coefficients_ref = prepared.buffers.back().ref();
  VKNORM_TRY(device.run_once([&](CommandRecorder& r) {
    return record_batch_norm_inference_coefficients(
        r, p, {fwd.running_mean, fwd.running_var, fwd.weight, fwd.bias, coefficients_ref});
  }));
  const BatchNormApplyBuffers apply{fwd.x, fwd.y, coefficients_ref, {}};
  prepared.record = [p, apply](CommandRecorder& r) { return record_batch_norm_inference_apply(r, p, apply); };
  return prepared;
}

}  // namespace

const char* to_string(Pass pass) {
  switch (pass) {
    case Pass::train_forward: return "train_fwd";
    case Pass::eval_forward: return "eval_fwd";
    case Pass::eval_cached: return "eval_cached";
    case Pass::backward: return "backward";
  }
  return "?";
}

Result<Pass> parse_pass(const std::string& name) {
  for (Pass pass : {Pass::train_forward, Pass::eval_forward, Pass::eval_cached, Pass::backward})
    if (name == to_string(pass)) return pass;
  return Status::invalid_argument("--pass: expected train_fwd, eval_fwd, eval_cached or backward, got '" + name +
                                  "'");
}

std::string BenchCase::shape_label() const {
  // Appended piece by piece: "G" + std::to_string(...) gets GCC 12's false -Wrestrict (PR 105329).
  std::string s;
  if (kind == "group_norm") s.append("G").append(std::to_string(groups)).append(" ");
  for (size_t i = 0; i < shape.size(); ++i) s.append(i ? "x" : "").append(std::to_string(shape[i]));
  return s;
}

std::string BenchCase::layout_label() const {
  if (!has_layout) return "rows";
  return layout == Layout::nhwc ? "nhwc" : "nchw";
}

uint64_t BenchCase::elements() const { return product(shape); }

uint64_t BenchCase::min_bytes() const {
  const KindInfo& k = kind_of(*this);
  const NormGeometry g = kind_calls(*this, true).geometry;
  const uint64_t tensor = elements() * (dtype == DType::f16 ? 2 : 4);
  const uint64_t params = g.affine_size * 4 * (k.has_bias ? 2 : 1);
  const uint64_t stats = g.stat_groups * 4 * (k.saves_mean ? 2 : 1);
  switch (pass) {
    case Pass::train_forward:  // x, y; weight, bias; save stats; running stats read and written
      return 2 * tensor + params + stats + (k.running_stats ? g.channels * 4 * 4 : 0);
    case Pass::eval_forward:  // x, y; weight, bias; running stats read
      return 2 * tensor + params + g.channels * 4 * 2;
    case Pass::eval_cached:  // x, y; the coefficients read (a scale and a shift per channel)
      return 2 * tensor + g.channels * 4 * kBatchNormCoefficientsPerChannel;
    case Pass::backward:  // x, dy, dx; weight, save stats read; dweight, dbias written
      return 3 * tensor + params + g.affine_size * 4 + stats;
  }
  return 0;
}

double BenchCase::target_ratio() const {
  if (pass == Pass::backward) return 3.0;
  if (kind == "batch_norm" && (pass == Pass::eval_forward || pass == Pass::eval_cached)) return 1.15;
  return 1.5;
}

std::vector<BenchCase> all_cases(bool with_f16) {
  struct Shape {
    const char* kind;
    std::vector<int64_t> shape;
    int64_t groups;
  };
  const std::vector<Shape> shapes = {
      {"batch_norm", {8, 64, 56, 56}, 0},    {"batch_norm", {8, 256, 14, 14}, 0},
      {"batch_norm", {32, 2048, 7, 7}, 0},   {"layer_norm", {512, 768}, 0},
      {"layer_norm", {4096, 1024}, 0},       {"layer_norm", {8, 4097}, 0},
      {"rms_norm", {2048, 4096}, 0},         {"group_norm", {2, 320, 64, 64}, 32},
      {"group_norm", {1, 64, 56, 56}, 32},   {"instance_norm", {1, 64, 128, 128}, 0},
      {"instance_norm", {8, 256, 14, 14}, 0},
  };
  std::vector<BenchCase> cases;
  for (const Shape& s : shapes) {
    const KindInfo& kind = *find_kind(s.kind);
    const bool rows = !kind.channel_layouts;
    std::vector<Pass> passes = {Pass::train_forward};
    if (kind.running_stats) passes.push_back(Pass::eval_forward);
    // The engine's every-frame eval BatchNorm: the coefficients prepared once.
    if (std::string(s.kind) == "batch_norm") passes.push_back(Pass::eval_cached);
    passes.push_back(Pass::backward);
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      if (rows && layout == Layout::nhwc) continue;
      for (DType dtype : {DType::f32, DType::f16}) {
        if (dtype == DType::f16 && !with_f16) continue;
        for (Pass pass : passes) {
          BenchCase c;
          c.kind = s.kind;
          c.shape = s.shape;
          c.groups = s.groups;
          c.has_layout = !rows;
          c.layout = layout;
          c.dtype = dtype;
          c.pass = pass;
          cases.push_back(c);
        }
      }
    }
  }
  return cases;
}

Result<std::string> parse_kind(const std::string& name) {
  auto kind = vknorm::parse_kind("--kind", name, false);
  if (!kind) return kind.status();
  return std::string(kind.value()->name);
}

Result<PreparedCase> prepare_case(Context& context, BenchDevice& device, const BenchCase& c) {
  const uint64_t E = c.elements();
  const KindCalls train = kind_calls(c, true);
  struct {
    uint64_t affine, groups, channels;
  } s = {train.geometry.affine_size, train.geometry.stat_groups, train.geometry.channels};
  const bool eval = c.pass == Pass::eval_forward || c.pass == Pass::eval_cached;
  const KindCalls calls = eval ? kind_calls(c, false) : train;
  auto workspace_bytes = train.workspace(context);
  if (!workspace_bytes) return workspace_bytes.status();

  PreparedCase prepared;
  auto add = [&](VkDeviceSize bytes, const std::vector<uint8_t>& contents) -> Result<BufferRef> {
    auto b = device.buffer(bytes, contents);
    if (!b) return b.status();
    prepared.buffers.push_back(std::move(b.value()));
    return prepared.buffers.back().ref();
  };
  const uint64_t tensor_bytes = E * (c.dtype == DType::f16 ? 2 : 4);
  std::vector<BufferRef> refs;
  struct Spec {
    uint64_t bytes;
    std::vector<uint8_t> contents;
  };
  const std::vector<Spec> specs = {
      {tensor_bytes, random_tensor(E, c.dtype, -1.5f, 2.5f, 1)},     // 0 x
      {tensor_bytes, {}},                                             // 1 y / dx
      {tensor_bytes, random_tensor(E, c.dtype, -1.0f, 1.0f, 2)},     // 2 dy
      {s.affine * 4, constant_floats(s.affine, 1.25f)},              // 3 weight
      {s.affine * 4, constant_floats(s.affine, 0.5f)},               // 4 bias
      {s.channels * 4, constant_floats(s.channels, 0.0f)},           // 5 running_mean
      {s.channels * 4, constant_floats(s.channels, 1.0f)},           // 6 running_var
      {s.groups * 4, {}},                                             // 7 save_mean
      {s.groups * 4, {}},                                             // 8 save_invstd
      {s.affine * 4, {}},                                             // 9 dweight
      {s.affine * 4, {}},                                             // 10 dbias
      {workspace_bytes.value(), {}},                                  // 11 workspace
  };
  for (const Spec& spec : specs) {
    auto r = add(spec.bytes, spec.contents);
    if (!r) return r.status();
    refs.push_back(r.value());
  }
  NormForwardBuffers fwd;
  fwd.x = refs[0];
  fwd.y = refs[1];
  fwd.weight = refs[3];
  fwd.bias = refs[4];
  fwd.running_mean = refs[5];
  fwd.running_var = refs[6];
  fwd.save_mean = refs[7];
  fwd.save_invstd = refs[8];
  fwd.workspace = refs[11];
  if (c.pass == Pass::eval_cached) return prepare_cached_apply(device, c, fwd, std::move(prepared));
  if (c.pass != Pass::backward) {
    const auto forward = calls.forward;
    prepared.record = [forward, fwd](CommandRecorder& r) { return forward(r, fwd); };
    return prepared;
  }
  // The backward reads the statistics a training forward saved for this x.
  const auto train_forward = train.forward;
  VKNORM_TRY(device.run_once([&](CommandRecorder& r) { return train_forward(r, fwd); }));
  NormBackwardBuffers bwd;
  bwd.x = refs[0];
  bwd.dx = refs[1];
  bwd.dy = refs[2];
  bwd.weight = refs[3];
  bwd.running_mean = refs[5];
  bwd.running_var = refs[6];
  bwd.save_mean = refs[7];
  bwd.save_invstd = refs[8];
  bwd.dweight = refs[9];
  bwd.dbias = refs[10];
  bwd.workspace = refs[11];
  const auto backward = calls.backward;
  prepared.record = [backward, bwd](CommandRecorder& r) { return backward(r, bwd); };
  return prepared;
}

}  // namespace vknorm::bench
