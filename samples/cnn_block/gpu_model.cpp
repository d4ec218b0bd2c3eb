#include "gpu_model.hpp"

#include <chrono>
#include <cmath>
#include <cstring>

#include "vknorm/batchnorm_inference.hpp"
#include "vknorm/half.hpp"
#include "vknorm/sync_batchnorm.hpp"

// The sample's shaders (samples/CMakeLists.txt: vknorm_sample_shaders).
#define CNN_SHADER(name)                                  \
  extern const uint32_t sample_spirv_##name##_f32[];       \
  extern const size_t sample_spirv_##name##_f32_bytes;     \
  extern const uint32_t sample_spirv_##name##_f16[];       \
  extern const size_t sample_spirv_##name##_f16_bytes;
CNN_SHADER(conv_forward)
CNN_SHADER(conv_backward_data)
CNN_SHADER(conv_backward_weight)
CNN_SHADER(pool_forward)
CNN_SHADER(pool_backward)
#undef CNN_SHADER

namespace cnn {
namespace {

constexpr uint32_t kGroup = 64;

// Must match Shape in tensor.glsl.
struct Shape {
  uint32_t N, Cin, Cout, H, W, nhwc, flags, pad;
};

uint32_t groups(size_t items) { return static_cast<uint32_t>((items + kGroup - 1) / kGroup); }
vknorm::BufferRef whole(const sample::Buffer& b) { return {b.buffer, 0, VK_WHOLE_SIZE}; }

}  // namespace

struct GpuModel::Impl {
  GpuOptions options;
  sample::VulkanApp app;
  std::unique_ptr<vknorm::Context> context;
  sample::Pipeline conv, conv_data, conv_weight, pool, unpool;
  bool half;
  // Activations (tensor dtype) and their gradients; parameters and statistics (float32).
  sample::Buffer x, a1, h1, a2, h2, pooled, features, dfeatures, dpooled, dh2, da2, dres, dh1, da1;
  sample::Buffer w1, w2, fw1, fw2, fb1, fb2, dw1, dw2, workspace, none;
  uint64_t workspace_bytes = 0;  // bound with its size: vknorm refuses a call that needs more
  sample::Buffer gamma[3], beta[3], rmean[3], rvar[3], smean[3], sinvstd[3], dgamma[3], dbeta[3];

