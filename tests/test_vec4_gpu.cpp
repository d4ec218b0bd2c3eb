// Four elements per access (shaders/vec4.glsl): the apply pass runs normalize_vec4 where
// its rows are whole 4-element units and every tensor starts at a multiple of 4 elements,
// and normalize otherwise; team_forward and fused_forward likewise their _vec4 variants
// (I % 4 == 0), and eval BatchNorm's batch_norm_apply its two (NCHW planes of 8 units or
// more; rows of whole units, including units that span two channels). Both paths against the CPU
// reference, every kind, both layouts, float32 and float16 (packed on the mobile
// configuration), with the tensors 16 bytes aligned or 4 bytes past that; and proof of
// which variant ran.
#include <cstring>
#include <functional>
#include <random>

#include "context_state.hpp"
#include "gpu_support.hpp"
#include "ops/batchnorm_apply.hpp"
#include "ops/norm_engine.hpp"
#include "ops/norm_kinds.hpp"
#include "vknorm/half.hpp"

namespace vknorm::test {
namespace {
constexpr uint8_t kFill = 0xa5;  // every byte around the tensors

// x, residual, y, dy, dx and dresidual in one buffer, each `shift` bytes past a 256-byte boundary (the
// largest minStorageBufferOffsetAlignment), with filler between them.
struct Vec4Arena {
  enum Tensor { x, residual, y, dy, dx, dresidual, count };
  uint64_t n = 0;
  uint32_t element_bytes = 4;
  uint64_t shift = 0;
  std::vector<uint64_t> at;  // logical index -> device layout's
  Buffer buffer;
  uint64_t stride() const { return (n * element_bytes + 4 + 255) / 256 * 256 + 256; }
  uint64_t offset(Tensor t) const { return 256 + t * stride() + shift; }
  uint64_t bytes() const { return 256 + count * stride() + 256; }
  uint8_t* data() const { return buffer.as<uint8_t>(); }
  // To the end of the last element's word: packed float16 touches it (the filler there
  // must come back unchanged).
  BufferRef ref(Tensor t) const { return {buffer.handle(), offset(t), (n * element_bytes + 3) / 4 * 4}; }
  void put(Tensor t, const std::vector<float>& v) const {
    for (uint64_t i = 0; i < n; ++i) {
      uint8_t* p = data() + offset(t) + at[i] * element_bytes;
      if (element_bytes == 2) {
        const uint16_t h = float_to_half(v[i]);
        std::memcpy(p, &h, 2);
      } else {
        std::memcpy(p, &v[i], 4);
      }
    }
  }
  std::vector<float> get(Tensor t) const {
    std::vector<float> v(n);
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* p = data() + offset(t) + at[i] * element_bytes;
      if (element_bytes == 2) {
        uint16_t h;
        std::memcpy(&h, p, 2);
        v[i] = half_to_float(h);
      } else {
        std::memcpy(&v[i], p, 4);
      }
    }
    return v;
  }
};

template <class Params>
constexpr bool kHasLayout = NormKind<Params>::info.channel_layouts;

// `p`'s forward, then its backward, with every tensor `shift` bytes past 16-byte
// alignment, against the CPU reference, through the plans `use_split` asks for: split
// (statistics, finalize, apply with normalize or normalize_vec4; grad_partial,
// grad_finalize, grad_input or grad_input_vec4), or the default ones (team_forward,
// fused_forward or normalize alone, each possibly _vec4; team_backward or the split
// passes). Every byte outside the outputs comes back unchanged. The weight and bias start
// `param_shift` bytes into their buffers, the running and the saved statistics
// `stats_shift` (team_forward_affine_vec4 reads gamma and beta as units,
// batch_norm_apply_columns_units_vec4 those and the running statistics,
// normalize_channel_columns_stats_units_vec4 those and the saved ones). `kernel` asks for an on-chip kernel where the rules would take another (without
// split).
template <class Params>
void run_forward_backward(Context& ctx, Params p, uint64_t shift, uint32_t seed, bool use_split = true,
                          uint64_t param_shift = 0, StrategyChoice choice = {},
                          uint64_t stats_shift = 0, uint64_t workspace_shift = 0) {
  using Row = NormKind<Params>;
  auto g = Row::check(p);
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  auto plan = plan_norm(p);
  REQUIRE_MESSAGE(plan.ok(), plan.status().message());
  const PlanOptions split{.split = use_split, .choice = choice};
  const bool half = p.dtype == DType::f16;
  std::mt19937 rng(seed);
  auto stored = [&](const std::vector<float>& v) { return half ? round_to_half(v) : v; };
  const uint64_t n = g->elements;
  const auto x = stored(random_vector(n, rng, 0.5f, 2.0f)), residual = stored(random_vector(n, rng));
  const auto w = random_vector(g->affine_size, rng, 1.0f, 0.5f), b = random_vector(g->affine_size, rng, 0.0f, 0.5f);
  const bool running = !g->uses_batch_stats;
  auto rm = running ? random_vector(g->channels, rng) : std::vector<float>();
  auto rv = running ? random_vector(g->channels, rng, 2.0f, 0.1f) : std::vector<float>();

  Vec4Arena arena;
  arena.n = n;
  arena.element_bytes = half ? 2 : 4;
  arena.shift = shift;
  for (uint64_t i = 0; i < n; ++i) arena.at.push_back(i);
  if constexpr (kHasLayout<Params>) {
    if (p.layout == Layout::nhwc) {  // (N, C, S) -> (N, S, C)
      const uint64_t C = static_cast<uint64_t>(p.shape[1]), S = n / static_cast<uint64_t>(p.shape[0]) / C;
      for (uint64_t i = 0; i < n; ++i) arena.at[i] = (i / (C * S) * S + i % S) * C + i / S % C;
    }
  }
  auto made = ctx.create_buffer(arena.bytes());
  REQUIRE_MESSAGE(made.ok(), made.status().message());
  arena.buffer = std::move(made.value());
  std::memset(arena.data(), kFill, arena.bytes());
  arena.put(Vec4Arena::x, x);
  arena.put(Vec4Arena::residual, residual);
  std::vector<uint8_t> before(arena.data(), arena.data() + arena.bytes());

  auto workspace_bytes = plan_workspace_bytes(ctx.capabilities(), plan.value(), split);
  REQUIRE_MESSAGE(workspace_bytes.ok(), workspace_bytes.status().message());
  auto at_shift = [&](const std::vector<float>& v, uint64_t bytes) {
    std::vector<float> padded(bytes / 4, 0.0f);
    padded.insert(padded.end(), v.begin(), v.end());
    return floats(ctx, padded, padded.size());
  };
  auto shifted_ref = [&](const Buffer& buffer, uint64_t bytes) {
    return BufferRef{buffer.handle(), bytes, buffer.size() - bytes};
  };
  auto param_ref = [&](const Buffer& buffer) { return shifted_ref(buffer, param_shift); };
  auto stats_ref = [&](const Buffer& buffer) { return shifted_ref(buffer, stats_shift); };
  Buffer weight = at_shift(w, param_shift), bias = at_shift(b, param_shift);
  Buffer running_mean = at_shift(rm, stats_shift), running_var = at_shift(rv, stats_shift);
  Buffer save_mean = floats(ctx, {}, g->stat_groups + stats_shift / 4);
  Buffer save_invstd = floats(ctx, {}, g->stat_groups + stats_shift / 4);
  Buffer workspace = floats(ctx, {}, (workspace_shift + workspace_bytes.value()) / 4);
  NormForwardBuffers fb;
  fb.x = arena.ref(Vec4Arena::x);
  fb.y = arena.ref(Vec4Arena::y);
  fb.residual = arena.ref(Vec4Arena::residual);
  fb.weight = param_ref(weight);
  fb.bias = param_ref(bias);
  fb.running_mean = stats_ref(running_mean);
  fb.running_var = stats_ref(running_var);
  fb.save_mean = stats_ref(save_mean);
  fb.save_invstd = stats_ref(save_invstd);
  fb.workspace = shifted_ref(workspace, workspace_shift);
  auto recorder = ctx.begin_commands();
  REQUIRE_MESSAGE(recorder.ok(), recorder.status().message());
  Status st = record_norm_forward(*recorder.value(), plan.value(), fb, split, kAllPhases);
  REQUIRE_MESSAGE(st.ok(), st.message());
  st = ctx.submit_and_wait(*recorder.value());
  REQUIRE_MESSAGE(st.ok(), st.message());

  const std::vector<float> none;
  auto want = Row::reference_forward(p, {x, w, b, rm, rv, p.epilogue.residual ? residual : none});
  REQUIRE_MESSAGE(want.ok(), want.status().message());
  const std::vector<float> y = arena.get(Vec4Arena::y);
  check_close(y, want->y, kTol, "y", {}, 1, half ? kHalfRounding : 0.0);
  // Outside y (its whole words: packed float16 writes back the other half unchanged).
  auto changed_outside = [&](std::initializer_list<Vec4Arena::Tensor> outputs) {
    uint64_t changed = 0;
    for (uint64_t i = 0; i < arena.bytes(); ++i) {
      bool output = false;
      for (Vec4Arena::Tensor t : outputs) output |= i >= arena.offset(t) && i < arena.offset(t) + n * arena.element_bytes;
      if (!output && arena.data()[i] != before[i]) ++changed;
    }
    return changed;
  };
  CHECK_MESSAGE(changed_outside({Vec4Arena::y}) == 0, "bytes outside y changed");

  // The backward (split: grad_partial, grad_finalize, then grad_input or grad_input_vec4;
  // else also team_backward), through the ReLU mask of the y the device stored. The
  // workspace holds either direction's records.
  const auto dy = stored(random_vector(n, rng));
  arena.put(Vec4Arena::dy, dy);
  before.assign(arena.data(), arena.data() + arena.bytes());
  Buffer dweight = floats(ctx, {}, w.size()), dbias = floats(ctx, {}, b.size());
  NormBackwardBuffers bb;
  bb.x = arena.ref(Vec4Arena::x);
  bb.dy = arena.ref(Vec4Arena::dy);
  bb.dx = arena.ref(Vec4Arena::dx);
  bb.y = arena.ref(Vec4Arena::y);
  bb.dresidual = arena.ref(Vec4Arena::dresidual);
  bb.weight = param_ref(weight);
  bb.save_mean = stats_ref(save_mean);
  bb.save_invstd = stats_ref(save_invstd);
  bb.running_mean = stats_ref(running_mean);
  bb.running_var = stats_ref(running_var);
  bb.dweight = ref(dweight);
  bb.dbias = ref(dbias);
  bb.workspace = shifted_ref(workspace, workspace_shift);
  recorder = ctx.begin_commands();
  REQUIRE_MESSAGE(recorder.ok(), recorder.status().message());
  st = record_norm_backward(*recorder.value(), plan.value(), bb, split, kAllPhases);
  REQUIRE_MESSAGE(st.ok(), st.message());
  st = ctx.submit_and_wait(*recorder.value());
  REQUIRE_MESSAGE(st.ok(), st.message());
  auto want_back = Row::reference_backward(p, {x, dy, w, none, none, rm, rv, p.epilogue.relu ? y : none});
  REQUIRE_MESSAGE(want_back.ok(), want_back.status().message());
  check_close(arena.get(Vec4Arena::dx), want_back->dx, kTol, "dx", {}, 1, half ? kHalfRounding : 0.0);
  if (p.epilogue.residual)
    check_close(arena.get(Vec4Arena::dresidual), want_back->dresidual, kTol, "dresidual", {}, 1,
                half ? kHalfRounding : 0.0);
  CHECK_MESSAGE(changed_outside({Vec4Arena::dx, Vec4Arena::dresidual}) == 0, "bytes outside dx and dresidual changed");
  // dgamma / dbeta: float sums over the stored (rounded) inputs the reference takes too.
  auto read = [](const Buffer& buffer, size_t n) { return std::vector<float>(buffer.as<float>(), buffer.as<float>() + n); };
  if (!want_back->dweight.empty()) check_close(read(dweight, w.size()), want_back->dweight, kTol, "dweight");
  if (!want_back->dbias.empty()) check_close(read(dbias, b.size()), want_back->dbias, kTol, "dbias");
}

// One kind's shapes: `aligned` (rows of whole 4-element units) and `odd` (not), each at
// both shifts, both dtypes, with and without the epilogue.
template <class Params>
void run_shapes(Context& ctx, Params p, const std::vector<std::vector<int64_t>>& shapes, uint32_t& seed,
                const std::function<void(Params&)>& fit = {}) {
  for (const auto& shape : shapes)
    for (DType dtype : {DType::f32, DType::f16})
      for (uint64_t shift : {0, 4}) {
        CAPTURE(shape_name(shape));
        CAPTURE(dtype == DType::f16);
        CAPTURE(shift);
        p.shape = shape;
        p.dtype = dtype;
        // Each shape's four (dtype, shift) runs take the four epilogues, in an order that
        // turns by one from shape to shape, so that each epilogue meets both shifts and
        // dtypes (seed grows by 2 per run: its parity alone never gave a residual).
        const uint32_t run = seed / 2, epilogue = (run + run / 4) % 4;
        p.epilogue = {.residual = (epilogue & 1) != 0, .relu = (epilogue & 2) != 0};
        if (fit) fit(p);
        for (bool split : {true, false}) {
          CAPTURE(split);
          // The per-channel buffers 4 bytes past 16-byte alignment in every other shape's
          // float16 runs without split: the variants that read them as units fall back to
          // their per-channel twins (the other shapes run those variants aligned).
          const uint64_t param_shift = dtype == DType::f16 && !split && (seed / 8) % 2 == 1 ? 4 : 0;
          CAPTURE(param_shift);
          run_forward_backward(ctx, p, shift, seed++, split, param_shift, {}, param_shift);
        }
      }
}

void run_kinds(Context& ctx) {
  uint32_t seed = 1;
  for (Layout layout : {Layout::nchw, Layout::nhwc}) {
    CAPTURE(layout == Layout::nhwc);
    // NCHW (2, 4, 3, 3): rows of 36, units across channels of 9; (2, 3, 16, 16): planes
    // of 256 (plane rows where the workgroup is 256 or less). NHWC: C = 8 columns.
    const std::vector<std::vector<int64_t>> channel_shapes = {{2, 4, 3, 3}, {2, 3, 16, 16}, {2, 8, 2, 3}, {2, 3, 5, 7}};
    BatchNormParams bn;
    bn.layout = layout;
    bn.track_running_stats = false;
    run_shapes(ctx, bn, channel_shapes, seed);
    bn.training = false;  // eval: batch_norm_apply alone, with running statistics
    bn.track_running_stats = true;
    run_shapes(ctx, bn, channel_shapes, seed);
    // NCHW planes of at least 8 units: batch_norm_apply_vec4, a run of 8 lanes per segment
    // of up to 128 units (lavapipe, a CPU device). 16x16 above: a segment per plane, 6
    // planes in a workgroup; 32x32: 2 segments per plane; 64x164: 21 segments of 128 units
    // per plane, the last of 64, over 2 workgroups (of 256 lanes; several in y where a
    // device allows fewer in x); 6x10: 15 units, 7 of the run's 8 lanes in its second step.
    // And the columns kernel where a unit spans 2 channels of 3 or 2 elements (its channel
    // count without a division per element; NHWC's I == 1 spans 4).
    if (layout == Layout::nchw)
      run_shapes(ctx, bn, {{2, 3, 32, 32}, {1, 2, 64, 164}, {3, 5, 6, 10}, {3, 4, 1, 3}, {2, 6, 2, 1}}, seed);
    // Training, planes of 49 in groups of 1568: on a CPU device the rules' statistics through
    // the column view, and the apply through columns (unforced runs).
    bn.training = true;
    bn.track_running_stats = false;
    if (layout == Layout::nchw) run_shapes(ctx, bn, {{32, 4, 7, 7}}, seed);
    GroupNormParams gn;
    gn.layout = layout;
    gn.num_groups = 2;
    run_shapes(ctx, gn, {{2, 4, 3, 3}, {2, 8, 4, 4}, {2, 6, 3, 5}}, seed);
    gn.num_groups = 8;  // GroupNorm(C) of one sample: a group per channel, the apply through columns
    run_shapes(ctx, gn, {{1, 8, 3, 3}}, seed);
    InstanceNormParams in;
    in.layout = layout;
    in.affine = true;
    run_shapes(ctx, in, {{2, 4, 16, 16}, {2, 4, 3, 5}, {1, 8, 3, 3}}, seed);  // one sample: as GroupNorm(C)
    if (layout == Layout::nhwc) {
      // The split statistics through the column view (rows of at least 32 columns):
      // stats_partial_columns_vec4 over rows of whole units, with fewer units than lanes
      // (32, 48, 64 columns), more columns than a workgroup has lanes (320), and a row of 34
      // (scalar); GroupNorm's 6 columns per group put units across two groups. 3072 rows of
      // 32: 2 chunks of rows on a CPU device (chunks of at most 2048 rows here), which one
      // workgroup of the vec4 kernels takes (4 chunks each); 11520 rows: 6 chunks, 2
      // workgroups.
      bn.training = true;
      bn.track_running_stats = false;
      run_shapes(ctx, bn, {{2, 32, 3, 5}, {2, 320, 2, 3}, {3, 34, 2, 2}, {4, 32, 32, 24}, {10, 32, 32, 36}}, seed);
      gn.num_groups = 8;
      run_shapes(ctx, gn, {{2, 48, 2, 3}}, seed);
      run_shapes(ctx, in, {{2, 64, 3, 3}}, seed);
      // Through columns per sample (shaders/sample_columns.glsl): 16 rows per sample (a lane
      // walks 8 on lavapipe, 16 on SwiftShader), groups of 3 and 2 channels, so that units
      // cross groups (gamma per column, statistics per (b, group)); 3 samples of 20 rows: a
      // lane's walk that ends short.
      gn.num_groups = 4;
      run_shapes(ctx, gn, {{2, 12, 4, 4}, {3, 12, 4, 5}}, seed);
      gn.num_groups = 6;
      run_shapes(ctx, gn, {{2, 12, 4, 4}}, seed);
      // Groups of 6 and 8 channels (channels-last: normalize_channel_columns_units_vec4, gamma
      // and beta four channels per load): units across two groups, and within one.
      gn.num_groups = 2;
      run_shapes(ctx, gn, {{2, 12, 4, 4}, {3, 16, 4, 5}}, seed);
      // Planes of one element (O == 1), 4 groups of 8 channels per sample: the team blocks'
      // records per (channel, block) where a block's rows share one group of channels.
      gn.num_groups = 4;
      run_shapes(ctx, gn, {{99, 32, 1, 1}}, seed);
    }
  }
  auto last_dim = [](auto& p) { p.normalized_shape = {p.shape.back()}; };
  LayerNormParams ln;
  // 1024 rows: teams on the subgroup configuration; 1003: on lavapipe team blocks of 8 rows
  // and a short last one (FLAG_BLOCK_PARAMS's records, one per block).
  run_shapes<LayerNormParams>(ctx, ln, {{6, 12}, {3, 1024}, {7, 13}, {1024, 12}, {1024, 6}, {1003, 12}}, seed,
                              last_dim);
  ln.bias = false;
  run_shapes<LayerNormParams>(ctx, ln, {{1024, 12}}, seed, last_dim);
  ln.elementwise_affine = false;
  run_shapes<LayerNormParams>(ctx, ln, {{1024, 12}}, seed, last_dim);
  RMSNormParams rms;
  run_shapes<RMSNormParams>(ctx, rms, {{5, 16}, {5, 15}, {1024, 8}}, seed, last_dim);
}

}  // namespace

