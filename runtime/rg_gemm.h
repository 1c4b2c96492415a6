// SPDX-License-Identifier: Apache-2.0
/* The runtime's one matrix product, shared by both convolutions:
 *
 *   C[m, n] = C[m, n] + sum over k of a(m, k) * B[k, n]
 *
 * for m < M, n < N, k < K, each C element's terms added one by one in
 * increasing k, each product rounded before its sum (no FMA), products with
 * a zero a(m, k) skipped: the reference backend's order (conv_ref.cpp), so
 * the result is bit-identical to it whatever the blocking.
 *
 * A comes in panels, as the exporter stores convolution weights
 * (RG_P_CONV_PANELS, docs/embedded.md): RG_PANEL rows by K, k-major, rows past
 * M zero; the product uses rows r0 .. r0 + M - 1 of it, so a(m, k) =
 * A[a0 + (r / RG_PANEL) * K * RG_PANEL + k * RG_PANEL + r % RG_PANEL] with
 * r = r0 + m. Every kernel then reads A contiguously. Register tiles use
 * explicit SIMD through GCC/Clang vector types (AVX: 8 lanes, SSE2 or NEON:
 * 4; none: plain loops), so the speed does not depend on the optimisation
 * level; the tiles' loops are written out so that -O2 and -Os keep every
 * accumulator in a register.
 *
 * RG_FAST builds (docs/embedded.md) fuse each product into its sum (FMA):
 * faster, no longer bit-identical. */
#ifndef RG_GEMM_H
#define RG_GEMM_H

#include <stddef.h>

#include "rg_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RG_PANEL RG_PLAN_PANEL

void rg_gemm_panels(size_t M, size_t N, size_t K, rg_typed A, size_t a0, size_t r0, const float* B,
                    size_t ldb, float* C, size_t ldc);

#ifdef __cplusplus
}
#endif

#endif /* RG_GEMM_H */
