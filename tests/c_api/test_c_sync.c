/* SyncBatchNorm through the C API, from C: a (5, 3, 4, 4) batch split over 2 ranks (a
 * standalone context and a pthread each) against BatchNorm of the whole batch in one
 * context, with (a) the caller's own transport (a pthread barrier), (b) vknorm's thread
 * world, (c) the recorded phases at world size 1 with host-visible buffers, and (d) the
 * error paths. Every context runs with the validation layer: any message fails. The last
 * line is "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allow_no_validation.h"

#include <vknorm/vknorm.h>

static atomic_int g_passed, g_failed;
static atomic_int g_validation_messages;

#define CHECK(cond, ...)                                     \
  do {                                                       \
    if (cond) {                                              \
      atomic_fetch_add(&g_passed, 1);                        \
    } else {                                                 \
      atomic_fetch_add(&g_failed, 1);                        \
      fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                          \
      fprintf(stderr, "\n");                                 \
    }                                                        \
  } while (0)

#define CHECK_OK(call)                                                                                 \
  do {                                                                                                 \
    vknorm_status s_ = (call);                                                                         \
    CHECK(s_ == VKNORM_STATUS_OK, "%s: %s: %s", #call, vknorm_status_string(s_), vknorm_last_error()); \
  } while (0)

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

static uint32_t g_rng = 2024u;
static void fill(float* v, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; ++i) {
    g_rng = g_rng * 1664525u + 1013904223u;
    v[i] = lo + (hi - lo) * (float)(g_rng >> 8) / 16777216.0f;
  }
}

/* |got - ref| <= rel * max(1, max|ref|) everywhere. */
static void check_close(const char* what, const float* got, const float* ref, size_t n, double rel) {
  double scale = 1.0, worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) scale = fmax(scale, fabs(ref[i]));
  for (size_t i = 0; i < n; ++i) {
    double err = isnan(got[i]) ? INFINITY : fabs((double)got[i] - ref[i]);
    if (err > worst) worst = err, at = i;
  }
  CHECK(worst <= rel * scale, "%s: [%zu] = %.9g, expected %.9g (error %.3g, allowed %.3g)", what, at,
        n ? got[at] : 0.0f, n ? ref[at] : 0.0f, worst, rel * scale);
}

/* |got - ref| <= rel * |ref| for each element: for statistics, which are all far from 0 here. */
static void check_relative(const char* what, const float* got, const float* ref, size_t n, double rel) {
  for (size_t i = 0; i < n; ++i) {
    double err = fabs((double)got[i] - ref[i]);
    if (!(err <= rel * fabs(ref[i]))) {
      CHECK(0, "%s: [%zu] = %.9g, expected %.9g (relative error %.3g, allowed %.3g)", what, i, got[i], ref[i],
            err / fabs(ref[i]), rel);
      return;
    }
  }
  CHECK(1, "%s", what);
}

/* The validation layer is demanded, unless it is not installed and
 * VKNORM_TEST_ALLOW_NO_VALIDATION=1 allows that (scripts/test-windows.sh: Debian has no
 * Windows build of the layer): then the contexts run without it, counted and printed. */
static atomic_int g_contexts_without_validation;

static vknorm_context* new_context(void) {
  vknorm_standalone_options options;
  vknorm_standalone_options_init(&options);
  options.enable_validation = 1;
  options.debug_callback = count_validation_message;
  vknorm_context* ctx = NULL;
  vknorm_status status = vknorm_context_create_standalone(&options, &ctx);
  if (status == VKNORM_STATUS_UNSUPPORTED && strstr(vknorm_last_error(), "VK_LAYER_KHRONOS_validation is not installed") &&
      allow_no_validation()) {
    atomic_fetch_add(&g_contexts_without_validation, 1);
    options.enable_validation = 0;
    status = vknorm_context_create_standalone(&options, &ctx);
  }
  CHECK(status == VKNORM_STATUS_OK, "vknorm_context_create_standalone: %s: %s", vknorm_status_string(status),
        vknorm_last_error());
  return ctx;
}

