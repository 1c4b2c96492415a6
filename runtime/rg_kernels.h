// SPDX-License-Identifier: Apache-2.0
/* The runtime's kernels, with the reference backend's arithmetic
 * (backends/ref/): the same operations in the same order, f32 products and
 * sums without contraction into FMA (both are built with -ffp-contract=off),
 * batch norm, matmul, pooling averages, reductions and softmax in double.
 * Each takes its validated kernel record and the operands' addresses. */
#ifndef RG_KERNELS_H
#define RG_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rg_plan_format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor that may live in the weights section: f32, bf16 or (convolution
 * weights) int8 (enum rg_weight_type). An int8 one carries its scales: the
 * value of element i of row r is q[i] * scale[r / scale_div]. */
typedef struct rg_typed {
  const void* p;
  uint32_t type;
  const float* scale;
  size_t scale_div;
} rg_typed;

/* Element i as f32 (bf16 widens exactly); int8: the integer, unscaled. */
static inline float rg_typed_at(rg_typed w, size_t i) {
  if (w.type == RG_WEIGHTS_INT8) return (float)((const int8_t*)w.p)[i];
  if (w.type == RG_WEIGHTS_BF16) {
    uint16_t h;
    memcpy(&h, (const uint8_t*)w.p + 2 * i, sizeof h);
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
  }
  return ((const float*)w.p)[i];
}

/* conv2d per image and group: im2col, then y_row += w * col_row over the
 * reduction index in increasing order (zero weights skipped). w in panels
 * (RG_PLAN_PANEL); col: a slab (p[RG_P_CONV_SLAB] columns of all rows). */
void rg_conv2d(const uint32_t* p, const float* x, rg_typed w, float* y, float* col);
/* conv2d's backward-data (= conv_transpose2d): col = W^T * dy (zero weights
 * skipped), then dx = col2im(col), a slab of rows at a time. */
void rg_conv_transpose2d(const uint32_t* p, const float* dy, rg_typed w, float* dx, float* col);
/* Inference batch norm over x [n, c, h * w] with running statistics, in double. */
void rg_batch_norm(const uint32_t* p, double eps, const float* x, rg_typed gamma, rg_typed beta,
                   rg_typed mean, rg_typed var, float* y);
void rg_pool(const uint32_t* p, const float* x, float* y);
void rg_matmul(const uint32_t* p, rg_typed a, rg_typed b, float* y);
/* acc: p[RG_P_RED_OUT] doubles (unused when the output is one element). */
void rg_reduce(const uint32_t* p, const float* x, double* acc, float* y);
void rg_softmax(const uint32_t* p, const float* x, float* y);
void rg_copy(const uint32_t* p, rg_typed x, float* y);
void rg_fill(const uint32_t* p, double value, float* y);
void rg_lrn(const uint32_t* p, const float* x, float* y);
/* maps: the u32 AUX table; an entry past its axis reads as a fill (the
 * table is the caller's bytes, not validated). */
void rg_gather(const uint32_t* p, double fill, const float* x, const uint8_t* maps, float* y);
/* taps: the AUX table (rg_bilinear_tap, ho + wo of them, read with memcpy). */
void rg_resize_bilinear(const uint32_t* p, const float* x, const uint8_t* taps, float* y);
/* The double stored in words p[0] (low) and p[1] (high). */
double rg_param_double(const uint32_t* p);

/* One chain's operands, resolved: loads (typed) and stores. */
typedef struct rg_chain_operands {
  rg_typed load[RG_CHAIN_MAX_LOADS];
  float* store[RG_CHAIN_MAX_STORES];
} rg_chain_operands;
void rg_chain(const rg_chain_record* c, const rg_chain_operands* o);

#ifdef __cplusplus
}
#endif

#endif /* RG_KERNELS_H */