TEST_CASE("vec4: a record call creates and runs the variant its offsets allow") {
  for (DType dtype : {DType::f32, DType::f16}) {
    for (uint64_t shift : {0, 4}) {
      CAPTURE(dtype == DType::f16);
      CAPTURE(shift);
      OwnContext ctx({.descriptor_path = test_descriptor_path()});
      // Eval: the forward is batch_norm_apply_columns_pair_wide_vec4 (rows of 128 elements,
      // planes of 16: 8-element units in at most two channels) or batch_norm_apply; the
      // backward's elementwise pass grad_input or, through the same columns,
      // grad_input_columns_vec4. Channels-last takes the _wide_ units too. On a CPU device
      // the columns kernels are the _cached_ twins, after batch_norm_coefficients
      // (eval_coefficients_first): `eval_kernel` gives the device's.
      const bool wide = shift == 0;
      const bool first = eval_coefficients_first(ctx->capabilities());
      auto eval_kernel = [first](KernelId from_statistics, KernelId cached) { return first ? cached : from_statistics; };
      BatchNormParams p;
      p.shape = {2, 8, 4, 4};
      p.training = false;
      p.dtype = dtype;
      run_forward_backward(*ctx, p, shift, 7);
      const KernelCache& kernels = state_of(*ctx).kernels;
      CHECK(kernels.created(KernelId::batch_norm_coefficients, dtype) == first);
      CHECK(!kernels.created(KernelId::batch_norm_apply_columns_pair_vec4, dtype));
      CHECK(!kernels.created(KernelId::batch_norm_apply_columns_pair_cached_vec4, dtype));
      CHECK(kernels.created(eval_kernel(KernelId::batch_norm_apply_columns_pair_wide_vec4,
                                        KernelId::batch_norm_apply_columns_pair_cached_wide_vec4),
                            dtype) == (shift == 0));
      CHECK(!kernels.created(KernelId::batch_norm_apply_columns_vec4, dtype));
      CHECK(kernels.created(KernelId::batch_norm_apply, dtype) == (shift != 0));
      CHECK(kernels.created(KernelId::grad_input_columns_vec4, dtype) == (shift == 0));
      CHECK(!kernels.created(KernelId::grad_input_vec4, dtype));
      CHECK(kernels.created(KernelId::grad_input, dtype) == (shift != 0));
      // Planes of 256 units: batch_norm_apply_vec4 where the offsets allow (planes of 4 units, as
      // 4x4 above, take the columns kernel); float16 too: lavapipe takes the _wide_ columns
      // first only for 8 rows or more (samples here), and this tensor has 2.
      p.shape = {2, 3, 32, 32};
      run_forward_backward(*ctx, p, shift, 7);
      CHECK(kernels.created(KernelId::batch_norm_apply_vec4, dtype) == (shift == 0));
      // Training, split: the apply pass is normalize or normalize_vec4.
      p.training = true;
      p.track_running_stats = false;  // run_forward_backward gives running buffers to eval only
      run_forward_backward(*ctx, p, shift, 7);
      CHECK(kernels.created(KernelId::normalize_vec4, dtype) == (shift == 0));
      CHECK(kernels.created(KernelId::normalize, dtype) == (shift != 0));
      // Teams (as asked: a GPU's rules would take fused for 3 groups of 2048 values), gamma
      // once per group.
      run_forward_backward(*ctx, p, shift, 7, false, 0, {OnChipKernel::team});
      CHECK(kernels.created(KernelId::team_forward_channel_vec4, dtype) == (shift == 0));
      CHECK(kernels.created(KernelId::team_forward, dtype) == (shift != 0));
      CHECK(kernels.created(KernelId::team_backward_channel_vec4, dtype) == (shift == 0));
      CHECK(kernels.created(KernelId::team_backward, dtype) == (shift != 0));
      // Channels-last eval: four adjacent channels per unit, their running statistics, gamma
      // and beta four per load where those are aligned too (gamma and beta, then the running
      // statistics, start 4 bytes past it in the next two runs), else per channel; without a
      // weight and bias, per channel. Cached coefficients (a CPU device) four per load where
      // the workspace is aligned (it starts 4 bytes past it in a run of its own), else per
      // channel; without a weight and a bias as units still.
      const KernelId units_wide = eval_kernel(KernelId::batch_norm_apply_columns_units_wide_vec4,
                                              KernelId::batch_norm_apply_columns_units_cached_wide_vec4);
      const KernelId per_channel =
          eval_kernel(KernelId::batch_norm_apply_columns_vec4, KernelId::batch_norm_apply_columns_cached_vec4);
      BatchNormParams eval_nhwc = p;
      eval_nhwc.layout = Layout::nhwc;
      eval_nhwc.training = false;
      eval_nhwc.track_running_stats = true;
      eval_nhwc.shape = {2, 8, 4, 4};
      run_forward_backward(*ctx, eval_nhwc, shift, 15);
      CHECK(!kernels.created(KernelId::batch_norm_apply_columns_units_vec4, dtype));
      CHECK(!kernels.created(KernelId::batch_norm_apply_columns_units_cached_vec4, dtype));
      CHECK(kernels.created(units_wide, dtype) == wide);
      CHECK(!kernels.created(per_channel, dtype));
      if (wide && dtype == DType::f16) {
        // Float16 tensors 8 bytes past 16-byte alignment: the _wide_ kernels' 4-element twins.
        OwnContext narrow({.descriptor_path = test_descriptor_path()});
        BatchNormParams eval_nchw = eval_nhwc;
        eval_nchw.layout = Layout::nchw;
        run_forward_backward(*narrow, eval_nchw, 8, 19);
        run_forward_backward(*narrow, eval_nhwc, 8, 20);
        const KernelCache& twins = state_of(*narrow).kernels;
        CHECK(twins.created(without_wide_units(eval_kernel(KernelId::batch_norm_apply_columns_pair_wide_vec4,
                                                           KernelId::batch_norm_apply_columns_pair_cached_wide_vec4)),
                            dtype));
        CHECK(twins.created(without_wide_units(units_wide), dtype));
        CHECK(!twins.created(KernelId::batch_norm_apply_columns_pair_wide_vec4, dtype));
        CHECK(!twins.created(KernelId::batch_norm_apply_columns_units_wide_vec4, dtype));
        CHECK(!twins.created(KernelId::batch_norm_apply_columns_pair_cached_wide_vec4, dtype));
        CHECK(!twins.created(KernelId::batch_norm_apply_columns_units_cached_wide_vec4, dtype));
      }
      // Gamma and beta, then the running statistics 4 bytes off: per channel from the
      // statistics; the cached units still (they read neither).
      run_forward_backward(*ctx, eval_nhwc, shift, 16, true, 4);
      CHECK(kernels.created(KernelId::batch_norm_apply_columns_vec4, dtype) == (shift == 0 && !first));
      OwnContext stats_shifted({.descriptor_path = test_descriptor_path()});
      run_forward_backward(*stats_shifted, eval_nhwc, shift, 18, true, 0, {}, 4);
      const KernelCache& stats_kernels = state_of(*stats_shifted).kernels;
      CHECK(!stats_kernels.created(KernelId::batch_norm_apply_columns_units_vec4, dtype));
      CHECK(!stats_kernels.created(KernelId::batch_norm_apply_columns_units_wide_vec4, dtype));
      CHECK(stats_kernels.created(KernelId::batch_norm_apply_columns_vec4, dtype) == (shift == 0 && !first));
      CHECK(stats_kernels.created(KernelId::batch_norm_apply_columns_units_cached_wide_vec4, dtype) ==
            (shift == 0 && first));
      if (first) {
        OwnContext work_shifted({.descriptor_path = test_descriptor_path()});
        run_forward_backward(*work_shifted, eval_nhwc, shift, 22, true, 0, {}, 0, 4);
        const KernelCache& work_kernels = state_of(*work_shifted).kernels;
        CHECK(work_kernels.created(KernelId::batch_norm_coefficients, dtype));
        CHECK(!work_kernels.created(KernelId::batch_norm_apply_columns_units_cached_wide_vec4, dtype));
        CHECK(!work_kernels.created(KernelId::batch_norm_apply_columns_units_cached_vec4, dtype));
        CHECK(work_kernels.created(KernelId::batch_norm_apply_columns_cached_vec4, dtype) == (shift == 0));
      }
      eval_nhwc.affine = false;
      OwnContext plain({.descriptor_path = test_descriptor_path()});
      run_forward_backward(*plain, eval_nhwc, shift, 17);
      const KernelCache& plain_kernels = state_of(*plain).kernels;
      CHECK(!plain_kernels.created(KernelId::batch_norm_apply_columns_units_vec4, dtype));
      CHECK(plain_kernels.created(first ? units_wide : per_channel, dtype) == (shift == 0));
      // NCHW planes of 49 in training, without split forced: on a CPU device (lavapipe,
      // SwiftShader) both directions' split passes through the planes' column view, units
      // across two channels (a plane is 49 elements).
      if (ctx->capabilities().device_type == VK_PHYSICAL_DEVICE_TYPE_CPU) {
        OwnContext planes({.descriptor_path = test_descriptor_path()});
        BatchNormParams small_planes = p;
        small_planes.training = true;
        small_planes.shape = {32, 4, 7, 7};
        run_forward_backward(*planes, small_planes, shift, 21, false);
        const KernelCache& made = state_of(*planes).kernels;
        CHECK(made.created(KernelId::stats_partial_columns_vec4, dtype) == (shift == 0));
        CHECK(made.created(KernelId::grad_partial_columns_vec4, dtype) == (shift == 0));
        CHECK(made.created(KernelId::grad_input_columns_vec4, dtype) == (shift == 0));
        CHECK(!made.created(KernelId::team_backward, dtype));
        // Rows of 196 elements: units of 4 (units of 8 would not make whole rows), two
        // channels' statistics per unit. Rows of 392: units of 8, 8 elements per lane; float16
        // 8 bytes past 16-byte alignment, the 4-element twin on the same grid.
        CHECK(made.created(KernelId::normalize_channel_columns_pair_vec4, dtype) == (shift == 0));
        CHECK(!made.created(KernelId::normalize_channel_columns_pair_wide_vec4, dtype));
        OwnContext wide_planes({.descriptor_path = test_descriptor_path()});
        small_planes.shape = {32, 8, 7, 7};
        run_forward_backward(*wide_planes, small_planes, shift, 24, false);
        const KernelCache& wide_made = state_of(*wide_planes).kernels;
        CHECK(wide_made.created(KernelId::normalize_channel_columns_pair_wide_vec4, dtype) == (shift == 0));
        CHECK(!wide_made.created(KernelId::normalize_channel_columns_pair_vec4, dtype));
        if (wide && dtype == DType::f16) {
          OwnContext narrow_planes({.descriptor_path = test_descriptor_path()});
          run_forward_backward(*narrow_planes, small_planes, 8, 25, false);
          const KernelCache& twin = state_of(*narrow_planes).kernels;
          CHECK(twin.created(KernelId::normalize_channel_columns_pair_vec4, dtype));
          CHECK(!twin.created(KernelId::normalize_channel_columns_pair_wide_vec4, dtype));
        }
      }
      // Channels-last rows of 32 columns, split: the column view's statistics, a lane per unit.
      BatchNormParams columns = p;
      columns.layout = Layout::nhwc;
      columns.shape = {2, 32, 4, 4};
      run_forward_backward(*ctx, columns, shift, 14);
      CHECK(kernels.created(KernelId::stats_partial_columns_vec4, dtype) == (shift == 0));
      CHECK(kernels.created(KernelId::grad_partial_columns_vec4, dtype) == (shift == 0));
      // and the apply walks columns, a lane's 8 channels' statistics, gamma and beta four
      // per load (rows of 32 channels: units of 8); with the saved statistics or the weight 4
      // bytes past 16-byte alignment, per channel; float16 8 bytes off, the 4-element twin.
      CHECK(kernels.created(KernelId::normalize_channel_columns_stats_units_wide_vec4, dtype) == (shift == 0));
      CHECK(!kernels.created(KernelId::normalize_channel_columns_stats_units_vec4, dtype));
      CHECK(!kernels.created(KernelId::normalize_channel_columns_vec4, dtype));
      for (uint64_t param_shift : {0, 4}) {
        OwnContext per_channel({.descriptor_path = test_descriptor_path()});
        run_forward_backward(*per_channel, columns, shift, 23, true, param_shift, {},
                             param_shift == 0 ? 4 : 0);
        const KernelCache& made = state_of(*per_channel).kernels;
        CHECK(!made.created(KernelId::normalize_channel_columns_stats_units_wide_vec4, dtype));
        CHECK(!made.created(KernelId::normalize_channel_columns_stats_units_vec4, dtype));
        CHECK(made.created(KernelId::normalize_channel_columns_vec4, dtype) == (shift == 0));
      }
      if (dtype == DType::f16 && shift == 0) {
        OwnContext narrow({.descriptor_path = test_descriptor_path()});
        run_forward_backward(*narrow, columns, 8, 24);
        const KernelCache& twins = state_of(*narrow).kernels;
        CHECK(twins.created(KernelId::normalize_channel_columns_stats_units_vec4, dtype));
        CHECK(!twins.created(KernelId::normalize_channel_columns_stats_units_wide_vec4, dtype));
      }
      // GroupNorm NCHW, groups of 2 planes of 16: teams, gamma once per plane.
      GroupNormParams gn;
      gn.shape = {2, 8, 4, 4};
      gn.num_groups = 4;
      gn.dtype = dtype;
      run_forward_backward(*ctx, gn, shift, 13, false, 0, {OnChipKernel::team});
      CHECK(kernels.created(KernelId::team_forward_planes_vec4, dtype) == (shift == 0));
      CHECK(kernels.created(KernelId::team_backward_planes_vec4, dtype) == (shift == 0));
      // Many LayerNorm rows: teams (the device as it is has subgroup arithmetic).
      REQUIRE(ctx->capabilities().reduction_path == ReductionPath::subgroup);
      LayerNormParams ln;
      ln.shape = {1024, 12};
      ln.normalized_shape = {12};
      ln.dtype = dtype;
      // With a weight, gamma and beta are read as units too, where they are aligned as well;
      // on lavapipe over blocks of rows (team_block_rows).
      const bool blocks = team_block_rows(ctx->capabilities()) > 1;
      run_forward_backward(*ctx, ln, shift, 8, false);
      CHECK(kernels.created(KernelId::team_forward_affine_blocks_vec4, dtype) == (blocks && shift == 0));
      // Elsewhere each row walked by its index alone (groups of one row).
      CHECK(kernels.created(KernelId::team_forward_affine_rows_vec4, dtype) == (!blocks && shift == 0));
      CHECK(!kernels.created(KernelId::team_forward_affine_vec4, dtype));
      CHECK(kernels.created(KernelId::team_forward, dtype) == (shift != 0));
      CHECK(kernels.created(KernelId::team_backward_affine_blocks_vec4, dtype) == (blocks && shift == 0));
      CHECK(kernels.created(KernelId::team_backward_affine_rows_vec4, dtype) == (!blocks && shift == 0));
      CHECK(!kernels.created(KernelId::team_backward_affine_vec4, dtype));
      CHECK(kernels.created(KernelId::team_backward, dtype) == (shift != 0));
      // dgamma / dbeta four channels per invocation; in the team blocks' second walk, which
      // stores each block's sums as their partials (FLAG_BLOCK_PARAMS).
      CHECK(kernels.created(KernelId::param_partial_vec4, dtype) == (!blocks && shift == 0));
      CHECK(kernels.created(KernelId::param_partial, dtype) == (shift != 0));
      // Those records partial after partial, read four channels per load (the workspace is
      // 16-byte aligned here; the pass takes the tensors' alignment too).
      CHECK(kernels.created(KernelId::param_finalize_vec4, dtype) == (blocks && shift == 0));
      if (blocks && shift == 0) {
        // The workspace 4 bytes past 16-byte alignment: no records as units, so team_backward
        // runs, param_partial_vec4 over the blocks' chunks of rows into the same records, and
        // param_finalize (as GroupNorm's runs above).
        run_forward_backward(*ctx, ln, shift, 9, false, 0, {}, 0, 4);
        CHECK(kernels.created(KernelId::team_backward, dtype));
        CHECK(kernels.created(KernelId::param_partial_vec4, dtype));
      }
      if (!blocks) {
        // Channels-last GroupNorm in teams: groups of 4 positions walk them
        // (team_forward_affine_vec4); over 1x1 planes, groups of one row each take the rows
        // kernel, their channels from (g % K) * cpg on.
        OwnContext gn_ctx({.descriptor_path = test_descriptor_path()});
        GroupNormParams gn;
        gn.layout = Layout::nhwc;
        gn.num_groups = 4;
        gn.dtype = dtype;
        gn.shape = {3, 32, 2, 2};
        run_forward_backward(*gn_ctx, gn, shift, 21, false, 0, {OnChipKernel::team});
        const KernelCache& gn_kernels = state_of(*gn_ctx).kernels;
        CHECK(gn_kernels.created(KernelId::team_forward_affine_vec4, dtype) == (shift == 0));
        CHECK(!gn_kernels.created(KernelId::team_forward_affine_rows_vec4, dtype));
        gn.shape = {3, 32, 1, 1};
        run_forward_backward(*gn_ctx, gn, shift, 22, false, 0, {OnChipKernel::team});
        CHECK(gn_kernels.created(KernelId::team_forward_affine_rows_vec4, dtype) == (shift == 0));
        CHECK(gn_kernels.created(KernelId::team_backward_affine_rows_vec4, dtype) == (shift == 0));
        // The rows kernels have no epilogue: LayerNorm with a residual and a ReLU walks its
        // rows in both directions.
        OwnContext epilogue_ctx({.descriptor_path = test_descriptor_path()});
        LayerNormParams with_epilogue = ln;
        with_epilogue.epilogue = {.residual = true, .relu = true};
        run_forward_backward(*epilogue_ctx, with_epilogue, shift, 23, false);
        const KernelCache& epilogue_kernels = state_of(*epilogue_ctx).kernels;
        CHECK(epilogue_kernels.created(KernelId::team_forward_affine_vec4, dtype) == (shift == 0));
        CHECK(!epilogue_kernels.created(KernelId::team_forward_affine_rows_vec4, dtype));
        CHECK(epilogue_kernels.created(KernelId::team_backward_affine_vec4, dtype) == (shift == 0));
        CHECK(!epilogue_kernels.created(KernelId::team_backward_affine_rows_vec4, dtype));
      }
      ln.bias = false;  // a weight alone: the forward's variant that reads no bias
      run_forward_backward(*ctx, ln, shift, 10, false);
      CHECK(kernels.created(blocks ? KernelId::team_forward_weight_blocks_vec4 : KernelId::team_forward_weight_vec4,
                            dtype) == (shift == 0));
      if (shift == 0) {
        run_forward_backward(*ctx, ln, shift, 11, false, 4);  // a weight 4 bytes past alignment
        CHECK(kernels.created(KernelId::team_forward, dtype));
      }
      ln.elementwise_affine = false;
      run_forward_backward(*ctx, ln, shift, 12, false);
      CHECK(kernels.created(KernelId::team_forward_vec4, dtype) == (shift == 0));
      ln.elementwise_affine = ln.bias = true;
      // A few rows: a workgroup each (fused_forward), as asked for: the rules take teams on
      // a CPU device however few the rows.
      ln.shape = {6, 12};
      run_forward_backward(*ctx, ln, shift, 9, false, 0, {OnChipKernel::fused});
      CHECK(kernels.created(KernelId::fused_forward_vec4, dtype) == (shift == 0));
      CHECK(kernels.created(KernelId::fused_forward, dtype) == (shift != 0));
    }
  }
}