/* ---- The batch and its single-context results ---- */

enum { N = 5, C = 3, S = 16, PER_SAMPLE = C * S, E = N * C * S, MAX_RANKS = 2 };
static const float kEps = 1e-5f, kMomentum = 0.1f;

typedef struct {
  float x[E], dy[E], weight[C], bias[C], running_mean0[C], running_var0[C];
  /* BatchNorm of the whole batch in one context */
  float y[E], save_mean[C], save_invstd[C], running_mean[C], running_var[C], dx[E], dweight[C], dbias[C];
} batch;

static vknorm_batch_norm_params params_for(int64_t shape[4], int64_t n) {
  shape[0] = n, shape[1] = C, shape[2] = 4, shape[3] = 4;
  vknorm_batch_norm_params p;
  vknorm_batch_norm_params_init(&p);
  p.shape = shape;
  p.rank = 4;
  p.dims = VKNORM_BATCH_NORM_2D;
  p.eps = kEps;
  p.momentum = kMomentum;
  return p;
}

static void make_batch(vknorm_context* ctx, batch* b) {
  fill(b->x, E, 1.0f, 3.0f); /* mean ~2: the statistics are far from 0, relative errors mean something */
  fill(b->dy, E, -1.0f, 1.0f);
  fill(b->weight, C, 0.5f, 1.5f);
  fill(b->bias, C, -0.5f, 0.5f);
  fill(b->running_mean0, C, 0.5f, 1.0f);
  fill(b->running_var0, C, 0.5f, 1.5f);
  memcpy(b->running_mean, b->running_mean0, sizeof b->running_mean);
  memcpy(b->running_var, b->running_var0, sizeof b->running_var);
  int64_t shape[4];
  vknorm_batch_norm_params p = params_for(shape, N);
  vknorm_host_forward f = {.x = b->x, .x_length = E, .weight = b->weight, .weight_length = C,
                           .bias = b->bias, .bias_length = C, .running_mean = b->running_mean,
                           .running_mean_length = C, .running_var = b->running_var, .running_var_length = C,
                           .y = b->y, .y_capacity = E, .save_mean = b->save_mean, .save_mean_capacity = C,
                           .save_invstd = b->save_invstd, .save_invstd_capacity = C};
  CHECK_OK(vknorm_batch_norm_forward_host(ctx, &p, &f));
  vknorm_host_backward g = {.x = b->x, .x_length = E, .dy = b->dy, .dy_length = E, .weight = b->weight,
                            .weight_length = C, .save_mean = b->save_mean, .save_mean_length = C,
                            .save_invstd = b->save_invstd, .save_invstd_length = C, .dx = b->dx,
                            .dx_capacity = E, .dweight = b->dweight, .dweight_capacity = C, .dbias = b->dbias,
                            .dbias_capacity = C};
  CHECK_OK(vknorm_batch_norm_backward_host(ctx, &p, &g));
}

/* ---- The caller's own transport: a pthread barrier over shared slots ---- */

typedef struct {
  int size;
  pthread_barrier_t barrier;
  const void* send[MAX_RANKS];
  size_t bytes[MAX_RANKS];
} barrier_world;

typedef struct {
  barrier_world* world;
  int rank;
} barrier_rank;

/* Every rank posts its buffer, waits for all, copies all of them in rank order, and waits
 * again so that no rank's send buffer goes away while another still reads it. */
static vknorm_status barrier_all_gather(void* user, const void* send, size_t bytes, void* out) {
  barrier_rank* r = user;
  barrier_world* w = r->world;
  w->send[r->rank] = send;
  w->bytes[r->rank] = bytes;
  pthread_barrier_wait(&w->barrier);
  int same = 1;
  for (int i = 0; i < w->size; ++i) same &= w->bytes[i] == bytes;
  if (same && bytes)
    for (int i = 0; i < w->size; ++i) memcpy((unsigned char*)out + (size_t)i * bytes, w->send[i], bytes);
  pthread_barrier_wait(&w->barrier);
  return same ? VKNORM_STATUS_OK : VKNORM_STATUS_INVALID_ARGUMENT;
}

