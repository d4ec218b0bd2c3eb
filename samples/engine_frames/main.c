/* engine_frames: vknorm inside a game engine's frame loop, from C.
 *
 * The program plays an engine that loads an ML plugin. It owns everything (engine.c): its
 * Vulkan 1.3 instance under the validation layer (synchronization validation on; any
 * warning or error fails the run), a device with timelineSemaphore, synchronization2,
 * bufferDeviceAddress and 16-bit storage, and ONE memory block that it sub-allocates into
 * every buffer at offsets that are multiples of 4 but not of 16. vknorm gets only handles.
 *
 * Load:  a VkPipelineCache of the engine's, the vknorm context on the engine's device, the
 *        f16 pipelines prepared there rather than in the first frame, workspace sizes.
 * Frame: 3 frames in flight, each with its own command pool and buffer, vknorm recorder,
 *        input and outputs. The host waits on a timeline semaphore for the slot's previous
 *        frame, checks that frame's output against the CPU reference, resets the recorder,
 *        writes the new input, and records into the slot's command buffer:
 *
 *          barrier       HOST|COMPUTE writes -> COMPUTE read/write   (the contract's "before")
 *          vknorm        InstanceNorm2d+ReLU -> GroupNorm(8) -> LayerNorm(C)  (block.c)
 *          barrier       COMPUTE writes -> HOST read                 (the contract's "after")
 *
 *        then submits it with vkQueueSubmit2, signalling the frame's timeline value. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block.h"
#include "engine.h"
#include "half.h"
#include "vknorm/vknorm.h"

enum { FRAMES_IN_FLIGHT = 3, DEFAULT_FRAMES = 30 };

/* Tolerance, of the largest magnitude of the stage's reference output. Each stored tensor
 * is f16: its rounding is at most 2^-11 of a value's magnitude, and the GPU's float result
 * and the reference's may round to neighbouring f16 values (2^-10 apart). A stage reads its
 * input as the previous stage stored it, so such a one-ulp difference there passes through
 * the next normalization scaled by weight * invstd (at most about 2 for these weights and
 * post-ReLU spreads): stage 1 is off by at most 1 ulp, stage 2 by 1 + 2, stage 3 by
 * 1 + 2 * 3 = 7. 8 ulps (2^-7) bounds all three; a wrong dispatch, barrier or offset is off
 * by O(1). */
static const double kTolerance = 1.0 / 128.0;

typedef struct range {
  VkDeviceSize offset, bytes;
} range;

/* Everything one frame in flight writes: nothing is shared between slots but the weights. */
typedef struct frame_slot {
  VkCommandPool pool;
  VkCommandBuffer cmd;
  vknorm_recorder* recorder;
  range x, y[BLOCK_STAGES], mean[BLOCK_STAGES], invstd[BLOCK_STAGES], workspace[BLOCK_STAGES];
  int64_t frame; /* the frame last submitted from this slot; -1: none */
} frame_slot;

typedef struct stats {
  double max_error[BLOCK_STAGES];
  double max_magnitude[BLOCK_STAGES];
  int64_t frames_checked;
  int64_t frames_failed;
} stats;

/* The engine with the plugin loaded: everything main creates, destroyed in teardown. */
typedef struct app {
  engine e;
  block b;
  VkPipelineCache cache;
  vknorm_context* ctx;
  uint64_t workspace[BLOCK_STAGES]; /* bytes, per stage */
  arena a;
  range weight[BLOCK_STAGES], bias[BLOCK_STAGES]; /* shared by every frame: written once */
  VkSemaphore timeline;                           /* frame f signals f + 1 */
  frame_slot slots[FRAMES_IN_FLIGHT];
  stats st;
} app;

