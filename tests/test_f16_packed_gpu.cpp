// float16 on a device without 16-bit storage: halves packed two to a 32-bit word
// (TensorStorage::f16_packed). The suite's float16 cases run packed on the mobile
// configuration (gpu_support.cpp); these check what they cannot: tensors at odd element
// offsets that share their end words with other tensors (read ones, and ones the same
// dispatch writes), the packed modules on the subgroup path too, and the caller's range
// that must hold the last element's whole word. (test_shader_contract.cpp checks that no
// packed module declares a 16-bit capability.)
#include <cstring>
#include <random>

#include "gpu_support.hpp"
#include "ops/norm_kinds.hpp"
#include "vknorm/half.hpp"

namespace vknorm::test {
namespace {
constexpr uint16_t kSentinel = 0x7bcd;  // a float16 no output of these cases holds

// The halves of one buffer: a sentinel, then x, residual, y, dy, dx, dresidual (n each,
// back to back, so that each starts at an odd element where the one before ends at an
// even one), then a sentinel. Values go in and out in PyTorch's logical order; `at` maps
// a logical index to the device layout's.
struct Arena {
  enum Tensor { x, residual, y, dy, dx, dresidual, count };
  uint64_t n;
  std::vector<uint64_t> at;
  Buffer buffer;
  uint64_t offset(Tensor t) const { return 2 * (1 + t * n); }  // bytes
  uint64_t end() const { return offset(count); }
  uint16_t* halves() const { return buffer.as<uint16_t>(); }
  // The tensor's range: to the end of the word of its last element, which the packed
  // kernels touch (the range check refuses less; see the test below).
  BufferRef ref(Tensor t) const {
    const uint64_t begin = offset(t), last_word_end = (begin + 2 * n + 3) / 4 * 4;
    return {buffer.handle(), begin, last_word_end - begin};
  }
  void put(Tensor t, const std::vector<float>& v) const {
    for (uint64_t i = 0; i < n; ++i) halves()[offset(t) / 2 + at[i]] = float_to_half(v[i]);
  }
  std::vector<float> get(Tensor t) const {
    std::vector<float> v(n);
    for (uint64_t i = 0; i < n; ++i) v[i] = half_to_float(halves()[offset(t) / 2 + at[i]]);
    return v;
  }
};

// `p` (float16, residual and ReLU) forward and backward through the record API with every
// tensor in one Arena, against the CPU reference; the inputs and the sentinels must come
// back unchanged.
template <class Params>
void run_in_arena(Context& ctx, Params p, uint32_t seed) {
  using Row = NormKind<Params>;
  p.dtype = DType::f16;
  p.epilogue = {.residual = true, .relu = true};
  auto g = Row::check(p);
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  const uint64_t n = g->elements;
  CAPTURE(n);
  std::mt19937 rng(seed);
  const auto x = round_to_half(random_vector(n, rng, 0.5f, 2.0f)), residual = round_to_half(random_vector(n, rng));
  const auto dy = round_to_half(random_vector(n, rng));
  const auto w = random_vector(g->affine_size, rng, 1.0f, 0.5f), b = random_vector(g->affine_size, rng, 0.0f, 0.5f);

  Arena arena{n, {}, {}};
  for (uint64_t i = 0; i < n; ++i) arena.at.push_back(i);
  if constexpr (Row::info.channel_layouts) {
    if (p.layout == Layout::nhwc) {  // (N, C, S) -> (N, S, C)
      const uint64_t C = static_cast<uint64_t>(p.shape[1]), S = n / static_cast<uint64_t>(p.shape[0]) / C;
      for (uint64_t i = 0; i < n; ++i) arena.at[i] = (i / (C * S) * S + i % S) * C + i / S % C;
    }
  }
  auto made = ctx.create_buffer(arena.end() + 4);
  REQUIRE_MESSAGE(made.ok(), made.status().message());
  arena.buffer = std::move(made.value());
  for (uint64_t i = 0; i < arena.end() / 2 + 2; ++i) arena.halves()[i] = kSentinel;
  arena.put(Arena::x, x);
  arena.put(Arena::residual, residual);
  arena.put(Arena::dy, dy);

  auto workspace_bytes = kind_workspace_size(ctx, p);
  REQUIRE_MESSAGE(workspace_bytes.ok(), workspace_bytes.status().message());
  Buffer weight = floats(ctx, w, w.size()), bias = floats(ctx, b, b.size());
  Buffer save_mean = floats(ctx, {}, g->stat_groups), save_invstd = floats(ctx, {}, g->stat_groups);
  Buffer workspace = floats(ctx, {}, workspace_bytes.value() / 4);
  Buffer dweight = floats(ctx, {}, w.size()), dbias = floats(ctx, {}, b.size());

  NormForwardBuffers fb;
  fb.x = arena.ref(Arena::x);
  fb.y = arena.ref(Arena::y);
  fb.residual = arena.ref(Arena::residual);
  fb.weight = ref(weight);
  fb.bias = ref(bias);
  fb.save_mean = ref(save_mean);
  fb.save_invstd = ref(save_invstd);
  fb.workspace = ref(workspace);
  auto recorder = ctx.begin_commands();
  REQUIRE_MESSAGE(recorder.ok(), recorder.status().message());
  Status st = record_kind_forward(*recorder.value(), p, fb);
  REQUIRE_MESSAGE(st.ok(), st.message());
  st = ctx.submit_and_wait(*recorder.value());
  REQUIRE_MESSAGE(st.ok(), st.message());

  std::vector<float> none;
  auto want = Row::reference_forward(p, {x, w, b, none, none, residual});
  REQUIRE_MESSAGE(want.ok(), want.status().message());
  NormForwardResult got;
  got.y = arena.get(Arena::y);
  check_close(got.y, want->y, kTol, "y", {}, 1, kHalfRounding);
  check_close(std::vector<float>(save_invstd.as<float>(), save_invstd.as<float>() + g->stat_groups), want->save_invstd,
              kTol, "save_invstd");
  got.save_mean.assign(save_mean.as<float>(), save_mean.as<float>() + g->stat_groups);
  got.save_invstd.assign(save_invstd.as<float>(), save_invstd.as<float>() + g->stat_groups);

  NormBackwardBuffers bb;
  bb.x = arena.ref(Arena::x);
  bb.dy = arena.ref(Arena::dy);
  bb.dx = arena.ref(Arena::dx);
  bb.y = arena.ref(Arena::y);
  bb.dresidual = arena.ref(Arena::dresidual);
  bb.weight = ref(weight);
  bb.save_mean = ref(save_mean);
  bb.save_invstd = ref(save_invstd);
  bb.dweight = ref(dweight);
  bb.dbias = ref(dbias);
  bb.workspace = ref(workspace);
  recorder = ctx.begin_commands();
  REQUIRE_MESSAGE(recorder.ok(), recorder.status().message());
  st = record_kind_backward(*recorder.value(), p, bb);
  REQUIRE_MESSAGE(st.ok(), st.message());
  st = ctx.submit_and_wait(*recorder.value());
  REQUIRE_MESSAGE(st.ok(), st.message());
  // The reference's backward takes the forward's y as the GPU stored it (the ReLU mask).
  auto want_back = Row::reference_backward(p, {x, dy, w, none, none, none, none, got.y});
  REQUIRE_MESSAGE(want_back.ok(), want_back.status().message());
  check_close(arena.get(Arena::dx), want_back->dx, kTol, "dx", {}, 1, kHalfRounding);
  check_close(arena.get(Arena::dresidual), want_back->dresidual, kTol, "dresidual", {}, 1, kHalfRounding);
  check_close(std::vector<float>(dweight.as<float>(), dweight.as<float>() + w.size()), want_back->dweight, kTol,
              "dweight");

  // Inputs and the halves around the tensors as they were: every store touched its half only.
  CHECK(arena.get(Arena::x) == x);
  CHECK(arena.get(Arena::residual) == residual);
  CHECK(arena.get(Arena::dy) == dy);
  CHECK(arena.halves()[0] == kSentinel);
  CHECK(arena.halves()[arena.end() / 2] == kSentinel);
  CHECK(arena.halves()[arena.end() / 2 + 1] == kSentinel);
}

void run_cases(Context& ctx) {
  uint32_t seed = 1;
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{7, 13}, {6, 10}, {1, 1}, {3, 517}}) {
    CAPTURE(shape_name(shape));
    LayerNormParams p;
    p.shape = shape;
    p.normalized_shape = {shape.back()};
    run_in_arena(ctx, p, seed++);
  }
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{3, 5, 7}, {2, 3, 3, 3}, {5, 33, 1}}) {
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      CAPTURE(shape_name(shape));
      CAPTURE(layout == Layout::nhwc);
      BatchNormParams p;
      p.shape = shape;
      p.layout = layout;
      p.track_running_stats = false;
      run_in_arena(ctx, p, seed++);
    }
  }
}

}  // namespace