/* ---- One rank's forward + backward on its shard, in its own thread ---- */

typedef struct {
  vknorm_context* ctx;
  vknorm_communicator comm;
  const batch* b;
  int64_t first, count; /* the shard: samples [first, first + count) */
  float y[E], save_mean[C], save_invstd[C], running_mean[C], running_var[C], dx[E], dweight[C], dbias[C];
  uint64_t merged_count;
  int forward_only; /* stop after the forward (its partner leaves after it) */
  vknorm_status forward, backward;
  char error[1024]; /* vknorm_last_error is per thread */
} rank_job;

static void* run_rank(void* arg) {
  rank_job* j = arg;
  const batch* b = j->b;
  const size_t offset = (size_t)j->first * PER_SAMPLE, n = (size_t)j->count * PER_SAMPLE;
  int64_t shape[4];
  vknorm_batch_norm_params p = params_for(shape, j->count);
  memcpy(j->running_mean, b->running_mean0, sizeof j->running_mean);
  memcpy(j->running_var, b->running_var0, sizeof j->running_var);
  vknorm_host_forward f = {.x = b->x + offset, .x_length = n, .weight = b->weight, .weight_length = C,
                           .bias = b->bias, .bias_length = C, .running_mean = j->running_mean,
                           .running_mean_length = C, .running_var = j->running_var, .running_var_length = C,
                           .y = j->y + offset, .y_capacity = n, .save_mean = j->save_mean, .save_mean_capacity = C,
                           .save_invstd = j->save_invstd, .save_invstd_capacity = C};
  j->merged_count = 0;
  j->forward = vknorm_sync_batch_norm_forward_host(j->ctx, &j->comm, &p, &f, &j->merged_count);
  if (j->forward != VKNORM_STATUS_OK) snprintf(j->error, sizeof j->error, "forward: %s", vknorm_last_error());
  if (j->forward_only) return NULL;
  vknorm_host_backward g = {.x = b->x + offset, .x_length = n, .dy = b->dy + offset, .dy_length = n,
                            .weight = b->weight, .weight_length = C, .save_mean = j->save_mean,
                            .save_mean_length = C, .save_invstd = j->save_invstd, .save_invstd_length = C,
                            .dx = j->dx + offset, .dx_capacity = n, .dweight = j->dweight, .dweight_capacity = C,
                            .dbias = j->dbias, .dbias_capacity = C};
  j->backward = vknorm_sync_batch_norm_backward_host(j->ctx, &j->comm, &p, &g, j->merged_count);
  if (j->backward != VKNORM_STATUS_OK) snprintf(j->error, sizeof j->error, "backward: %s", vknorm_last_error());
  return NULL;
}