static double now_ms(void) {
  struct timespec t;
  timespec_get(&t, TIME_UTC);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int vk_ok(VkResult result, const char* what) {
  if (result == VK_SUCCESS) return 1;
  fprintf(stderr, "engine_frames: %s returned VkResult %d\n", what, (int)result);
  return 0;
}

static int vknorm_ok(vknorm_status status, const char* what) {
  if (status == VKNORM_STATUS_OK) return 1;
  fprintf(stderr, "engine_frames: %s: %s: %s\n", what, vknorm_status_string(status), vknorm_last_error());
  return 0;
}

static vknorm_buffer_ref ref(const arena* a, range r) {
  vknorm_buffer_ref b = {VK_NULL_HANDLE, 0, 0};
  if (r.bytes == 0) return b; /* absent: e.g. a stage that needs no workspace */
  b.buffer = a->buffer, b.offset = r.offset, b.size = r.bytes;
  return b;
}

static range reserve(arena* a, VkDeviceSize bytes) {
  range r = {0, bytes};
  if (bytes) r.offset = arena_reserve(a, bytes);
  assert(bytes == 0 || (r.offset % 4 == 0 && r.offset % 16 != 0));
  return r;
}

/* The slot's frame is done (its timeline value was reached): check its output. */
static int check_frame(const block* b, const arena* a, const frame_slot* slot, stats* st) {
  float* expected[BLOCK_STAGES];
  int ok = 1;
  for (int s = 0; s < BLOCK_STAGES; ++s) expected[s] = malloc(sizeof(float) * BLOCK_ELEMENTS);
  for (int s = 0; s < BLOCK_STAGES; ++s) ok &= expected[s] != NULL;
  if (!ok) {
    fprintf(stderr, "engine_frames: out of host memory\n");
  } else if (block_reference(b, (const uint16_t*)(a->mapped + slot->x.offset), expected) != 0) {
    ok = 0;
  } else {
    for (int s = 0; s < BLOCK_STAGES; ++s) {
      const uint16_t* y = (const uint16_t*)(a->mapped + slot->y[s].offset);
      double error = 0, magnitude = 0;
      size_t worst = 0;
      for (size_t i = 0; i < BLOCK_ELEMENTS; ++i) {
        const double e = fabs((double)half_to_float(y[i]) - expected[s][i]);
        if (!(e <= error)) error = e, worst = i; /* NaN counts as the worst */
        if (fabs(expected[s][i]) > magnitude) magnitude = fabs(expected[s][i]);
      }
      if (error > st->max_error[s] || error != error) st->max_error[s] = error;
      if (magnitude > st->max_magnitude[s]) st->max_magnitude[s] = magnitude;
      if (!(error <= kTolerance * (magnitude > 1 ? magnitude : 1))) {
        fprintf(stderr,
                "engine_frames: frame %lld, %s: element %zu (NHWC) is %g, the reference %g (error %g, "
                "tolerance %g)\n",
                (long long)slot->frame, block_stage_names[s], worst, (double)half_to_float(y[worst]),
                (double)expected[s][worst], error, kTolerance * (magnitude > 1 ? magnitude : 1));
        ok = 0;
      }
    }
  }
  for (int s = 0; s < BLOCK_STAGES; ++s) free(expected[s]);
  ++st->frames_checked;
  if (!ok) ++st->frames_failed;
  return ok;
}

/* Records the block into the slot's command buffer (begun and ended here). */
static int record_frame(const block* b, const arena* a, const range weight[BLOCK_STAGES],
                        const range bias[BLOCK_STAGES], frame_slot* slot) {
  VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
  if (!vk_ok(vkBeginCommandBuffer(slot->cmd, &begin), "vkBeginCommandBuffer")) return 0;

  /* The contract's "before": the input the host wrote readable by compute shaders, and the
   * earlier frames' compute accesses of these buffers (this slot's previous frame) ordered
   * before vknorm writes them again. */
  VkMemoryBarrier2 before = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER_2,
                             .srcStageMask = VK_PIPELINE_STAGE_2_HOST_BIT | VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT,
                             .srcAccessMask = VK_ACCESS_2_HOST_WRITE_BIT | VK_ACCESS_2_SHADER_WRITE_BIT,
                             .dstStageMask = VK_PIPELINE_STAGE_2_COMPUTE_SHADER_BIT,
                             .dstAccessMask = VK_ACCESS_2_SHADER_READ_BIT | VK_ACCESS_2_SHADER_WRITE_BIT};
  VkDependencyInfo dependency = {.sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO,
                                 .memoryBarrierCount = 1,
                                 .pMemoryBarriers = &before};
  vkCmdPipelineBarrier2(slot->cmd, &dependency);

  /* Stage s reads stage s-1's y; vknorm orders its own calls on one recorder. */
  vknorm_forward_buffers buffers[BLOCK_STAGES];
  for (int s = 0; s < BLOCK_STAGES; ++s) {
    memset(&buffers[s], 0, sizeof buffers[s]);
    buffers[s].x = ref(a, s == 0 ? slot->x : slot->y[s - 1]);
    buffers[s].y = ref(a, slot->y[s]);
    buffers[s].weight = ref(a, weight[s]);
    buffers[s].bias = ref(a, bias[s]);
    buffers[s].save_mean = ref(a, slot->mean[s]);
    buffers[s].save_invstd = ref(a, slot->invstd[s]);
    buffers[s].workspace = ref(a, slot->workspace[s]);
  }
  if (!vknorm_ok(vknorm_instance_norm_record_forward(slot->recorder, &b->instance_norm, &buffers[0]),
                 "vknorm_instance_norm_record_forward") ||
      !vknorm_ok(vknorm_group_norm_record_forward(slot->recorder, &b->group_norm, &buffers[1]),
                 "vknorm_group_norm_record_forward") ||
      !vknorm_ok(vknorm_layer_norm_record_forward(slot->recorder, &b->layer_norm, &buffers[2]),
                 "vknorm_layer_norm_record_forward"))
    return 0;

  /* The contract's "after": the host reads every stage's output once the frame is done
   * (a synchronization2 barrier: the engine enabled the feature and told vknorm). */
  if (!vknorm_ok(vknorm_recorder_close_with_barrier2(slot->recorder, VK_PIPELINE_STAGE_2_HOST_BIT,
                                                     VK_ACCESS_2_HOST_READ_BIT),
                 "vknorm_recorder_close_with_barrier2"))
    return 0;
  return vk_ok(vkEndCommandBuffer(slot->cmd), "vkEndCommandBuffer");
}

