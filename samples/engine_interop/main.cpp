// engine_interop: vknorm inside an engine's frame.
//
// The program plays a game engine. It owns the instance, device, queue, command pool,
// buffers and VkPipelineCache (sample::VulkanApp), and hands vknorm only handles
// (Context::create_from_engine). One frame is ONE command buffer that the engine records
// and submits:
//
//   engine pass "make_input"  writes x[tokens, 768]           (its own pipeline)
//   barrier                   COMPUTE/SHADER_WRITE -> COMPUTE/SHADER_READ   (the contract's "before")
//   vknorm                    LayerNorm(768) + ReLU: y, save_mean, save_invstd
//   recorder.close_with_barrier(COMPUTE, SHADER_READ)                      (the contract's "after")
//   engine pass "checksum"    reads y: per-row sum and count of positives (its own pipeline)
//
// The host checks y, the saved statistics and the checksums against vknorm's CPU
// reference, then saves the pipeline cache to disk. A second "start" destroys everything,
// creates a new engine whose VkPipelineCache is seeded from that file, and times pipeline
// creation again: that is how an engine makes its second launch faster.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vk_app.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/recorder.hpp"

extern const uint32_t sample_spirv_make_input_f32[];
extern const size_t sample_spirv_make_input_f32_bytes;
extern const uint32_t sample_spirv_checksum_f32[];
extern const size_t sample_spirv_checksum_f32_bytes;

namespace {

// The frame's tensor: a batch of 4 sequences of 60 tokens with 768 features, LayerNorm(768).
constexpr uint32_t kBatch = 4, kTokens = 60, kFeatures = 768;
constexpr uint32_t kRows = kBatch * kTokens;
constexpr uint32_t kSeed = 0x5eed1234u;
constexpr float kRowBiasStep = 0.125f;
constexpr double kTolerance = 3e-5;  // of the largest magnitude, as the test suite checks

struct Options {
  int device = -1;  // -1: VulkanApp's default (the first GPU, else the first device)
  std::string cache_file = "vknorm_pipeline.cache";
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: engine_interop [--device N] [--cache-file PATH]\n"
               "\n"
               "Plays a game engine that records vknorm's LayerNorm into its own command buffer\n"
               "between two of its own compute passes, then saves its VkPipelineCache to PATH and\n"
               "starts again with the cache from disk, printing both pipeline-creation times.\n"
               "\n"
               "  --device N        Vulkan device index (vkEnumeratePhysicalDevices order);\n"
               "                    default: the first GPU, else the first device\n"
               "  --cache-file PATH where the pipeline cache is saved and read back\n"
               "                    (default: ./vknorm_pipeline.cache; overwritten)\n"
               "  -h, --help        this text\n"
               "\n"
               "Set VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation to run under the validation layer.\n");
}

[[noreturn]] void bad_usage(const std::string& message) {
  std::fprintf(stderr, "engine_interop: %s (see --help)\n", message.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool inline_value = false;
    if (arg.starts_with("--") && arg.find('=') != std::string_view::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      inline_value = true;
    }
    auto take_value = [&]() -> std::string_view {
      if (inline_value) return value;
      if (i + 1 >= argc) bad_usage(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--device") {
      const std::string_view text = take_value();
      int n = -1;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || error != std::errc() || end != text.data() + text.size() || n < 0)
        bad_usage("--device: expected a device index (0, 1, ...), got '" + std::string(text) + "'");
      options.device = n;
    } else if (arg == "--cache-file") {
      const std::string_view text = take_value();
      if (text.empty()) bad_usage("--cache-file: expected a file path, got an empty string");
      options.cache_file = std::string(text);
    } else {
      bad_usage("unknown option '" + std::string(argv[i]) + "'");
    }
  }
  return options;
}

[[noreturn]] void fail_status(const char* what, const vknorm::Status& status) {
  sample::fail(std::string(what) + ": " + status.message());
}

// ---- The pipeline cache on disk ----

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) sample::fail("cannot read the pipeline cache '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) sample::fail("error reading the pipeline cache '" + path + "'");
  return data;
}

