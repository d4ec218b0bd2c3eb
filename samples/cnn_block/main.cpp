// samples/cnn_block: trains a small residual CNN (conv -> BatchNorm2d -> ReLU, twice, with a
// skip connection; then pooling, BatchNorm1d and a linear head) on the Vulkan device, then
// evaluates it, compares train and eval mode, shows the batch-of-one refusal, folds
// BatchNorm into the convolutions for inference, and checks the first steps against the
// same network on the CPU reference.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(_WIN32)
#include <io.h>  // _isatty
#else
#include <unistd.h>
#endif

#include "cpu_model.hpp"
#include "gpu_model.hpp"

namespace {

struct Options {
  cnn::GpuOptions gpu;
  int steps = 300, batch = 32;
};

const char* kUsage =
    "usage: cnn_block [--device N] [--layout nchw|nhwc] [--dtype f32|f16] [--steps K] [--batch N]\n";

Options parse(int argc, char** argv) {
  Options o;
  auto number = [&](int& i, int lo, int hi) {
    if (i + 1 >= argc) sample::fail(std::string(argv[i]) + " needs a value\n" + kUsage);
    char* end = nullptr;
    const long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < lo || v > hi)
      sample::fail(std::string(argv[i - 1]) + ": expected an integer in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "], got '" + argv[i] + "'");
    return static_cast<int>(v);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--device") {
      o.gpu.device = number(i, 0, 64);
    } else if (a == "--steps") {
      o.steps = number(i, 1, 100000);
    } else if (a == "--batch") {
      o.batch = number(i, 2, 1024);
    } else if (a == "--layout" && i + 1 < argc) {
      const std::string v = argv[++i];
      if (v != "nchw" && v != "nhwc") sample::fail("--layout: expected nchw or nhwc, got '" + v + "'");
      o.gpu.layout = v == "nhwc" ? vknorm::Layout::nhwc : vknorm::Layout::nchw;
    } else if (a == "--dtype" && i + 1 < argc) {
      const std::string v = argv[++i];
      if (v != "f32" && v != "f16") sample::fail("--dtype: expected f32 or f16, got '" + v + "'");
      o.gpu.dtype = v == "f16" ? vknorm::DType::f16 : vknorm::DType::f32;
    } else {
      sample::fail("unknown or incomplete option '" + a + "'\n" + kUsage);
    }
  }
  return o;
}

template <class T>
T must(vknorm::Result<T> r) {
  if (!r) sample::fail(r.status().message());
  return std::move(r).value();
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return a.size() == b.size() ? d : INFINITY;
}

// The largest difference between the GPU's and the CPU's gradients, relative to the
// largest gradient of each tensor.
double grads_diff(const cnn::Grads& a, const cnn::Grads& b) {
  double worst = 0.0;
  auto rel = [&](const std::vector<float>& x, const std::vector<float>& y) {
    double scale = 1e-12;
    for (float v : y) scale = std::max(scale, std::fabs(double(v)));
    worst = std::max(worst, max_diff(x, y) / scale);
  };
  rel(a.w1, b.w1);
  rel(a.w2, b.w2);
  rel(a.lin_w, b.lin_w);
  for (int l = 0; l < 3; ++l) {
    rel(a.gamma[l], b.gamma[l]);
    rel(a.beta[l], b.beta[l]);
  }
  return worst;
}

