#include "block.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "half.h"

const char* const block_stage_names[BLOCK_STAGES] = {"instance_norm+relu", "group_norm", "layer_norm"};

static int checked(vknorm_status status, const char* what) {
  if (status == VKNORM_STATUS_OK) return 0;
  fprintf(stderr, "engine_frames: %s: %s: %s\n", what, vknorm_status_string(status), vknorm_last_error());
  return -1;
}

int block_init(block* b) {
  b->shape[0] = BLOCK_N, b->shape[1] = BLOCK_C, b->shape[2] = BLOCK_H, b->shape[3] = BLOCK_W;
  b->rows_shape[0] = BLOCK_ROWS, b->rows_shape[1] = BLOCK_C;
  b->normalized_shape[0] = BLOCK_C;

  vknorm_instance_norm_params* in = &b->instance_norm;
  vknorm_instance_norm_params_init(in);
  in->shape = b->shape, in->rank = 4, in->dims = VKNORM_INSTANCE_NORM_2D;
  in->affine = 1; /* training (the default) and no running statistics: the style-transfer setting */
  in->layout = VKNORM_LAYOUT_NHWC, in->dtype = VKNORM_DTYPE_F16;
  in->epilogue.relu = 1;

  vknorm_group_norm_params* gn = &b->group_norm;
  vknorm_group_norm_params_init(gn);
  gn->shape = b->shape, gn->rank = 4, gn->num_groups = BLOCK_GROUPS;
  gn->layout = VKNORM_LAYOUT_NHWC, gn->dtype = VKNORM_DTYPE_F16;

  vknorm_layer_norm_params* ln = &b->layer_norm;
  vknorm_layer_norm_params_init(ln);
  ln->shape = b->rows_shape, ln->rank = 2;
  ln->normalized_shape = b->normalized_shape, ln->normalized_rank = 1;
  ln->dtype = VKNORM_DTYPE_F16;

  /* Weights near 1 and biases near 0, different per channel and per layer. */
  for (int s = 0; s < BLOCK_STAGES; ++s)
    for (int c = 0; c < BLOCK_C; ++c) {
      b->weight[s][c] = 0.5f + (float)((c * 7 + s * 3) % BLOCK_C) / BLOCK_C;
      b->bias[s][c] = 0.25f * sinf(0.9f * (float)c + (float)s);
    }

  if (checked(vknorm_instance_norm_check(in, &b->geometry[0]), "vknorm_instance_norm_check") ||
      checked(vknorm_group_norm_check(gn, &b->geometry[1]), "vknorm_group_norm_check") ||
      checked(vknorm_layer_norm_check(ln, &b->geometry[2]), "vknorm_layer_norm_check"))
    return -1;
  return 0;
}

/* A hash of (frame, index) into [-1, 1): the same input whenever the frame is replayed. */
static float noise(uint32_t seed) {
  seed ^= seed >> 16;
  seed *= 0x7feb352du;
  seed ^= seed >> 15;
  seed *= 0x846ca68bu;
  seed ^= seed >> 16;
  return (float)(seed >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

void block_make_input(int64_t frame, uint16_t* x_nhwc) {
  /* Every (n, c) plane gets its own center and spread, and both move from frame to frame,
   * so each frame's statistics differ. */
  const float f = (float)frame;
  for (int n = 0; n < BLOCK_N; ++n)
    for (int p = 0; p < BLOCK_H * BLOCK_W; ++p)
      for (int c = 0; c < BLOCK_C; ++c) {
        const size_t i = ((size_t)n * BLOCK_H * BLOCK_W + (size_t)p) * BLOCK_C + (size_t)c;
        const float center = 2.0f * sinf(0.7f * f + 0.3f * (float)c + (float)n);
        const float spread = 0.5f + 0.25f * (float)((frame + c) % 4);
        x_nhwc[i] = float_to_half(center + spread * noise((uint32_t)(frame * 2654435761u) ^ (uint32_t)i));
      }
}

/* Between the engine's NHWC storage and the reference's logical (N, C, H*W) order. */
static size_t nhwc_index(int n, int c, int p) { return ((size_t)n * BLOCK_H * BLOCK_W + (size_t)p) * BLOCK_C + (size_t)c; }
static size_t nchw_index(int n, int c, int p) { return ((size_t)n * BLOCK_C + (size_t)c) * BLOCK_H * BLOCK_W + (size_t)p; }

static void nhwc_to_nchw_rounded(const float* from, float* to) {
  for (int n = 0; n < BLOCK_N; ++n)
    for (int c = 0; c < BLOCK_C; ++c)
      for (int p = 0; p < BLOCK_H * BLOCK_W; ++p) to[nchw_index(n, c, p)] = round_to_half(from[nhwc_index(n, c, p)]);
}

static void nchw_to_nhwc(const float* from, float* to) {
  for (int n = 0; n < BLOCK_N; ++n)
    for (int c = 0; c < BLOCK_C; ++c)
      for (int p = 0; p < BLOCK_H * BLOCK_W; ++p) to[nhwc_index(n, c, p)] = from[nchw_index(n, c, p)];
}

int block_reference(const block* b, const uint16_t* x_nhwc, float* out[BLOCK_STAGES]) {
  float* in = malloc(sizeof(float) * BLOCK_ELEMENTS);
  float* result = malloc(sizeof(float) * BLOCK_ELEMENTS);
  int status = -1;
  if (!in || !result) {
    fprintf(stderr, "engine_frames: out of host memory for the reference\n");
    goto done;
  }
  vknorm_host_forward io = {.x = in,
                            .x_length = BLOCK_ELEMENTS,
                            .weight_length = BLOCK_C,
                            .bias_length = BLOCK_C,
                            .y = result,
                            .y_capacity = BLOCK_ELEMENTS};

  /* InstanceNorm2d + ReLU on the f16 input, in logical order. */
  for (size_t i = 0; i < BLOCK_ELEMENTS; ++i) out[0][i] = half_to_float(x_nhwc[i]);
  nhwc_to_nchw_rounded(out[0], in);
  io.weight = b->weight[0], io.bias = b->bias[0];
  if (checked(vknorm_instance_norm_forward_reference(&b->instance_norm, &io), "vknorm_instance_norm_forward_reference"))
    goto done;
  nchw_to_nhwc(result, out[0]);

  /* GroupNorm(8) on the stored (f16) InstanceNorm output. */
  nhwc_to_nchw_rounded(out[0], in);
  io.weight = b->weight[1], io.bias = b->bias[1];
  if (checked(vknorm_group_norm_forward_reference(&b->group_norm, &io), "vknorm_group_norm_forward_reference"))
    goto done;
  nchw_to_nhwc(result, out[1]);

  /* LayerNorm over C on the stored GroupNorm output: NHWC memory is already (N*H*W, C). */
  for (size_t i = 0; i < BLOCK_ELEMENTS; ++i) in[i] = round_to_half(out[1][i]);
  io.weight = b->weight[2], io.bias = b->bias[2], io.y = out[2];
  if (checked(vknorm_layer_norm_forward_reference(&b->layer_norm, &io), "vknorm_layer_norm_forward_reference"))
    goto done;
  status = 0;
done:
  free(in);
  free(result);
  return status;
}