// Written next to the target and renamed over it, so an interrupted write never leaves a
// truncated cache behind (drivers check the header, but not every driver checks the rest).
void write_file(const std::string& path, const std::vector<uint8_t>& data) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) sample::fail("cannot write the pipeline cache '" + path + "' (" + temp + "): " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) sample::fail("error writing the pipeline cache '" + path + "' (" + temp + ")");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0)
    sample::fail("cannot rename '" + temp + "' to '" + path + "': " + std::strerror(errno));
}

// What a driver checks before it uses cache data: the header names this device and driver.
std::string describe_cache(const std::vector<uint8_t>& data, VkPhysicalDevice physical) {
  VkPipelineCacheHeaderVersionOne header;
  if (data.size() < sizeof(header)) return "shorter than a cache header: the driver starts with an empty cache";
  std::memcpy(&header, data.data(), sizeof(header));
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(physical, &props);
  if (header.headerVersion != VK_PIPELINE_CACHE_HEADER_VERSION_ONE || header.vendorID != props.vendorID ||
      header.deviceID != props.deviceID ||
      std::memcmp(header.pipelineCacheUUID, props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
    return "made by another device or driver version: the driver ignores it";
  return "header matches this device and driver";
}

// ---- The engine's side of the frame ----

uint32_t hash(uint32_t v) {  // make_input.comp's hash
  v ^= v >> 16;
  v *= 0x7feb352du;
  v ^= v >> 15;
  v *= 0x846ca68bu;
  v ^= v >> 16;
  return v;
}

float expected_input(uint32_t i) {  // make_input.comp's pattern
  const uint32_t r = i / kFeatures, c = i % kFeatures;
  const float noise = static_cast<float>(hash(i ^ kSeed) >> 8) * (4.0f / 16777216.0f) - 2.0f;
  const float gain = static_cast<float>(1u + r % 4u);
  const float ramp = static_cast<float>(c) * (1.0f / 1024.0f);
  const float bias = (static_cast<float>(r) - static_cast<float>(kRows / 2u)) * kRowBiasStep;
  return noise * gain + ramp + bias;
}

// The largest power of two <= 256 that the device allows for a 1-D workgroup.
uint32_t engine_workgroup_size(VkPhysicalDevice physical) {
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(physical, &props);
  const uint32_t limit = std::min({256u, props.limits.maxComputeWorkGroupInvocations,
                                   props.limits.maxComputeWorkGroupSize[0]});
  uint32_t size = 1;
  while (size * 2 <= limit) size *= 2;
  return size;
}

double max_abs(const float* v, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(v[i])));
  return m;
}

double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// Prints one comparison and says whether it is within `tolerance` of the largest magnitude.
bool report(const char* what, double diff, double scale, double tolerance) {
  const double bound = tolerance * std::max(1.0, scale);
  const bool ok = diff <= bound;
  std::printf("  %-44s max abs diff %.3g (bound %.3g) %s\n", what, diff, bound, ok ? "ok" : "FAILED");
  return ok;
}

