/* The engine's ML block, one per frame, on an NHWC float16 activation:
 *
 *   x (N, H, W, C) f16 -> InstanceNorm2d(C, affine) + ReLU -> GroupNorm(8, C) -> LayerNorm(C)
 *
 * LayerNorm reads the same memory as (N*H*W, C) rows: over C, per pixel. Everything here is
 * host-side: the vknorm parameters of each layer, their weights, the frame's input, and the
 * CPU reference chain the GPU's output is checked against. */
#ifndef ENGINE_FRAMES_BLOCK_H
#define ENGINE_FRAMES_BLOCK_H

#include <stdint.h>

#include "vknorm/vknorm.h"

enum {
  BLOCK_N = 2,
  BLOCK_H = 16,
  BLOCK_W = 16,
  BLOCK_C = 32,
  BLOCK_GROUPS = 8,
  BLOCK_ELEMENTS = BLOCK_N * BLOCK_H * BLOCK_W * BLOCK_C,
  BLOCK_ROWS = BLOCK_N * BLOCK_H * BLOCK_W,
  BLOCK_STAGES = 3
};

typedef struct block {
  int64_t shape[4];            /* logical (N, C, H, W); stored NHWC */
  int64_t rows_shape[2];       /* (N*H*W, C): the same memory as LayerNorm's rows */
  int64_t normalized_shape[1]; /* (C) */
  vknorm_instance_norm_params instance_norm;
  vknorm_group_norm_params group_norm;
  vknorm_layer_norm_params layer_norm;
  vknorm_geometry geometry[BLOCK_STAGES]; /* what each stage's buffers are sized by */
  float weight[BLOCK_STAGES][BLOCK_C];
  float bias[BLOCK_STAGES][BLOCK_C];
} block;

extern const char* const block_stage_names[BLOCK_STAGES];

/* Fills the parameters (they point into *b: do not copy it afterwards), the weights, and
 * the geometries. Returns 0, or prints vknorm's refusal and returns -1. */
int block_init(block* b);

/* Frame `frame`'s input: NHWC float16, different in every frame. */
void block_make_input(int64_t frame, uint16_t* x_nhwc);

/* The CPU reference of one frame from the f16 input: out[s] receives stage s's output in
 * NHWC as float (not rounded). Each stage reads the previous one's output rounded to f16,
 * as the GPU stores it. Returns 0, or prints why and returns -1. */
int block_reference(const block* b, const uint16_t* x_nhwc, float* out[BLOCK_STAGES]);

#endif
