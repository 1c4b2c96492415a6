// SPDX-License-Identifier: Apache-2.0
// Convolution building blocks shared by the reference kernels: im2col / col2im
// and the three GEMM formulations (forward, backward-data = transposed
// convolution, backward-weight).
#pragma once

#include <cstdint>

#include "engine/conv_geometry.h"

namespace rg::ref {

// y[n] = W * im2col(x[n]); x [N,Cin,H,W], w [Cout,Cin,kh,kw], y [N,Cout,Ho,Wo]; col: scratch.
template <typename T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y, T* col);
// x[n] = col2im(W^T * dy[n]): the input gradient of conv2d, i.e. conv_transpose2d.
template <typename T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx, T* col);
// dw = sum_n dy[n] * im2col(x[n])^T.
template <typename T>
void conv2d_backward_weight(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* col);

}  // namespace rg::ref
