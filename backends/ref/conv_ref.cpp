// SPDX-License-Identifier: Apache-2.0
#include "backends/ref/conv_ref.h"

#include <Eigen/Core>
#include <algorithm>

namespace rg::ref {
namespace {

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MapM = Eigen::Map<RowMat<T>>;
template <typename T>
using CMapM = Eigen::Map<const RowMat<T>>;
template <typename T>
using Row = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>;
template <typename T>
using CRow = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

// The columns of one group: x points at the group's first input channel.
template <typename T>
void im2col(const ConvGeometry& g, const T* x, T* col) {
  for (int64_t c = 0; c < g.group_in(); ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * g.ho * g.wo;
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          for (int64_t ow = 0; ow < g.wo; ++ow) {
            const int64_t iw = ow * g.sw - g.pw + j * g.dw;
            row[oh * g.wo + ow] = (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? x[(c * g.h + ih) * g.w + iw] : T(0);
          }
        }
      }
}

template <typename T>
void col2im(const ConvGeometry& g, const T* col, T* x) {
  std::fill(x, x + g.group_in() * g.h * g.w, T(0));
  for (int64_t c = 0; c < g.group_in(); ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = col + ((c * g.kh + i) * g.kw + j) * g.ho * g.wo;
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.h) continue;
          for (int64_t ow = 0; ow < g.wo; ++ow) {
            const int64_t iw = ow * g.sw - g.pw + j * g.dw;
            if (iw >= 0 && iw < g.w) x[(c * g.h + ih) * g.w + iw] += row[oh * g.wo + ow];
          }
        }
      }
}

}  // namespace

// The three products below are written as row operations on Eigen maps rather
// than as Eigen matrix products: Eigen's GEMM allocates its packing buffers on
// the heap at every call, and running a plan must allocate nothing. They are
// vectorised (Eigen packets), single-threaded and easy to audit.

// C[M,N] = A[M,K] * B[K,N]
template <typename T>
void matmul(const T* a, const T* b, T* c, int64_t M, int64_t K, int64_t N) {
  for (int64_t i = 0; i < M; ++i) {
    auto ci = Row<T>(c + i * N, N);
    ci.setZero();
    for (int64_t k = 0; k < K; ++k) {
      const T aik = a[i * K + k];
      if (aik != T(0)) ci += aik * CRow<T>(b + k * N, N);
    }
  }
}

// C[M,N] = A[K,M]^T * B[K,N]
template <typename T>
void matmul_at(const T* a, const T* b, T* c, int64_t M, int64_t K, int64_t N) {
  MapM<T>(c, M, N).setZero();
  for (int64_t k = 0; k < K; ++k) {
    const auto bk = CRow<T>(b + k * N, N);
    for (int64_t i = 0; i < M; ++i) {
      const T aki = a[k * M + i];
      if (aki != T(0)) Row<T>(c + i * N, N) += aki * bk;
    }
  }
}

// C[M,N] += A[M,K] * B[N,K]^T
template <typename T>
void matmul_bt_acc(const T* a, const T* b, T* c, int64_t M, int64_t K, int64_t N) {
  for (int64_t i = 0; i < M; ++i) {
    const auto ai = CRow<T>(a + i * K, K);
    for (int64_t j = 0; j < N; ++j) c[i * N + j] += ai.dot(CRow<T>(b + j * K, K));
  }
}

// Per sample and group: the group's input channels x_g, output channels
// y_g and weight rows w_g (weights [c_out, c_in / groups, kh, kw]).
template <typename T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y, T* col) {
  const int64_t gi = g.group_in() * g.h * g.w, go = g.group_out() * g.col_cols(), gw = g.group_out() * g.col_rows();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t k = 0; k < g.groups; ++k) {
      im2col(g, x + (n * g.groups + k) * gi, col);
      matmul(w + k * gw, col, y + (n * g.groups + k) * go, g.group_out(), g.col_rows(), g.col_cols());
    }
}

template <typename T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx, T* col) {
  const int64_t gi = g.group_in() * g.h * g.w, go = g.group_out() * g.col_cols(), gw = g.group_out() * g.col_rows();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t k = 0; k < g.groups; ++k) {
      matmul_at(w + k * gw, dy + (n * g.groups + k) * go, col, g.col_rows(), g.group_out(), g.col_cols());
      col2im(g, col, dx + (n * g.groups + k) * gi);
    }
}

template <typename T>
void conv2d_backward_weight(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* col) {
  const int64_t gi = g.group_in() * g.h * g.w, go = g.group_out() * g.col_cols(), gw = g.group_out() * g.col_rows();
  MapM<T>(dw, g.c_out, g.col_rows()).setZero();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t k = 0; k < g.groups; ++k) {
      im2col(g, x + (n * g.groups + k) * gi, col);
      matmul_bt_acc(dy + (n * g.groups + k) * go, col, dw + k * gw, g.group_out(), g.col_cols(), g.col_rows());
    }
}

template void conv2d_forward<float>(const ConvGeometry&, const float*, const float*, float*, float*);
template void conv2d_forward<double>(const ConvGeometry&, const double*, const double*, double*, double*);
template void conv2d_backward_data<float>(const ConvGeometry&, const float*, const float*, float*, float*);
template void conv2d_backward_data<double>(const ConvGeometry&, const double*, const double*, double*, double*);
template void conv2d_backward_weight<float>(const ConvGeometry&, const float*, const float*, float*, float*);
template void conv2d_backward_weight<double>(const ConvGeometry&, const double*, const double*, double*, double*);

}  // namespace rg::ref