  Impl(const GpuOptions& o, int max_batch)
      : options(o), app(o.device, o.dtype == vknorm::DType::f16), half(o.dtype == vknorm::DType::f16) {
    if (half && !app.storage_16bit()) sample::fail("--dtype f16: the device has no storageBuffer16BitAccess");
    vknorm::EngineHandles h;
    h.instance = app.instance();
    h.physical_device = app.physical_device();
    h.device = app.device();
    h.queue_family_index = app.queue_family();
    h.get_instance_proc_addr = vkGetInstanceProcAddr;  // engine mode uses the engine's loader
    h.pipeline_cache = app.pipeline_cache();
    h.storage_buffer_16bit_enabled = app.storage_16bit();
    auto ctx = vknorm::Context::create_from_engine(h);
    if (!ctx) sample::fail(ctx.status().message());
    context = std::move(ctx.value());
    auto make = [&](const uint32_t* f32, size_t b32, const uint32_t* f16, size_t b16, uint32_t bindings) {
      return half ? app.create_pipeline(f16, b16, bindings, sizeof(Shape), kGroup)
                  : app.create_pipeline(f32, b32, bindings, sizeof(Shape), kGroup);
    };
#define CNN_PIPELINE(name, bindings) \
  make(sample_spirv_##name##_f32, sample_spirv_##name##_f32_bytes, sample_spirv_##name##_f16, sample_spirv_##name##_f16_bytes, bindings)
    conv = CNN_PIPELINE(conv_forward, 5);
    conv_data = CNN_PIPELINE(conv_backward_data, 4);
    conv_weight = CNN_PIPELINE(conv_backward_weight, 3);
    pool = CNN_PIPELINE(pool_forward, 2);
    unpool = CNN_PIPELINE(pool_backward, 2);
#undef CNN_PIPELINE
    const size_t image = size_t(max_batch) * kPlane, act = image * kChannels, feat = size_t(max_batch) * kChannels;
    const size_t t = half ? 2 : 4;
    x = app.create_buffer(image * t);
    for (sample::Buffer* b : {&a1, &h1, &a2, &h2, &dh2, &da2, &dres, &dh1, &da1}) *b = app.create_buffer(act * t);
    for (sample::Buffer* b : {&pooled, &features, &dfeatures, &dpooled}) *b = app.create_buffer(feat * 4);
    w1 = app.create_buffer(kChannels * 9 * 4);
    w2 = app.create_buffer(kChannels * kChannels * 9 * 4);
    fw1 = app.create_buffer(kChannels * 9 * 4);
    fw2 = app.create_buffer(kChannels * kChannels * 9 * 4);
    dw1 = app.create_buffer(kChannels * 9 * 4);
    dw2 = app.create_buffer(kChannels * kChannels * 9 * 4);
    fb1 = app.create_buffer(kChannels * 4);
    fb2 = app.create_buffer(kChannels * 4);
    none = app.create_buffer(16);
    for (int l = 0; l < 3; ++l)
      for (sample::Buffer* b : {&gamma[l], &beta[l], &rmean[l], &rvar[l], &smean[l], &sinvstd[l], &dgamma[l], &dbeta[l]})
        *b = app.create_buffer(kChannels * 4);
    // One workspace serves every BatchNorm call (they run one after another).
    uint64_t ws = 0;
    // Each kind of call it serves is asked: training and eval plan differently (on lavapipe
    // the training forward reads these planes of 64 as columns, a record per column).
    for (int n : {1, max_batch})
      for (int l : {0, 2}) {
        auto bytes = vknorm::batch_norm_workspace_size(*context, bn_params(l, n, false, 0.0f));
        if (!bytes) sample::fail(bytes.status().message());
        ws = std::max(ws, bytes.value());
        // Training (refused for one value per channel: those calls are refused too).
        auto training_bytes = vknorm::batch_norm_workspace_size(*context, bn_params(l, n, true, 0.1f));
        if (training_bytes) ws = std::max(ws, training_bytes.value());
        // SyncBatchNorm's phases (a shard of up to max_batch) share the same workspace.
        auto sync_bytes = vknorm::sync_batch_norm_workspace_size(*context, bn_params(l, n, true, 0.1f));
        if (sync_bytes) ws = std::max(ws, sync_bytes.value());
      }
    workspace = app.create_buffer(ws);
    workspace_bytes = ws;
  }

  ~Impl() {
    context.reset();  // vknorm goes before the device it uses
    for (sample::Pipeline* p : {&conv, &conv_data, &conv_weight, &pool, &unpool}) app.destroy(*p);
    for (sample::Buffer* b : {&x, &a1, &h1, &a2, &h2, &pooled, &features, &dfeatures, &dpooled, &dh2, &da2, &dres,
                              &dh1, &da1, &w1, &w2, &fw1, &fw2, &fb1, &fb2, &dw1, &dw2, &workspace, &none})
      app.destroy(*b);
    for (int l = 0; l < 3; ++l)
      for (sample::Buffer* b : {&gamma[l], &beta[l], &rmean[l], &rvar[l], &smean[l], &sinvstd[l], &dgamma[l], &dbeta[l]})
        app.destroy(*b);
  }

  // BatchNorm layer l (0, 1: BatchNorm2d on the blocks; 2: BatchNorm1d on the pooled
  // features, always float32) with its epilogue.
  vknorm::BatchNormParams bn_params(int l, int n, bool training, float momentum) const {
    vknorm::BatchNormParams p;
    p.training = training;
    p.momentum = momentum;
    if (l == 2) {
      p.shape = {n, kChannels};
      p.dims = vknorm::BatchNormDims::d1;
      return p;
    }
    p.shape = {n, kChannels, kSize, kSize};
    p.dims = vknorm::BatchNormDims::d2;
    p.layout = options.layout;
    p.dtype = options.dtype;
    p.epilogue.relu = true;
    p.epilogue.residual = l == 1;
    return p;
  }

  Shape shape(int n, int cin, int cout, uint32_t flags = 0) const {
    return {uint32_t(n), uint32_t(cin), uint32_t(cout), kSize, kSize, options.layout == vknorm::Layout::nhwc ? 1u : 0u,
            flags, 0};
  }

  // Host <-> device tensors: logical NCHW floats <-> the device's layout and dtype.
  size_t device_index(int n, int c, int C, int yx) const {
    return options.layout == vknorm::Layout::nhwc ? (size_t(n) * kPlane + yx) * C + c : (size_t(n) * C + c) * kPlane + yx;
  }
  void upload(sample::Buffer& b, const std::vector<float>& v, int n, int C) {
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < C; ++c)
        for (int yx = 0; yx < kPlane; ++yx) {
          const float value = v[(size_t(i) * C + c) * kPlane + yx];
          const size_t at = device_index(i, c, C, yx);
          if (half) b.as<uint16_t>()[at] = vknorm::float_to_half(value);
          else b.as<float>()[at] = value;
        }
  }
  std::vector<float> download(const sample::Buffer& b, int n, int C) const {
    std::vector<float> v(size_t(n) * C * kPlane);
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < C; ++c)
        for (int yx = 0; yx < kPlane; ++yx) {
          const size_t at = device_index(i, c, C, yx);
          v[(size_t(i) * C + c) * kPlane + yx] = half ? vknorm::half_to_float(b.as<uint16_t>()[at]) : b.as<float>()[at];
        }
    return v;
  }
  static void put(sample::Buffer& b, const std::vector<float>& v) { std::memcpy(b.mapped, v.data(), v.size() * 4); }
  static std::vector<float> get(const sample::Buffer& b, size_t n) { return {b.as<float>(), b.as<float>() + n}; }