struct StartResult {
  double vknorm_ms = 0.0;  // vknorm's pipelines (prepare_kernels)
  double engine_ms = 0.0;  // the engine's own two pipelines
  bool correct = false;
  std::vector<uint8_t> cache;  // the pipeline cache after the frame
  double total_ms() const { return vknorm_ms + engine_ms; }
};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// One launch of the "engine": everything is created here and destroyed on return.
StartResult run_start(int number, const Options& options, const std::vector<uint8_t>& cache_seed) {
  StartResult result;
  sample::VulkanApp app(options.device, /*enable_16bit_storage=*/true, cache_seed);
  std::printf("start %d: %s, pipeline cache %s\n", number, app.device_name().c_str(),
              cache_seed.empty() ? "empty" : ("seeded with " + std::to_string(cache_seed.size()) + " bytes (" +
                                              describe_cache(cache_seed, app.physical_device()) + ")")
                                                 .c_str());

  vknorm::EngineHandles handles;
  handles.instance = app.instance();
  handles.physical_device = app.physical_device();
  handles.device = app.device();
  handles.queue_family_index = app.queue_family();
  handles.get_instance_proc_addr = vkGetInstanceProcAddr;
  handles.get_device_proc_addr = vkGetDeviceProcAddr;
  handles.pipeline_cache = app.pipeline_cache();  // vknorm's pipelines go into the engine's cache
  handles.storage_buffer_16bit_enabled = app.storage_16bit();
  auto context = vknorm::Context::create_from_engine(handles);
  if (!context) fail_status("vknorm::Context::create_from_engine", context.status());
  vknorm::Context& ctx = *context.value();
  const vknorm::Capabilities& caps = ctx.capabilities();

  // Pipeline creation, as an engine does it at load time rather than in its first frame.
  auto t0 = std::chrono::steady_clock::now();
  if (vknorm::Status st = ctx.prepare_kernels(); !st) fail_status("vknorm prepare_kernels", st);
  result.vknorm_ms = ms_since(t0);
  const uint32_t wg = engine_workgroup_size(app.physical_device());
  t0 = std::chrono::steady_clock::now();
  sample::Pipeline make_input = app.create_pipeline(sample_spirv_make_input_f32, sample_spirv_make_input_f32_bytes,
                                                    1, 16, wg);
  sample::Pipeline checksum = app.create_pipeline(sample_spirv_checksum_f32, sample_spirv_checksum_f32_bytes, 2, 8, wg);
  result.engine_ms = ms_since(t0);
  std::printf("  pipeline creation: vknorm %.1f ms (prepare_kernels: %s, %s reduction), engine %.1f ms "
              "(make_input, checksum)\n",
              result.vknorm_ms, caps.storage_buffer_16bit ? "f32 + f16" : "f32", vknorm::to_string(caps.reduction_path),
              result.engine_ms);

  // The engine's buffers. x, y and the checksums are buffers of their own (the engine's
  // passes bind whole buffers); the layer's parameters, statistics and vknorm's workspace
  // share one arena, packed at 4-byte alignment, which is all vknorm needs.
  vknorm::LayerNormParams params;
  params.shape = {kBatch, kTokens, kFeatures};
  params.normalized_shape = {kFeatures};
  params.epilogue.relu = true;
  auto workspace = vknorm::layer_norm_workspace_size(ctx, params);
  if (!workspace) fail_status("vknorm::layer_norm_workspace_size", workspace.status());
  const size_t elements = size_t(kRows) * kFeatures;
  sample::Buffer x = app.create_buffer(elements * 4);
  sample::Buffer y = app.create_buffer(elements * 4);
  sample::Buffer sums = app.create_buffer(size_t(kRows) * 8);
  VkDeviceSize arena_bytes = 4;  // the engine's own 4-byte header first: nothing below is 256-aligned by luck
  auto carve = [&](VkDeviceSize bytes) {
    const VkDeviceSize at = arena_bytes;
    arena_bytes += (bytes + 3) / 4 * 4;
    return at;
  };
  const VkDeviceSize weight_at = carve(kFeatures * 4), bias_at = carve(kFeatures * 4), mean_at = carve(kRows * 4),
                     invstd_at = carve(kRows * 4), workspace_at = carve(workspace.value());
  sample::Buffer arena = app.create_buffer(arena_bytes);
  auto arena_floats = [&](VkDeviceSize at) { return reinterpret_cast<float*>(static_cast<char*>(arena.mapped) + at); };
  std::vector<float> weight(kFeatures), bias(kFeatures);
  for (uint32_t c = 0; c < kFeatures; ++c) {
    weight[c] = 1.0f + 0.5f * std::sin(0.05f * static_cast<float>(c));
    bias[c] = 0.25f * std::cos(0.03f * static_cast<float>(c));
  }
  std::memcpy(arena_floats(weight_at), weight.data(), kFeatures * 4);  // host writes: visible at submit
  std::memcpy(arena_floats(bias_at), bias.data(), kFeatures * 4);
  std::fill(y.as<float>(), y.as<float>() + elements, -99.0f);  // a stale frame, must be overwritten

  // ---- The frame: one command buffer, recorded and submitted by the engine ----
  VkCommandBuffer cmd = app.begin();

  // 1. The engine's own pass writes x.
  const struct {
    uint32_t rows, cols, seed;
    float row_bias_step;
  } input_push{kRows, kFeatures, kSeed, kRowBiasStep};
  app.dispatch(cmd, make_input, {x.buffer}, &input_push, static_cast<uint32_t>((elements + wg - 1) / wg));

  // 2. The contract, before a vknorm call: its inputs made available to compute-shader
  //    reads. (Its outputs y, statistics and workspace have no earlier use in this command
  //    buffer; the host's writes of weight and bias are made visible by the submission.)
  VkMemoryBarrier to_vknorm{};
  to_vknorm.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
  to_vknorm.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  to_vknorm.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                       &to_vknorm, 0, nullptr, 0, nullptr);

  // 3. vknorm records LayerNorm + ReLU into the engine's command buffer.
  auto recorder = vknorm::CommandRecorder::create(ctx, cmd);
  if (!recorder) fail_status("vknorm::CommandRecorder::create", recorder.status());
  vknorm::NormForwardBuffers buffers;
  buffers.x = {x.buffer, 0, elements * 4};
  buffers.y = {y.buffer, 0, elements * 4};
  buffers.weight = {arena.buffer, weight_at, kFeatures * 4};
  buffers.bias = {arena.buffer, bias_at, kFeatures * 4};
  buffers.save_mean = {arena.buffer, mean_at, kRows * 4};
  buffers.save_invstd = {arena.buffer, invstd_at, kRows * 4};
  if (workspace.value() > 0) buffers.workspace = {arena.buffer, workspace_at, workspace.value()};
  if (vknorm::Status st = vknorm::record_layer_norm_forward(*recorder.value(), params, buffers); !st)
    fail_status("vknorm::record_layer_norm_forward", st);
  const uint32_t vknorm_dispatches = recorder.value()->dispatch_count();

  // 4. The contract, after: vknorm's shader writes made available to the engine's next use.
  recorder.value()->close_with_barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);

  // 5. The engine's own pass consumes vknorm's output.
  const struct {
    uint32_t rows, cols;
  } checksum_push{kRows, kFeatures};
  app.dispatch(cmd, checksum, {y.buffer, sums.buffer}, &checksum_push, kRows);

  // 6. The engine submits (VulkanApp adds the barrier to host reads) and waits.
  t0 = std::chrono::steady_clock::now();
  app.submit_and_wait(cmd);
  const double frame_ms = ms_since(t0);
  recorder.value().reset();  // the GPU is done with vknorm's descriptor sets
  app.reset_descriptors();   // and with the engine's
  std::printf("  frame: make_input -> barrier -> vknorm LayerNorm(%u)+ReLU on [%u, %u, %u] (%u dispatch%s) -> "
              "close_with_barrier -> checksum: one submission, %.1f ms to its fence\n",
              kFeatures, kBatch, kTokens, kFeatures, vknorm_dispatches, vknorm_dispatches == 1 ? "" : "es", frame_ms);

  // ---- Checks on the host ----
  const float* x_gpu = x.as<float>();
  const float* y_gpu = y.as<float>();
  std::vector<float> x_host(elements);
  for (size_t i = 0; i < elements; ++i) x_host[i] = expected_input(static_cast<uint32_t>(i));
  bool ok = report("engine's x vs its host formula", max_abs_diff(x_gpu, x_host.data(), elements),
                   max_abs(x_host.data(), elements), 1e-6);

  // vknorm's reference on the x the engine actually wrote (it applies the ReLU epilogue too).
  const std::vector<float> x_used(x_gpu, x_gpu + elements);
  auto want = vknorm::reference::layer_norm_forward(params, x_used, weight, bias);
  if (!want) fail_status("vknorm::reference::layer_norm_forward", want.status());
  ok &= report("y vs reference::layer_norm_forward (with its ReLU)", max_abs_diff(y_gpu, want->y.data(), elements),
               max_abs(want->y.data(), elements), kTolerance);
  ok &= report("save_mean", max_abs_diff(arena_floats(mean_at), want->save_mean.data(), kRows),
               max_abs(want->save_mean.data(), kRows), kTolerance);
  ok &= report("save_invstd", max_abs_diff(arena_floats(invstd_at), want->save_invstd.data(), kRows),
               max_abs(want->save_invstd.data(), kRows), kTolerance);

  // The engine's consumer must have seen vknorm's final y (that is what the closing
  // barrier guarantees): its per-row sums and positive counts, recomputed from y.
  double sum_diff = 0.0, sum_scale = 0.0;
  size_t count_mismatches = 0, positives = 0;
  for (uint32_t r = 0; r < kRows; ++r) {
    double sum = 0.0, magnitude = 0.0;
    uint32_t positive = 0;
    for (uint32_t c = 0; c < kFeatures; ++c) {
      const float v = y_gpu[size_t(r) * kFeatures + c];
      sum += v;
      magnitude += std::fabs(v);
      positive += v > 0.0f ? 1u : 0u;
    }
    const float* got = sums.as<float>() + 2 * r;
    sum_diff = std::max(sum_diff, std::fabs(got[0] - sum));
    sum_scale = std::max(sum_scale, magnitude);
    count_mismatches += got[1] != static_cast<float>(positive);
    positives += positive;
  }
  ok &= report("engine's checksums (row sums of y)", sum_diff, sum_scale, 1e-5);
  std::printf("  %-44s %zu of %zu positive, %zu row%s mismatched %s\n", "engine's checksums (ReLU positives)",
              positives, elements, count_mismatches, count_mismatches == 1 ? "" : "s",
              count_mismatches == 0 ? "ok" : "FAILED");
  ok &= count_mismatches == 0;
  result.correct = ok;

  result.cache = app.pipeline_cache_data();

  // Teardown in the engine's order: vknorm's context before the device it uses.
  context.value().reset();
  app.destroy(make_input);
  app.destroy(checksum);
  for (sample::Buffer* b : {&x, &y, &sums, &arena}) app.destroy(*b);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  {  // Refuse an unwritable --cache-file now rather than after start 1.
    const std::string probe = options.cache_file + ".tmp";
    if (!std::ofstream(probe, std::ios::binary | std::ios::app))
      bad_usage("--cache-file: cannot write '" + options.cache_file + "': " + std::strerror(errno));
    std::remove(probe.c_str());
  }
  if (const char* layers = std::getenv("VK_INSTANCE_LAYERS"); layers && *layers)
    std::printf("VK_INSTANCE_LAYERS=%s: the loader enables these layers\n", layers);

  // Start 1: an empty pipeline cache; save what it holds afterwards.
  const StartResult first = run_start(1, options, {});
  write_file(options.cache_file, first.cache);
  std::printf("  saved the pipeline cache: %zu bytes to %s\n\n", first.cache.size(), options.cache_file.c_str());

  // Start 2: everything was destroyed; a new engine seeds its cache from the file.
  const std::vector<uint8_t> from_disk = read_file(options.cache_file);
  const StartResult second = run_start(2, options, from_disk);

  std::printf("\npipeline creation, start 1 (empty cache): %.1f ms; start 2 (cache from disk, %zu bytes): %.1f ms\n",
              first.total_ms(), from_disk.size(), second.total_ms());
  if (second.total_ms() < first.total_ms())
    std::printf("start 2 was faster: %.1fx (vknorm %.1f -> %.1f ms, engine %.1f -> %.1f ms)\n",
                first.total_ms() / std::max(second.total_ms(), 1e-3), first.vknorm_ms, second.vknorm_ms,
                first.engine_ms, second.engine_ms);
  else
    std::printf("start 2 was not faster (vknorm %.1f -> %.1f ms, engine %.1f -> %.1f ms): this driver gains "
                "little from its pipeline cache\n",
                first.vknorm_ms, second.vknorm_ms, first.engine_ms, second.engine_ms);
  if (from_disk.size() <= sizeof(VkPipelineCacheHeaderVersionOne))
    std::printf("note: the driver stored nothing but the cache header, so the difference is not the cache's doing\n"
                "      (some drivers, Mesa's among them, also keep an on-disk shader cache of their own)\n");

  if (!first.correct || !second.correct) {
    std::fprintf(stderr, "engine_interop: results differ from the reference (see above)\n");
    return 1;
  }
  std::printf("results match the reference in both starts\n");
  return 0;
}
