// SPDX-License-Identifier: Apache-2.0
// The reference backend's op families: each file lowers its ops into steps
// of a RefKernel (ref_kernel.h) and lists them in a table; ref_ops() gathers
// the tables into the backend's registry. Adding an op to this backend is a
// lowering function and a row in its family's table.
#pragma once

#include <span>

#include "backends/ref/ref_kernel.h"

namespace rg::ref {

std::span<const RefOp> leaf_ops();         // fill
std::span<const RefOp> convolution_ops();  // conv2d, conv_transpose2d, conv2d_backward_weight
std::span<const RefOp>
normalization_ops();                     // batch norm (train, inference, backward, running update)
std::span<const RefOp> reduction_ops();  // mean, sum_to, broadcast_to
std::span<const RefOp> state_ops();      // adam, increment
std::span<const RefOp> pooling_ops();    // max and average pooling, max pooling's gradient
std::span<const RefOp> linear_ops();     // matmul, log_softmax and its gradient
std::span<const RefOp> image_ops();      // concat, bilinear resize

}  // namespace rg::ref
