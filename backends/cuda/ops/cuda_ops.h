// SPDX-License-Identifier: Apache-2.0
// The CUDA backend's op families: each file lowers its ops into steps of a
// CudaKernel (cuda_kernel.h), generated kernels or cuDNN convolutions, and
// lists them in a table; cuda_ops() gathers the tables into the backend's
// registry. Adding an op to this backend is a lowering function and a row in
// its family's table.
#pragma once

#include <span>

#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cuda_target.h"

namespace rg::cuda {

std::span<const CudaOp> leaf_ops();         // fill
std::span<const CudaOp> convolution_ops();  // conv2d, conv_transpose2d, conv2d_backward_weight
std::span<const CudaOp>
normalization_ops();                      // batch norm (train, inference, backward, running update)
std::span<const CudaOp> reduction_ops();  // mean, sum_to, broadcast_to
std::span<const CudaOp> state_ops();      // adam, increment
std::span<const CudaOp> pooling_ops();    // max and average pooling, max pooling's gradient
std::span<const CudaOp> linear_ops();     // matmul, log_softmax and its gradient
std::span<const CudaOp> image_ops();      // concat, bilinear resize

}  // namespace rg::cuda
