/* SPDX-License-Identifier: Apache-2.0 */
#include "rg_kernels.h"

#include <math.h>
#include <string.h>

void rg_conv_transpose2d(const rg_kernel_record* r, const float* x, rg_weights w, float* y,
                         float* col) {
  const size_t M = (size_t)r->cy * r->kh * r->kw, K = r->cx, N = (size_t)r->hx * r->wx;
  const size_t y_image = (size_t)r->cy * r->hy * r->wy;
  for (size_t img = 0; img < r->n; ++img) {
    const float* xn = x + img * K * N;
    float* yn = y + img * y_image;
    /* col[M, N] = w[K, M]^T * xn[K, N] (conv_ref.cpp matmul_at). */
    memset(col, 0, M * N * sizeof(float));
    for (size_t k = 0; k < K; ++k) {
      const float* bk = xn + k * N;
      for (size_t i = 0; i < M; ++i) {
        const float a = rg_weight(w, k * M + i);
        if (a == 0.0f) continue;
        float* ci = col + i * N;
        for (size_t j = 0; j < N; ++j) ci[j] += a * bk[j];
      }
    }
    /* yn = col2im(col) (conv_ref.cpp col2im). */
    memset(yn, 0, y_image * sizeof(float));
    for (size_t c = 0; c < r->cy; ++c)
      for (size_t i = 0; i < r->kh; ++i)
        for (size_t j = 0; j < r->kw; ++j) {
          const float* row = col + ((c * r->kh + i) * r->kw + j) * N;
          for (size_t oh = 0; oh < r->hx; ++oh) {
            const long ih = (long)(oh * r->stride_h + i) - (long)r->pad_h;
            if (ih < 0 || ih >= (long)r->hy) continue;
            float* yrow = yn + (c * r->hy + (size_t)ih) * r->wy;
            for (size_t ow = 0; ow < r->wx; ++ow) {
              const long iw = (long)(ow * r->stride_w + j) - (long)r->pad_w;
              if (iw >= 0 && iw < (long)r->wy) yrow[iw] += row[oh * r->wx + ow];
            }
          }
        }
  }
}

void rg_batch_norm(const rg_kernel_record* r, const float* x, rg_weights gamma, rg_weights beta,
                   rg_weights mean, rg_weights var, float* y) {
  const size_t C = r->cx, HW = (size_t)r->hx * r->wx;
  for (size_t c = 0; c < C; ++c) {
    const double mu = (double)rg_weight(mean, c);
    const double inv = 1.0 / sqrt((double)rg_weight(var, c) + r->eps);
    const double g = (double)rg_weight(gamma, c), b = (double)rg_weight(beta, c);
    for (size_t i = 0; i < r->n; ++i) {
      const size_t base = (i * C + c) * HW;
      for (size_t k = 0; k < HW; ++k)
        y[base + k] = (float)(((double)x[base + k] - mu) * inv * g + b);
    }
  }
}

void rg_epilogue(const rg_kernel_record* r, float* y, size_t n, size_t channels, size_t plane,
                 rg_weights bias) {
  if (r->epilogue_count == 0) return;
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < channels; ++c) {
      float* p = y + (i * channels + c) * plane;
      const float b = bias.p ? rg_weight(bias, c) : 0.0f;
      for (size_t e = 0; e < plane; ++e) {
        float v = p[e];
        for (uint32_t k = 0; k < r->epilogue_count; ++k) {
          switch (r->epilogue[k]) {
            case RG_EPI_RELU:
              v = v > 0.0f ? v : 0.0f;
              break;
            case RG_EPI_TANH:
              v = tanhf(v);
              break;
            case RG_EPI_ADD_CHANNEL:
              v = v + b;
              break;
            default:
              break; /* refused by validation */
          }
        }
        p[e] = v;
      }
    }
}