TEST_CASE("vec4: the eval forward's coefficients first or in the apply, as a choice asks, on any device") {
  // The rules take one way on each device (eval_coefficients_first), a tuned choice
  // (EvalCoefficients) either: every columns kernel of both ways, against the reference.
  using EC = EvalCoefficients;
  for (DType dtype : {DType::f32, DType::f16})
    for (EC how : {EC::first, EC::in_apply}) {
      CAPTURE(dtype == DType::f16);
      const bool first = how == EC::first;
      CAPTURE(first);
      auto kernel = [first](KernelId from_statistics, KernelId cached) { return first ? cached : from_statistics; };
      OwnContext ctx({.descriptor_path = test_descriptor_path()});
      const StrategyChoice choice{.coefficients = how};
      BatchNormParams p;
      p.training = false;
      p.dtype = dtype;
      // NCHW planes of 16 (8-element units in at most two channels) and of 4 (4-element ones).
      p.shape = {2, 8, 4, 4};
      run_forward_backward(*ctx, p, 0, 31, true, 0, choice);
      p.shape = {2, 8, 2, 2};
      run_forward_backward(*ctx, p, 0, 32, true, 0, choice);
      // Channels-last rows of 8 channels (8-element units) and of 12 (4-element ones).
      p.layout = Layout::nhwc;
      p.shape = {2, 8, 4, 4};
      run_forward_backward(*ctx, p, 0, 33, true, 0, choice);
      p.shape = {2, 12, 2, 3};
      run_forward_backward(*ctx, p, 0, 34, true, 0, choice);
      const KernelCache& made = state_of(*ctx).kernels;
      using K = KernelId;
      CHECK(made.created(K::batch_norm_coefficients, dtype) == first);
      for (const auto& twins :
           {std::pair{K::batch_norm_apply_columns_pair_wide_vec4, K::batch_norm_apply_columns_pair_cached_wide_vec4},
            std::pair{K::batch_norm_apply_columns_pair_vec4, K::batch_norm_apply_columns_pair_cached_vec4},
            std::pair{K::batch_norm_apply_columns_units_wide_vec4, K::batch_norm_apply_columns_units_cached_wide_vec4},
            std::pair{K::batch_norm_apply_columns_units_vec4, K::batch_norm_apply_columns_units_cached_vec4}}) {
        // (Not a structured binding: clang before 16 cannot capture one, and CAPTURE does.)
        const KernelId from_statistics = twins.first, cached = twins.second;
        CAPTURE(kernel_name(kernel(from_statistics, cached)));
        CHECK(made.created(kernel(from_statistics, cached), dtype));
        CHECK(!made.created(kernel(cached, from_statistics), dtype));
      }
      // Per channel: the running statistics (and gamma and beta) 4 bytes off in the apply,
      // the workspace 4 bytes off where the coefficients come first.
      OwnContext per_channel({.descriptor_path = test_descriptor_path()});
      p.shape = {2, 8, 4, 4};
      const uint64_t off = first ? 0 : 4;
      run_forward_backward(*per_channel, p, 0, 35, true, off, choice, off, first ? 4 : 0);
      const KernelCache& channels = state_of(*per_channel).kernels;
      const K columns = K::batch_norm_apply_columns_vec4, cached_columns = K::batch_norm_apply_columns_cached_vec4;
      CHECK(channels.created(kernel(columns, cached_columns), dtype));
      CHECK(!channels.created(kernel(cached_columns, columns), dtype));
      CHECK(!channels.created(kernel(K::batch_norm_apply_columns_units_wide_vec4,
                                     K::batch_norm_apply_columns_units_cached_wide_vec4),
                              dtype));
    }
}

TEST_CASE("vec4: every kind, both layouts, aligned and odd rows, 16-byte and 4-byte offsets, against the reference") {
  for (TestDevice device : kDevices) {
    Context& ctx = context_for(device);
    CAPTURE(name(device));
    if (skip_if_unsupported(ctx, DType::f32)) continue;
    run_kinds(ctx);
    check_no_validation_messages();
  }
}

}  // namespace vknorm::test
