// SPDX-License-Identifier: Apache-2.0
// The oneDNN backend's op families: each file lowers its ops into steps of a
// OneDnnKernel (onednn_kernel.h) and lists them, with their layout rules, in
// a table; onednn_ops() gathers the tables into the backend's registry.
// Adding an op to this backend is a lowering function and a row in its
// family's table.
#pragma once

#include <span>

#include "backends/onednn/onednn_kernel.h"

namespace rg::onednn {

std::span<const OneDnnOp> leaf_ops();         // fill
std::span<const OneDnnOp> convolution_ops();  // conv2d, conv_transpose2d, conv2d_backward_weight
std::span<const OneDnnOp>
normalization_ops();  // batch norm (train, inference, backward, running update)
std::span<const OneDnnOp> reduction_ops();  // mean, sum_to, broadcast_to
std::span<const OneDnnOp> state_ops();      // adam, increment
std::span<const OneDnnOp> linear_ops();     // matmul, log_softmax and its gradient
std::span<const OneDnnOp> image_ops();      // concat, bilinear and nearest resize, pad
std::span<const OneDnnOp> pooling_ops();    // max and average pooling, max pooling's gradient

}  // namespace rg::onednn
