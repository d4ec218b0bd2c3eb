#include "runs.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "gpu_model.hpp"
#include "ranks.hpp"

namespace dp {
namespace {

constexpr float kLr = 0.2f;
constexpr int kCompareSteps = 3;  // run 3: SyncBatchNorm against the whole batch on one device
// Run 3's tolerance, relative to each tensor's largest magnitude (at least 1 for the loss
// and running statistics): the two sides add the same float32 values in a different order
// (per-shard partials merged across ranks against one device's reduction over the whole
// batch), which differs by a few ulps (~1e-7 relative) per step; 1e-4 leaves three steps of
// SGD room to spread that, and is far below any real error (a wrong count or a missed
// all-reduce is off by tens of percent).
constexpr double kTolerance = 1e-4;
constexpr int kFrozenSteps = 5, kRecalibrationBatches = 4;

template <class T>
T must(vknorm::Result<T> r) {
  if (!r) sample::fail(r.status().message());
  return std::move(r).value();
}
void must(const vknorm::Status& s) {
  if (!s) sample::fail(s.message());
}

cnn::BatchNormLayer* layers(cnn::Params& p, int l) { return l == 0 ? &p.bn1 : l == 1 ? &p.bn2 : &p.bn3; }

// Every layer's running_mean then running_var, 48 floats.
std::vector<float> running(cnn::Params& p) {
  std::vector<float> v;
  for (int l = 0; l < 3; ++l) v.insert(v.end(), layers(p, l)->running_mean.begin(), layers(p, l)->running_mean.end());
  for (int l = 0; l < 3; ++l) v.insert(v.end(), layers(p, l)->running_var.begin(), layers(p, l)->running_var.end());
  return v;
}
std::vector<float> affine(cnn::Params& p) {
  std::vector<float> v;
  for (int l = 0; l < 3; ++l) {
    v.insert(v.end(), layers(p, l)->gamma.begin(), layers(p, l)->gamma.end());
    v.insert(v.end(), layers(p, l)->beta.begin(), layers(p, l)->beta.end());
  }
  return v;
}
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}
double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (float x : v) m = std::max(m, std::fabs(double(x)));
  return m;
}
// max |a - b| / max(floor, max |b|)
double rel_diff(const std::vector<float>& a, const std::vector<float>& b, double floor) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0.0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d / std::max(floor, max_abs(b));
}
double grads_rel_diff(const cnn::Grads& a, const cnn::Grads& b) {
  double worst = rel_diff(a.w1, b.w1, 1e-12);
  worst = std::max({worst, rel_diff(a.w2, b.w2, 1e-12), rel_diff(a.lin_w, b.lin_w, 1e-12), rel_diff(a.lin_b, b.lin_b, 1e-12)});
  for (int l = 0; l < 3; ++l)
    worst = std::max({worst, rel_diff(a.gamma[l], b.gamma[l], 1e-12), rel_diff(a.beta[l], b.beta[l], 1e-12)});
  return worst;
}
std::string first4(const std::vector<float>& v) {
  char s[128];
  std::snprintf(s, sizeof s, "%.9g %.9g %.9g %.9g", v[0], v[1], v[2], v[3]);
  return s;
}

struct StepRecord {
  double loss = 0.0;
  cnn::Grads grads;
  std::vector<float> running;
};

// `steps` data-parallel SGD steps on this rank's shards of the global batches of `data`.
void train(cnn::GpuModel& model, vknorm::Communicator& comm, cnn::Params& p, std::mt19937& data, int steps,
           int batch, bool sync, std::vector<StepRecord>* first) {
  vknorm::BatchNormState state;  // num_batches_tracked counts on every rank alike
  for (int step = 0; step < steps; ++step) {
    const cnn::Batch local = shard(cnn::make_batch(data, batch), comm.rank(), comm.size());
    cnn::Grads g;
    const cnn::StepOptions o{.bn = cnn::BatchNormMode::train,
                             .momentum = state.next_training_factor(),
                             .comm = sync ? &comm : nullptr};
    const cnn::Forward f = must(model.step(p, local, o, &g));
    must(average_gradients(comm, g));
    const double loss = average(comm, f.loss);
    if (first && step < int(first->capacity())) first->push_back({loss, g, running(p)});
    cnn::sgd(p, g, kLr);
  }
}

}  // namespace