/* Runs the ranks (shards[r] samples each) in threads and compares with the whole batch. */
static void check_sharded(const char* name, vknorm_context* const* contexts, const vknorm_communicator* comms,
                          const batch* b, const int64_t* shards, int ranks) {
  static rank_job jobs[MAX_RANKS];
  pthread_t threads[MAX_RANKS];
  int64_t first = 0;
  for (int r = 0; r < ranks; ++r) {
    memset(&jobs[r], 0, sizeof jobs[r]);
    jobs[r].ctx = contexts[r];
    jobs[r].comm = comms[r];
    jobs[r].b = b;
    jobs[r].first = first;
    jobs[r].count = shards[r];
    first += shards[r];
    CHECK(pthread_create(&threads[r], NULL, run_rank, &jobs[r]) == 0, "%s: pthread_create", name);
  }
  for (int r = 0; r < ranks; ++r) pthread_join(threads[r], NULL);
  char what[256];
  float y[E], dx[E], dweight[C] = {0}, dbias[C] = {0};
  for (int r = 0; r < ranks; ++r) {
    const rank_job* j = &jobs[r];
    CHECK(j->forward == VKNORM_STATUS_OK && j->backward == VKNORM_STATUS_OK, "%s rank %d: %s", name, r, j->error);
    CHECK(j->merged_count == (uint64_t)N * S, "%s rank %d: merged count %llu, expected %d", name, r,
          (unsigned long long)j->merged_count, N * S);
    const size_t offset = (size_t)j->first * PER_SAMPLE, n = (size_t)j->count * PER_SAMPLE;
    memcpy(y + offset, j->y + offset, n * sizeof(float));
    memcpy(dx + offset, j->dx + offset, n * sizeof(float));
    for (int c = 0; c < C; ++c) dweight[c] += j->dweight[c], dbias[c] += j->dbias[c];
    /* Every rank holds the same bits as rank 0. */
    CHECK(!memcmp(j->save_mean, jobs[0].save_mean, sizeof j->save_mean), "%s rank %d: save_mean differs", name, r);
    CHECK(!memcmp(j->save_invstd, jobs[0].save_invstd, sizeof j->save_invstd), "%s rank %d: save_invstd differs",
          name, r);
    CHECK(!memcmp(j->running_mean, jobs[0].running_mean, sizeof j->running_mean), "%s rank %d: running_mean differs",
          name, r);
    CHECK(!memcmp(j->running_var, jobs[0].running_var, sizeof j->running_var), "%s rank %d: running_var differs",
          name, r);
  }
  const rank_job* j = &jobs[0];
  snprintf(what, sizeof what, "%s: y", name), check_close(what, y, b->y, E, 1e-5);
  snprintf(what, sizeof what, "%s: dx", name), check_close(what, dx, b->dx, E, 1e-5);
  snprintf(what, sizeof what, "%s: dweight summed", name), check_close(what, dweight, b->dweight, C, 1e-5);
  snprintf(what, sizeof what, "%s: dbias summed", name), check_close(what, dbias, b->dbias, C, 1e-5);
  snprintf(what, sizeof what, "%s: save_mean", name), check_relative(what, j->save_mean, b->save_mean, C, 1e-6);
  snprintf(what, sizeof what, "%s: save_invstd", name), check_relative(what, j->save_invstd, b->save_invstd, C, 1e-6);
  snprintf(what, sizeof what, "%s: running_mean", name),
      check_relative(what, j->running_mean, b->running_mean, C, 1e-6);
  snprintf(what, sizeof what, "%s: running_var", name), check_relative(what, j->running_var, b->running_var, C, 1e-6);
}

static void test_own_transport(vknorm_context* const* contexts, const batch* b) {
  static const int64_t cases[][2] = {{3, 2}, {0, 5}};
  for (int k = 0; k < 2; ++k) {
    barrier_world world = {.size = 2};
    pthread_barrier_init(&world.barrier, NULL, 2);
    barrier_rank ranks[2] = {{&world, 0}, {&world, 1}};
    vknorm_communicator comms[2];
    for (int r = 0; r < 2; ++r) comms[r] = (vknorm_communicator){&ranks[r], r, 2, barrier_all_gather};
    char name[64];
    snprintf(name, sizeof name, "own transport, shards %d+%d", (int)cases[k][0], (int)cases[k][1]);
    check_sharded(name, contexts, comms, b, cases[k], 2);
    pthread_barrier_destroy(&world.barrier);
  }
}

static void test_thread_world(vknorm_context* const* contexts, const batch* b) {
  vknorm_thread_world* world = NULL;
  CHECK_OK(vknorm_thread_world_create(2, &world));
  if (!world) return;
  vknorm_communicator comms[2];
  for (int r = 0; r < 2; ++r) CHECK_OK(vknorm_thread_world_communicator(world, r, &comms[r]));
  CHECK(comms[1].rank == 1 && comms[1].size == 2 && comms[1].all_gather, "thread world communicator fields");
  static const int64_t shards[2] = {2, 3};
  check_sharded("thread world, shards 2+3", contexts, comms, b, shards, 2);
  vknorm_thread_world_destroy(world);
}

/* ---- (c) The recorded phases at world size 1, host-visible buffers ---- */

