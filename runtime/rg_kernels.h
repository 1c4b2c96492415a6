/* The generator's kernels, with the reference backend's arithmetic
 * (backends/ref/conv_ref.cpp, ref_backend.cpp, elementwise_ref.cpp): the same
 * operations in the same order, f32 products and sums without contraction
 * into FMA (both are built with -ffp-contract=off), batch norm in double. */
#ifndef RG_KERNELS_H
#define RG_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "rg_plan_format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = conv_transpose2d(x, w) per image as the reference backend's
 * conv2d_backward_data: col = W^T * x (K-outer rank-1 updates that skip zero
 * weights), then y = col2im(col). col: cy*kh*kw*hx*wx floats of scratch. */
void rg_conv_transpose2d(const rg_kernel_record* r, const float* x, const float* w, float* y,
                         float* col);

/* Inference batch norm over x [n, c, hw] with running statistics, in double. */
void rg_batch_norm(const rg_kernel_record* r, const float* x, const float* gamma, const float* beta,
                   const float* mean, const float* var, float* y);

/* The fused elementwise chain, in place on y [n, channels, plane]. */
void rg_epilogue(const rg_kernel_record* r, float* y, size_t n, size_t channels, size_t plane,
                 const float* bias);

#ifdef __cplusplus
}
#endif

#endif /* RG_KERNELS_H */