TEST_CASE("float16 packed in words: odd sizes at odd element offsets, sharing words with other tensors") {
  for (TestDevice device : kDevices) {
    Context& ctx = context_for(device);
    CAPTURE(name(device));
    if (device == TestDevice::mobile) CHECK_FALSE(ctx.capabilities().storage_buffer_16bit);  // packed
    run_cases(ctx);
    check_no_validation_messages();
  }
  // Packed on the subgroup path (mobile has none): the subgroup modules' packed variant.
  StandaloneOptions options;
  options.descriptor_path = test_descriptor_path();
  options.capability_override.storage_buffer_16bit = false;
  OwnContext ctx(options);
  REQUIRE(ctx->capabilities().reduction_path == ReductionPath::subgroup);
  REQUIRE_FALSE(ctx->capabilities().storage_buffer_16bit);
  CAPTURE("subgroup, packed");
  run_cases(*ctx);
}

TEST_CASE("float16 packed in words: a range without the last element's whole word is refused, VK_WHOLE_SIZE too") {
  Context& ctx = context_for(TestDevice::mobile);
  REQUIRE_FALSE(ctx.capabilities().storage_buffer_16bit);
  LayerNormParams p;
  p.shape = {3, 5};  // 15 halves: from offset 0 the last word is half outside the tensor
  p.normalized_shape = {5};
  p.dtype = DType::f16;
  p.elementwise_affine = p.bias = false;
  auto x = ctx.create_buffer(32), y = ctx.create_buffer(32), stats = ctx.create_buffer(64);
  auto workspace_bytes = kind_workspace_size(ctx, p);
  REQUIRE(workspace_bytes.ok());
  auto workspace = ctx.create_buffer(workspace_bytes.value());
  REQUIRE((x.ok() && y.ok() && stats.ok() && workspace.ok()));
  NormForwardBuffers fb;
  fb.x = {x->handle(), 0, 30};
  fb.y = ref(y.value());
  fb.save_mean = ref(stats.value());
  fb.save_invstd = ref(stats.value(), 32);
  fb.workspace = ref(workspace.value());
  auto recorder = ctx.begin_commands();
  REQUIRE(recorder.ok());
  Status st = record_kind_forward(*recorder.value(), p, fb);
  CHECK(st.code() == StatusCode::invalid_argument);
  CHECK_MESSAGE(st.message().find("buffers.x: range of 30 bytes, expected at least 32 (15 elements, and the 2 bytes "
                                  "after them: without 16-bit storage float16 is read and written as whole 32-bit "
                                  "words") == 0,
                st.message());
  // VK_WHOLE_SIZE would be bound to the buffer's end, which may be that half word's start
  // (an exactly sized engine buffer): refused too, asking for the range.
  fb.x = {x->handle(), 0, VK_WHOLE_SIZE};
  st = record_kind_forward(*recorder.value(), p, fb);
  CHECK(st.code() == StatusCode::invalid_argument);
  CHECK_MESSAGE(st.message().find("buffers.x: range VK_WHOLE_SIZE, expected an explicit range of at least 32 bytes") == 0,
                st.message());
  // create_buffer rounds up to whole words: 30 bytes asked, 32 given.
  auto odd = ctx.create_buffer(30);
  REQUIRE(odd.ok());
  CHECK(odd->size() == 32);
  // From offset 2 the 15 halves end on a word boundary: 30 bytes are enough.
  fb.x = {x->handle(), 2, 30};
  st = record_kind_forward(*recorder.value(), p, fb);
  CHECK_MESSAGE(st.ok(), st.message());
  st = ctx.submit_and_wait(*recorder.value());
  CHECK_MESSAGE(st.ok(), st.message());
}

}  // namespace vknorm::test