static int wait_timeline(const engine* e, VkSemaphore timeline, uint64_t value) {
  VkSemaphoreWaitInfo wait = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO,
                              .semaphoreCount = 1,
                              .pSemaphores = &timeline,
                              .pValues = &value};
  return vk_ok(vkWaitSemaphores(e->device, &wait, UINT64_MAX), "vkWaitSemaphores");
}

static void usage(FILE* out) {
  fprintf(out,
          "usage: engine_frames [--frames N] [--device N] [--no-validation] [--no-push-descriptors]\n"
          "\n"
          "Plays a game engine with 3 frames in flight that records vknorm's NHWC f16\n"
          "InstanceNorm2d+ReLU -> GroupNorm(8) -> LayerNorm block into its own command buffers,\n"
          "under the validation layer with synchronization validation, and checks every frame\n"
          "against the CPU reference. Exits 0 only if every frame matches and the layer is silent.\n"
          "\n"
          "  --frames N       frames to run (default %d)\n"
          "  --device N       Vulkan device index (default: the first with what the engine needs)\n"
          "  --no-validation  without the Khronos validation layer\n"
          "  --no-push-descriptors  the device without VK_KHR_push_descriptor: vknorm's pool path\n",
          DEFAULT_FRAMES);
}

static int parse_int(const char* text, long long* out) {
  char* end = NULL;
  const long long v = strtoll(text, &end, 10);
  if (!text[0] || *end || v < 0) return 0;
  *out = v;
  return 1;
}

