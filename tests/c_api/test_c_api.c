/* The C API end to end, from C: a standalone context with the validation layer (any message
 * fails), capabilities, buffers, BatchNorm training forward + backward and LayerNorm with a
 * ReLU epilogue through one recorder, the host convenience calls, an engine-mode context on
 * a VkDevice this test creates with plain Vulkan, the CPU reference of every kind against the
 * device, and the error paths. Results are checked
 * against double-precision loops written here. The last line is "N passed, M failed". */
#include <math.h>
#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <malloc.h> /* _aligned_malloc */
#include <windows.h> /* wine's marker, below */
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vulkan_functions.h"
#include "allow_no_validation.h"

#include <vknorm/vknorm.h>

static int g_passed, g_failed;
static atomic_int g_validation_messages;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) {                                            \
      ++g_passed;                                          \
    } else {                                               \
      ++g_failed;                                          \
      fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
    }                                                      \
  } while (0)

/* A vknorm call that must succeed; on failure prints vknorm's message. */
#define CHECK_OK(call)                                                                            \
  do {                                                                                            \
    vknorm_status s_ = (call);                                                                    \
    CHECK(s_ == VKNORM_STATUS_OK, "%s: %s: %s", #call, vknorm_status_string(s_), vknorm_last_error()); \
  } while (0)

/* A vknorm call that must fail with `expected` and a message containing `needle`. */
#define CHECK_ERROR(call, expected, needle)                                                          \
  do {                                                                                               \
    vknorm_status s_ = (call);                                                                       \
    CHECK(s_ == (expected) && strstr(vknorm_last_error(), (needle)) != NULL,                         \
          "%s: expected %s with \"%s\", got %s: \"%s\"", #call, vknorm_status_string(expected), needle, \
          vknorm_status_string(s_), vknorm_last_error());                                            \
  } while (0)

static void count_validation_message(const char* message, void* user_data) {
  (void)user_data;
  atomic_fetch_add(&g_validation_messages, 1);
  fprintf(stderr, "validation: %s\n", message);
}

/* The validation layer is demanded, unless it is not installed and
 * VKNORM_TEST_ALLOW_NO_VALIDATION=1 allows that (scripts/test-windows.sh: Debian has no
 * Windows build of the layer). Then the contexts run without it, counted and printed. */
static int has_layer(const char* name);
static int g_without_validation = -1; /* unknown until asked */
static int g_contexts_without_validation;
static int running_without_validation(void) {
  if (g_without_validation < 0)
    g_without_validation = allow_no_validation() && !has_layer("VK_LAYER_KHRONOS_validation");
  return g_without_validation;
}
/* For options.enable_validation. */
static int use_validation(void) {
  if (!running_without_validation()) return 1;
  ++g_contexts_without_validation;
  return 0;
}

/* Under wine (its ntdll.dll exports wine_get_version) the checks that need what wine's
 * vulkan-1.dll does not pass on to the driver are skipped, printed and counted: allocation
 * callbacks (winevulkan hands the host driver NULL). */
static int g_skipped_under_wine;
static int skip_under_wine(const char* what, const char* why) {
#if defined(_WIN32)
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  if (ntdll && GetProcAddress(ntdll, "wine_get_version")) {
    ++g_skipped_under_wine;
    printf("[environment] skipped under wine: %s: %s\n", what, why);
    return 1;
  }
#else
  (void)what;
  (void)why;
#endif
  return 0;
}

/* Deterministic inputs: uniform in [lo, hi). */
static uint32_t g_rng = 12345u;
static float uniform(float lo, float hi) {
  g_rng = g_rng * 1664525u + 1013904223u;
  return lo + (hi - lo) * (float)(g_rng >> 8) / 16777216.0f;
}
static void fill(float* v, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; ++i) v[i] = uniform(lo, hi);
}

/* |got - ref| <= 3e-5 * max(1, max|ref|) everywhere. */
static void check_close(const char* what, const float* got, const double* ref, size_t n) {
  double scale = 1.0, worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) scale = fmax(scale, fabs(ref[i]));
  for (size_t i = 0; i < n; ++i) {
    double err = fabs((double)got[i] - ref[i]);
    if (err > worst || isnan(got[i])) worst = isnan(got[i]) ? INFINITY : err, at = i;
  }
  CHECK(worst <= 3e-5 * scale, "%s: [%zu] = %.8g, expected %.8g (error %.3g, allowed %.3g)", what, at,
        n ? got[at] : 0.0f, n ? ref[at] : 0.0, worst, 3e-5 * scale);
}

/* ---- References in double: (N, C, S) tensors, statistics per channel or per group ---- */

/* BatchNorm training forward, backward and running-statistics update. */
typedef struct {
  double *y, *mean, *invstd, *running_mean, *running_var, *dx, *dweight, *dbias;
} bn_ref;

static bn_ref batch_norm_reference(size_t N, size_t C, size_t S, const float* x, const float* w, const float* b,
                                   const float* dy, const float* rm, const float* rv, double eps, double momentum) {
  bn_ref r;
  const size_t E = N * C * S, M = N * S;
  r.y = calloc(E, sizeof(double));
  r.dx = calloc(E, sizeof(double));
  r.mean = calloc(C, sizeof(double));
  r.invstd = calloc(C, sizeof(double));
  r.running_mean = calloc(C, sizeof(double));
  r.running_var = calloc(C, sizeof(double));
  r.dweight = calloc(C, sizeof(double));
  r.dbias = calloc(C, sizeof(double));
  for (size_t c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    for (size_t n = 0; n < N; ++n)
      for (size_t s = 0; s < S; ++s) sum += x[(n * C + c) * S + s];
    const double mean = sum / M;
    for (size_t n = 0; n < N; ++n)
      for (size_t s = 0; s < S; ++s) sq += pow(x[(n * C + c) * S + s] - mean, 2);
    const double invstd = 1.0 / sqrt(sq / M + eps);
    r.mean[c] = mean;
    r.invstd[c] = invstd;
    r.running_mean[c] = (1 - momentum) * rm[c] + momentum * mean;
    r.running_var[c] = (1 - momentum) * rv[c] + momentum * sq / (M - 1);
    /* dx = invstd * (g - mean(g) - xhat * mean(g * xhat)), g = weight * dy */
    double mg = 0, mgx = 0, sdy = 0, sdyx = 0;
    for (size_t n = 0; n < N; ++n)
      for (size_t s = 0; s < S; ++s) {
        const size_t i = (n * C + c) * S + s;
        const double xhat = (x[i] - mean) * invstd;
        r.y[i] = xhat * w[c] + b[c];
        mg += w[c] * dy[i];
        mgx += w[c] * dy[i] * xhat;
        sdy += dy[i];
        sdyx += dy[i] * xhat;
      }
    mg /= M;
    mgx /= M;
    r.dweight[c] = sdyx;
    r.dbias[c] = sdy;
    for (size_t n = 0; n < N; ++n)
      for (size_t s = 0; s < S; ++s) {
        const size_t i = (n * C + c) * S + s;
        const double xhat = (x[i] - mean) * invstd;
        r.dx[i] = invstd * (w[c] * dy[i] - mg - xhat * mgx);
      }
  }
  return r;
}

static void free_bn_ref(bn_ref* r) {
  free(r->y), free(r->dx), free(r->mean), free(r->invstd);
  free(r->running_mean), free(r->running_var), free(r->dweight), free(r->dbias);
}

/* Normalizes `groups` groups of `size` consecutive elements (LayerNorm rows, InstanceNorm
 * (n, c) planes); the affine is per element of a row (every = 1) or per group of `every`
 * elements inside a row (GroupNorm channels), with `affine_period` values before it wraps;
 * relu clamps at 0. rms: divide by the root mean square instead of centering. */
static void group_reference(size_t groups, size_t size, const float* x, const float* w, const float* b,
                            size_t every, size_t affine_period, double eps, int relu, int rms, double* y) {
  for (size_t g = 0; g < groups; ++g) {
    const float* xs = x + g * size;
    double mean = 0, var = 0;
    for (size_t i = 0; i < size; ++i) mean += xs[i];
    mean /= size;
    if (rms) mean = 0;
    for (size_t i = 0; i < size; ++i) var += pow(xs[i] - mean, 2);
    const double invstd = 1.0 / sqrt(var / size + eps);
    for (size_t i = 0; i < size; ++i) {
      const size_t a = (g * (size / every) + i / every) % affine_period;
      double v = (xs[i] - mean) * invstd * (w ? w[a] : 1.0) + (b ? b[a] : 0.0);
      y[g * size + i] = relu && v < 0 ? 0 : v;
    }
  }
}

/* ---- Standalone mode ---- */

static void print_capabilities(const vknorm_capabilities* c) {
  printf("device: %s (type %d, Vulkan %u.%u, driver %s)\n", c->device_name, (int)c->device_type,
         VK_API_VERSION_MAJOR(c->api_version), VK_API_VERSION_MINOR(c->api_version), c->driver_name);
  printf("  subgroup size %u (%u..%u), arithmetic %d; shared memory %u; workgroup %u (max %u); 16-bit storage %d\n",
         c->subgroup_size, c->min_subgroup_size, c->max_subgroup_size, c->subgroup_arithmetic, c->max_shared_memory,
         c->workgroup_size, c->max_workgroup_invocations, c->storage_buffer_16bit);
  printf("  reduction path: %s (%s)\n", vknorm_reduction_path_string(c->reduction_path), c->reduction_reason);
}

static void* map(vknorm_buffer* b) {
  void* data = NULL;
  CHECK_OK(vknorm_buffer_map(b, &data));
  return data;
}

/* A buffer of n floats and its mapped memory (NULL on failure, already reported). */
static float* new_floats(vknorm_context* ctx, size_t n, vknorm_buffer** out) {
  *out = NULL;
  CHECK_OK(vknorm_buffer_create(ctx, n * sizeof(float), out));
  return *out ? map(*out) : NULL;
}

