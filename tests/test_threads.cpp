// Threads (the contract in include/vknorm/context.hpp): several threads prepare kernels on
// one context at once and then run different norms on it end to end (upload, record,
// submit, wait, download), and two contexts live their whole lives in two threads at once.
// Every result is checked against the CPU reference. The contexts are the test's own (not
// the shared ones of gpu_support), with the validation layer on: its thread-safety checks
// report two threads using one queue or command pool at once, and any message fails the
// test. Worker threads make no doctest assertions: each returns what went wrong and the
// test thread checks it. Run once under ThreadSanitizer (see tests/tsan.supp).
#include <atomic>
#include <functional>
#include <latch>
#include <mutex>
#include <random>
#include <thread>

#include "gpu_support.hpp"
#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"

namespace vknorm::test {
namespace {

constexpr double kTol = 3e-5;

// Validation messages of one context; the callback may run in any thread.
struct Messages {
  std::mutex mutex;
  std::vector<std::string> list;

  std::vector<std::string> take() {
    std::lock_guard<std::mutex> lock(mutex);
    return std::exchange(list, {});
  }
};

Result<std::unique_ptr<Context>> make_context(Messages& messages, ReductionPath path) {
  StandaloneOptions options;
  options.enable_validation = true;
  options.debug_callback = [&messages](const std::string& message) {
    std::lock_guard<std::mutex> lock(messages.mutex);
    messages.list.push_back(message);
  };
  if (path == ReductionPath::shared_memory) options.capability_override.subgroup_arithmetic = false;
  auto context = Context::create_standalone(options);
  if (context && context.value()->capabilities().reduction_path != path)
    return Status::unsupported(std::string("this device cannot run the ") + to_string(path) + " path: " +
                               context.value()->capabilities().reduction_reason);
  return context;
}

// What check_close checks, as a message instead of an assertion ("" when it holds).
std::string compare(const std::vector<float>& got, const std::vector<float>& want, const std::string& what,
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

std::string compare_forward(const NormForwardResult& got, const NormForwardResult& want, double rel = 0.0) {
  for (const std::string& m : {compare(got.y, want.y, "y", rel), compare(got.save_mean, want.save_mean, "save_mean"),
                               compare(got.save_invstd, want.save_invstd, "save_invstd")})
    if (!m.empty()) return m;
  return "";
}

std::string compare_backward(const NormBackwardResult& got, const NormBackwardResult& want, double rel = 0.0) {
  for (const std::string& m : {compare(got.dx, want.dx, "dx", rel), compare(got.dweight, want.dweight, "dweight"),
                               compare(got.dbias, want.dbias, "dbias")})
    if (!m.empty()) return m;
  return "";
}

// One norm end to end on `context` through the standalone convenience functions, forward
// and backward, against the reference. Different seeds give different inputs.
enum class Kind { batch, layer, group, instance };
const Kind kKinds[] = {Kind::batch, Kind::layer, Kind::group, Kind::instance};

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::batch: return "BatchNorm2d";
    case Kind::layer: return "LayerNorm (f16)";
    case Kind::group: return "GroupNorm (NHWC)";
    case Kind::instance: return "InstanceNorm2d";
  }
  return "?";
}

std::string run_norm(Context& context, Kind kind, uint32_t seed) {
  std::mt19937 rng(seed);
  Outcome out;
  const std::string what = std::string(kind_name(kind)) + " seed " + std::to_string(seed) + ": ";
  switch (kind) {
    case Kind::batch: {  // training with running statistics, split reduction (N*H*W = 576)
      BatchNormParams p;
      p.shape = {4, 8, 12, 12};
      const auto x = random_vector(product(p.shape), rng, 0.5f, 2.0f), dy = random_vector(product(p.shape), rng);
      const auto w = random_vector(8, rng, 1.0f, 0.5f), b = random_vector(8, rng, 0.0f, 0.5f);
      const auto rm0 = random_vector(8, rng), rv0 = random_vector(8, rng, 2.0f, 0.1f);
      auto rm = rm0, rv = rv0, ref_rm = rm0, ref_rv = rv0;
      auto got = batch_norm_forward(context, p, x, w, b, rm, rv);
      auto want = reference::batch_norm_forward(p, x, w, b, ref_rm, ref_rv);
      if (!out.check_result(want, what + "reference forward") || !out.check_result(got, what + "forward")) break;
      out.check(compare_forward(got.value(), want.value()));
      out.check(compare(rm, ref_rm, "running_mean"));
      out.check(compare(rv, ref_rv, "running_var"));
      auto gb = batch_norm_backward(context, p, x, dy, w, got->save_mean, got->save_invstd, rm0, rv0);
      auto wb = reference::batch_norm_backward(p, x, dy, w, rm0, rv0);
      if (out.check_result(wb, what + "reference backward") && out.check_result(gb, what + "backward"))
        out.check(compare_backward(gb.value(), wb.value()));
      break;
    }
    case Kind::layer: {  // float16 storage: inputs rounded to float16, outputs rounded once
      LayerNormParams p;
      p.shape = {16, 384};
      p.normalized_shape = {384};
      p.dtype = DType::f16;
      const auto x = round_to_half(random_vector(product(p.shape), rng, 0.5f, 2.0f));
      const auto dy = round_to_half(random_vector(product(p.shape), rng));
      const auto w = random_vector(384, rng, 1.0f, 0.5f), b = random_vector(384, rng, 0.0f, 0.5f);
      auto got = layer_norm_forward(context, p, x, w, b);
      auto want = reference::layer_norm_forward(p, x, w, b);
      if (!out.check_result(want, what + "reference forward") || !out.check_result(got, what + "forward")) break;
      out.check(compare_forward(got.value(), want.value(), kHalfRounding));
      auto gb = layer_norm_backward(context, p, x, dy, w, got->save_mean, got->save_invstd);
      auto wb = reference::layer_norm_backward(p, x, dy, w);
      if (out.check_result(wb, what + "reference backward") && out.check_result(gb, what + "backward"))
        out.check(compare_backward(gb.value(), wb.value(), kHalfRounding));
      break;
    }
    case Kind::group: {
      GroupNormParams p;
      p.shape = {2, 16, 10, 10};
      p.num_groups = 4;
      p.layout = Layout::nhwc;
      const auto x = random_vector(product(p.shape), rng, 0.5f, 2.0f), dy = random_vector(product(p.shape), rng);
      const auto w = random_vector(16, rng, 1.0f, 0.5f), b = random_vector(16, rng, 0.0f, 0.5f);
      auto got = group_norm_forward(context, p, x, w, b);
      auto want = reference::group_norm_forward(p, x, w, b);
      if (!out.check_result(want, what + "reference forward") || !out.check_result(got, what + "forward")) break;
      out.check(compare_forward(got.value(), want.value()));
      auto gb = group_norm_backward(context, p, x, dy, w, got->save_mean, got->save_invstd);
      auto wb = reference::group_norm_backward(p, x, dy, w);
      if (out.check_result(wb, what + "reference backward") && out.check_result(gb, what + "backward"))
        out.check(compare_backward(gb.value(), wb.value()));
      break;
    }
    case Kind::instance: {
      InstanceNormParams p;
      p.shape = {3, 6, 9, 9};
      p.affine = true;
      const auto x = random_vector(product(p.shape), rng, 0.5f, 2.0f), dy = random_vector(product(p.shape), rng);
      const auto w = random_vector(6, rng, 1.0f, 0.5f), b = random_vector(6, rng, 0.0f, 0.5f);
      std::vector<float> rm, rv, ref_rm, ref_rv;  // not tracked
      auto got = instance_norm_forward(context, p, x, w, b, rm, rv);
      auto want = reference::instance_norm_forward(p, x, w, b, ref_rm, ref_rv);
      if (!out.check_result(want, what + "reference forward") || !out.check_result(got, what + "forward")) break;
      out.check(compare_forward(got.value(), want.value()));
      auto gb = instance_norm_backward(context, p, x, dy, w, got->save_mean, got->save_invstd);
      auto wb = reference::instance_norm_backward(p, x, dy, w, rm, rv);
      if (out.check_result(wb, what + "reference backward") && out.check_result(gb, what + "backward"))
        out.check(compare_backward(gb.value(), wb.value()));
      break;
    }
  }
  return out.ok() ? "" : what + out.failure;
}

void check_failures(const std::vector<std::string>& failures) {
  for (size_t t = 0; t < failures.size(); ++t)
    CHECK_MESSAGE(failures[t].empty(), "thread " << t << ": " << failures[t]);
}

void check_messages(Messages& messages) {
  for (const std::string& m : messages.take()) FAIL_CHECK("validation layer: " << m);
}

}  // namespace