/* Load: the engine's pipeline cache, vknorm on the engine's device, its pipelines. */
static int load(app* p) {
  const double start = now_ms();
  VkPipelineCacheCreateInfo cache_info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  if (!vk_ok(vkCreatePipelineCache(p->e.device, &cache_info, NULL, &p->cache), "vkCreatePipelineCache")) return 0;
  vknorm_engine_handles handles;
  vknorm_engine_handles_init(&handles);
  handles.instance = p->e.instance;
  handles.physical_device = p->e.physical;
  handles.device = p->e.device;
  handles.queue_family_index = p->e.queue_family;
  handles.get_instance_proc_addr = vkGetInstanceProcAddr;
  handles.get_device_proc_addr = vkGetDeviceProcAddr;
  handles.pipeline_cache = p->cache;
  handles.storage_buffer_16bit_enabled = 1; /* the engine enabled storageBuffer16BitAccess */
  handles.synchronization2_enabled = 1;     /* ... and synchronization2 */
  handles.push_descriptor_enabled = p->e.push_descriptor;
  /* No pipeline may be compiled while a frame records: preparation below must cover it. */
  handles.require_prepared_kernels = 1;
  if (!vknorm_ok(vknorm_context_create_from_engine(&handles, &p->ctx), "vknorm_context_create_from_engine")) return 0;
  /* Only the pipelines this block can use: three kinds, forward, f16. */
  vknorm_prepare_request request;
  vknorm_prepare_request_init(&request);
  request.kinds = VKNORM_KIND_INSTANCE_NORM_BIT | VKNORM_KIND_GROUP_NORM_BIT | VKNORM_KIND_LAYER_NORM_BIT;
  request.backward = 0;
  request.dtype = VKNORM_DTYPE_F16;
  vknorm_prepare_report report;
  if (!vknorm_ok(vknorm_context_prepare(p->ctx, &request, &report), "vknorm_context_prepare")) return 0;
  if (!vknorm_ok(vknorm_instance_norm_workspace_size(p->ctx, &p->b.instance_norm, &p->workspace[0]),
                 "vknorm_instance_norm_workspace_size") ||
      !vknorm_ok(vknorm_group_norm_workspace_size(p->ctx, &p->b.group_norm, &p->workspace[1]),
                 "vknorm_group_norm_workspace_size") ||
      !vknorm_ok(vknorm_layer_norm_workspace_size(p->ctx, &p->b.layer_norm, &p->workspace[2]),
                 "vknorm_layer_norm_workspace_size"))
    return 0;
  const double load_ms = now_ms() - start;
  size_t cache_bytes = 0;
  if (!vk_ok(vkGetPipelineCacheData(p->e.device, p->cache, &cache_bytes, NULL), "vkGetPipelineCacheData")) return 0;
  printf("load: %.1f ms (vknorm context, %u f16 forward pipelines in %.1f ms, into the engine's pipeline cache: "
         "%zu bytes); workspaces %llu, %llu, %llu bytes\n",
         load_ms, report.created, report.milliseconds, cache_bytes, (unsigned long long)p->workspace[0], (unsigned long long)p->workspace[1],
         (unsigned long long)p->workspace[2]);
  /* What vknorm holds on the engine's device: what an engine budgets for. */
  vknorm_capabilities caps;
  vknorm_footprint held;
  if (!vknorm_ok(vknorm_context_get_capabilities(p->ctx, &caps), "vknorm_context_get_capabilities") ||
      !vknorm_ok(vknorm_context_get_footprint(p->ctx, &held), "vknorm_context_get_footprint"))
    return 0;
  printf("vknorm holds: %u pipelines, %u pipeline layouts, %u set layouts, %u update templates, "
         "%u device memory allocations; descriptors: %s\n",
         held.pipelines, held.pipeline_layouts, held.descriptor_set_layouts, held.descriptor_update_templates,
         held.device_memory_allocations,
         caps.push_descriptors ? "pushed (VK_KHR_push_descriptor)" : "one pool per recorder");
  return 1;
}

/* The memory block: the shared weights, then each slot's buffers. */
static int create_memory(app* p) {
  const block* b = &p->b;
  for (int s = 0; s < BLOCK_STAGES; ++s) {
    p->weight[s] = reserve(&p->a, b->geometry[s].affine_size * sizeof(float));
    p->bias[s] = reserve(&p->a, b->geometry[s].affine_size * sizeof(float));
  }
  for (int f = 0; f < FRAMES_IN_FLIGHT; ++f) {
    frame_slot* slot = &p->slots[f];
    slot->x = reserve(&p->a, BLOCK_ELEMENTS * sizeof(uint16_t));
    for (int s = 0; s < BLOCK_STAGES; ++s) {
      slot->y[s] = reserve(&p->a, b->geometry[s].elements * sizeof(uint16_t));
      slot->mean[s] = reserve(&p->a, b->geometry[s].stat_groups * sizeof(float));
      slot->invstd[s] = reserve(&p->a, b->geometry[s].stat_groups * sizeof(float));
      slot->workspace[s] = reserve(&p->a, p->workspace[s]);
    }
  }
  if (arena_create(&p->a, &p->e) != 0) return 0;
  for (int s = 0; s < BLOCK_STAGES; ++s) {
    memcpy(p->a.mapped + p->weight[s].offset, b->weight[s], p->weight[s].bytes);
    memcpy(p->a.mapped + p->bias[s].offset, b->bias[s], p->bias[s].bytes);
  }
  printf("memory: one %llu-byte block, %u ranges at offsets 4 past a multiple of 16\n",
         (unsigned long long)p->a.size, p->a.ranges);
  return 1;
}