/* BatchNorm2d training forward + backward and LayerNorm + ReLU, recorded through one recorder. */
static void test_recording(vknorm_context* ctx) {
  enum { N = 4, C = 3, H = 5, W = 6, S = H * W, E = N * C * S };
  enum { ROWS = 5 * 7, D = 12 };
  const int64_t bn_shape[] = {N, C, H, W};
  const int64_t ln_shape[] = {5, 7, D}, ln_normalized[] = {D};

  vknorm_batch_norm_state state;
  vknorm_batch_norm_state_init(&state);
  vknorm_batch_norm_params bn;
  vknorm_batch_norm_params_init(&bn);
  bn.shape = bn_shape;
  bn.rank = 4;
  bn.dims = VKNORM_BATCH_NORM_2D;
  CHECK_OK(vknorm_batch_norm_state_next_training_factor(&state, &bn.momentum));
  CHECK(state.num_batches_tracked == 1 && fabsf(bn.momentum - 0.1f) < 1e-7f, "batch norm state: %lld, %g",
        (long long)state.num_batches_tracked, bn.momentum);

  vknorm_geometry g;
  CHECK_OK(vknorm_batch_norm_check(&bn, &g));
  CHECK(g.elements == E && g.stat_groups == C && g.group_size == N * S && g.updates_running,
        "batch norm geometry: %llu elements, %llu groups", (unsigned long long)g.elements,
        (unsigned long long)g.stat_groups);

  vknorm_layer_norm_params ln;
  vknorm_layer_norm_params_init(&ln);
  ln.shape = ln_shape;
  ln.rank = 3;
  ln.normalized_shape = ln_normalized;
  ln.normalized_rank = 1;
  ln.epilogue.relu = 1;

  uint64_t bn_ws = 0, ln_ws = 0;
  CHECK_OK(vknorm_batch_norm_workspace_size(ctx, &bn, &bn_ws));
  CHECK_OK(vknorm_layer_norm_workspace_size(ctx, &ln, &ln_ws));

  /* BatchNorm's tensors share one buffer at offsets that are multiples of 4 bytes but not
   * of the storage-buffer alignment; the rest get a buffer each. */
  const size_t xo = 1, dyo = xo + E + 3, yo = dyo + E + 5, dxo = yo + E + 7, total = dxo + E;
  vknorm_buffer *tensors, *w_b, *b_b, *rm_b, *rv_b, *sm_b, *si_b, *dw_b, *db_b, *ws_b, *lx_b, *ly_b, *lw_b, *lb_b, *lsm_b, *lsi_b;
  float* t = new_floats(ctx, total, &tensors);
  float* w = new_floats(ctx, C, &w_b);
  float* b = new_floats(ctx, C, &b_b);
  float* rm = new_floats(ctx, C, &rm_b);
  float* rv = new_floats(ctx, C, &rv_b);
  float* sm = new_floats(ctx, C, &sm_b);
  float* si = new_floats(ctx, C, &si_b);
  float* dw = new_floats(ctx, C, &dw_b);
  float* db = new_floats(ctx, C, &db_b);
  new_floats(ctx, (bn_ws > ln_ws ? bn_ws : ln_ws) / 4 + 1, &ws_b);
  float* lx = new_floats(ctx, ROWS * D, &lx_b);
  float* ly = new_floats(ctx, ROWS * D, &ly_b);
  float* lw = new_floats(ctx, D, &lw_b);
  float* lb = new_floats(ctx, D, &lb_b);
  float* lsm = new_floats(ctx, ROWS, &lsm_b);
  float* lsi = new_floats(ctx, ROWS, &lsi_b);
  if (!t || !w || !b || !rm || !rv || !sm || !si || !dw || !db || !ws_b || !lx || !ly || !lw || !lb || !lsm || !lsi) return;

  fill(t + xo, E, -1.0f, 5.0f);
  fill(t + dyo, E, -1.0f, 1.0f);
  fill(w, C, 0.5f, 1.5f);
  fill(b, C, -0.5f, 0.5f);
  fill(rm, C, -0.2f, 0.2f);
  fill(rv, C, 0.8f, 1.2f);
  fill(lx, ROWS * D, -2.0f, 2.0f);
  fill(lw, D, 0.5f, 1.5f);
  fill(lb, D, -0.5f, 0.5f);
  bn_ref ref = batch_norm_reference(N, C, S, t + xo, w, b, t + dyo, rm, rv, bn.eps, bn.momentum);
  double* ln_ref = calloc(ROWS * D, sizeof(double));
  group_reference(ROWS, D, lx, lw, lb, 1, D, ln.eps, 1, 0, ln_ref);

  vknorm_forward_buffers f = {0};
  f.x = vknorm_buffer_ref_at(tensors, xo * 4);
  f.y = vknorm_buffer_ref_at(tensors, yo * 4);
  f.weight = vknorm_buffer_ref_at(w_b, 0);
  f.bias = vknorm_buffer_ref_at(b_b, 0);
  f.running_mean = vknorm_buffer_ref_at(rm_b, 0);
  f.running_var = vknorm_buffer_ref_at(rv_b, 0);
  f.save_mean = vknorm_buffer_ref_at(sm_b, 0);
  f.save_invstd = vknorm_buffer_ref_at(si_b, 0);
  f.workspace = vknorm_buffer_ref_at(ws_b, 0);
  vknorm_backward_buffers bw = {0};
  bw.x = f.x;
  bw.dy = (vknorm_buffer_ref){vknorm_buffer_handle(tensors), dyo * 4, E * 4};
  bw.dx = (vknorm_buffer_ref){vknorm_buffer_handle(tensors), dxo * 4, 0}; /* 0: to the end */
  bw.weight = f.weight;
  bw.save_mean = f.save_mean;
  bw.save_invstd = f.save_invstd;
  bw.dweight = vknorm_buffer_ref_at(dw_b, 0);
  bw.dbias = vknorm_buffer_ref_at(db_b, 0);
  bw.workspace = f.workspace;
  vknorm_forward_buffers lf = {0};
  lf.x = vknorm_buffer_ref_at(lx_b, 0);
  lf.y = vknorm_buffer_ref_at(ly_b, 0);
  lf.weight = vknorm_buffer_ref_at(lw_b, 0);
  lf.bias = vknorm_buffer_ref_at(lb_b, 0);
  lf.save_mean = vknorm_buffer_ref_at(lsm_b, 0);
  lf.save_invstd = vknorm_buffer_ref_at(lsi_b, 0);
  lf.workspace = f.workspace;

  vknorm_recorder* rec = NULL;
  CHECK_OK(vknorm_recorder_begin_standalone(ctx, &rec));
  if (rec) {
    CHECK(vknorm_recorder_command_buffer(rec) != VK_NULL_HANDLE, "standalone recorder has no command buffer");
    CHECK_OK(vknorm_batch_norm_record_forward(rec, &bn, &f));
    CHECK_OK(vknorm_batch_norm_record_backward(rec, &bn, &bw));
    CHECK_OK(vknorm_layer_norm_record_forward(rec, &ln, &lf));
    CHECK(vknorm_recorder_dispatch_count(rec) >= 3, "dispatch count %u", vknorm_recorder_dispatch_count(rec));
    CHECK_OK(vknorm_recorder_submit_and_wait(rec));
    /* Once submitted, the recorder takes nothing more. */
    CHECK_ERROR(vknorm_recorder_submit_and_wait(rec), VKNORM_STATUS_INVALID_ARGUMENT, "already submitted");
    CHECK_ERROR(vknorm_layer_norm_record_forward(rec, &ln, &lf), VKNORM_STATUS_INVALID_ARGUMENT, "already submitted");
    /* Until it is reset: then its command buffer is begun again and takes new work (the
     * layer norm once more, into a cleared y that the checks below read). */
    CHECK_OK(vknorm_recorder_reset(rec));
    CHECK(vknorm_recorder_dispatch_count(rec) == 0, "dispatch count after reset %u", vknorm_recorder_dispatch_count(rec));
    for (int i = 0; i < ROWS * D; ++i) ly[i] = 0.0f;
    CHECK_OK(vknorm_layer_norm_record_forward(rec, &ln, &lf));
    CHECK_OK(vknorm_recorder_submit_and_wait(rec));
    vknorm_recorder_destroy(rec);

    check_close("batch norm y", t + yo, ref.y, E);
    check_close("batch norm save_mean", sm, ref.mean, C);
    check_close("batch norm save_invstd", si, ref.invstd, C);
    check_close("batch norm running_mean", rm, ref.running_mean, C);
    check_close("batch norm running_var", rv, ref.running_var, C);
    check_close("batch norm dx", t + dxo, ref.dx, E);
    check_close("batch norm dweight", dw, ref.dweight, C);
    check_close("batch norm dbias", db, ref.dbias, C);
    check_close("layer norm + relu y", ly, ln_ref, ROWS * D);
  }
  free_bn_ref(&ref);
  free(ln_ref);
  vknorm_buffer* all[] = {tensors, w_b, b_b, rm_b, rv_b, sm_b, si_b, dw_b, db_b, ws_b, lx_b, ly_b, lw_b, lb_b, lsm_b, lsi_b};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) vknorm_buffer_destroy(all[i]);
}

/* RMSNorm over the last dimension of a (rows, d) shape, without weight. */
static vknorm_rms_norm_params rms_over_rows(const int64_t shape[2]) {
  vknorm_rms_norm_params rms;
  vknorm_rms_norm_params_init(&rms);
  rms.shape = shape;
  rms.rank = 2;
  rms.normalized_shape = shape + 1;
  rms.normalized_rank = 1;
  rms.elementwise_affine = 0;
  return rms;
}

/* The host arrays of an RMSNorm forward over `rows` rows of `d` values. */
static vknorm_host_forward rms_host_io(const float* x, float* y, float* invstd, size_t rows, size_t d) {
  vknorm_host_forward io = {0};
  io.x = x, io.x_length = rows * d;
  io.y = y, io.y_capacity = rows * d;
  io.save_invstd = invstd, io.save_invstd_capacity = rows;
  return io;
}

/* The host convenience calls: RMSNorm, InstanceNorm and GroupNorm forward on host arrays. */
static void test_host_calls(vknorm_context* ctx) {
  enum { ROWS = 6, D = 10, N = 2, C = 4, S = 9, E = N * C * S, G = 2 };
  float x[ROWS * D], w[D], y[ROWS * D], invstd[ROWS];
  double ref[ROWS * D];
  fill(x, ROWS * D, -3.0f, 3.0f);
  fill(w, D, 0.5f, 1.5f);
  const int64_t shape[] = {ROWS, D};
  vknorm_rms_norm_params rms = rms_over_rows(shape);
  rms.elementwise_affine = 1;
  vknorm_host_forward io = rms_host_io(x, y, invstd, ROWS, D);
  io.weight = w, io.weight_length = D;
  CHECK_OK(vknorm_rms_norm_forward_host(ctx, &rms, &io));
  group_reference(ROWS, D, x, w, NULL, 1, D, 1.1920928955078125e-07 /* FLT_EPSILON */, 0, 1, ref);
  check_close("rms norm (host) y", y, ref, ROWS * D);

  /* An output too small is refused before anything is written. */
  io.y_capacity = ROWS * D - 1;
  CHECK_ERROR(vknorm_rms_norm_forward_host(ctx, &rms, &io), VKNORM_STATUS_INVALID_ARGUMENT, "io.y");

  float ix[E], iy[E], gw[C], gb[C], gy[E];
  double iref[E], gref[E];
  fill(ix, E, -1.0f, 2.0f);
  fill(gw, C, 0.5f, 1.5f);
  fill(gb, C, -0.5f, 0.5f);
  const int64_t ishape[] = {N, C, 3, 3};
  vknorm_instance_norm_params in;
  vknorm_instance_norm_params_init(&in);
  in.shape = ishape;
  in.rank = 4;
  in.dims = VKNORM_INSTANCE_NORM_2D;
  in.layout = VKNORM_LAYOUT_NHWC; /* host arrays stay (N, C, H, W); only the device stores NHWC */
  vknorm_host_forward iio = {0};
  iio.x = ix, iio.x_length = E;
  iio.y = iy, iio.y_capacity = E;
  CHECK_OK(vknorm_instance_norm_forward_host(ctx, &in, &iio));
  group_reference(N * C, S, ix, NULL, NULL, 1, 1, in.eps, 0, 0, iref);
  check_close("instance norm (host, NHWC) y", iy, iref, E);

  vknorm_group_norm_params gn;
  vknorm_group_norm_params_init(&gn);
  gn.shape = ishape;
  gn.rank = 4;
  gn.num_groups = G;
  vknorm_geometry g;
  CHECK_OK(vknorm_group_norm_check(&gn, &g));
  CHECK(g.stat_groups == N * G && g.group_size == C / G * S && g.affine_size == C, "group norm geometry");
  vknorm_host_forward gio = {0};
  gio.x = ix, gio.x_length = E;
  gio.weight = gw, gio.weight_length = C;
  gio.bias = gb, gio.bias_length = C;
  gio.y = gy, gio.y_capacity = E;
  CHECK_OK(vknorm_group_norm_forward_host(ctx, &gn, &gio));
  group_reference(N * G, C / G * S, ix, gw, gb, S, C, gn.eps, 0, 0, gref);
  check_close("group norm (host) y", gy, gref, E);
}

/* ---- The CPU reference (vknorm_<kind>_*_reference) against the device (*_host) ---- */

enum { REF_MAX_E = 96, REF_MAX_A = 16 };