  vknorm::NormForwardBuffers forward_buffers(int l, const vknorm::BatchNormParams& p, const sample::Buffer& in,
                                             const sample::Buffer& out) const {
    const bool running = p.track_running_stats;
    return {whole(in),
            whole(out),
            whole(gamma[l]),
            whole(beta[l]),
            running ? whole(rmean[l]) : vknorm::BufferRef{},
            running ? whole(rvar[l]) : vknorm::BufferRef{},
            whole(smean[l]),
            whole(sinvstd[l]),
            vknorm::BufferRef{workspace.buffer, 0, workspace_bytes},
            l == 1 ? whole(h1) : vknorm::BufferRef{}};
  }

  vknorm::NormBackwardBuffers backward_buffers(int l, const vknorm::BatchNormParams& p, const sample::Buffer& in,
                                               const sample::Buffer& dy, const sample::Buffer& dx,
                                               const sample::Buffer& y) const {
    const bool running = p.track_running_stats;
    vknorm::NormBackwardBuffers b{whole(in),
                                  whole(dy),
                                  whole(dx),
                                  whole(gamma[l]),
                                  whole(smean[l]),
                                  whole(sinvstd[l]),
                                  running ? whole(rmean[l]) : vknorm::BufferRef{},
                                  running ? whole(rvar[l]) : vknorm::BufferRef{},
                                  whole(dgamma[l]),
                                  whole(dbeta[l]),
                                  vknorm::BufferRef{workspace.buffer, 0, workspace_bytes}};
    if (p.epilogue.relu) b.y = whole(y);
    if (p.epilogue.residual) b.dresidual = whole(dres);
    return b;
  }

  vknorm::Status record_bn_forward(vknorm::CommandRecorder& rec, int l, const vknorm::BatchNormParams& p,
                                   const sample::Buffer& in, const sample::Buffer& out) {
    return vknorm::record_batch_norm_forward(rec, p, forward_buffers(l, p, in, out));
  }

