// The contract between the host and the kernels: buffer slots, push constants, flags and
// the records the kernels leave in the workspace. src/kernels.hpp (C++) and
// shaders/common.glsl (GLSL) both include this file and expand its lists, so the two sides
// cannot disagree. It holds preprocessor definitions only, which both languages read.
#ifndef VKNORM_SHADER_CONTRACT_H
#define VKNORM_SHADER_CONTRACT_H

// ---- Storage-buffer slots ----
// SLOT(binding, Name, name, element): C++ kSlot<Name>; GLSL buffer slot_<name>, its offset
// <name>_base(). element TENSOR: x's dtype (float16 storage with DTYPE_F16; with
// DTYPE_F16_PACKED, uint words of two float16 halves), FLOAT: float32.
#define VKNORM_WORK_BINDING 9 /* also shaders/team_backward_vec4.glsl's store4_work */
#define VKNORM_SLOTS(SLOT)                                                                     \
  SLOT(0, X, x, TENSOR)          /* x */                                                       \
  SLOT(1, Dy, dy, TENSOR)        /* dy */                                                      \
  SLOT(2, Out, out, TENSOR)      /* the output: y or dx */                                     \
  SLOT(3, Weight, weight, FLOAT) /* gamma */                                                   \
  SLOT(4, Bias, bias, FLOAT)     /* beta */                                                    \
  SLOT(5, Mean, mean, FLOAT)     /* save_mean, or running_mean (FLAG_STATS_ARE_VAR) */         \
  SLOT(6, Stat, stat, FLOAT)     /* save_invstd, or running_var (FLAG_STATS_ARE_VAR) */        \
  SLOT(7, Aux0, aux0, FLOAT)     /* forward: running_mean to update; backward: dweight */      \
  SLOT(8, Aux1, aux1, FLOAT)     /* forward: running_var to update; backward: dbias */         \
  SLOT(VKNORM_WORK_BINDING, Work, work, FLOAT) /* the workspace: the records below */          \
  SLOT(10, Side, side, TENSOR)   /* forward: the residual; backward: the forward's y (ReLU) */ \
  SLOT(11, Dside, dside, TENSOR) /* backward: the residual's gradient */
#define VKNORM_SLOT_COUNT 12

// ---- Push constants ----
// In this order, every member 4 bytes (std430 in GLSL, no padding in C++).
// BASES(name): one uint per slot; U32(name, default) / F32(name, default): one value. The
// defaults are the C++ struct's.
#define VKNORM_PUSH_CONSTANTS(BASES, U32, F32)                                               \
  BASES(base)         /* element offset of each slot inside its bound range */               \
  U32(B, 1)           /* statistics view [B, O, K, I]: groups (b, k), reduced over (o, i) */ \
  U32(O, 1)                                                                                  \
  U32(K, 1)                                                                                  \
  U32(I, 1)                                                                                  \
  U32(cpg, 1)         /* affine channel of an element: k * cpg + i / inner */                \
  U32(inner, 1)                                                                              \
  U32(Op, 1)          /* parameter view [Op, Kp, Ip]: the elements of affine channel kp */   \
  U32(Kp, 1)                                                                                 \
  U32(Ip, 1)                                                                                 \
  U32(chunks, 1)      /* partials per statistics group in the split reduction; segments */   \
                      /* per plane in batch_norm_apply_vec4 */                               \
  U32(chunk_size, 0)  /* elements per chunk (the last may be shorter); there, 4-element */   \
                      /* units per lane (a segment: 8 lanes' worth; the bench's vector */    \
                      /* reference: lanes per run) */                                        \
  U32(pchunks, 1)     /* partials per affine channel in the parameter reduction */           \
  U32(pchunk_size, 0)                                                                        \
  U32(coef_base, 0)   /* float offset of the coefficient records in the workspace */         \
  U32(param_base, 0)  /* float offset of the parameter sum records in the workspace */       \
  U32(flags, 0)       /* VKNORM_FLAGS */                                                     \
  F32(eps, 0.0f)      /* added to the variance (mean square) */                              \
  F32(momentum, 0.0f) /* running statistics: (1 - momentum) * running + momentum * batch */

// ---- Flags ----
// FLAG(Name, NAME, bit): C++ kFlag<Name>, GLSL FLAG_<NAME>, both 1 << bit.
#define VKNORM_FLAGS(FLAG)                                                                        \
  FLAG(Weight, WEIGHT, 0)                /* gamma is given */                                     \
  FLAG(Bias, BIAS, 1)                    /* beta is given */                                      \
  FLAG(UpdateRunning, UPDATE_RUNNING, 2) /* update running_mean / running_var (per channel k) */  \
  FLAG(StatsAreVar, STATS_ARE_VAR, 3)    /* the statistics slots hold running mean and var */     \
  FLAG(BatchStats, BATCH_STATS, 4)       /* backward through batch statistics */                  \
  FLAG(Rms, RMS, 5)                      /* RMSNorm: no mean, invstd = 1/sqrt(mean(x^2) + eps) */ \
  FLAG(GammaVaries, GAMMA_VARIES, 6)     /* gamma changes inside a statistics group */            \
  FLAG(Residual, RESIDUAL, 7)            /* epilogue: y += residual (before the ReLU) */          \
  FLAG(Relu, RELU, 8)                    /* epilogue: y = max(y, 0) */                            \
  FLAG(Columns, COLUMNS, 9)              /* split passes use the column view */                   \
  FLAG(PlaneParams, PLANE_PARAMS, 10)    /* team_backward also sums dgamma / dbeta per plane */   \
  FLAG(MergedSums, MERGED_SUMS, 11)      /* grad_finalize: see "merged sums" below */           \
  FLAG(BatchNormStats, BATCH_NORM_STATS, 12) /* invstd 0 where var + eps == 0; empty mean NaN */ \
  FLAG(WelfordMean, WELFORD_MEAN, 13)    /* PyTorch's mean is Welford's (GroupNorm, LayerNorm):  \
                                            NaN for a group holding an Inf, not ±inf */      \
  FLAG(ColumnParams, COLUMN_PARAMS, 14)  /* grad_partial's column view also stores each column's \
                                            sums as dgamma / dbeta partials */                   \
  FLAG(BlockParams, BLOCK_PARAMS, 15)    /* dgamma / dbeta partials per block of pchunk_size   \
                                            rows, laid out partial after partial (below), which \
                                            team_backward_affine_blocks_vec4 stores itself */