/* One call of one kind, on both sides: [0] the device (vknorm_<kind>_*_host), [1] the CPU
 * reference. Both get the same inputs; both backwards get the device's forward output y
 * (the ReLU mask), so that a value rounded to opposite sides of 0 cannot flip the mask. */
typedef struct {
  size_t n;        /* elements of x */
  size_t affine;   /* weight length */
  int has_bias;
  int has_mean;    /* the forward saves a mean (all kinds but RMSNorm) */
  size_t groups;   /* statistics groups: save_mean / save_invstd length */
  size_t running;  /* running statistics length, 0 without */
  float x[REF_MAX_E], residual[REF_MAX_E], dy[REF_MAX_E], w[REF_MAX_A], b[REF_MAX_A];
  float y[2][REF_MAX_E], mean[2][REF_MAX_A], invstd[2][REF_MAX_A], rm[2][REF_MAX_A], rv[2][REF_MAX_A];
  float dx[2][REF_MAX_E], dw[2][REF_MAX_A], db[2][REF_MAX_A], dres[2][REF_MAX_E];
} kind_case;

static void init_case(kind_case* c, size_t n, size_t affine, int has_bias, int has_mean, size_t groups,
                      size_t running) {
  memset(c, 0, sizeof *c);
  c->n = n, c->affine = affine, c->has_bias = has_bias, c->has_mean = has_mean;
  c->groups = groups, c->running = running;
  fill(c->x, n, -2.0f, 3.0f);
  fill(c->residual, n, -1.0f, 1.0f);
  fill(c->dy, n, -1.0f, 1.0f);
  fill(c->w, affine, 0.5f, 1.5f);
  fill(c->b, affine, -0.5f, 0.5f);
  for (size_t i = 0; i < running; ++i)
    c->rm[0][i] = c->rm[1][i] = 0.1f * (float)i, c->rv[0][i] = c->rv[1][i] = 1.0f + 0.05f * (float)i;
}

static vknorm_host_forward case_forward_io(kind_case* c, int side) {
  vknorm_host_forward io = {0};
  io.x = c->x, io.x_length = c->n;
  io.weight = c->w, io.weight_length = c->affine;
  io.bias = c->has_bias ? c->b : NULL, io.bias_length = c->has_bias ? c->affine : 0;
  io.residual = c->residual, io.residual_length = c->n;
  io.running_mean = c->running ? c->rm[side] : NULL, io.running_mean_length = c->running;
  io.running_var = c->running ? c->rv[side] : NULL, io.running_var_length = c->running;
  io.y = c->y[side], io.y_capacity = c->n;
  io.save_mean = c->mean[side], io.save_mean_capacity = REF_MAX_A;
  io.save_invstd = c->invstd[side], io.save_invstd_capacity = REF_MAX_A;
  return io;
}

static vknorm_host_backward case_backward_io(kind_case* c, int side) {
  vknorm_host_backward io = {0};
  io.x = c->x, io.x_length = c->n;
  io.dy = c->dy, io.dy_length = c->n;
  io.weight = c->w, io.weight_length = c->affine;
  io.save_mean = c->mean[side], io.save_mean_length = c->has_mean ? c->groups : 0;
  io.save_invstd = c->invstd[side], io.save_invstd_length = c->groups;
  io.y = c->y[0], io.y_length = c->n;
  io.dx = c->dx[side], io.dx_capacity = c->n;
  io.dweight = c->dw[side], io.dweight_capacity = REF_MAX_A;
  io.dbias = c->db[side], io.dbias_capacity = REF_MAX_A;
  io.dresidual = c->dres[side], io.dresidual_capacity = c->n;
  return io;
}

/* |device - reference| <= 3e-5 * max(1, max|reference|). The reference rounds a double
 * result to float (5.96e-8 relative); the device computes in float32 (sums over at most
 * 48 values: relative error below 48 * 5.96e-8 = 2.9e-6 of their magnitudes, which the
 * normalization keeps O(1)). 3e-5 bounds both ten times over, and is the bound this test
 * already holds the device to against its double loops; a missing epilogue step, mask or
 * backward term is off by O(0.1) or more. */
static void check_agree(const char* kind, const char* what, const float* device, const float* reference, size_t n) {
  double want[REF_MAX_E];
  for (size_t i = 0; i < n; ++i) want[i] = reference[i];
  char label[96];
  snprintf(label, sizeof label, "%s reference vs device: %s", kind, what);
  check_close(label, device, want, n);
}

static void compare_case(const char* kind, const kind_case* c) {
  check_agree(kind, "y", c->y[0], c->y[1], c->n);
  check_agree(kind, "save_invstd", c->invstd[0], c->invstd[1], c->groups);
  if (c->has_mean) check_agree(kind, "save_mean", c->mean[0], c->mean[1], c->groups);
  check_agree(kind, "dx", c->dx[0], c->dx[1], c->n);
  check_agree(kind, "dweight", c->dw[0], c->dw[1], c->affine);
  if (c->has_bias) check_agree(kind, "dbias", c->db[0], c->db[1], c->affine);
  check_agree(kind, "dresidual", c->dres[0], c->dres[1], c->n);
  int clipped = 0;
  for (size_t i = 0; i < c->n; ++i) clipped += c->y[1][i] == 0.0f;
  CHECK(clipped > 0 && clipped < (int)c->n, "%s: the ReLU clipped %d of %zu values", kind, clipped, c->n);
  if (c->running) {
    check_agree(kind, "running_mean", c->rm[0], c->rm[1], c->running);
    check_agree(kind, "running_var", c->rv[0], c->rv[1], c->running);
  }
}