TEST_CASE("Threads: four threads prepare kernels on one context at once, then run four norms on it") {
  constexpr int kThreads = 4, kRounds = 3;
  for (ReductionPath path : {ReductionPath::subgroup, ReductionPath::shared_memory}) {
    CAPTURE(std::string(to_string(path)));
    Messages messages;
    auto made = make_context(messages, path);
    REQUIRE_MESSAGE(made.ok(), made.status().message());
    Context& context = *made.value();
    REQUIRE_MESSAGE(context.capabilities().storage_buffer_16bit, "the LayerNorm thread needs 16-bit storage");

    std::vector<std::string> failures(kThreads);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        start.arrive_and_wait();  // all four prepare at the same moment
        Status prepared = t % 2 ? context.prepare_kernels() : context.prepare_kernels(t == 0 ? DType::f32 : DType::f16);
        if (!prepared.ok()) {
          failures[t] = "prepare_kernels: " + prepared.message();
          return;
        }
        // Thread t runs kind t first; at any moment the four threads run four different kinds.
        for (int round = 0; round < kRounds && failures[t].empty(); ++round)
          for (int k = 0; k < 4 && failures[t].empty(); ++k)
            failures[t] = run_norm(context, kKinds[(t + k) % 4], 1000u * (t + 1) + 10u * round + k);
      });
    for (auto& thread : threads) thread.join();
    check_failures(failures);
    check_messages(messages);
    made.value().reset();  // destroyed while the validation layer can still report
    check_messages(messages);
  }
}