  // The work of one step is recorded in segments: a one-shot command buffer with its
  // vknorm recorder, submitted and waited for where SyncBatchNorm exchanges with the other
  // ranks (without a communicator, the forward and the backward are one segment each).
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  std::unique_ptr<vknorm::CommandRecorder> rec;
  vknorm::Status begin_segment() {
    cmd = app.begin();
    auto r = vknorm::CommandRecorder::create(*context, cmd);
    if (!r) {
      app.submit_and_wait(cmd);  // nothing recorded: frees the command buffer
      return r.status();
    }
    rec = std::move(r).value();
    return {};
  }
  void end_segment() {
    app.submit_and_wait(cmd);
    rec.reset();
    app.reset_descriptors();
  }

  // Elements per channel of each layer's whole batch (all ranks), from the forward's merge:
  // the backward's coefficients divide by it.
  uint64_t merged_count[3] = {0, 0, 0};

  // BatchNorm layer l's forward; with a communicator and batch statistics, SyncBatchNorm's
  // phases: partial statistics, submit, all_gather of the compacted records, merge, upload,
  // then the apply in a new segment. The buffers are host-visible and mapped, and the
  // submit waited: the download and upload are memcpys (HOST_COHERENT memory; a submit
  // makes earlier host writes visible to the device).
  vknorm::Status bn_forward(int l, const vknorm::BatchNormParams& p, const sample::Buffer& in,
                            const sample::Buffer& out, vknorm::Communicator* comm) {
    const vknorm::NormForwardBuffers b = forward_buffers(l, p, in, out);
    if (!comm || !p.training) return vknorm::record_batch_norm_forward(*rec, p, b);
    auto layout = vknorm::sync_batch_norm_exchange_layout(*context, p);
    std::vector<uint8_t> send, gathered;
    vknorm::Status local = layout ? vknorm::record_sync_batch_norm_statistics(*rec, p, b) : layout.status();
    end_segment();
    if (local) {
      send.resize(layout->send_bytes);
      local = vknorm::compact_sync_batch_norm_statistics(
          p, layout.value(), workspace.as<uint8_t>() + layout->download_offset, send.data());
    }
    // Every rank enters the exchange; one that failed sends nothing, which makes the gather
    // fail on every rank instead of leaving the others waiting.
    if (!local) send.clear();
    gathered.resize(send.size() * static_cast<size_t>(comm->size()));
    const vknorm::Status exchanged = comm->all_gather(send.data(), send.size(), gathered.data());
    VKNORM_TRY(local);
    VKNORM_TRY(exchanged);
    auto merged = vknorm::merge_sync_batch_norm_statistics(p, gathered.data(), comm->size());
    if (!merged) return merged.status();
    std::memcpy(workspace.as<uint8_t>() + layout->upload_offset, merged->upload.data(), layout->upload_bytes);
    merged_count[l] = merged->count;
    VKNORM_TRY(begin_segment());
    return vknorm::record_sync_batch_norm_apply(*rec, p, b, merged->count);
  }