/* Forward then backward on both sides; `params` is a pointer to the kind's params. */
#define RUN_BOTH_SIDES(kind, ctx, params, c)                                      \
  do {                                                                            \
    vknorm_host_forward f0_ = case_forward_io((c), 0), f1_ = case_forward_io((c), 1); \
    CHECK_OK(vknorm_##kind##_forward_host((ctx), (params), &f0_));                 \
    CHECK_OK(vknorm_##kind##_forward_reference((params), &f1_));                  \
    vknorm_host_backward b0_ = case_backward_io((c), 0), b1_ = case_backward_io((c), 1); \
    CHECK_OK(vknorm_##kind##_backward_host((ctx), (params), &b0_));                \
    CHECK_OK(vknorm_##kind##_backward_reference((params), &b1_));                 \
    compare_case(#kind, (c));                                                     \
  } while (0)

/* Every kind with the full epilogue (residual + ReLU), training BatchNorm with running
 * statistics updated in place. */
static void test_reference_calls(vknorm_context* ctx) {
  const vknorm_epilogue full = {1, 1};
  kind_case c;

  const int64_t bshape[] = {4, 3, 2, 2}; /* 48 elements, statistics over 16 per channel */
  vknorm_batch_norm_params bn;
  vknorm_batch_norm_params_init(&bn);
  bn.shape = bshape, bn.rank = 4, bn.epilogue = full;
  init_case(&c, 48, 3, 1, 1, 3, 3);
  RUN_BOTH_SIDES(batch_norm, ctx, &bn, &c);
  /* momentum 0.1 moves running_mean[0] from 0 by a tenth of the batch mean (|mean| > 0.01 here). */
  CHECK(c.rm[1][0] != 0.0f && c.rv[1][0] != 1.0f, "batch norm reference left the running statistics (%g, %g)",
        c.rm[1][0], c.rv[1][0]);

  const int64_t ishape[] = {2, 3, 8}; /* InstanceNorm1d, affine */
  vknorm_instance_norm_params in;
  vknorm_instance_norm_params_init(&in);
  in.shape = ishape, in.rank = 3, in.affine = 1, in.epilogue = full;
  init_case(&c, 48, 3, 1, 1, 6, 0);
  RUN_BOTH_SIDES(instance_norm, ctx, &in, &c);

  const int64_t gshape[] = {2, 4, 6};
  vknorm_group_norm_params gn;
  vknorm_group_norm_params_init(&gn);
  gn.shape = gshape, gn.rank = 3, gn.num_groups = 2, gn.epilogue = full;
  init_case(&c, 48, 4, 1, 1, 4, 0);
  RUN_BOTH_SIDES(group_norm, ctx, &gn, &c);

  const int64_t lshape[] = {4, 12};
  vknorm_layer_norm_params ln;
  vknorm_layer_norm_params_init(&ln);
  ln.shape = lshape, ln.rank = 2, ln.normalized_shape = lshape + 1, ln.normalized_rank = 1, ln.epilogue = full;
  init_case(&c, 48, 12, 1, 1, 4, 0);
  RUN_BOTH_SIDES(layer_norm, ctx, &ln, &c);

  vknorm_rms_norm_params rms = rms_over_rows(lshape);
  rms.elementwise_affine = 1, rms.epilogue = full;
  init_case(&c, 48, 12, 0, 0, 4, 0);
  RUN_BOTH_SIDES(rms_norm, ctx, &rms, &c);

  /* dtype f16 changes nothing on the host: the reference computes from the floats given. */
  float y16[48], invstd16[4];
  vknorm_host_forward io = case_forward_io(&c, 1);
  io.y = y16, io.save_invstd = invstd16, io.save_invstd_capacity = 4;
  rms.dtype = VKNORM_DTYPE_F16;
  CHECK_OK(vknorm_rms_norm_forward_reference(&rms, &io));
  CHECK(memcmp(y16, c.y[1], sizeof y16) == 0, "rms norm reference: f16 params changed the result");
}

/* Refusals without a context: the same checks and messages as the *_host functions. */
static void test_reference_errors(void) {
  const int64_t shape[] = {2, 4};
  vknorm_layer_norm_params ln;
  vknorm_layer_norm_params_init(&ln);
  ln.shape = shape, ln.rank = 2, ln.normalized_shape = shape + 1, ln.normalized_rank = 1;
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 9}, w[4] = {1, 1, 1, 1}, b[4] = {0, 0, 0, 0}, y[8], mean[2], invstd[2];
  vknorm_host_forward io = {0};
  io.x = x, io.x_length = 8, io.weight = w, io.weight_length = 4, io.bias = b, io.bias_length = 4;
  io.y = y, io.y_capacity = 8, io.save_mean = mean, io.save_mean_capacity = 2;
  io.save_invstd = invstd, io.save_invstd_capacity = 2;
  CHECK_OK(vknorm_layer_norm_forward_reference(&ln, &io));

  CHECK_ERROR(vknorm_layer_norm_forward_reference(NULL, &io), VKNORM_STATUS_INVALID_ARGUMENT,
              "params: expected a pointer, got NULL (in vknorm_layer_norm_forward_reference)");
  CHECK_ERROR(vknorm_batch_norm_backward_reference(NULL, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "params");
  CHECK_ERROR(vknorm_layer_norm_forward_reference(&ln, NULL), VKNORM_STATUS_INVALID_ARGUMENT,
              "io: expected a pointer, got NULL (in vknorm_layer_norm_forward_reference)");
  vknorm_host_forward bad = io;
  bad.x = NULL;
  CHECK_ERROR(vknorm_layer_norm_forward_reference(&ln, &bad), VKNORM_STATUS_INVALID_ARGUMENT,
              "io.x: expected 8 floats, got NULL");
  bad = io;
  bad.x_length = 7;
  CHECK_ERROR(vknorm_layer_norm_forward_reference(&ln, &bad), VKNORM_STATUS_INVALID_ARGUMENT,
              "x: expected 8 elements (the product of its shape), got 7");
  bad = io;
  bad.weight_length = 3;
  CHECK_ERROR(vknorm_layer_norm_forward_reference(&ln, &bad), VKNORM_STATUS_INVALID_ARGUMENT, "weight: Expected weight");
  bad = io;
  bad.y_capacity = 7;
  float y_before = y[0];
  y[0] = -123.0f;
  CHECK_ERROR(vknorm_layer_norm_forward_reference(&ln, &bad), VKNORM_STATUS_INVALID_ARGUMENT,
              "io.y: capacity of 7 floats, the result has 8");
  CHECK(y[0] == -123.0f, "a refused reference call wrote its output");
  y[0] = y_before;
  ln.epilogue.residual = 1;
  CHECK_ERROR(vknorm_layer_norm_forward_reference(&ln, &io), VKNORM_STATUS_INVALID_ARGUMENT,
              "residual: expected 8 elements (the shape of x), got 0");
  ln.epilogue.residual = 0;
  ln.epilogue.relu = 1;
  float dx[8];
  vknorm_host_backward bio = {0};
  bio.x = x, bio.x_length = 8, bio.dy = x, bio.dy_length = 8, bio.weight = w, bio.weight_length = 4;
  bio.dx = dx, bio.dx_capacity = 8;
  CHECK_ERROR(vknorm_layer_norm_backward_reference(&ln, &bio), VKNORM_STATUS_INVALID_ARGUMENT,
              "y: the ReLU epilogue's backward needs the forward's output, expected 8 elements, got 0");
  bio.dy_length = 4;
  CHECK_ERROR(vknorm_layer_norm_backward_reference(&ln, &bio), VKNORM_STATUS_INVALID_ARGUMENT,
              "dy: expected 8 elements (the shape of x), got 4");
  ln.dtype = (vknorm_dtype)9;
  CHECK_ERROR(vknorm_layer_norm_forward_reference(&ln, &io), VKNORM_STATUS_INVALID_ARGUMENT, "params.dtype");
  /* PyTorch's refusal, as from the *_host functions. */
  vknorm_group_norm_params gn;
  vknorm_group_norm_params_init(&gn);
  const int64_t gshape[] = {2, 6, 4};
  gn.shape = gshape, gn.rank = 3, gn.num_groups = 4;
  CHECK_ERROR(vknorm_group_norm_forward_reference(&gn, &io), VKNORM_STATUS_INVALID_ARGUMENT,
              "divisible by num_groups");
}

/* Refusals: NULL arguments, PyTorch's shape errors, bad enums, engine-only misuse. */
static void test_errors(vknorm_context* ctx) {
  const int64_t shape3[] = {2, 3, 4};
  vknorm_batch_norm_params bn;
  vknorm_batch_norm_params_init(&bn);
  bn.shape = shape3;
  bn.rank = 3;
  bn.dims = VKNORM_BATCH_NORM_2D;

  CHECK_ERROR(vknorm_context_create_standalone(NULL, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "out_context");
  CHECK_ERROR(vknorm_context_create_from_engine(NULL, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "handles");
  CHECK_ERROR(vknorm_context_get_capabilities(ctx, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "out_capabilities");
  CHECK_ERROR(vknorm_list_devices(NULL, 0, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "count");
  CHECK_ERROR(vknorm_buffer_create(NULL, 16, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "context");
  CHECK_ERROR(vknorm_batch_norm_workspace_size(ctx, NULL, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "params");
  CHECK_ERROR(vknorm_batch_norm_record_forward(NULL, &bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "recorder");
  CHECK_ERROR(vknorm_recorder_submit_and_wait(NULL), VKNORM_STATUS_INVALID_ARGUMENT, "recorder");
  CHECK_ERROR(vknorm_batch_norm_state_next_training_factor(NULL, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "state");

  /* BatchNorm2d with a 3-D input: PyTorch's message, from the check and from recording,
   * kept both for the thread and for the context. */
  CHECK_ERROR(vknorm_batch_norm_check(&bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "expected 4D input");
  vknorm_recorder* rec = NULL;
  CHECK_OK(vknorm_recorder_begin_standalone(ctx, &rec));
  vknorm_forward_buffers none = {0};
  CHECK_ERROR(vknorm_batch_norm_record_forward(rec, &bn, &none), VKNORM_STATUS_INVALID_ARGUMENT, "expected 4D input");
  CHECK(strstr(vknorm_context_last_error(ctx), "expected 4D input") != NULL, "context error: \"%s\"",
        vknorm_context_last_error(ctx));
  CHECK(vknorm_recorder_dispatch_count(rec) == 0, "a refused call recorded %u dispatches",
        vknorm_recorder_dispatch_count(rec));
  vknorm_recorder_destroy(rec);

  /* A missing buffer is named; a wrong enum value is refused. */
  const int64_t shape4[] = {2, 3, 4, 4};
  bn.shape = shape4;
  bn.rank = 4;
  CHECK_OK(vknorm_recorder_begin_standalone(ctx, &rec));
  CHECK_ERROR(vknorm_batch_norm_record_forward(rec, &bn, &none), VKNORM_STATUS_INVALID_ARGUMENT, "buffers.x");
  bn.layout = (vknorm_layout)7;
  CHECK_ERROR(vknorm_batch_norm_record_forward(rec, &bn, &none), VKNORM_STATUS_INVALID_ARGUMENT, "params.layout");
  vknorm_recorder_destroy(rec);

  /* Any int can sit in a C enum field: the library reads it as an int, never as its C++
   * enum (loading a negative value as the enum would be undefined: UBSan's -fsanitize=enum
   * in the sanitize build), and names the field and the values it expects. */
  bn.layout = (vknorm_layout)-1;
  CHECK_ERROR(vknorm_batch_norm_check(&bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT,
              "params.layout: expected VKNORM_LAYOUT_NCHW (0) or VKNORM_LAYOUT_NHWC (1), got -1");
  bn.layout = (vknorm_layout)0x7FFFFFFE;
  CHECK_ERROR(vknorm_batch_norm_check(&bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "got 2147483646");
  bn.layout = VKNORM_LAYOUT_NCHW;
  bn.dtype = (vknorm_dtype)-2;
  CHECK_ERROR(vknorm_batch_norm_check(&bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT,
              "params.dtype: expected VKNORM_DTYPE_F32 (0) or VKNORM_DTYPE_F16 (1), got -2");
  bn.dtype = (vknorm_dtype)0x7FFFFFFE;
  CHECK_ERROR(vknorm_batch_norm_check(&bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "params.dtype");
  bn.dtype = VKNORM_DTYPE_F32;
  bn.dims = (vknorm_batch_norm_dims)-1;
  CHECK_ERROR(vknorm_batch_norm_check(&bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT,
              "params.dims: expected 0 (any), 1, 2 or 3, got -1");
  bn.dims = (vknorm_batch_norm_dims)0x7FFFFFFE;
  CHECK_ERROR(vknorm_batch_norm_check(&bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "params.dims");
  bn.dims = VKNORM_BATCH_NORM_2D;
  CHECK(strcmp(vknorm_status_string((vknorm_status)-1), "unknown status") == 0, "status string of -1: %s",
        vknorm_status_string((vknorm_status)-1));
  CHECK(strcmp(vknorm_reduction_path_string((vknorm_reduction_path)-1), "unknown") == 0,
        "reduction path string of -1: %s", vknorm_reduction_path_string((vknorm_reduction_path)-1));

  /* Other PyTorch refusals come through too. */
  const int64_t gshape[] = {2, 6, 4};
  vknorm_group_norm_params gn;
  vknorm_group_norm_params_init(&gn);
  gn.shape = gshape;
  gn.rank = 3;
  gn.num_groups = 4;
  CHECK_ERROR(vknorm_group_norm_check(&gn, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "divisible by num_groups");

  vknorm_standalone_options bad;
  vknorm_standalone_options_init(&bad);
  bad.capability_override.subgroup_arithmetic = 2;
  vknorm_context* none_ctx = NULL;
  CHECK_ERROR(vknorm_context_create_standalone(&bad, &none_ctx), VKNORM_STATUS_INVALID_ARGUMENT,
              "subgroup_arithmetic");
  CHECK(none_ctx == NULL, "a failed create returned a context");
  CHECK(vknorm_last_vk_result() == VK_SUCCESS, "an argument error has a VkResult");
}

/* A context without 16-bit storage runs float16 tensors as halves packed in 32-bit words:
 * the pipelines up front, and a call on them (an odd number of elements). */
static void check_float16_packed(vknorm_context* ctx) {
  CHECK_OK(vknorm_context_prepare_kernels_for(ctx, VKNORM_DTYPE_F16));
  enum { ROWS = 3, D = 7 };
  float x[ROWS * D], y[ROWS * D], invstd[ROWS];
  double ref[ROWS * D];
  for (size_t i = 0; i < ROWS * D; ++i) x[i] = (float)((int)(i * 7 % 17) - 8) / 8.0f; /* exact in float16 */
  const int64_t shape[] = {ROWS, D};
  vknorm_rms_norm_params rms = rms_over_rows(shape);
  rms.dtype = VKNORM_DTYPE_F16;
  vknorm_host_forward io = rms_host_io(x, y, invstd, ROWS, D);
  CHECK_OK(vknorm_rms_norm_forward_host(ctx, &rms, &io));
  group_reference(ROWS, D, x, NULL, NULL, 1, D, 1.1920928955078125e-07 /* FLT_EPSILON */, 0, 1, ref);
  for (size_t i = 0; i < ROWS * D; ++i) /* y is stored as float16: its rounding, 2^-11 relative */
    CHECK(fabs(y[i] - ref[i]) <= 3e-5 + fabs(ref[i]) / 2048.0, "packed float16 y[%zu] = %.8g, expected %.8g", i,
          y[i], ref[i]);
}

/* C11's aligned_alloc; the Windows C runtimes have none (nor may free() release what
 * _aligned_malloc returns). */
#if defined(_WIN32)
#define test_aligned_alloc(alignment, size) _aligned_malloc((size), (alignment))
#define test_aligned_free(p) _aligned_free(p)
#else
#define test_aligned_alloc(alignment, size) aligned_alloc((alignment), (size))
#define test_aligned_free(p) free(p)
#endif

/* Callbacks that count what the driver and the layers allocate through them. A header
 * before each block keeps its size (for reallocation). */
static atomic_long g_live_allocations, g_total_allocations;
typedef struct {
  size_t size, offset;
} block_header;
static void* VKAPI_PTR counting_allocate(void* user, size_t size, size_t alignment, VkSystemAllocationScope scope) {
  (void)user;
  (void)scope;
  size_t offset = alignment < sizeof(block_header) ? sizeof(block_header) : alignment;
  offset = (offset + alignment - 1) / alignment * alignment;
  size_t total = (offset + size + alignment - 1) / alignment * alignment;
  char* base = test_aligned_alloc(alignment, total);
  if (!base) return NULL;
  block_header* h = (block_header*)(base + offset - sizeof(block_header));
  h->size = size;
  h->offset = offset;
  atomic_fetch_add(&g_live_allocations, 1);
  atomic_fetch_add(&g_total_allocations, 1);
  return base + offset;
}
static void VKAPI_PTR counting_free(void* user, void* memory) {
  (void)user;
  if (!memory) return;
  block_header* h = (block_header*)((char*)memory - sizeof(block_header));
  atomic_fetch_sub(&g_live_allocations, 1);
  test_aligned_free((char*)memory - h->offset);
}
static void* VKAPI_PTR counting_reallocate(void* user, void* original, size_t size, size_t alignment,
                                          VkSystemAllocationScope scope) {
  if (!original) return counting_allocate(user, size, alignment, scope);
  if (size == 0) {
    counting_free(user, original);
    return NULL;
  }
  void* p = counting_allocate(user, size, alignment, scope);
  if (!p) return NULL;
  size_t old = ((block_header*)((char*)original - sizeof(block_header)))->size;
  memcpy(p, original, old < size ? old : size);
  counting_free(user, original);
  return p;
}

/* Preparation by need and the footprint on a standalone context of its own, whose Vulkan
 * objects all go through counting allocation callbacks. */
static void test_prepare_and_footprint(void) {
  const VkAllocationCallbacks callbacks = {.pfnAllocation = counting_allocate,
                                           .pfnReallocation = counting_reallocate,
                                           .pfnFree = counting_free};
  vknorm_standalone_options options;
  vknorm_standalone_options_init(&options);
  CHECK(options.allocation_callbacks == NULL, "init left allocation_callbacks set");
  options.enable_validation = use_validation();
  options.debug_callback = count_validation_message;
  options.allocation_callbacks = &callbacks;
  vknorm_context* ctx = NULL;
  CHECK_OK(vknorm_context_create_standalone(&options, &ctx));
  if (!ctx) return;
  const int callbacks_reach_driver =
      !skip_under_wine("the footprint's allocation counts", "wine's vulkan-1.dll gives the driver no allocation callbacks");
  if (callbacks_reach_driver) CHECK(atomic_load(&g_live_allocations) > 0, "nothing went through the allocation callbacks");
  vknorm_footprint f;
  CHECK_OK(vknorm_context_get_footprint(ctx, &f));
  /* The debug messenger exists with the validation layer only. */
  const unsigned messengers = options.enable_validation ? 1u : 0u;
  CHECK(f.instances == 1 && f.devices == 1 && f.pipeline_caches == 1 && f.debug_messengers == messengers,
        "standalone footprint: %u instances, %u devices, %u caches, %u messengers", f.instances, f.devices,
        f.pipeline_caches, f.debug_messengers);
  CHECK(f.pipelines == 0 && f.command_pools == 0, "a new context holds %u pipelines, %u command pools", f.pipelines,
        f.command_pools);

  vknorm_prepare_request request;
  vknorm_prepare_request_init(&request);
  CHECK(request.kinds == 0 && request.forward == 1 && request.backward == 1 && request.dtype == VKNORM_DTYPE_F32,
        "vknorm_prepare_request_init");
  request.kinds = VKNORM_KIND_LAYER_NORM_BIT;
  request.backward = 0;
  vknorm_prepare_report first = {0}, again = {0};
  CHECK_OK(vknorm_context_prepare(ctx, &request, &first));
  /* team_forward (+ _vec4, _affine_vec4, _weight_vec4), fused_forward (+ _vec4), stats_partial,
   * stats_finalize, normalize (+ _vec4): every variant a LayerNorm forward can record. */
  CHECK(first.created == 10 && first.already_prepared == 0,
        "LayerNorm forward created %u pipelines, expected its 10 candidates (%u already prepared)", first.created,
        first.already_prepared);
  CHECK_OK(vknorm_context_prepare(ctx, &request, &again));
  CHECK(again.created == 0 && again.already_prepared == first.created, "a second prepare created %u, found %u",
        again.created, again.already_prepared);
  CHECK_OK(vknorm_context_get_footprint(ctx, &f));
  CHECK(f.pipelines == first.created, "footprint: %u pipelines, prepared %u", f.pipelines, first.created);
  CHECK_OK(vknorm_context_prepare(ctx, &request, NULL));

  request.kinds = 0x40;
  CHECK_ERROR(vknorm_context_prepare(ctx, &request, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "request.kinds");
  request.kinds = VKNORM_KIND_ALL_BITS;
  request.forward = 0;
  CHECK_ERROR(vknorm_context_prepare(ctx, &request, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "request.forward");
  CHECK_ERROR(vknorm_context_prepare(ctx, NULL, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "request");
  CHECK_ERROR(vknorm_context_get_footprint(ctx, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "out_footprint");
  vknorm_context_destroy(ctx);
  CHECK(atomic_load(&g_live_allocations) == 0, "%ld allocations left after the context",
        atomic_load(&g_live_allocations));
  if (callbacks_reach_driver) CHECK(atomic_load(&g_total_allocations) > 0, "no allocation went through the callbacks");
}

/* The tuning cache a standalone context measured (test_tuning), for the engine-mode
 * context on the same device to load. */
static unsigned char g_tuning_bytes[4096];
static size_t g_tuning_size = 0;

/* vknorm_context_tune on one GroupNorm shape, then the cache out and back in as bytes. */
static void test_tuning(vknorm_context* ctx) {
  vknorm_tune_request request;
  vknorm_tune_request_init(&request);
  CHECK(request.shapes == NULL && request.shape_count == 0 && request.forward == 1 && request.backward == 1 &&
            request.runs == 5,
        "vknorm_tune_request_init");
  const int64_t shape[4] = {1, 64, 56, 56};
  vknorm_tune_shape tuned;
  memset(&tuned, 0, sizeof tuned);
  tuned.kind = VKNORM_KIND_GROUP_NORM_BIT;
  vknorm_group_norm_params_init(&tuned.params.group_norm);
  tuned.params.group_norm.num_groups = 32;
  tuned.params.group_norm.shape = shape;
  tuned.params.group_norm.rank = 4;
  request.shapes = &tuned;
  request.shape_count = 1;
  request.runs = 1;
  vknorm_capabilities caps;
  CHECK_OK(vknorm_context_get_capabilities(ctx, &caps));
  if (!caps.timestamps) { /* nothing to time with */
    CHECK_ERROR(vknorm_context_tune(ctx, &request, NULL), VKNORM_STATUS_UNSUPPORTED, "timestamps");
    return;
  }
  vknorm_tune_report report;
  memset(&report, 0, sizeof report);
  CHECK_OK(vknorm_context_tune(ctx, &request, &report));
  /* GroupNorm's forward and backward each have several candidates (team, split, ...). */
  CHECK(report.classes == 2 && report.candidates >= 4 && report.tuned_classes <= report.classes &&
            report.milliseconds > 0,
        "tune report: %u classes, %u candidates, %u tuned, %.1f ms", report.classes, report.candidates,
        report.tuned_classes, report.milliseconds);
  printf("tuned GroupNorm 1x64x56x56: %u classes, %u candidates, %u where a choice other than the rules' won, %.0f ms\n",
         report.classes, report.candidates, report.tuned_classes, report.milliseconds);

  size_t size = 0, small = 0;
  CHECK_OK(vknorm_context_get_tuning(ctx, NULL, 0, &size));
  CHECK(size > 8 && size <= sizeof g_tuning_bytes, "tuning cache of %zu bytes", size);
  if (size <= 8 || size > sizeof g_tuning_bytes) return;
  CHECK_ERROR(vknorm_context_get_tuning(ctx, g_tuning_bytes, size - 1, &small), VKNORM_STATUS_INVALID_ARGUMENT,
              "capacity");
  CHECK(small == size, "a refused get_tuning gave %zu bytes as the size, expected %zu", small, size);
  CHECK_OK(vknorm_context_get_tuning(ctx, g_tuning_bytes, sizeof g_tuning_bytes, &g_tuning_size));
  CHECK(g_tuning_size == size && memcmp(g_tuning_bytes, "VKNT", 4) == 0, "tuning cache bytes: %zu, magic %.4s",
        g_tuning_size, (const char*)g_tuning_bytes);

  /* Cleared, then loaded back: the same bytes come out. */
  size_t empty = 0, reloaded = 0;
  CHECK_OK(vknorm_context_set_tuning(ctx, NULL, 0));
  CHECK_OK(vknorm_context_get_tuning(ctx, NULL, 0, &empty));
  CHECK(empty < size, "a cleared cache is %zu bytes, the tuned one %zu", empty, size);
  /* What an untuned context saves loads again (an engine that saves at exit, loads at start). */
  unsigned char untuned[256];
  CHECK(empty <= sizeof untuned, "a cleared cache of %zu bytes", empty);
  if (empty <= sizeof untuned) {
    CHECK_OK(vknorm_context_get_tuning(ctx, untuned, sizeof untuned, &empty));
    CHECK_OK(vknorm_context_set_tuning(ctx, untuned, empty));
  }
  CHECK_OK(vknorm_context_set_tuning(ctx, g_tuning_bytes, g_tuning_size));
  unsigned char again[4096];
  CHECK_OK(vknorm_context_get_tuning(ctx, again, sizeof again, &reloaded));
  CHECK(reloaded == g_tuning_size && memcmp(again, g_tuning_bytes, reloaded) == 0,
        "the cache read back differs from the one loaded (%zu bytes, loaded %zu)", reloaded, g_tuning_size);

  /* Refused: a truncated cache, another device's (vendor id changed), bad requests. The
   * context keeps its cache. */
  CHECK_ERROR(vknorm_context_set_tuning(ctx, g_tuning_bytes, g_tuning_size - 1), VKNORM_STATUS_INVALID_ARGUMENT,
              "tuning cache");
  memcpy(again, g_tuning_bytes, g_tuning_size);
  again[8] ^= 0x5a; /* the first byte of the vendor id, after the magic and the format version */
  CHECK_ERROR(vknorm_context_set_tuning(ctx, again, g_tuning_size), VKNORM_STATUS_INVALID_ARGUMENT, "vendor");
  CHECK_ERROR(vknorm_context_set_tuning(ctx, NULL, 4), VKNORM_STATUS_INVALID_ARGUMENT, "data");
  CHECK_OK(vknorm_context_get_tuning(ctx, again, sizeof again, &reloaded));
  CHECK(reloaded == g_tuning_size && memcmp(again, g_tuning_bytes, reloaded) == 0, "a refused load changed the cache");

  tuned.kind = VKNORM_KIND_GROUP_NORM_BIT | VKNORM_KIND_LAYER_NORM_BIT;
  CHECK_ERROR(vknorm_context_tune(ctx, &request, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "request->shapes[0].kind");
  tuned.kind = VKNORM_KIND_GROUP_NORM_BIT;
  tuned.params.group_norm.num_groups = 5;
  CHECK_ERROR(vknorm_context_tune(ctx, &request, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "num_groups");
  tuned.params.group_norm.num_groups = 32;
  request.runs = 0;
  CHECK_ERROR(vknorm_context_tune(ctx, &request, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "runs");
  request.runs = 1;
  request.forward = request.backward = 0;
  CHECK_ERROR(vknorm_context_tune(ctx, &request, NULL), VKNORM_STATUS_INVALID_ARGUMENT,
              "request.forward, request.backward");
  request.forward = request.backward = 1;
  request.shapes = NULL;
  CHECK_ERROR(vknorm_context_tune(ctx, &request, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "request->shapes");
  CHECK_ERROR(vknorm_context_tune(ctx, NULL, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "request");
  CHECK_ERROR(vknorm_context_get_tuning(ctx, NULL, 0, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "out_size");
}

/* Engine mode: vknorm owns no instance or device; on a device created without 16-bit
 * storage float16 runs packed in 32-bit words. */
static void check_engine_objects(vknorm_context* ctx, const vknorm_capabilities* caps) {
  vknorm_footprint f;
  CHECK_OK(vknorm_context_get_footprint(ctx, &f));
  CHECK(f.instances == 0 && f.devices == 0 && f.pipeline_caches == 0 && f.command_pools == 0,
        "engine footprint: %u instances, %u devices, %u caches, %u command pools", f.instances, f.devices,
        f.pipeline_caches, f.command_pools);
  CHECK(!caps->storage_buffer_16bit, "float16 without the engine's flag");
  vknorm_prepare_request request;
  vknorm_prepare_request_init(&request);
  request.dtype = VKNORM_DTYPE_F16;
  vknorm_prepare_report report;
  CHECK_OK(vknorm_context_prepare(ctx, &request, &report));
  CHECK(report.created > 0, "the float16 request created no pipeline");
}

/* A standalone context (validation on) with `over` applied, and its capabilities; NULL
 * when it cannot be created (the failure is counted). */
static vknorm_context* context_with_override(const vknorm_capability_override* over, vknorm_capabilities* caps) {
  vknorm_standalone_options options;
  vknorm_standalone_options_init(&options);
  options.enable_validation = use_validation();
  options.debug_callback = count_validation_message;
  options.capability_override = *over;
  vknorm_context* ctx = NULL;
  CHECK_OK(vknorm_context_create_standalone(&options, &ctx));
  if (ctx) CHECK_OK(vknorm_context_get_capabilities(ctx, caps));
  return ctx;
}

/* vknorm_standalone_options.vulkan_loader: a loader that cannot be opened is named in the
 * error (with, on Linux, the Debian package that installs the system's). */
static void test_missing_vulkan_loader(void) {
  const char* missing = "/nonexistent/vknorm-c-test/libvulkan-missing.so.1";
  vknorm_standalone_options options;
  vknorm_standalone_options_init(&options);
  CHECK(options.vulkan_loader == NULL, "vulkan_loader is not NULL after init");
  options.vulkan_loader = missing;
  vknorm_context* ctx = NULL;
  vknorm_status st = vknorm_context_create_standalone(&options, &ctx);
  CHECK(st == VKNORM_STATUS_UNSUPPORTED && ctx == NULL, "a missing loader gave status %d", (int)st);
  CHECK(strstr(vknorm_last_error(), missing) != NULL, "the error does not name the loader: \"%s\"", vknorm_last_error());
#if defined(__linux__)
  CHECK(strstr(vknorm_last_error(), "libvulkan1") != NULL, "the error names no package: \"%s\"", vknorm_last_error());
#endif
}

/* Every device lavapipe included has 16-bit storage: the capability override takes it away,
 * so that packed float16 runs everywhere. */
static void test_without_float16(void) {
  vknorm_capability_override over;
  vknorm_capability_override_init(&over);
  over.storage_buffer_16bit = 0;
  vknorm_capabilities caps;
  vknorm_context* ctx = context_with_override(&over, &caps);
  if (!ctx) return;
  CHECK(caps.storage_buffer_16bit == 0, "the override left storage_buffer_16bit at %d", caps.storage_buffer_16bit);
  CHECK_OK(vknorm_context_prepare_kernels(ctx)); /* both dtypes: float16 packed */
  check_float16_packed(ctx);
  vknorm_context_destroy(ctx);
}

/* The grid and binding limits of the override reach the capabilities; a tensor past the
 * binding limit is refused, and one within it (grids folded to 3 workgroups) still runs. */
static void test_limits_override(void) {
  vknorm_capability_override over;
  vknorm_capability_override_init(&over);
  over.max_workgroup_count = 3;
  over.max_storage_buffer_range = 4096;
  vknorm_capabilities caps;
  vknorm_context* ctx = context_with_override(&over, &caps);
  if (!ctx) return;
  CHECK(caps.max_workgroup_count_x == 3 && caps.max_workgroup_count_y == 3, "grid limits %u x %u",
        caps.max_workgroup_count_x, caps.max_workgroup_count_y);
  CHECK(caps.max_storage_buffer_range == 4096, "binding limit %llu", (unsigned long long)caps.max_storage_buffer_range);
  CHECK(caps.host_threads >= 1, "host_threads %u", caps.host_threads);
  enum { ROWS = 4, D = 256, BIG = 257 };
  static float x[ROWS * BIG], y[ROWS * BIG], invstd[ROWS];
  fill(x, ROWS * BIG, -1.0f, 1.0f);
  const int64_t shape[] = {ROWS, D}, big_shape[] = {ROWS, BIG};
  vknorm_rms_norm_params rms = rms_over_rows(shape), big = rms_over_rows(big_shape);
  vknorm_host_forward io = rms_host_io(x, y, invstd, ROWS, D), big_io = rms_host_io(x, y, invstd, ROWS, BIG);
  CHECK_OK(vknorm_rms_norm_forward_host(ctx, &rms, &io)); /* 4096 bytes: exactly the limit */
  CHECK_ERROR(vknorm_rms_norm_forward_host(ctx, &big, &big_io), VKNORM_STATUS_UNSUPPORTED,
              "x: 1028 elements (4112 bytes) exceed the device's maxStorageBufferRange of 4096 bytes");
  vknorm_context_destroy(ctx);
}

/* ---- Engine mode: the test's own Vulkan objects ---- */

/* The descriptor paths and the recorder options: the pool path forced, a pool of one set,
 * require_prepared_kernels, and (on lavapipe) the push path and synchronization2 that a
 * default context uses. */
static void test_descriptor_paths(void) {
  enum { ROWS = 4, D = 8 };
  const int64_t shape[] = {ROWS, D}, normalized[] = {D};
  vknorm_layer_norm_params ln;
  vknorm_layer_norm_params_init(&ln);
  ln.shape = shape;
  ln.rank = 2;
  ln.normalized_shape = normalized;
  ln.normalized_rank = 1;

  vknorm_standalone_options options;
  vknorm_standalone_options_init(&options);
  CHECK(options.descriptor_path == VKNORM_DESCRIPTOR_PATH_AUTOMATIC && !options.require_prepared_kernels,
        "standalone options' defaults");
  options.enable_validation = use_validation();
  options.debug_callback = count_validation_message;
  options.descriptor_path = (vknorm_descriptor_path)5;
  vknorm_context* ctx = NULL;
  CHECK_ERROR(vknorm_context_create_standalone(&options, &ctx), VKNORM_STATUS_INVALID_ARGUMENT,
              "options.descriptor_path");
  options.descriptor_path = (vknorm_descriptor_path)-1; /* read as an int, not loaded as the enum */
  CHECK_ERROR(vknorm_context_create_standalone(&options, &ctx), VKNORM_STATUS_INVALID_ARGUMENT,
              "options.descriptor_path: expected VKNORM_DESCRIPTOR_PATH_AUTOMATIC (0) or VKNORM_DESCRIPTOR_PATH_POOL (1), got -1");

  /* A default context: lavapipe has VK_KHR_push_descriptor and is Vulkan 1.3. */
  options.descriptor_path = VKNORM_DESCRIPTOR_PATH_AUTOMATIC;
  CHECK_OK(vknorm_context_create_standalone(&options, &ctx));
  if (!ctx) return;
  vknorm_capabilities caps;
  CHECK_OK(vknorm_context_get_capabilities(ctx, &caps));
  if (strstr(caps.device_name, "llvmpipe"))
    CHECK(caps.push_descriptors && caps.synchronization2, "lavapipe: push descriptors %d, synchronization2 %d",
          caps.push_descriptors, caps.synchronization2);
  vknorm_recorder* rec = NULL;
  CHECK_OK(vknorm_recorder_begin_standalone(ctx, &rec));
  if (caps.synchronization2)
    CHECK_OK(vknorm_recorder_close_with_barrier2(rec, VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_READ_BIT));
  CHECK_OK(vknorm_recorder_note_external_barrier(rec));
  /* A standalone recorder keeps its own command buffer. */
  CHECK_ERROR(vknorm_recorder_reset_to(rec, vknorm_recorder_command_buffer(rec)), VKNORM_STATUS_INVALID_ARGUMENT, "next");
  vknorm_recorder_destroy(rec);
  vknorm_context_destroy(ctx);

  /* The pool path, with every pipeline required up front. */
  options.descriptor_path = VKNORM_DESCRIPTOR_PATH_POOL;
  options.require_prepared_kernels = 1;
  ctx = NULL;
  CHECK_OK(vknorm_context_create_standalone(&options, &ctx));
  if (!ctx) return;
  CHECK_OK(vknorm_context_get_capabilities(ctx, &caps));
  CHECK(!caps.push_descriptors, "the pool path was forced, yet descriptors are pushed");
  uint64_t ws = 0;
  CHECK_OK(vknorm_layer_norm_workspace_size(ctx, &ln, &ws));
  vknorm_buffer *x_b, *y_b, *w_b, *b_b, *m_b, *s_b, *ws_b;
  float* x = new_floats(ctx, ROWS * D, &x_b);
  float* y = new_floats(ctx, ROWS * D, &y_b);
  float* w = new_floats(ctx, D, &w_b);
  float* b = new_floats(ctx, D, &b_b);
  new_floats(ctx, ROWS, &m_b);
  new_floats(ctx, ROWS, &s_b);
  new_floats(ctx, ws / 4 + 1, &ws_b);
  if (x && y && w && b && m_b && s_b && ws_b) {
    fill(x, ROWS * D, -1.0f, 3.0f);
    fill(w, D, 0.5f, 1.5f);
    fill(b, D, -0.5f, 0.5f);
    vknorm_forward_buffers f = {0};
    f.x = vknorm_buffer_ref_at(x_b, 0), f.y = vknorm_buffer_ref_at(y_b, 0);
    f.weight = vknorm_buffer_ref_at(w_b, 0), f.bias = vknorm_buffer_ref_at(b_b, 0);
    f.save_mean = vknorm_buffer_ref_at(m_b, 0), f.save_invstd = vknorm_buffer_ref_at(s_b, 0);
    f.workspace = vknorm_buffer_ref_at(ws_b, 0);
    vknorm_recorder_options ro;
    vknorm_recorder_options_init(&ro);
    CHECK(ro.descriptor_capacity == 64, "default descriptor_capacity %u", ro.descriptor_capacity);
    ro.descriptor_capacity = 1;
    CHECK_OK(vknorm_recorder_begin_standalone_with_options(ctx, &ro, &rec));
    if (rec) {
      CHECK_ERROR(vknorm_layer_norm_record_forward(rec, &ln, &f), VKNORM_STATUS_INVALID_ARGUMENT, "prepare_kernels");
      CHECK(vknorm_recorder_dispatch_count(rec) == 0, "a refused call recorded %u dispatches",
            vknorm_recorder_dispatch_count(rec));
      CHECK_OK(vknorm_context_prepare_kernels_for(ctx, VKNORM_DTYPE_F32));
      CHECK_OK(vknorm_layer_norm_record_forward(rec, &ln, &f)); /* one pass: the pool's one set */
      CHECK(vknorm_recorder_dispatch_count(rec) == 1, "%u dispatches", vknorm_recorder_dispatch_count(rec));
      CHECK_ERROR(vknorm_layer_norm_record_forward(rec, &ln, &f), VKNORM_STATUS_INVALID_ARGUMENT,
                  "descriptor_capacity");
      CHECK(vknorm_recorder_dispatch_count(rec) == 1, "a refused call recorded");
      CHECK_OK(vknorm_recorder_submit_and_wait(rec));
      double ref[ROWS * D];
      for (int r = 0; r < ROWS; ++r) {
        double mean = 0, var = 0;
        for (int i = 0; i < D; ++i) mean += x[r * D + i];
        mean /= D;
        for (int i = 0; i < D; ++i) var += (x[r * D + i] - mean) * (x[r * D + i] - mean);
        var /= D;
        for (int i = 0; i < D; ++i) ref[r * D + i] = (x[r * D + i] - mean) / sqrt(var + ln.eps) * w[i] + b[i];
      }
      check_close("layer norm y (pool path, capacity 1)", y, ref, ROWS * D);
      vknorm_recorder_destroy(rec);
    }
  }
  vknorm_buffer_destroy(x_b);
  vknorm_buffer_destroy(y_b);
  vknorm_buffer_destroy(w_b);
  vknorm_buffer_destroy(b_b);
  vknorm_buffer_destroy(m_b);
  vknorm_buffer_destroy(s_b);
  vknorm_buffer_destroy(ws_b);
  vknorm_context_destroy(ctx);
}

static int g_engine_messages;

static VKAPI_ATTR VkBool32 VKAPI_CALL engine_messenger(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                       VkDebugUtilsMessageTypeFlagsEXT type,
                                                       const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                       void* user) {
  (void)severity, (void)type, (void)user;
  ++g_engine_messages;
  fprintf(stderr, "engine validation: %s\n", data && data->pMessage ? data->pMessage : "(no message)");
  return VK_FALSE;
}

static int has_layer(const char* name) {
  uint32_t count = 0;
  vkEnumerateInstanceLayerProperties(&count, NULL);
  VkLayerProperties* layers = calloc(count ? count : 1, sizeof *layers);
  vkEnumerateInstanceLayerProperties(&count, layers);
  int found = 0;
  for (uint32_t i = 0; i < count; ++i) found |= strcmp(layers[i].layerName, name) == 0;
  free(layers);
  return found;
}

#define VK_CHECK(call)                                                     \
  do {                                                                     \
    VkResult r_ = (call);                                                  \
    CHECK(r_ == VK_SUCCESS, "%s returned VkResult %d", #call, (int)r_); \
    if (r_ != VK_SUCCESS) goto done;                                       \
  } while (0)

/* GroupNorm(3) forward recorded between the engine's own copy and its host barrier, twice
 * (the second time after vknorm_recorder_reset), on sub-ranges of one engine buffer. */
static void test_engine_mode(uint32_t device_index) {
  enum { N = 2, C = 6, H = 4, W = 5, S = H * W, E = N * C * S, G = 3 };
  const char* layer = "VK_LAYER_KHRONOS_validation";
  const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  const int validation = has_layer(layer);
  CHECK(validation || use_validation() == 0, "the Khronos validation layer is not installed");
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkCommandPool pool = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  vknorm_context* ctx = NULL;
  vknorm_recorder* rec = NULL;
  double* ref = NULL;

  VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .apiVersion = VK_API_VERSION_1_1};
  VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT features = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                      .enabledValidationFeatureCount = 1,
                                      .pEnabledValidationFeatures = &sync};
  VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                              .pNext = validation ? &features : NULL,
                              .pApplicationInfo = &app,
                              .enabledLayerCount = validation ? 1 : 0,
                              .ppEnabledLayerNames = &layer,
                              .enabledExtensionCount = validation ? 1 : 0,
                              .ppEnabledExtensionNames = &ext};
  VK_CHECK(vkCreateInstance(&ici, NULL, &instance));
  if (validation) {
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
        .pfnUserCallback = engine_messenger};
    PFN_vkCreateDebugUtilsMessengerEXT create =
        (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT");
    CHECK(create != NULL, "vkCreateDebugUtilsMessengerEXT is missing");
    if (create) VK_CHECK(create(instance, &mci, NULL, &messenger));
  }

  /* The device vknorm would pick itself, so that the engine runs where vknorm is usable. */
  VkPhysicalDevice physicals[16];
  uint32_t count = 16;
  VkResult r = vkEnumeratePhysicalDevices(instance, &count, physicals);
  CHECK((r == VK_SUCCESS || r == VK_INCOMPLETE) && device_index < count, "no physical device %u", device_index);
  if (device_index >= count) goto done;
  VkPhysicalDevice physical = physicals[device_index];
  uint32_t families = 0, family = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &families, NULL);
  VkQueueFamilyProperties props[16];
  families = families > 16 ? 16 : families;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &families, props);
  while (family < families && !(props[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) ++family;
  CHECK(family < families, "no compute queue family");
  if (family >= families) goto done;
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                 .queueFamilyIndex = family,
                                 .queueCount = 1,
                                 .pQueuePriorities = &priority};
  VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1, .pQueueCreateInfos = &qci};
  VK_CHECK(vkCreateDevice(physical, &dci, NULL, &device));
  VkQueue queue;
  vkGetDeviceQueue(device, family, 0, &queue);
  VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .queueFamilyIndex = family};
  VK_CHECK(vkCreateCommandPool(device, &pci, NULL, &pool));
  VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VK_CHECK(vkCreateFence(device, &fci, NULL, &fence));

  vknorm_engine_handles h;
  vknorm_engine_handles_init(&h);
  h.instance = instance;
  h.physical_device = physical;
  h.device = device;
  h.queue_family_index = family;
  h.get_instance_proc_addr = vkGetInstanceProcAddr;
  h.get_device_proc_addr = vkGetDeviceProcAddr;
  h.capability_override.subgroup_arithmetic = 0; /* the path bare mobile GPUs take */
  CHECK_OK(vknorm_context_create_from_engine(&h, &ctx));
  if (!ctx) goto done;
  CHECK(!vknorm_context_is_standalone(ctx) && vknorm_context_device(ctx) == device, "engine context");
  vknorm_capabilities caps;
  CHECK_OK(vknorm_context_get_capabilities(ctx, &caps));
  CHECK(caps.reduction_path == VKNORM_REDUCTION_SHARED_MEMORY, "the override did not force the shared-memory path");
  vknorm_buffer* refused = NULL;
  CHECK_ERROR(vknorm_buffer_create(ctx, 64, &refused), VKNORM_STATUS_INVALID_ARGUMENT, "standalone");
  CHECK_ERROR(vknorm_recorder_begin_standalone(ctx, &rec), VKNORM_STATUS_INVALID_ARGUMENT, "standalone");
  check_engine_objects(ctx, &caps);
  /* An engine context cannot time anything, but loads the standalone context's cache. */
  CHECK_ERROR(vknorm_context_tune(ctx, &(vknorm_tune_request){.forward = 1, .runs = 1}, NULL),
              VKNORM_STATUS_UNSUPPORTED, "never submits");
  if (g_tuning_size > 0) CHECK_OK(vknorm_context_set_tuning(ctx, g_tuning_bytes, g_tuning_size));

  const int64_t shape[] = {N, C, H, W};
  vknorm_group_norm_params gn;
  vknorm_group_norm_params_init(&gn);
  gn.shape = shape;
  gn.rank = 4;
  gn.num_groups = G;
  uint64_t ws = 0;
  CHECK_OK(vknorm_group_norm_workspace_size(ctx, &gn, &ws));

  /* One buffer: [staging x | x | y | weight | bias | save_mean | save_invstd | workspace],
   * each region 4 bytes past a 256-byte boundary. */
  const VkDeviceSize sizes[] = {E, E, E, C, C, N * G, N * G, ws / 4 + 1};
  VkDeviceSize offsets[8], at = 0;
  for (int i = 0; i < 8; ++i) {
    at = (at + 255) / 256 * 256 + 4;
    offsets[i] = at;
    at += sizes[i] * 4;
  }
  VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                            .size = at,
                            .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                     VK_BUFFER_USAGE_TRANSFER_DST_BIT};
  VK_CHECK(vkCreateBuffer(device, &bci, NULL, &buffer));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, buffer, &req);
  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(physical, &mem);
  const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint32_t type = 0;
  while (type < mem.memoryTypeCount &&
         (!(req.memoryTypeBits & (1u << type)) || (mem.memoryTypes[type].propertyFlags & want) != want))
    ++type;
  CHECK(type < mem.memoryTypeCount, "no host-visible coherent memory");
  if (type >= mem.memoryTypeCount) goto done;
  VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = type};
  VK_CHECK(vkAllocateMemory(device, &mai, NULL, &memory));
  VK_CHECK(vkBindBufferMemory(device, buffer, memory, 0));
  void* mapped = NULL;
  VK_CHECK(vkMapMemory(device, memory, 0, VK_WHOLE_SIZE, 0, &mapped));
#define REGION(i) ((float*)((char*)mapped + offsets[i]))
#define REF(i) ((vknorm_buffer_ref){buffer, offsets[i], sizes[i] * 4})

  fill(REGION(0), E, -2.0f, 4.0f);
  fill(REGION(3), C, 0.5f, 1.5f);
  fill(REGION(4), C, -0.5f, 0.5f);
  ref = calloc(E, sizeof(double));
  group_reference(N * G, C / G * S, REGION(0), REGION(3), REGION(4), S, C, gn.eps, 0, 0, ref);
  vknorm_forward_buffers f = {0};
  f.x = REF(1), f.y = REF(2), f.weight = REF(3), f.bias = REF(4);
  f.save_mean = REF(5), f.save_invstd = REF(6), f.workspace = REF(7);

  VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                     .commandPool = pool,
                                     .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                     .commandBufferCount = 1};
  /* Two frames' command buffers; one recorder, re-targeted at the second with reset_to. */
  VkCommandBuffer cmds[2];
  cai.commandBufferCount = 2;
  VK_CHECK(vkAllocateCommandBuffers(device, &cai, cmds));
  vknorm_recorder_options ro;
  vknorm_recorder_options_init(&ro);
  ro.descriptor_capacity = 3; /* GroupNorm's forward records at most 3 dispatches */
  CHECK_OK(vknorm_recorder_create_with_options(ctx, cmds[0], &ro, &rec));
  if (!rec) goto done;
  CHECK(!caps.push_descriptors && !caps.synchronization2, "this engine enabled neither push descriptors nor sync2");
  for (int round = 0; round < 2; ++round) {
    VkCommandBuffer cmd = cmds[round];
    CHECK(vknorm_recorder_command_buffer(rec) == cmd, "round %d: the recorder's command buffer", round);
    memset(REGION(1), 0, E * 4);
    memset(REGION(2), 0, E * 4);
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                      .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VK_CHECK(vkBeginCommandBuffer(cmd, &begin));
    /* The engine's own work first: its staging copy of x into the region vknorm reads. */
    VkBufferCopy copy = {offsets[0], offsets[1], E * 4};
    vkCmdCopyBuffer(cmd, buffer, buffer, 1, &copy);
    VkMemoryBarrier to_compute = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                  .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                  .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &to_compute,
                         0, NULL, 0, NULL);
    CHECK_OK(vknorm_group_norm_record_forward(rec, &gn, &f));
    CHECK(vknorm_recorder_dispatch_count(rec) > 0, "round %d: no dispatches recorded", round);
    CHECK_ERROR(vknorm_recorder_close_with_barrier2(rec, VK_PIPELINE_STAGE_2_HOST_BIT, VK_ACCESS_2_HOST_READ_BIT),
                VKNORM_STATUS_UNSUPPORTED, "synchronization2_enabled");
    CHECK_OK(vknorm_recorder_close_with_barrier(rec, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT));
    VK_CHECK(vkEndCommandBuffer(cmd));
    VkSubmitInfo submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    VK_CHECK(vkQueueSubmit(queue, 1, &submit, fence));
    VK_CHECK(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX));
    VK_CHECK(vkResetFences(device, 1, &fence));
    check_close(round ? "engine group norm y (after reset)" : "engine group norm y", REGION(2), ref, E);
    /* The GPU is done: free the descriptor sets and record into the next frame's buffer. */
    CHECK_OK(vknorm_recorder_reset_to(rec, cmds[1]));
    CHECK(vknorm_recorder_dispatch_count(rec) == 0, "dispatch count after reset");
  }
#undef REGION
#undef REF

done:
  free(ref);
  if (device) vkDeviceWaitIdle(device);
  vknorm_recorder_destroy(rec);
  vknorm_context_destroy(ctx); /* before the engine's device */
  if (fence) vkDestroyFence(device, fence, NULL);
  if (buffer) vkDestroyBuffer(device, buffer, NULL);
  if (memory) vkFreeMemory(device, memory, NULL);
  if (pool) vkDestroyCommandPool(device, pool, NULL);
  if (device) vkDestroyDevice(device, NULL);
  if (messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT destroy =
        (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT");
    if (destroy) destroy(instance, messenger, NULL);
  }
  if (instance) vkDestroyInstance(instance, NULL);
  CHECK(g_engine_messages == 0, "%d validation messages in engine mode", g_engine_messages);
}

/* Eval BatchNorm through cached coefficients: the device's coefficients equal the host's,
 * and coefficients + apply give the eval forward's y; folding a convolution and a linear
 * layer; the refusals. */
static void test_batch_norm_inference(vknorm_context* ctx) {
  enum { N = 2, C = 6, S = 9, E = N * C * S };
  const int64_t shape[] = {N, C, 3, 3};
  vknorm_batch_norm_params bn;
  vknorm_batch_norm_params_init(&bn);
  bn.shape = shape;
  bn.rank = 4;
  bn.training = 0;
  bn.epilogue.relu = 1;
  vknorm_buffer *x_b, *y_b, *rm_b, *rv_b, *w_b, *b_b, *c_b;
  float* x = new_floats(ctx, E, &x_b);
  float* y = new_floats(ctx, E, &y_b);
  float* rm = new_floats(ctx, C, &rm_b);
  float* rv = new_floats(ctx, C, &rv_b);
  float* w = new_floats(ctx, C, &w_b);
  float* b = new_floats(ctx, C, &b_b);
  float* coefficients = new_floats(ctx, 2 * C, &c_b);
  if (x && y && rm && rv && w && b && coefficients) {
    fill(x, E, -1.0f, 3.0f);
    fill(rm, C, -0.5f, 1.5f);
    fill(rv, C, 0.2f, 2.0f);
    fill(w, C, 0.5f, 1.5f);
    fill(b, C, -0.5f, 0.5f);
    vknorm_batch_norm_coefficients_buffers cb = {0};
    cb.running_mean = vknorm_buffer_ref_at(rm_b, 0);
    cb.running_var = vknorm_buffer_ref_at(rv_b, 0);
    cb.weight = vknorm_buffer_ref_at(w_b, 0);
    cb.bias = vknorm_buffer_ref_at(b_b, 0);
    cb.coefficients = vknorm_buffer_ref_at(c_b, 0);
    vknorm_batch_norm_apply_buffers ab = {0};
    ab.x = vknorm_buffer_ref_at(x_b, 0);
    ab.y = vknorm_buffer_ref_at(y_b, 0);
    ab.coefficients = cb.coefficients;
    vknorm_recorder* rec = NULL;
    CHECK_OK(vknorm_recorder_begin_standalone(ctx, &rec));
    CHECK_OK(vknorm_batch_norm_record_inference_coefficients(rec, &bn, &cb));
    CHECK_OK(vknorm_batch_norm_record_inference_apply(rec, &bn, &ab));
    /* Refused, naming the argument, recording nothing. */
    vknorm_batch_norm_apply_buffers no_x = ab;
    no_x.x.buffer = VK_NULL_HANDLE;
    CHECK_ERROR(vknorm_batch_norm_record_inference_apply(rec, &bn, &no_x), VKNORM_STATUS_INVALID_ARGUMENT,
                "buffers.x: expected a VkBuffer");
    CHECK_ERROR(vknorm_batch_norm_record_inference_apply(rec, &bn, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "buffers");
    vknorm_batch_norm_params training = bn;
    training.training = 1;
    CHECK_ERROR(vknorm_batch_norm_record_inference_coefficients(rec, &training, &cb), VKNORM_STATUS_INVALID_ARGUMENT,
                "params.training");
    CHECK(vknorm_recorder_dispatch_count(rec) == 2, "dispatch count %u", vknorm_recorder_dispatch_count(rec));
    CHECK_OK(vknorm_recorder_submit_and_wait(rec));
    vknorm_recorder_destroy(rec);

    float host[2 * C], want[E];
    CHECK_OK(vknorm_batch_norm_inference_coefficients_host(&bn, rm, rv, w, b, host, 2 * C));
    for (int i = 0; i < 2 * C; ++i)
      CHECK(fabsf(host[i] - coefficients[i]) <= 1e-6f * (1.0f + fabsf(host[i])), "coefficient %d: host %.9g, device %.9g",
            i, host[i], coefficients[i]);
    CHECK_ERROR(vknorm_batch_norm_inference_coefficients_host(&bn, rm, rv, w, b, host, 2 * C - 1),
                VKNORM_STATUS_INVALID_ARGUMENT, "out_capacity: expected at least 12");
    CHECK_ERROR(vknorm_batch_norm_inference_coefficients_host(&bn, rm, NULL, w, b, host, 2 * C),
                VKNORM_STATUS_INVALID_ARGUMENT, "running_var");
    vknorm_host_forward io = {0};
    io.x = x;
    io.x_length = E;
    io.weight = w;
    io.weight_length = C;
    io.bias = b;
    io.bias_length = C;
    io.running_mean = rm;
    io.running_mean_length = C;
    io.running_var = rv;
    io.running_var_length = C;
    io.y = want;
    io.y_capacity = E;
    CHECK_OK(vknorm_batch_norm_forward_host(ctx, &bn, &io));
    int clipped = 0;
    for (int i = 0; i < E; ++i) {
      clipped += y[i] == 0.0f;
      CHECK(fabsf(y[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])), "apply y[%d] = %.8g, eval forward %.8g", i, y[i],
            want[i]);
    }
    CHECK(clipped > 0 && clipped < E, "the ReLU clipped %d of %d", clipped, E);
  }
  vknorm_buffer_destroy(x_b);
  vknorm_buffer_destroy(y_b);
  vknorm_buffer_destroy(rm_b);
  vknorm_buffer_destroy(rv_b);
  vknorm_buffer_destroy(w_b);
  vknorm_buffer_destroy(b_b);
  vknorm_buffer_destroy(c_b);

  /* Folding, with values exact in float32: var + eps = 4 (eps 0), rsqrt 0.5. */
  const float mean[2] = {1.0f, -2.0f}, var[2] = {4.0f, 0.25f}, gamma[2] = {2.0f, 1.0f}, beta[2] = {0.5f, 0.0f};
  vknorm_batch_norm_fold fold = {mean, var, gamma, beta, 0.0f};
  const int64_t conv_shape[] = {2, 1, 1, 2}, linear_shape[] = {2, 2};
  const float conv_w[4] = {1.0f, 2.0f, 3.0f, 4.0f}, conv_b[2] = {3.0f, 0.0f};
  float fw[4], fb[2];
  CHECK_OK(vknorm_fuse_conv_bn_weights(conv_w, conv_shape, 4, conv_b, &fold, 0, fw, fb));
  /* channel 0: factor 2 * 0.5 = 1, bias (3 - 1) * 0.5 * 2 + 0.5; channel 1: factor 2, bias (0 + 2) * 2 * 1. */
  CHECK(fw[0] == 1.0f && fw[1] == 2.0f && fw[2] == 6.0f && fw[3] == 8.0f, "folded conv weight %g %g %g %g", fw[0],
        fw[1], fw[2], fw[3]);
  CHECK(fb[0] == 2.5f && fb[1] == 4.0f, "folded conv bias %g %g", fb[0], fb[1]);
  /* Transposed (in 1, out 2, 1, 2): the same runs per channel, so the same weights. */
  const int64_t transposed_shape[] = {1, 2, 1, 2};
  CHECK_OK(vknorm_fuse_conv_bn_weights(conv_w, transposed_shape, 4, conv_b, &fold, 1, fw, fb));
  CHECK(fw[0] == 1.0f && fw[1] == 2.0f && fw[2] == 6.0f && fw[3] == 8.0f && fb[0] == 2.5f,
        "folded transposed conv %g %g %g %g, %g", fw[0], fw[1], fw[2], fw[3], fb[0]);
  CHECK_OK(vknorm_fuse_linear_bn_weights(conv_w, linear_shape, 2, NULL, &fold, fw, fb));
  CHECK(fw[0] == 1.0f && fw[1] == 2.0f && fw[2] == 6.0f && fw[3] == 8.0f, "folded linear weight");
  CHECK(fb[0] == -0.5f && fb[1] == 4.0f, "folded linear bias %g %g", fb[0], fb[1]);
  CHECK_ERROR(vknorm_fuse_linear_bn_weights(conv_w, conv_shape, 4, NULL, &fold, fw, fb), VKNORM_STATUS_INVALID_ARGUMENT,
              "weight_shape: expected 2 dims");
  CHECK_ERROR(vknorm_fuse_conv_bn_weights(conv_w, conv_shape, 4, NULL, NULL, 0, fw, fb), VKNORM_STATUS_INVALID_ARGUMENT,
              "bn");
}

int main(void) {
  /* Engine mode below calls Vulkan through volk's table (the test links no loader). */
  if (vknorm_test_load_vulkan() != VK_SUCCESS) return 1;
  printf("vknorm C API version %u\n", vknorm_c_api_version());
  if (running_without_validation())
    printf("[environment] VK_LAYER_KHRONOS_validation is not installed; VKNORM_TEST_ALLOW_NO_VALIDATION=1: "
           "the test runs without it\n");
  CHECK(vknorm_c_api_version() == VKNORM_C_API_VERSION, "header and library disagree on the C API version");

  uint32_t count = 0, default_index = 0;
  CHECK_OK(vknorm_list_devices(NULL, 0, &count));
  CHECK(count > 0, "no Vulkan device");
  vknorm_device_info* devices = calloc(count ? count : 1, sizeof *devices);
  uint32_t listed = 0;
  CHECK_OK(vknorm_list_devices(devices, count, &listed));
  for (uint32_t i = 0; i < listed && i < count; ++i) {
    printf("device %u: %s%s%s\n", devices[i].index, devices[i].caps.device_name, devices[i].usable ? "" : " (unusable)",
           devices[i].is_default ? " (default)" : "");
    if (devices[i].is_default) default_index = devices[i].index;
  }
  free(devices);

  vknorm_standalone_options options;
  vknorm_standalone_options_init(&options);
  options.enable_validation = use_validation();
  options.debug_callback = count_validation_message;
  vknorm_context* ctx = NULL;
  CHECK_OK(vknorm_context_create_standalone(&options, &ctx));
  if (ctx) {
    vknorm_capabilities caps;
    CHECK_OK(vknorm_context_get_capabilities(ctx, &caps));
    print_capabilities(&caps);
    CHECK(vknorm_context_is_standalone(ctx), "standalone context says it is not");
    CHECK(!vknorm_context_is_lost(ctx) && !vknorm_context_is_lost(NULL), "a working context says it is lost");
    CHECK_OK(vknorm_context_prepare_kernels(ctx));
    CHECK_OK(vknorm_context_prepare_kernels_for(ctx, VKNORM_DTYPE_F32));
    if (caps.storage_buffer_16bit) CHECK_OK(vknorm_context_prepare_kernels_for(ctx, VKNORM_DTYPE_F16));
    else check_float16_packed(ctx);
    test_recording(ctx);
    test_host_calls(ctx);
    test_reference_calls(ctx);
    test_errors(ctx);
    test_batch_norm_inference(ctx);
    test_tuning(ctx);
    vknorm_context_destroy(ctx);
  }
  test_reference_errors();
  test_missing_vulkan_loader();
  test_without_float16();
  test_limits_override();
  test_prepare_and_footprint();
  CHECK(atomic_load(&g_validation_messages) == 0, "%d validation messages in standalone mode",
        atomic_load(&g_validation_messages));

  test_descriptor_paths();
  CHECK(atomic_load(&g_validation_messages) == 0, "%d validation messages with the descriptor options",
        atomic_load(&g_validation_messages));
  test_engine_mode(default_index);

  if (running_without_validation())
    printf("[environment] without VK_LAYER_KHRONOS_validation: %d Vulkan instances\n", g_contexts_without_validation);
  if (g_skipped_under_wine) printf("[environment] checks skipped under wine: %d\n", g_skipped_under_wine);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  vknorm_test_unload_vulkan();
  return g_failed ? 1 : 0;
}