static void test_phases(vknorm_context* ctx, const batch* b) {
  vknorm_thread_world* world = NULL;
  vknorm_communicator comm;
  CHECK_OK(vknorm_thread_world_create(1, &world));
  if (!world) return;
  CHECK_OK(vknorm_thread_world_communicator(world, 0, &comm));
  int64_t shape[4];
  vknorm_batch_norm_params p = params_for(shape, N);
  vknorm_sync_batch_norm_exchange layout;
  vknorm_sync_batch_norm_grad_exchange grad_layout;
  uint64_t workspace_bytes = 0;
  CHECK_OK(vknorm_sync_batch_norm_exchange_layout(ctx, &p, &layout));
  CHECK_OK(vknorm_sync_batch_norm_grad_exchange_layout(ctx, &p, &grad_layout));
  CHECK_OK(vknorm_sync_batch_norm_workspace_size(ctx, &p, &workspace_bytes));
  CHECK(layout.send_bytes == 16 * C, "send_bytes %llu, expected %d", (unsigned long long)layout.send_bytes, 16 * C);
  CHECK(layout.download_offset + layout.download_bytes <= workspace_bytes &&
            layout.upload_offset + layout.upload_bytes <= workspace_bytes &&
            grad_layout.download_offset + grad_layout.download_bytes <= workspace_bytes &&
            grad_layout.upload_offset + grad_layout.upload_bytes <= workspace_bytes,
        "exchange ranges outside the %llu-byte workspace", (unsigned long long)workspace_bytes);
  CHECK(grad_layout.upload_bytes == 16 * C, "grad upload_bytes %llu", (unsigned long long)grad_layout.upload_bytes);

  /* One buffer, regions at 256-byte boundaries. */
  enum { X, Y, W, B, RM, RV, SM, SI, DY, DX, DW, DB, WS, REGIONS };
  const uint64_t sizes[REGIONS] = {E * 4, E * 4, C * 4, C * 4, C * 4, C * 4, C * 4, C * 4,
                                   E * 4, E * 4, C * 4, C * 4, workspace_bytes};
  uint64_t offsets[REGIONS], total = 0;
  for (int i = 0; i < REGIONS; ++i) offsets[i] = total, total += (sizes[i] + 255) / 256 * 256;
  vknorm_buffer* buffer = NULL;
  vknorm_recorder* rec = NULL;
  unsigned char* base = NULL;
  CHECK_OK(vknorm_buffer_create(ctx, total, &buffer));
  if (buffer) CHECK_OK(vknorm_buffer_map(buffer, (void**)&base));
  CHECK_OK(vknorm_recorder_begin_standalone(ctx, &rec));
  if (!base || !rec) goto done;
#define REF(i) ((vknorm_buffer_ref){vknorm_buffer_handle(buffer), offsets[i], sizes[i]})
#define PTR(i) ((float*)(base + offsets[i]))
  memcpy(PTR(X), b->x, sizeof b->x);
  memcpy(PTR(W), b->weight, sizeof b->weight);
  memcpy(PTR(B), b->bias, sizeof b->bias);
  memcpy(PTR(RM), b->running_mean0, sizeof b->running_mean0);
  memcpy(PTR(RV), b->running_var0, sizeof b->running_var0);
  memcpy(PTR(DY), b->dy, sizeof b->dy);
  vknorm_forward_buffers fb = {.x = REF(X), .y = REF(Y), .weight = REF(W), .bias = REF(B), .running_mean = REF(RM),
                               .running_var = REF(RV), .save_mean = REF(SM), .save_invstd = REF(SI),
                               .workspace = REF(WS)};
  unsigned char* workspace = base + offsets[WS];

  /* Forward: statistics, download, compact, all_gather, merge, upload, apply. */
  CHECK_OK(vknorm_sync_batch_norm_record_statistics(rec, &p, &fb));
  CHECK_OK(vknorm_recorder_submit_and_wait(rec));
  unsigned char send[16 * C], gathered[16 * C];
  float upload[4 * C + C];
  uint64_t merged_count = 0;
  CHECK(layout.upload_bytes <= sizeof upload, "upload_bytes %llu", (unsigned long long)layout.upload_bytes);
  CHECK_OK(vknorm_sync_batch_norm_compact_statistics(&p, &layout, workspace + layout.download_offset, send));
  CHECK_OK(comm.all_gather(comm.user, send, layout.send_bytes, gathered));
  CHECK_OK(vknorm_sync_batch_norm_merge_statistics(&p, gathered, 1, upload, sizeof upload / 4, &merged_count));
  CHECK(merged_count == N * S, "merged count %llu", (unsigned long long)merged_count);
  memcpy(workspace + layout.upload_offset, upload, layout.upload_bytes);
  CHECK_OK(vknorm_recorder_reset(rec));
  CHECK_OK(vknorm_sync_batch_norm_record_apply(rec, &p, &fb, merged_count));
  CHECK_OK(vknorm_recorder_submit_and_wait(rec));
  check_close("phases: y", PTR(Y), b->y, E, 1e-5);
  check_relative("phases: save_mean", PTR(SM), b->save_mean, C, 1e-6);
  check_relative("phases: save_invstd", PTR(SI), b->save_invstd, C, 1e-6);
  check_relative("phases: running_mean", PTR(RM), b->running_mean, C, 1e-6);
  check_relative("phases: running_var", PTR(RV), b->running_var, C, 1e-6);

  /* Backward: sums, download, compact, all-reduce, upload, grad input. */
  vknorm_backward_buffers bb = {.x = REF(X), .dy = REF(DY), .dx = REF(DX), .weight = REF(W), .save_mean = REF(SM),
                                .save_invstd = REF(SI), .dweight = REF(DW), .dbias = REF(DB), .workspace = REF(WS)};
  CHECK_OK(vknorm_recorder_reset(rec));
  CHECK_OK(vknorm_sync_batch_norm_record_grad_sums(rec, &p, &bb));
  CHECK_OK(vknorm_recorder_submit_and_wait(rec));
  float local[2 * C], global[2 * C], grad_upload[4 * C];
  CHECK_OK(vknorm_sync_batch_norm_compact_grad_sums(&p, &grad_layout, workspace + grad_layout.download_offset, local,
                                                    2 * C));
  memcpy(global, local, sizeof local);
  CHECK_OK(vknorm_all_reduce_sum(&comm, global, 2 * C));
  CHECK(!memcmp(global, local, sizeof local), "all_reduce_sum over one rank changed the values");
  CHECK_OK(vknorm_sync_batch_norm_grad_upload(local, global, C, grad_upload, 4 * C));
  memcpy(workspace + grad_layout.upload_offset, grad_upload, grad_layout.upload_bytes);
  CHECK_OK(vknorm_recorder_reset(rec));
  CHECK_OK(vknorm_sync_batch_norm_record_grad_input(rec, &p, &bb, merged_count));
  CHECK_OK(vknorm_recorder_submit_and_wait(rec));
  check_close("phases: dx", PTR(DX), b->dx, E, 1e-5);
  check_close("phases: dweight", PTR(DW), b->dweight, C, 1e-5);
  check_close("phases: dbias", PTR(DB), b->dbias, C, 1e-5);

  /* Capacities: refused naming the field and the count needed. */
  CHECK_ERROR(vknorm_sync_batch_norm_merge_statistics(&p, gathered, 1, upload, 2, &merged_count),
              VKNORM_STATUS_INVALID_ARGUMENT, "upload_capacity");
  char needed[64];
  snprintf(needed, sizeof needed, "at least %llu", (unsigned long long)(layout.upload_bytes / 4));
  CHECK_ERROR(vknorm_sync_batch_norm_merge_statistics(&p, gathered, 1, upload, 2, &merged_count),
              VKNORM_STATUS_INVALID_ARGUMENT, needed);
  CHECK_ERROR(vknorm_sync_batch_norm_compact_grad_sums(&p, &grad_layout, workspace + grad_layout.download_offset,
                                                       local, 2 * C - 1),
              VKNORM_STATUS_INVALID_ARGUMENT, "local_capacity");
  CHECK_ERROR(vknorm_sync_batch_norm_grad_upload(local, global, C, grad_upload, 4 * C - 1),
              VKNORM_STATUS_INVALID_ARGUMENT, "upload_capacity");
  /* A layout that is not this shard's. */
  vknorm_sync_batch_norm_exchange wrong = layout;
  wrong.send_bytes += 16;
  CHECK_ERROR(vknorm_sync_batch_norm_compact_statistics(&p, &wrong, workspace + layout.download_offset, send),
              VKNORM_STATUS_INVALID_ARGUMENT, "layout");
  CHECK_ERROR(vknorm_sync_batch_norm_merge_statistics(&p, gathered, 0, upload, sizeof upload / 4, &merged_count),
              VKNORM_STATUS_INVALID_ARGUMENT, "world_size");
#undef REF
#undef PTR
done:
  vknorm_recorder_destroy(rec);
  vknorm_buffer_destroy(buffer);
  vknorm_thread_world_destroy(world);
}

