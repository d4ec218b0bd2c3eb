// Threads (the contract in include/vknorm/context.hpp): several threads prepare kernels on
// one context at once and then run different norms on it end to end (upload, record,
// submit, wait, download), and two contexts live their whole lives in two threads at once.
// Every result is checked against the CPU reference. The contexts are the test's own (not
// the shared ones of gpu_support), with the validation layer on: its thread-safety checks
// report two threads using one queue or command pool at once, and any message fails the
// test. Worker threads make no doctest assertions: each returns what went wrong and the
// test thread checks it. Run once under ThreadSanitizer (see tests/tsan.supp).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "gpu_support.hpp"
#include "kind_end_to_end.hpp"

namespace vknorm::test {
namespace {

// Lets n threads go at the same moment. Not std::latch: MinGW's libstdc++ 12 waits on an
// atomic through a mutex and condition variable that the notifier does not take (GCC bug
// 106183), so a wake-up can be lost and the test hang under wine; a hang in CI did.
class StartGate {
 public:
  explicit StartGate(int threads) : left_(threads) {}

  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (--left_ == 0) changed_.notify_all();
    changed_.wait(lock, [&] { return left_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int left_;
};

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
  options.descriptor_path = test_descriptor_path();
  options.enable_validation = enable_validation_layer();
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

// Each kind's job: its shape, and how the device stores it.
void set_job(BatchNormParams& p) { p.shape = {4, 8, 12, 12}; }  // running statistics, split reduction (N*H*W = 576)
void set_job(LayerNormParams& p) {  // float16 storage: inputs rounded to float16, outputs rounded once
  p.shape = {16, 384};
  p.normalized_shape = {384};
  p.dtype = DType::f16;
}
void set_job(RMSNormParams& p) {
  p.shape = {24, 200};
  p.normalized_shape = {200};
}
void set_job(GroupNormParams& p) {
  p.shape = {2, 16, 10, 10};
  p.num_groups = 4;
  p.layout = Layout::nhwc;
}
void set_job(InstanceNormParams& p) {
  p.shape = {3, 6, 9, 9};
  p.affine = true;
}

// One norm end to end on `context`, forward and backward, against the reference.
template <class Params>
std::string run_norm(Context& context, uint32_t seed) {
  Params p;
  set_job(p);
  return run_kind_end_to_end(context, p, seed);
}

// run_norm for every kind of the table, in table order.
using Job = std::string (*)(Context&, uint32_t);
std::vector<Job> every_kind() {
  std::vector<Job> jobs;
  for_each_kind([&](auto kind) { jobs.push_back(&run_norm<typename decltype(kind)::type>); });
  return jobs;
}

void check_failures(const std::vector<std::string>& failures) {
  for (size_t t = 0; t < failures.size(); ++t)
    CHECK_MESSAGE(failures[t].empty(), "thread " << t << ": " << failures[t]);
}

void check_messages(Messages& messages) {
  for (const std::string& m : messages.take()) FAIL_CHECK("validation layer: " << m);
}

}  // namespace

TEST_CASE("Threads: four threads prepare kernels on one context at once, then run every kind on it") {
  constexpr int kThreads = 4, kRounds = 3;
  const std::vector<Job> jobs = every_kind();
  const int kinds = static_cast<int>(jobs.size());
  for (ReductionPath path : {ReductionPath::subgroup, ReductionPath::shared_memory}) {
    CAPTURE(std::string(to_string(path)));
    Messages messages;
    auto made = make_context(messages, path);
    REQUIRE_MESSAGE(made.ok(), made.status().message());
    Context& context = *made.value();
    if (skip_if_unsupported(context, DType::f16)) continue;  // the LayerNorm job and thread 2 use float16

    std::vector<std::string> failures(kThreads);
    StartGate start(kThreads);
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
          for (int k = 0; k < kinds && failures[t].empty(); ++k)
            failures[t] = jobs[(t + k) % kinds](context, 1000u * (t + 1) + 10u * round + k);
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
  const std::vector<Job> jobs = every_kind();
  const int kinds = static_cast<int>(jobs.size());
  const ReductionPath paths[2] = {ReductionPath::subgroup, ReductionPath::shared_memory};
  if (skip_if_unsupported(context_for(TestDevice::subgroup), DType::f16)) return;  // the LayerNorm job
  Messages messages[2];
  std::vector<std::string> failures(2);
  StartGate start(2);
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
        for (int k = 0; k < kinds && failures[t].empty(); ++k)
          failures[t] = jobs[(2 * t + k) % kinds](*made.value(), 7000u + 100u * t + 10u * round + k);
    });
  for (auto& thread : threads) thread.join();
  check_failures(failures);
  for (Messages& m : messages) check_messages(m);
}

TEST_CASE("Threads: prepare_kernels prepares both dtypes, float16 packed in words without 16-bit storage") {
  Messages messages;
  StandaloneOptions options;
  options.descriptor_path = test_descriptor_path();
  options.enable_validation = enable_validation_layer();
  options.debug_callback = [&messages](const std::string& message) {
    std::lock_guard<std::mutex> lock(messages.mutex);
    messages.list.push_back(message);
  };
  options.capability_override.storage_buffer_16bit = false;
  auto context = Context::create_standalone(options);
  REQUIRE_MESSAGE(context.ok(), context.status().message());
  const Context& ctx = *context.value();
  CHECK(context.value()->prepare_kernels(DType::f32).ok());
  const uint32_t f32_pipelines = ctx.footprint().pipelines;
  CHECK(context.value()->prepare_kernels(DType::f16).ok());  // the packed modules
  const uint32_t both = ctx.footprint().pipelines;
  CHECK(both == 2 * f32_pipelines);
  CHECK(context.value()->prepare_kernels().ok());  // both dtypes: nothing left to create
  CHECK(ctx.footprint().pipelines == both);
  context.value().reset();
  check_messages(messages);
}

}  // namespace vknorm::test
