// SPDX-License-Identifier: Apache-2.0
/* The generator's kernels, with the reference backend's arithmetic
 * (backends/ref/conv_ref.cpp, ref_backend.cpp, elementwise_ref.cpp): the same
 * operations in the same order, f32 products and sums without contraction
 * into FMA (both are built with -ffp-contract=off), batch norm in double. */
#ifndef RG_KERNELS_H
#define RG_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rg_plan_format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A weight tensor in the weights section, f32 or bf16 (enum rg_weight_type). */
typedef struct rg_weights {
  const void* p;
  uint32_t type;
} rg_weights;

/* Weight i as f32 (bf16 widens exactly). */
static inline float rg_weight(rg_weights w, size_t i) {
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

/* y = conv_transpose2d(x, w) per image as the reference backend's
 * conv2d_backward_data: col = W^T * x (K-outer rank-1 updates that skip zero
 * weights), then y = col2im(col). col: cy*kh*kw*hx*wx floats of scratch. */
void rg_conv_transpose2d(const rg_kernel_record* r, const float* x, rg_weights w, float* y,
                         float* col);

/* Inference batch norm over x [n, c, hw] with running statistics, in double. */
void rg_batch_norm(const rg_kernel_record* r, const float* x, rg_weights gamma, rg_weights beta,
                   rg_weights mean, rg_weights var, float* y);

/* The fused elementwise chain, in place on y [n, channels, plane]. */
void rg_epilogue(const rg_kernel_record* r, float* y, size_t n, size_t channels, size_t plane,
                 rg_weights bias);

#ifdef __cplusplus
}
#endif

#endif /* RG_KERNELS_H */
