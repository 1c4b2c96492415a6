// SPDX-License-Identifier: Apache-2.0
// The arithmetic of the ops that more than one backend runs as a plain
// loop over NCHW (the reference backend, and oneDNN's kernels of ours where
// oneDNN has none that computes the same), written once per plane so that
// each backend chooses its own parallelism: the reference calls them in
// order, oneDNN from an OpenMP loop. Sums in double, as the reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/op_geometry.h"
#include "graph/batch_norm_rules.h"

namespace rg {

// Group norm of group `ng` (sample ng / groups, group ng % groups) of NCHW x
// into y: its statistics by the batch norm rules (two passes in double), then
// y = (x - mean) * inv * scale[c] + bias[c] in double, rounded once.
template <typename T>
void group_norm_group(const T* x, const T* scale, const T* bias, T* y, int64_t channels, int64_t hw,
                      int64_t groups, double eps, int64_t ng) {
  const int64_t per = channels / groups, span = per * hw;
  const T* xg = x + ng * span;
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < span; ++i) sum += double(xg[i]);
  const double mean = sum / double(span);
  for (int64_t i = 0; i < span; ++i) sq += batch_norm_centred_square(double(xg[i]), mean);
  const double inv = batch_norm_inv_std(sq / double(span), eps, 1.0);
  for (int64_t c = 0; c < per; ++c) {
    const int64_t ch = (ng % groups) * per + c;
    const double sc = double(scale[ch]), b = double(bias[ch]);
    for (int64_t i = 0; i < hw; ++i)
      y[ng * span + c * hw + i] = T(batch_norm_normalize(double(xg[c * hw + i]), mean, inv, sc, b));
  }
}

// LRN for plane (b, c) of y, read from x.
template <typename T>
void lrn_plane(const LrnGeometry& l, const T* x, T* y, int64_t b, int64_t c) {
  for (int64_t i = 0; i < l.hw; ++i) {
    double sum = 0;
    for (int64_t j = std::max<int64_t>(0, c - l.before); j <= std::min(l.c - 1, c + l.after); ++j) {
      const double v = double(x[(b * l.c + j) * l.hw + i]);
      sum += v * v;
    }
    const int64_t e = (b * l.c + c) * l.hw + i;
    y[e] = T(double(x[e]) / std::pow(l.bias + l.alpha / double(l.size) * sum, l.beta));
  }
}

// The offset in its plane of a window's first maximum over its taps (a NaN
// wins), as PyTorch's CPU max pooling chooses which input gets the gradient.
template <typename T>
int64_t pool_window_argmax(const PoolGeometry& geo, const T* xp, const PoolGeometry::Window& win) {
  int64_t best = win.hs * geo.w + win.ws;
  for (int64_t i = win.hs; i < win.h1; i += geo.dh)
    for (int64_t j = win.ws; j < win.w1; j += geo.dw) {
      const T v = xp[i * geo.w + j];
      if (v > xp[best] || (std::isnan(v) && !std::isnan(xp[best]))) best = i * geo.w + j;
    }
  return best;
}

// Pooling of one plane over PoolGeometry's windows (their taps, with any
// dilation): the first maximum, or the sum in double divided by
// PoolGeometry::average_count.
template <typename T>
void pool2d_plane(const PoolGeometry& geo, const T* x, T* y, int64_t plane) {
  const T* xp = x + plane * geo.h * geo.w;
  T* yp = y + plane * geo.ho * geo.wo;
  for (int64_t oh = 0; oh < geo.ho; ++oh)
    for (int64_t ow = 0; ow < geo.wo; ++ow) {
      const PoolGeometry::Window win = geo.window(oh, ow);
      if (geo.max) {
        yp[oh * geo.wo + ow] = xp[pool_window_argmax(geo, xp, win)];
        continue;
      }
      double sum = 0;
      for (int64_t i = win.hs; i < win.h1; i += geo.dh)
        for (int64_t j = win.ws; j < win.w1; j += geo.dw) sum += double(xp[i * geo.w + j]);
      yp[oh * geo.wo + ow] = T(sum / double(geo.average_count(win)));
    }
}

// Row r of RowGeometry, in double: log_softmax or softmax of x, or (backward)
// log_softmax's gradient dx = dy - exp(y) * sum(dy) from dy (x here) and the
// forward output y.
template <typename T>
void softmax_row(const RowGeometry& geo, const T* x, const T* y, T* out, int64_t r) {
  const int64_t L = geo.length, S = geo.inner, b = geo.base(r);
  auto X = [&](int64_t i) { return double(x[b + i * S]); };
  if (geo.backward) {
    double sum = 0;
    for (int64_t i = 0; i < L; ++i) sum += X(i);
    for (int64_t i = 0; i < L; ++i) out[b + i * S] = T(X(i) - std::exp(double(y[b + i * S])) * sum);
    return;
  }
  double m = -HUGE_VAL, sum = 0;
  for (int64_t i = 0; i < L; ++i) m = std::max(m, X(i));
  for (int64_t i = 0; i < L; ++i) sum += std::exp(X(i) - m);
  const double lse = m + std::log(sum);
  for (int64_t i = 0; i < L; ++i) out[b + i * S] = T(geo.softmax ? std::exp(X(i) - m) / sum : X(i) - lse);
}

// dx of average pooling for one plane: each input element gathers dy /
// divisor over the windows that contain it, in output order.
template <typename T>
void avg_pool2d_backward_plane(const PoolGeometry& geo, const T* dy, T* dx, int64_t plane) {
  for (int64_t h = 0; h < geo.h; ++h) {
    const auto [oh0, oh1] = geo.rows_containing(h);
    for (int64_t w = 0; w < geo.w; ++w) {
      const auto [ow0, ow1] = geo.cols_containing(w);
      double acc = 0;
      for (int64_t oh = oh0; oh <= oh1; ++oh)
        for (int64_t ow = ow0; ow <= ow1; ++ow)
          acc += double(dy[(plane * geo.ho + oh) * geo.wo + ow]) /
                 double(geo.average_count(geo.window(oh, ow)));
      dx[(plane * geo.h + h) * geo.w + w] = T(acc);
    }
  }
}

// Bilinear resize of one plane with ResizeGeometry's taps.
template <typename T>
void resize_bilinear_plane(const ResizeGeometry& geo, const T* x, T* y, int64_t plane) {
  const int64_t W = geo.w, Wo = geo.wo;
  const T* xp = x + plane * geo.h * W;
  T* yp = y + plane * geo.ho * Wo;
  for (int64_t oh = 0; oh < geo.ho; ++oh) {
    const BilinearTap& a = geo.rows[size_t(oh)];
    for (int64_t ow = 0; ow < Wo; ++ow) {
      const BilinearTap& b = geo.cols[size_t(ow)];
      const double v =
          a.l0 * (b.l0 * double(xp[a.i0 * W + b.i0]) + b.l1 * double(xp[a.i0 * W + b.i1])) +
          a.l1 * (b.l0 * double(xp[a.i1 * W + b.i0]) + b.l1 * double(xp[a.i1 * W + b.i1]));
      yp[oh * Wo + ow] = T(v);
    }
  }
}

}  // namespace rg