// ---- Workspace records ----
// Offsets in floats inside slot Work. The forward and the backward lay out the workspace
// differently; the planner lays it out and sizes it (src/ops/planner.cpp).
//
// Forward: statistics partial records, one per (group g, partial p) of the split
// reduction at (g * chunks + p) * VKNORM_STATS_RECORD_FLOATS (stats_partial; fused_forward
// and team_forward with FLAG_UPDATE_RUNNING, one partial per group). stats_finalize merges
// a group's partials in order (Chan's formula). The mean and M2 are of x - pivot, the pivot
// being the group's first element (group_element(g, 0)), so that they stay small when
// |mean| >> std.
#define VKNORM_STATS_RECORD_FLOATS 3
#define VKNORM_STATS_RECORD_COUNT 0 /* element count, as uint bits (a count may pass 2^24) */
#define VKNORM_STATS_RECORD_MEAN 1  /* mean of x - pivot */
#define VKNORM_STATS_RECORD_M2 2    /* sum of squared deviations from that mean */
// Scaled records: a partial whose float32 statistics overflow (squared deviations past
// 3.4e38) or meet an Inf or NaN is computed from (x - pivot) * 2^-VKNORM_STATS_SCALE_LOG2
// instead (shaders/common.glsl, the scaled path), and its count carries
// VKNORM_STATS_RECORD_SCALED. Its mean is then of the scaled values (Welford's; with an
// Inf or NaN a plain sum's, ±inf or NaN as PyTorch's) and M2 of their deviations; for RMSNorm, M2 is the
// sum of squares of x * 2^-VKNORM_STATS_SCALE_LOG2 and the mean is -pivot scaled (so the
// record's second moment about 0 is right when merged). A count is then below 2^31.
#define VKNORM_STATS_RECORD_SCALED 0x80000000u
#define VKNORM_STATS_SCALE_LOG2 100
// After them, one pivot per group g at group_count * chunks * VKNORM_STATS_RECORD_FLOATS + g:
// the value its records' means are relative to (written with the records). stats_finalize
// adds it back, so records from another device, rebased to this pivot (mean + their pivot
// - this pivot), merge and finalize exactly like this device's own.

// Backward: gradient sum records. Each holds the pair (sum of dy, sum of dy * xhat), in
// this order everywhere:
//  - group partials at (g * chunks + p) * VKNORM_SUMS_RECORD_FLOATS (grad_partial,
//    team_backward; grad_finalize reads them). With FLAG_GAMMA_VARIES, dy is gamma * dy;
//  - parameter partials at param_base + (c * pchunks + p) * VKNORM_SUMS_RECORD_FLOATS, per
//    affine channel c (param_partial, team_backward with FLAG_PLANE_PARAMS, grad_partial
//    with FLAG_COLUMN_PARAMS; param_finalize reads them); with FLAG_BLOCK_PARAMS at
//    param_base + (p * Kp + c) * VKNORM_SUMS_RECORD_FLOATS instead, partial after partial,
//    so that four adjacent channels' records of a partial are 8 adjacent floats
//    (team_backward_affine_blocks_vec4 stores them, param_finalize_vec4 reads them, as two
//    vec4s: param_base is a multiple of 4). (Partial after partial everywhere made
//    GroupNorm 2x320x64x64 NHWC's backward on lavapipe 1.7x as slow, in grad_partial.)
//    Through the column view (a column is a channel) partial p of channel c is the
//    column's sums over one (b, chunk, phase): p = b * (chunks / I) + (the group partial's
//    index) / I.
// With FLAG_MERGED_SUMS (SyncBatchNorm, chunks = 2), a group's partial 0 holds the sums
// of the whole batch over every device (the coefficients) and partial 1 this device's
// own (dgamma, dbeta: each device's contribution, as PyTorch's SyncBatchNorm gives them).
#define VKNORM_SUMS_RECORD_FLOATS 2
#define VKNORM_SUMS_RECORD_DY 0       /* sum of dy: dbeta, and b of the dx formula */
#define VKNORM_SUMS_RECORD_DY_XHAT 1  /* sum of dy * xhat: dgamma, and c of the dx formula */

// Backward: coefficient records, one per group at coef_base + g * VKNORM_COEF_RECORD_FLOATS
// (grad_finalize writes, grad_input reads): dx = invstd * (gamma * dy - b - xhat * c).
#define VKNORM_COEF_RECORD_FLOATS 3
#define VKNORM_COEF_RECORD_INVSTD 0
#define VKNORM_COEF_RECORD_B 1
#define VKNORM_COEF_RECORD_C 2

// ---- Team blocks ----
// The most groups a team of team_forward_vec4 / team_backward_vec4's AFFINE_UNITS variants
// takes at once (shaders/reduce.glsl: team blocks) on a device that wants blocks
// (team_block_rows in src/kernels.cpp).
#define VKNORM_TEAM_BLOCK_ROWS 4u

#endif  // VKNORM_SHADER_CONTRACT_H