TEST_CASE("Threads: two contexts live and work independently in two threads") {
  // Each thread creates its own context (one per reduction path), runs every kind on it,
  // and destroys it, while the other does the same.
  constexpr int kRounds = 2;
  const ReductionPath paths[2] = {ReductionPath::subgroup, ReductionPath::shared_memory};
  Messages messages[2];
  std::vector<std::string> failures(2);
  std::latch start(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      auto made = make_context(messages[t], paths[t]);
      if (!made.ok()) {
        failures[t] = "create_standalone: " + made.status().message();
        return;
      }
      for (int round = 0; round < kRounds && failures[t].empty(); ++round)
        for (int k = 0; k < 4 && failures[t].empty(); ++k)
          failures[t] = run_norm(*made.value(), kKinds[(2 * t + k) % 4], 7000u + 100u * t + 10u * round + k);
    });
  for (auto& thread : threads) thread.join();
  check_failures(failures);
  for (Messages& m : messages) check_messages(m);
}

TEST_CASE("Threads: prepare_kernels prepares the dtypes the device supports and refuses float16 without 16-bit storage") {
  Messages messages;
  StandaloneOptions options;
  options.enable_validation = true;
  options.debug_callback = [&messages](const std::string& message) {
    std::lock_guard<std::mutex> lock(messages.mutex);
    messages.list.push_back(message);
  };
  options.capability_override.storage_buffer_16bit = false;
  auto context = Context::create_standalone(options);
  REQUIRE_MESSAGE(context.ok(), context.status().message());
  CHECK(context.value()->prepare_kernels().ok());  // every dtype the device supports: f32
  CHECK(context.value()->prepare_kernels(DType::f32).ok());
  Status f16 = context.value()->prepare_kernels(DType::f16);
  CHECK(f16.code() == StatusCode::unsupported);
  CHECK(f16.message().find("storageBuffer16BitAccess") != std::string::npos);
  context.value().reset();
  check_messages(messages);
}

}  // namespace vknorm::test