/* The timeline semaphore, and per slot a command pool, a command buffer, a recorder. */
static int create_frames(app* p) {
  VkSemaphoreTypeCreateInfo timeline_type = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
                                             .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE,
                                             .initialValue = 0};
  VkSemaphoreCreateInfo semaphore_info = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, .pNext = &timeline_type};
  if (!vk_ok(vkCreateSemaphore(p->e.device, &semaphore_info, NULL, &p->timeline), "vkCreateSemaphore (timeline)"))
    return 0;
  for (int f = 0; f < FRAMES_IN_FLIGHT; ++f) {
    frame_slot* slot = &p->slots[f];
    VkCommandPoolCreateInfo pool_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                         .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                         .queueFamilyIndex = p->e.queue_family};
    if (!vk_ok(vkCreateCommandPool(p->e.device, &pool_info, NULL, &slot->pool), "vkCreateCommandPool")) return 0;
    VkCommandBufferAllocateInfo cmd_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                            .commandPool = slot->pool,
                                            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                            .commandBufferCount = 1};
    if (!vk_ok(vkAllocateCommandBuffers(p->e.device, &cmd_info, &slot->cmd), "vkAllocateCommandBuffers")) return 0;
    /* Without push descriptors each recorder creates its one descriptor pool here, sized
     * for a frame: the three calls record a few dispatches each (a call past the capacity
     * would fail with a message naming descriptor_capacity, never grow the pool). */
    vknorm_recorder_options options;
    vknorm_recorder_options_init(&options);
    options.descriptor_capacity = 16;
    if (!vknorm_ok(vknorm_recorder_create_with_options(p->ctx, slot->cmd, &options, &slot->recorder),
                   "vknorm_recorder_create_with_options"))
      return 0;
  }
  return 1;
}

static int submit(app* p, frame_slot* slot, int64_t frame) {
  VkCommandBufferSubmitInfo cmd = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO, .commandBuffer = slot->cmd};
  VkSemaphoreSubmitInfo signal = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO,
                                  .semaphore = p->timeline,
                                  .value = (uint64_t)frame + 1,
                                  .stageMask = VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT};
  VkSubmitInfo2 info = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2,
                        .commandBufferInfoCount = 1,
                        .pCommandBufferInfos = &cmd,
                        .signalSemaphoreInfoCount = 1,
                        .pSignalSemaphoreInfos = &signal};
  if (!vk_ok(vkQueueSubmit2(p->e.queue, 1, &info, VK_NULL_HANDLE), "vkQueueSubmit2")) return 0;
  slot->frame = frame;
  return 1;
}

/* Runs the frames, checking each one when its slot comes round again (and the last ones
 * at the end). Returns how many were submitted; stops at the first failure. */
static int64_t run_frames(app* p, int64_t frames) {
  uint16_t* input = malloc(sizeof(uint16_t) * BLOCK_ELEMENTS);
  if (!input) return 0;
  for (int f = 0; f < FRAMES_IN_FLIGHT; ++f) p->slots[f].frame = -1;
  int64_t submitted = 0;
  int ok = 1;
  for (int64_t frame = 0; frame < frames && ok; ++frame) {
    frame_slot* slot = &p->slots[frame % FRAMES_IN_FLIGHT];
    if (slot->frame >= 0) {
      /* The slot's previous frame signalled its value: its output is final, and its command
       * buffer and descriptor sets are free. */
      if (!wait_timeline(&p->e, p->timeline, (uint64_t)slot->frame + 1)) break;
      ok = check_frame(&p->b, &p->a, slot, &p->st);
      /* The recorder is reused as it is: reset frees its descriptor sets (nothing to free
       * with push descriptors); vknorm_recorder_reset_to would also move it to another
       * command buffer. */
      if (!vknorm_ok(vknorm_recorder_reset(slot->recorder), "vknorm_recorder_reset") ||
          !vk_ok(vkResetCommandPool(p->e.device, slot->pool, 0), "vkResetCommandPool"))
        break;
    }
    /* The host writes this frame's input into the slot's own x: the frames still in flight
     * read the other slots'. */
    block_make_input(frame, input);
    memcpy(p->a.mapped + slot->x.offset, input, slot->x.bytes);
    if (!record_frame(&p->b, &p->a, p->weight, p->bias, slot) || !submit(p, slot, frame)) break;
    ++submitted;
  }
  free(input);
  for (int64_t frame = submitted - FRAMES_IN_FLIGHT; frame < submitted; ++frame) {
    if (frame < 0) continue;
    frame_slot* slot = &p->slots[frame % FRAMES_IN_FLIGHT];
    if (slot->frame == frame && wait_timeline(&p->e, p->timeline, (uint64_t)frame + 1))
      check_frame(&p->b, &p->a, slot, &p->st);
  }
  return submitted;
}