  // BatchNorm layer l's backward; with a communicator and batch statistics, SyncBatchNorm's:
  // per-channel sums of dy and dy * xhat, submit, all_reduce_sum, upload, then dx (and
  // dresidual, dweight, dbias) in a new segment.
  vknorm::Status bn_backward(int l, const vknorm::BatchNormParams& p, const sample::Buffer& in,
                             const sample::Buffer& dy, const sample::Buffer& dx, const sample::Buffer& y,
                             vknorm::Communicator* comm) {
    const vknorm::NormBackwardBuffers b = backward_buffers(l, p, in, dy, dx, y);
    if (!comm || !p.training) return vknorm::record_batch_norm_backward(*rec, p, b);
    auto layout = vknorm::sync_batch_norm_grad_exchange_layout(*context, p);
    vknorm::Status local = layout ? vknorm::record_sync_batch_norm_grad_sums(*rec, p, b) : layout.status();
    end_segment();
    std::vector<float> sums(2 * kChannels, 0.0f);
    if (local)
      local = vknorm::compact_sync_batch_norm_grad_sums(
          p, layout.value(), workspace.as<uint8_t>() + layout->download_offset, sums.data());
    std::vector<float> global = sums;
    if (!local) {  // enter the exchange with nothing, as in bn_forward
      std::vector<uint8_t> gathered;
      (void)comm->all_gather(nullptr, 0, gathered.data());
      return local;
    }
    VKNORM_TRY(vknorm::all_reduce_sum(*comm, global.data(), global.size()));
    const std::vector<float> upload = vknorm::sync_batch_norm_grad_upload(sums, global);
    std::memcpy(workspace.as<uint8_t>() + layout->upload_offset, upload.data(), layout->upload_bytes);
    VKNORM_TRY(begin_segment());
    return vknorm::record_sync_batch_norm_grad_input(*rec, p, b, merged_count[l]);
  }

  void dispatch(VkCommandBuffer cmd, const sample::Pipeline& pipe, const std::vector<VkBuffer>& buffers,
                const Shape& s, size_t items) {
    sample::VulkanApp::barrier(cmd);  // after vknorm's or our own previous writes
    app.dispatch(cmd, pipe, buffers, &s, groups(items));
    sample::VulkanApp::barrier(cmd);
  }
};

GpuModel::GpuModel(const GpuOptions& options, int max_batch) : impl_(std::make_unique<Impl>(options, max_batch)) {}
GpuModel::~GpuModel() = default;

std::string GpuModel::device_description() const {
  const vknorm::Capabilities& c = impl_->context->capabilities();
  return impl_->app.device_name() + " (vknorm: " + vknorm::to_string(c.reduction_path) + " reduction, subgroup size " +
         std::to_string(c.subgroup_size) + ")";
}

vknorm::Result<Forward> GpuModel::step(Params& p, const Batch& b, bool training, float momentum, Grads* g) {
  return step(p, b, StepOptions{.bn = training ? BatchNormMode::train : BatchNormMode::eval, .momentum = momentum}, g);
}