/* ---- (d) Errors ---- */

static vknorm_status failing_all_gather(void* user, const void* send, size_t bytes, void* out) {
  (void)user, (void)send, (void)bytes, (void)out;
  return VKNORM_STATUS_INTERNAL;
}

/* Rank 1 passes no io: it fails before the exchange, enters it with nothing, and so rank 0
 * fails too instead of waiting forever. */
static void* run_rank_without_io(void* arg) {
  rank_job* j = arg;
  int64_t shape[4];
  vknorm_batch_norm_params p = params_for(shape, j->count);
  j->forward = vknorm_sync_batch_norm_forward_host(j->ctx, &j->comm, &p, NULL, NULL);
  snprintf(j->error, sizeof j->error, "%s", vknorm_last_error());
  return NULL;
}

static void test_errors(vknorm_context* const* contexts, const batch* b) {
  int64_t shape[4];
  vknorm_batch_norm_params p = params_for(shape, N);
  float y[E], mean[C], invstd[C], data[2] = {1, 2};
  float rm[C], rv[C];
  memcpy(rm, b->running_mean0, sizeof rm);
  memcpy(rv, b->running_var0, sizeof rv);
  vknorm_host_forward f = {.x = b->x, .x_length = E, .weight = b->weight, .weight_length = C, .bias = b->bias,
                           .bias_length = C, .running_mean = rm, .running_mean_length = C, .running_var = rv,
                           .running_var_length = C, .y = y, .y_capacity = E, .save_mean = mean,
                           .save_mean_capacity = C, .save_invstd = invstd, .save_invstd_capacity = C};
  vknorm_context* ctx = contexts[0];

  vknorm_communicator failing = {NULL, 0, 1, failing_all_gather};
  vknorm_status s = vknorm_sync_batch_norm_forward_host(ctx, &failing, &p, &f, NULL);
  CHECK(s != VKNORM_STATUS_OK && strstr(vknorm_last_error(), "all_gather"),
        "a failing callback: got %s: \"%s\"", vknorm_status_string(s), vknorm_last_error());
  CHECK(!memcmp(rm, b->running_mean0, sizeof rm), "a failed forward changed running_mean");
  CHECK(strstr(vknorm_context_last_error(ctx), "all_gather") != NULL, "context error: \"%s\"",
        vknorm_context_last_error(ctx));
  CHECK_ERROR(vknorm_all_reduce_sum(&failing, data, 2), VKNORM_STATUS_INTERNAL, "comm.all_gather");

  vknorm_communicator bad = {NULL, 2, 2, failing_all_gather};
  CHECK_ERROR(vknorm_sync_batch_norm_forward_host(ctx, &bad, &p, &f, NULL), VKNORM_STATUS_INVALID_ARGUMENT,
              "comm.rank");
  bad.rank = -1;
  CHECK_ERROR(vknorm_all_reduce_sum(&bad, data, 2), VKNORM_STATUS_INVALID_ARGUMENT, "comm.rank");
  bad.rank = 0, bad.size = 0;
  CHECK_ERROR(vknorm_all_reduce_sum(&bad, data, 2), VKNORM_STATUS_INVALID_ARGUMENT, "comm.size");
  bad.size = 1, bad.all_gather = NULL;
  CHECK_ERROR(vknorm_all_reduce_sum(&bad, data, 2), VKNORM_STATUS_INVALID_ARGUMENT, "comm.all_gather");
  CHECK_ERROR(vknorm_sync_batch_norm_forward_host(ctx, NULL, &p, &f, NULL), VKNORM_STATUS_INVALID_ARGUMENT, "comm");
  CHECK_ERROR(vknorm_all_reduce_sum(NULL, data, 2), VKNORM_STATUS_INVALID_ARGUMENT, "comm");

  vknorm_thread_world* world = NULL;
  vknorm_communicator comm;
  CHECK_ERROR(vknorm_thread_world_create(0, &world), VKNORM_STATUS_INVALID_ARGUMENT, "size");
  CHECK(world == NULL, "a refused world was created");
  CHECK_OK(vknorm_thread_world_create(2, &world));
  CHECK_ERROR(vknorm_thread_world_communicator(world, 2, &comm), VKNORM_STATUS_INVALID_ARGUMENT, "rank");
  /* A thread world's communicator whose rank was changed after the world made it. */
  CHECK_OK(vknorm_thread_world_communicator(world, 0, &comm));
  comm.rank = 1;
  CHECK_ERROR(vknorm_all_reduce_sum(&comm, data, 2), VKNORM_STATUS_INVALID_ARGUMENT, "comm.rank");

  /* A rank that fails before the exchange makes the other fail rather than wait. */
  static rank_job jobs[2];
  pthread_t threads[2];
  for (int r = 0; r < 2; ++r) {
    memset(&jobs[r], 0, sizeof jobs[r]);
    jobs[r].ctx = contexts[r];
    jobs[r].b = b;
    jobs[r].count = r ? 2 : 3;
    jobs[r].first = r ? 3 : 0;
    jobs[r].forward_only = 1;
    CHECK_OK(vknorm_thread_world_communicator(world, r, &jobs[r].comm));
  }
  pthread_create(&threads[0], NULL, run_rank, &jobs[0]);
  pthread_create(&threads[1], NULL, run_rank_without_io, &jobs[1]);
  for (int r = 0; r < 2; ++r) pthread_join(threads[r], NULL);
  CHECK(jobs[1].forward == VKNORM_STATUS_INVALID_ARGUMENT && strstr(jobs[1].error, "io"),
        "rank 1 without io: %s: \"%s\"", vknorm_status_string(jobs[1].forward), jobs[1].error);
  CHECK(jobs[0].forward != VKNORM_STATUS_OK, "rank 0 succeeded while rank 1 failed");
  CHECK(strstr(jobs[0].error, "bytes") != NULL, "rank 0's error: \"%s\"", jobs[0].error);
  vknorm_thread_world_destroy(world);
  vknorm_thread_world_destroy(NULL);
}

int main(void) {
  vknorm_context* contexts[3] = {new_context(), new_context(), new_context()};
  if (contexts[0] && contexts[1] && contexts[2]) {
    static batch b;
    make_batch(contexts[2], &b);
    test_own_transport(contexts, &b);
    test_thread_world(contexts, &b);
    test_phases(contexts[2], &b);
    test_errors(contexts, &b);
  }
  for (int i = 0; i < 3; ++i) vknorm_context_destroy(contexts[i]);
  CHECK(atomic_load(&g_validation_messages) == 0, "%d validation messages", atomic_load(&g_validation_messages));
  if (atomic_load(&g_contexts_without_validation))
    printf("[environment] VK_LAYER_KHRONOS_validation is not installed; VKNORM_TEST_ALLOW_NO_VALIDATION=1: "
           "%d contexts without it\n", atomic_load(&g_contexts_without_validation));
  printf("%d passed, %d failed\n", atomic_load(&g_passed), atomic_load(&g_failed));
  return atomic_load(&g_failed) ? 1 : 0;
}