/* vknorm's objects first (recorders, then the context), then the engine's. */
static void teardown(app* p) {
  if (p->e.device) vkDeviceWaitIdle(p->e.device);
  for (int f = 0; f < FRAMES_IN_FLIGHT; ++f) vknorm_recorder_destroy(p->slots[f].recorder);
  vknorm_context_destroy(p->ctx);
  if (p->e.device) {
    if (p->timeline) vkDestroySemaphore(p->e.device, p->timeline, NULL);
    for (int f = 0; f < FRAMES_IN_FLIGHT; ++f)
      if (p->slots[f].pool) vkDestroyCommandPool(p->e.device, p->slots[f].pool, NULL);
    if (p->cache) vkDestroyPipelineCache(p->e.device, p->cache, NULL);
    arena_destroy(&p->a, &p->e);
  }
  engine_destroy(&p->e);
}

int main(int argc, char** argv) {
  long long frames = DEFAULT_FRAMES, device_index = -1;
  int validation = 1, push_descriptors = 1;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--frames") && i + 1 < argc && parse_int(argv[i + 1], &frames) && frames > 0) {
      ++i;
    } else if (!strcmp(argv[i], "--device") && i + 1 < argc && parse_int(argv[i + 1], &device_index)) {
      ++i;
    } else if (!strcmp(argv[i], "--no-validation")) {
      validation = 0;
    } else if (!strcmp(argv[i], "--no-push-descriptors")) {
      push_descriptors = 0;
    } else {
      fprintf(stderr, "engine_frames: bad argument '%s' (--frames and --device take a number; see --help)\n", argv[i]);
      return 2;
    }
  }

  static app p; /* zeroed: teardown destroys only what was created */
  int ok = engine_create(&p.e, device_index, validation, push_descriptors) == 0 && block_init(&p.b) == 0;
  if (ok)
    printf("engine_frames: %s, Vulkan 1.3, validation %s, push descriptors %s\n", p.e.device_name,
           validation ? "on (synchronization validation)" : "off",
           p.e.push_descriptor ? "enabled" : "not enabled");
  ok = ok && load(&p) && create_memory(&p) && create_frames(&p);
  if (ok) {
    const double start = now_ms();
    const int64_t submitted = run_frames(&p, frames);
    const double ms = now_ms() - start;
    printf("frames: %lld of %lld submitted, %lld checked, %lld failed; %.2f ms per frame (recording, submit, "
           "reference check)\n",
           (long long)submitted, frames, (long long)p.st.frames_checked, (long long)p.st.frames_failed,
           ms / (double)(submitted ? submitted : 1));
    for (int s = 0; s < BLOCK_STAGES; ++s)
      printf("  %-18s max error %.3g (largest |reference| %.3g, tolerance %.3g)\n", block_stage_names[s],
             p.st.max_error[s], p.st.max_magnitude[s],
             kTolerance * (p.st.max_magnitude[s] > 1 ? p.st.max_magnitude[s] : 1));
    ok = p.st.frames_checked == frames && p.st.frames_failed == 0;
  }
  teardown(&p);
  const uint32_t messages = engine_validation_messages();
  if (validation) printf("validation: %u messages\n", messages);
  if (messages) ok = 0;
  printf("%s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