vknorm::Result<Forward> GpuModel::step(Params& p, const Batch& b, const StepOptions& o, Grads* g) {
  Impl& m = *impl_;
  const int n = b.n;
  const bool batch_stats = o.bn != BatchNormMode::eval;
  vknorm::BatchNormParams bn[3];
  for (int l = 0; l < 3; ++l) {
    bn[l] = m.bn_params(l, n, batch_stats, o.momentum);
    bn[l].track_running_stats = o.bn != BatchNormMode::recompute;
    // Refuse before anything is recorded (BatchNorm1d of a batch of one, in training; under
    // SyncBatchNorm the merge checks the whole batch instead of this shard).
    if (o.comm && batch_stats) continue;
    if (auto geometry = vknorm::check_batch_norm(bn[l]); !geometry) return geometry.status();
  }
  m.upload(m.x, b.x, n, 1);
  Impl::put(m.w1, p.w1);
  Impl::put(m.w2, p.w2);
  const BatchNormLayer* layers[3] = {&p.bn1, &p.bn2, &p.bn3};
  for (int l = 0; l < 3; ++l) {
    Impl::put(m.gamma[l], layers[l]->gamma);
    Impl::put(m.beta[l], layers[l]->beta);
    Impl::put(m.rmean[l], layers[l]->running_mean);
    Impl::put(m.rvar[l], layers[l]->running_var);
  }

  VKNORM_TRY(m.begin_segment());
  const size_t act = size_t(n) * kChannels * kPlane;
  m.dispatch(m.cmd, m.conv, {m.x.buffer, m.w1.buffer, m.none.buffer, m.none.buffer, m.a1.buffer},
             m.shape(n, 1, kChannels), act);
  VKNORM_TRY(m.bn_forward(0, bn[0], m.a1, m.h1, o.comm));
  m.dispatch(m.cmd, m.conv, {m.h1.buffer, m.w2.buffer, m.none.buffer, m.none.buffer, m.a2.buffer},
             m.shape(n, kChannels, kChannels), act);
  VKNORM_TRY(m.bn_forward(1, bn[1], m.a2, m.h2, o.comm));
  m.dispatch(m.cmd, m.pool, {m.h2.buffer, m.pooled.buffer}, m.shape(n, kChannels, kChannels), size_t(n) * kChannels);
  VKNORM_TRY(m.bn_forward(2, bn[2], m.pooled, m.features, o.comm));
  m.end_segment();

  Forward f;
  f.h2 = m.download(m.h2, n, kChannels);
  std::vector<float> dfeatures = head(p, Impl::get(m.features, size_t(n) * kChannels), b, f, g);
  BatchNormLayer* mutable_layers[3] = {&p.bn1, &p.bn2, &p.bn3};
  for (int l = 0; l < 3; ++l) {
    mutable_layers[l]->running_mean = Impl::get(m.rmean[l], kChannels);
    mutable_layers[l]->running_var = Impl::get(m.rvar[l], kChannels);
    if (batch_stats) f.batch_mean[l] = Impl::get(m.smean[l], kChannels);
  }
  if (!g) return f;

  // Backward: vknorm's backward passes take the forward's saved statistics, mask dy with
  // the ReLU and give the skip connection its gradient.
  Impl::put(m.dfeatures, dfeatures);
  VKNORM_TRY(m.begin_segment());
  VKNORM_TRY(m.bn_backward(2, bn[2], m.pooled, m.dfeatures, m.dpooled, m.none, o.comm));
  m.dispatch(m.cmd, m.unpool, {m.dpooled.buffer, m.dh2.buffer}, m.shape(n, kChannels, kChannels), act);
  VKNORM_TRY(m.bn_backward(1, bn[1], m.a2, m.dh2, m.da2, m.h2, o.comm));
  m.dispatch(m.cmd, m.conv_weight, {m.h1.buffer, m.da2.buffer, m.dw2.buffer}, m.shape(n, kChannels, kChannels),
             kChannels * kChannels * 9);
  m.dispatch(m.cmd, m.conv_data, {m.da2.buffer, m.w2.buffer, m.dres.buffer, m.dh1.buffer},
             m.shape(n, kChannels, kChannels, 1u), act);
  VKNORM_TRY(m.bn_backward(0, bn[0], m.a1, m.dh1, m.da1, m.h1, o.comm));
  m.dispatch(m.cmd, m.conv_weight, {m.x.buffer, m.da1.buffer, m.dw1.buffer}, m.shape(n, 1, kChannels), kChannels * 9);
  m.end_segment();
  g->w1 = Impl::get(m.dw1, kChannels * 9);
  g->w2 = Impl::get(m.dw2, kChannels * kChannels * 9);
  for (int l = 0; l < 3; ++l) {
    // A frozen BatchNorm (eval while the rest trains) has no weight or bias gradient.
    g->gamma[l] = batch_stats ? Impl::get(m.dgamma[l], kChannels) : std::vector<float>{};
    g->beta[l] = batch_stats ? Impl::get(m.dbeta[l], kChannels) : std::vector<float>{};
  }
  return f;
}

// Folding BatchNorm (eval) into the convolution before it, as PyTorch's
// torch.nn.utils.fuse_conv_bn_weights: w' = w * gamma / sqrt(running_var + eps),
// b' = (0 - running_mean) / sqrt(running_var + eps) * gamma + beta.
static vknorm::Result<vknorm::FoldedWeights> fold(const std::vector<float>& w, const BatchNormLayer& bn, int cin) {
  return vknorm::fuse_conv_bn_weights(w, {kChannels, cin, 3, 3}, {},
                                      {bn.running_mean, bn.running_var, bn.gamma, bn.beta, 1e-5f});
}