double running_diff(const cnn::Params& a, const cnn::Params& b) {
  const cnn::BatchNormLayer* x[3] = {&a.bn1, &a.bn2, &a.bn3};
  const cnn::BatchNormLayer* y[3] = {&b.bn1, &b.bn2, &b.bn3};
  double d = 0.0;
  for (int l = 0; l < 3; ++l)
    d = std::max({d, max_diff(x[l]->running_mean, y[l]->running_mean), max_diff(x[l]->running_var, y[l]->running_var)});
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  const float lr = 0.2f;
  std::mt19937 rng(7);
  cnn::Params params = cnn::Params::init(rng);
  cnn::GpuModel gpu(opt.gpu, opt.batch);
  std::printf("device: %s\nlayout %s, dtype %s, batch %d, %d SGD steps (lr %.2f)\n\n", gpu.device_description().c_str(),
              opt.gpu.layout == vknorm::Layout::nhwc ? "nhwc" : "nchw", opt.gpu.dtype == vknorm::DType::f16 ? "f16" : "f32",
              opt.batch, opt.steps, lr);

  // Training, with the CPU twin in lockstep for the first steps.
  constexpr int kTwinSteps = 3;
  cnn::Params twin = params;
  cnn::CpuModel cpu;
  vknorm::BatchNormState state;  // momentum 0.1; one counter serves the three layers
#if defined(_WIN32)
  const bool tty = _isatty(_fileno(stdout));
#else
  const bool tty = isatty(fileno(stdout));
#endif
  double first_loss = 0.0, recent_loss = 0.0;
  int recent = 0, recent_correct = 0;
  for (int step = 1; step <= opt.steps; ++step) {
    const cnn::Batch batch = cnn::make_batch(rng, opt.batch);
    const float momentum = state.next_training_factor();
    cnn::Grads grads;
    const cnn::Forward f = must(gpu.step(params, batch, true, momentum, &grads));
    if (step <= kTwinSteps) {
      cnn::Grads twin_grads;
      const cnn::Forward t = cpu.step(twin, batch, true, momentum, &twin_grads);
      std::printf("step %d, GPU vs CPU reference: |loss diff| %.2e, max |logit diff| %.2e, max |running stat diff| "
                  "%.2e, max gradient diff %.2e (relative)\n",
                  step, std::fabs(f.loss - t.loss), max_diff(f.logits, t.logits), running_diff(params, twin),
                  grads_diff(grads, twin_grads));
      cnn::sgd(twin, twin_grads, lr);
    }
    cnn::sgd(params, grads, lr);
    if (step == 1) first_loss = f.loss;
    recent_loss += f.loss;
    recent_correct += f.correct;
    ++recent;
    if (step % 25 == 0 || step == opt.steps) {
      const int width = 30, done = width * step / opt.steps;
      std::printf("%s[%s%s] step %4d/%d  loss %.4f  train accuracy %.2f%s", tty ? "\r" : "",
                  std::string(done, '#').c_str(), std::string(width - done, '.').c_str(), step, opt.steps,
                  recent_loss / recent, double(recent_correct) / (recent * opt.batch), tty ? "" : "\n");
      std::fflush(stdout);
      recent_loss = 0.0;
      recent = recent_correct = 0;
    }
    if (step == opt.steps) recent_loss = f.loss;
  }
  const double last_loss = recent_loss;
  std::printf("%sloss: first step %.4f, last step %.4f (%.1f%% of the start)\n\n", tty ? "\n" : "", first_loss, last_loss,
              100.0 * last_loss / first_loss);

  // Eval: single images (batch of one), normalized with the running statistics.
  std::mt19937 test_rng(12345);
  int correct = 0;
  const int tests = 100;
  for (int i = 0; i < tests; ++i) {
    const cnn::Batch one = cnn::make_batch(test_rng, 1);
    const cnn::Forward f = must(gpu.step(params, one, false, 0.0f, nullptr));
    correct += f.correct;
    if (i < 4)
      std::printf("eval image %d: label %d (%s stripes), logits (%+.3f, %+.3f) -> class %d\n", i, one.label[0],
                  one.label[0] == 0 ? "vertical" : "horizontal", f.logits[0], f.logits[1], f.logits[1] > f.logits[0]);
  }
  std::printf("eval accuracy on %d single images: %.2f\n\n", tests, double(correct) / tests);

  // Train vs eval mode on the same four images (momentum 0 keeps the running statistics).
  const cnn::Batch four = cnn::make_batch(test_rng, 4);
  const cnn::Forward train_mode = must(gpu.step(params, four, true, 0.0f, nullptr));
  const cnn::Forward eval_mode = must(gpu.step(params, four, false, 0.0f, nullptr));
  std::printf("the same 4 images, logit of class 1 in train mode vs eval mode:\n");
  for (int i = 0; i < 4; ++i)
    std::printf("  image %d: train %+.4f  eval %+.4f\n", i, train_mode.logits[i * 2 + 1], eval_mode.logits[i * 2 + 1]);
  std::printf("They differ because train mode normalizes with these 4 images' own mean and variance,\n"
              "eval mode with the running averages over training (max |block output diff| %.4f).\n\n",
              max_diff(train_mode.h2, eval_mode.h2));

  // A batch of one in training mode: BatchNorm1d on the pooled features sees one value per
  // channel, which has no variance; PyTorch refuses it, and so does vknorm.
  const cnn::Batch one = cnn::make_batch(test_rng, 1);
  auto refused = gpu.step(params, one, true, 0.1f, nullptr);
  std::printf("one image in training mode: %s\n\n",
              refused ? "accepted (unexpected)" : refused.status().message().c_str());

  // BatchNorm folded into the convolutions for inference.
  const cnn::Batch sixteen = cnn::make_batch(test_rng, 16);
  const cnn::Forward unfolded = must(gpu.step(params, sixteen, false, 0.0f, nullptr));
  const std::vector<float> folded = must(gpu.folded_block(params, sixteen));
  std::printf("BatchNorm folded into the convolutions: max |block output diff| vs eval mode %.2e on 16 images\n",
              max_diff(folded, unfolded.h2));
  const auto [unfolded_ms, folded_ms] = gpu.time_block(params, one, 200);
  std::printf("block on one image, 200 runs: eval mode %.4f ms, folded %.4f ms per image (%.2fx)\n", unfolded_ms,
              folded_ms, unfolded_ms / folded_ms);

  const bool learned = last_loss < 0.25 * first_loss;
  std::printf("\n%s: final loss %.1f%% of the first\n", learned ? "trained" : "did not learn enough",
              100.0 * last_loss / first_loss);
  return learned && !refused ? 0 : 1;
}