bool run_rank(vknorm::Communicator& comm, const RunOptions& opt) {
  Printer out(comm);
  const int rank = comm.rank(), world = comm.size();
  cnn::GpuModel model({}, opt.batch);  // room for the whole batch: rank 0's single-device reference
  std::mt19937 init_rng(7);
  const cnn::Params start = cnn::Params::init(init_rng);  // the same seed: the same parameters on every rank
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    if (!ok) ++failures;
    out.rank_line("  check %s: %s", what, ok ? "passed" : "FAILED");
  };
  out.rank_line("device: %s", model.device_description().c_str());
  if (rank == 0)
    out.line("%d ranks, global batch %d (%d per rank), %d SGD steps (lr %.2f), the same data stream on every rank",
             world, opt.batch, opt.batch / world, opt.steps, kLr);
  out.flush();

  // 1. Plain per-rank BatchNorm: each rank's statistics are those of its own half.
  cnn::Params plain = start;
  {
    std::mt19937 data(1234);
    train(model, comm, plain, data, opt.steps, opt.batch, false, nullptr);
    if (rank == 0) out.line("\n1. plain BatchNorm on each rank, %d steps: bn1 running_mean[0:4]", opt.steps);
    out.rank_line("%s", first4(plain.bn1.running_mean).c_str());
    const std::vector<float> all = gather(comm, plain.bn1.running_mean);
    const bool divergent = all.size() == 16 && std::memcmp(all.data(), all.data() + 8, 32) != 0;
    if (rank == 0) {
      double d = 0.0;
      for (int c = 0; c < 8; ++c) d = std::max(d, std::fabs(double(all[c]) - all[8 + c]));
      out.line("  max |rank 0 - rank 1| over bn1's 8 channels: %.3g (the ranks diverge)", d);
      check(divergent, "plain BatchNorm's running_mean differs across ranks");
    }
    out.flush();
  }

  // 2. SyncBatchNorm from the same start, on the same data; 3. its first steps against the
  // whole batch on one device.
  cnn::Params synced = start;
  std::vector<StepRecord> first;
  first.reserve(kCompareSteps);
  {
    std::mt19937 data(1234);
    train(model, comm, synced, data, opt.steps, opt.batch, true, &first);
    if (rank == 0) out.line("\n2. SyncBatchNorm, %d steps: bn1 running_mean[0:4]", opt.steps);
    out.rank_line("%s", first4(synced.bn1.running_mean).c_str());
    const std::vector<float> mine = running(synced), all = gather(comm, mine);
    bool identical = all.size() == mine.size() * world;
    for (int r = 0; identical && r < world; ++r)
      identical = std::memcmp(all.data() + r * mine.size(), mine.data(), mine.size() * 4) == 0;
    check(identical, "running_mean and running_var of all 3 layers: the same bits on every rank");
    out.flush();
  }
  if (rank == 0) {
    out.line("\n3. SyncBatchNorm's first %d steps against one device on the whole batch of %d (plain BatchNorm), "
             "tolerance %.0e relative:", kCompareSteps, opt.batch, kTolerance);
    cnn::Params whole = start;
    std::mt19937 data(1234);
    vknorm::BatchNormState state;
    bool within = int(first.size()) == kCompareSteps;
    for (int step = 0; step < kCompareSteps && within; ++step) {
      const cnn::Batch batch = cnn::make_batch(data, opt.batch);
      cnn::Grads g;
      const cnn::Forward f = must(model.step(whole, batch, {.momentum = state.next_training_factor()}, &g));
      const double loss = std::fabs(f.loss - first[step].loss) / std::max(1.0, std::fabs(f.loss));
      const double stats = rel_diff(first[step].running, running(whole), 1.0);
      const double grads = grads_rel_diff(first[step].grads, g);
      out.line("  step %d: loss %.6f vs %.6f, |loss diff| %.2e, max running stat diff %.2e, max gradient diff %.2e",
               step + 1, first[step].loss, f.loss, loss, stats, grads);
      within = loss <= kTolerance && stats <= kTolerance && grads <= kTolerance;
      cnn::sgd(whole, g, kLr);
    }
    check(within, "SyncBatchNorm data-parallel = whole-batch training within the tolerance");
  }
  out.flush();

  // 4. Frozen BatchNorm: eval statistics while the convolutions and the head train.
  std::mt19937 data(99);
  cnn::Params frozen = synced;
  {
    const std::vector<float> stats_before = running(frozen), affine_before = affine(frozen);
    const std::vector<float> w1 = frozen.w1, w2 = frozen.w2;
    double loss = 0.0;
    for (int step = 0; step < kFrozenSteps; ++step) {
      const cnn::Batch local = shard(cnn::make_batch(data, opt.batch), rank, world);
      cnn::Grads g;
      const cnn::Forward f = must(model.step(frozen, local, {.bn = cnn::BatchNormMode::eval}, &g));
      must(average_gradients(comm, g));
      loss = average(comm, f.loss);
      cnn::sgd(frozen, g, kLr);
    }
    if (rank == 0) out.line("\n4. frozen BatchNorm (eval statistics, no weight/bias gradient), %d steps: loss %.4f",
                            kFrozenSteps, loss);
    check(same_bits(running(frozen), stats_before) && same_bits(affine(frozen), affine_before),
          "running statistics and gamma/beta bitwise unchanged");
    check(!same_bits(frozen.w1, w1) && !same_bits(frozen.w2, w2), "conv weights changed");
    out.flush();
  }

  // 5. Recalibration: running statistics reset, then passes with momentum=None (the
  // cumulative average, factor 1 / num_batches_tracked) and no parameter update.
  cnn::Params recal = frozen;
  {
    for (int l = 0; l < 3; ++l) {
      layers(recal, l)->running_mean.assign(cnn::kChannels, 0.0f);
      layers(recal, l)->running_var.assign(cnn::kChannels, 1.0f);
    }
    vknorm::BatchNormState state{.momentum = std::nullopt, .num_batches_tracked = 0};
    std::vector<double> sum(3 * cnn::kChannels, 0.0);
    for (int pass = 0; pass < kRecalibrationBatches; ++pass) {
      const cnn::Batch local = shard(cnn::make_batch(data, opt.batch), rank, world);
      const cnn::StepOptions o{.momentum = state.next_training_factor(), .comm = &comm};
      const cnn::Forward f = must(model.step(recal, local, o, nullptr));
      for (int l = 0; l < 3; ++l)
        for (int c = 0; c < cnn::kChannels; ++c) sum[l * cnn::kChannels + c] += f.batch_mean[l][c];
    }
    double d = 0.0;
    std::vector<float> expected(cnn::kChannels);
    for (int l = 0; l < 3; ++l)
      for (int c = 0; c < cnn::kChannels; ++c) {
        const double e = sum[l * cnn::kChannels + c] / kRecalibrationBatches;
        if (l == 0) expected[c] = static_cast<float>(e);
        d = std::max(d, std::fabs(layers(recal, l)->running_mean[c] - e));
      }
    if (rank == 0)
      out.line("\n5. recalibration: running statistics reset, %d passes with momentum=None (num_batches_tracked %lld)",
               kRecalibrationBatches, static_cast<long long>(state.num_batches_tracked));
    out.rank_line("bn1 running_mean[0:4] %s, mean of the %d batch means %s, max |diff| (3 layers) %.2e",
                  first4(recal.bn1.running_mean).c_str(), kRecalibrationBatches, first4(expected).c_str(), d);
    check(d <= 1e-5, "running_mean = the average of the per-batch means within 1e-5");
    out.flush();
  }

  // 6. Gradient checkpointing: the recompute of a training forward must not update the
  // running statistics a second time.
  {
    cnn::Params p = recal;
    vknorm::BatchNormState state;
    const cnn::Batch local = shard(cnn::make_batch(data, opt.batch), rank, world);
    const cnn::Forward once = must(model.step(p, local, {.momentum = state.next_training_factor(), .comm = &comm}, nullptr));
    const std::vector<float> after_one = running(p);
    // What the recompute must not do: a second training forward counts the batch again.
    cnn::Params twice = p;
    must(model.step(twice, local, {.momentum = state.next_training_factor(), .comm = &comm}, nullptr));
    const cnn::Forward again =
        must(model.step(p, local, {.bn = cnn::BatchNormMode::recompute, .momentum = 0.1f, .comm = &comm}, nullptr));
    if (rank == 0) out.line("\n6. checkpoint recompute: a training forward, then the same forward as a recompute");
    out.rank_line("bn1 running_mean[0:4] after the forward %s, after the recompute %s (a second training forward "
                  "instead: %s)",
                  first4(std::vector<float>(after_one.begin(), after_one.begin() + 8)).c_str(),
                  first4(p.bn1.running_mean).c_str(), first4(twice.bn1.running_mean).c_str());
    check(same_bits(again.h2, once.h2) && same_bits(again.logits, once.logits),
          "the recompute's block output and logits equal the forward's bit for bit");
    check(same_bits(running(p), after_one) && !same_bits(running(twice), after_one),
          "running statistics are those after one update (and not those after two)");
    out.flush();
  }

  // Every rank's verdict.
  float failed = static_cast<float>(failures);
  if (!vknorm::all_reduce_sum(comm, &failed, 1)) failed = 1.0f;
  if (rank == 0) out.line("\n%s", failed == 0.0f ? "all checks passed" : "SOME CHECKS FAILED");
  out.flush();
  return failed == 0.0f;
}

}  // namespace dp