vknorm::Result<std::vector<float>> GpuModel::folded_block(const Params& p, const Batch& b) {
  Impl& m = *impl_;
  const int n = b.n;
  auto folded1 = fold(p.w1, p.bn1, 1), folded2 = fold(p.w2, p.bn2, kChannels);
  if (!folded1) return folded1.status();
  if (!folded2) return folded2.status();
  Impl::put(m.fw1, folded1->weight);
  Impl::put(m.fb1, folded1->bias);
  Impl::put(m.fw2, folded2->weight);
  Impl::put(m.fb2, folded2->bias);
  m.upload(m.x, b.x, n, 1);
  const size_t act = size_t(n) * kChannels * kPlane;
  VkCommandBuffer cmd = m.app.begin();
  m.dispatch(cmd, m.conv, {m.x.buffer, m.fw1.buffer, m.fb1.buffer, m.none.buffer, m.h1.buffer},
             m.shape(n, 1, kChannels, 1u | 4u), act);
  m.dispatch(cmd, m.conv, {m.h1.buffer, m.fw2.buffer, m.fb2.buffer, m.h1.buffer, m.h2.buffer},
             m.shape(n, kChannels, kChannels, 1u | 2u | 4u), act);
  m.app.submit_and_wait(cmd);
  m.app.reset_descriptors();
  return m.download(m.h2, n, kChannels);
}

std::pair<double, double> GpuModel::time_block(const Params& p, const Batch& one, int repeats) {
  Impl& m = *impl_;
  const size_t act = size_t(kChannels) * kPlane;
  const vknorm::BatchNormParams bn1 = m.bn_params(0, 1, false, 0.0f), bn2 = m.bn_params(1, 1, false, 0.0f);
  auto timed = [&](bool folded) {
    VkCommandBuffer cmd = m.app.begin();
    // Where descriptors come from a pool (this sample's device does not enable
    // VK_KHR_push_descriptor), it holds a set per dispatch: two eval-mode BatchNorms per
    // repeat, of up to two dispatches each (on a CPU device an eval forward whose apply walks
    // columns, channels-last here, computes its coefficients in a dispatch of their own).
    auto rec = vknorm::CommandRecorder::create(*m.context, cmd,
                                               {.descriptor_capacity = 4 * static_cast<uint32_t>(repeats)});
    if (!rec) sample::fail(rec.status().message());
    for (int r = 0; r < repeats; ++r) {
      if (folded) {
        m.dispatch(cmd, m.conv, {m.x.buffer, m.fw1.buffer, m.fb1.buffer, m.none.buffer, m.h1.buffer},
                   m.shape(1, 1, kChannels, 1u | 4u), act);
        m.dispatch(cmd, m.conv, {m.h1.buffer, m.fw2.buffer, m.fb2.buffer, m.h1.buffer, m.h2.buffer},
                   m.shape(1, kChannels, kChannels, 1u | 2u | 4u), act);
      } else {
        m.dispatch(cmd, m.conv, {m.x.buffer, m.w1.buffer, m.none.buffer, m.none.buffer, m.a1.buffer},
                   m.shape(1, 1, kChannels), act);
        if (!m.record_bn_forward(*rec.value(), 0, bn1, m.a1, m.h1)) sample::fail("recording BatchNorm");
        m.dispatch(cmd, m.conv, {m.h1.buffer, m.w2.buffer, m.none.buffer, m.none.buffer, m.a2.buffer},
                   m.shape(1, kChannels, kChannels), act);
        if (!m.record_bn_forward(*rec.value(), 1, bn2, m.a2, m.h2)) sample::fail("recording BatchNorm");
      }
    }
    const auto start = std::chrono::steady_clock::now();
    m.app.submit_and_wait(cmd);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    rec.value().reset();
    m.app.reset_descriptors();
    return ms / repeats;
  };
  Impl::put(m.w1, p.w1);
  Impl::put(m.w2, p.w2);
  m.upload(m.x, one.x, 1, 1);
  return {timed(false), timed(true)};
}

}  // namespace cnn
